package dev.panamax.models;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.format.Weights;
import dev.panamax.runtime.model.Architecture;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelSource;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.runtime.tokenizer.Tokenizer;
import dev.panamax.simd.Kernels;
import dev.panamax.simd.Simd;
import java.util.Map;
import java.util.Set;

/**
 * Mamba (Gu &amp; Dao, 2023): a selective state-space model. Each layer, for the token's normalised
 * input u, with channels c &lt; d_inner and states s &lt; d_state:
 *
 * <pre>
 *   [x, z] = W_in · u
 *   x      = SiLU(causal depthwise conv1d(x) over the last d_conv positions + b)
 *   [δ, B, C] = W_x · x                    δ has dt_rank values, B and C d_state each
 *   Δ      = softplus(W_dt · δ + b_dt)     one step size per channel
 *   h[c,s] = exp(Δ[c]·A[c,s]) · h[c,s] + Δ[c]·B[s]·x[c]      A = −exp(A_log)
 *   y[c]   = Σ_s h[c,s]·C[s] + D[c]·x[c]
 *   out    = W_out · (y ⊙ SiLU(z))
 * </pre>
 *
 * with a residual around each layer and RMSNorm before it. Decoding carries only the conv window and
 * h per layer: O(1) work and memory per token, whatever the position. (This is the recurrent form;
 * the chunked parallel scan for prefill belongs to the state-space issue.)
 */
public final class Mamba implements Architecture {

    @Override
    public String name() {
        return "mamba";
    }

    @Override
    public Set<String> huggingFaceTypes() {
        return Set.of("mamba");
    }

    @Override
    public Set<String> ggufArchitectures() {
        return Set.of("mamba");
    }

    record Config(int dim, int layers, int inner, int state, int conv, int dtRank, int vocab, float eps) {}

    /** Tensor names: Hugging Face's and llama.cpp's (whose ssm_a already holds A = −exp(A_log)). */
    record Names(String embed, String output, String normF, String layer, String norm, String inProj, String conv, String convBias,
                 String xProj, String dtProj, String dtBias, String a, String d, String outProj, boolean aIsLog) {
        static final Names HF = new Names("backbone.embeddings.weight", "lm_head.weight", "backbone.norm_f.weight", "backbone.layers.%d.",
                "norm.weight", "mixer.in_proj.weight", "mixer.conv1d.weight", "mixer.conv1d.bias", "mixer.x_proj.weight",
                "mixer.dt_proj.weight", "mixer.dt_proj.bias", "mixer.A_log", "mixer.D", "mixer.out_proj.weight", true);
        static final Names GGUF = new Names("token_embd.weight", "output.weight", "output_norm.weight", "blk.%d.", "attn_norm.weight",
                "ssm_in.weight", "ssm_conv1d.weight", "ssm_conv1d.bias", "ssm_x.weight", "ssm_dt.weight", "ssm_dt.bias", "ssm_a", "ssm_d",
                "ssm_out.weight", false);
    }

    record Layer(float[] norm, Tensor inProj, float[] convW, float[] convB, Tensor xProj, float[] dtProj, float[] dtBias,
                 float[] a, float[] d, Tensor outProj) {}

    @Override
    public Model load(ModelSource src) {
        Map<String, Object> m = src.config();
        if (src.isGguf()) {
            Tensor embed = src.weights().get("token_embd.weight");
            Config c = new Config(Cfg.integer(m, "mamba.embedding_length"), Cfg.integer(m, "mamba.block_count"), Cfg.integer(m, "mamba.ssm.inner_size"),
                    Cfg.integer(m, "mamba.ssm.state_size"), Cfg.integer(m, "mamba.ssm.conv_kernel"), Cfg.integer(m, "mamba.ssm.time_step_rank"),
                    embed.rows(), (float) Cfg.numberOr(m, "mamba.attention.layer_norm_rms_epsilon", 1e-5));
            return new MambaModel(c, src.weights(), src.tokenizer(), src.endIds(), Names.GGUF);
        }
        int dim = Cfg.integer(m, "hidden_size");
        int dtRank = m.get("time_step_rank") instanceof Number ? Cfg.integer(m, "time_step_rank") : (dim + 15) / 16; // "auto": ceil(dim / 16)
        Config c = new Config(dim, Cfg.integer(m, "num_hidden_layers"), Cfg.integerOr(m, "intermediate_size", 2 * dim),
                Cfg.integer(m, "state_size"), Cfg.integer(m, "conv_kernel"), dtRank, Cfg.integer(m, "vocab_size"),
                (float) Cfg.numberOr(m, "layer_norm_epsilon", 1e-5));
        if (Boolean.TRUE.equals(m.get("use_bias"))) throw new ModelException("mamba with use_bias (projection biases) is not supported yet");
        return new MambaModel(c, src.weights(), src.tokenizer(), src.endIds(), Names.HF);
    }

    static final class MambaModel implements LanguageModel, dev.panamax.runtime.backend.SsmSpec.Source {
        final Config c;
        final Weights w;
        final Tokenizer tokenizer;
        final int[] endIds;
        final Kernels k = Simd.kernels();
        final Tensor embed, output;
        final float[] normF;
        final Layer[] layers;

        MambaModel(Config c, Weights w, Tokenizer tokenizer, int[] endIds, Names n) {
            this.c = c;
            this.w = w;
            this.tokenizer = tokenizer;
            this.endIds = endIds;
            embed = w.get(n.embed()).expect(c.vocab, c.dim);
            Tensor head = w.find(n.output());
            output = w.matrix(head != null ? head : embed).expect(c.vocab, c.dim);
            normF = w.get(n.normF()).expect(c.dim).toFloats(k);
            layers = new Layer[c.layers];
            for (int i = 0; i < c.layers; i++) {
                String p = String.format(n.layer(), i);
                float[] a = w.get(p + n.a()).expect(c.inner, c.state).toFloats(k);
                if (n.aIsLog()) for (int j = 0; j < a.length; j++) a[j] = (float) -Math.exp(a[j]);
                Tensor conv = w.get(p + n.conv());
                if (conv.elements() != (long) c.inner * c.conv) throw new ModelException("tensor " + conv + " should hold " + c.inner + " × " + c.conv + " conv taps");
                Tensor convB = w.find(p + n.convBias());
                layers[i] = new Layer(w.get(p + n.norm()).expect(c.dim).toFloats(k),
                        w.matrix(w.get(p + n.inProj()).expect(2L * c.inner, c.dim)),
                        conv.toFloats(k),
                        convB == null ? new float[c.inner] : convB.expect(c.inner).toFloats(k),
                        w.matrix(w.get(p + n.xProj()).expect(c.dtRank + 2L * c.state, c.inner)),
                        w.get(p + n.dtProj()).expect(c.inner, c.dtRank).toFloats(k),
                        w.get(p + n.dtBias()).expect(c.inner).toFloats(k),
                        a,
                        w.get(p + n.d()).expect(c.inner).toFloats(k),
                        w.matrix(w.get(p + n.outProj()).expect(c.dim, c.inner)));
            }
        }

        @Override public String architecture() { return "mamba"; }
        @Override public int vocabSize() { return c.vocab; }
        /** No context limit: the state does not grow. */
        @Override public int contextLength() { return Integer.MAX_VALUE; }
        @Override public Tokenizer tokenizer() { return tokenizer; }
        @Override public int[] endIds() { return endIds.length > 0 ? endIds : LanguageModel.super.endIds(); }
        @Override public Session newSession() { return new State(this); }
        /** The CPU's interleaved copies of the quantized matrices, made now rather than by the first session. */
        @Override public void prepare() { w.prepare(); }
        @Override public void close() { w.close(); }

        @Override
        public dev.panamax.runtime.backend.SsmSpec ssmSpec() {
            var list = new java.util.ArrayList<dev.panamax.runtime.backend.SsmSpec.Layer>();
            for (Layer L : layers) {
                list.add(new dev.panamax.runtime.backend.SsmSpec.Layer(L.norm(), L.inProj(), L.convW(), L.convB(), L.xProj(), L.dtProj(),
                        L.dtBias(), L.a(), L.d(), null, L.outProj()));
            }
            return new dev.panamax.runtime.backend.SsmSpec(1, c.dim, c.layers, c.inner, c.state, c.conv, c.inner, 1, c.dtRank, c.vocab, c.eps,
                    0f, Float.POSITIVE_INFINITY, embed, output, normF, list);
        }
    }

    /** Rows of in [T, inDim] times a weight [outDim, inDim]: one GEMM for float32 weights, else row by row. */
    static void linear(Kernels k, Tensor w, float[] in, int T, int inDim, float[] out, int outDim) {
        w.matmul(k, in, T, out);
    }


    /** Per layer: the last d_conv − 1 conv inputs and the d_inner × d_state SSM state. */
    static final class State implements LanguageModel.Session {
        final MambaModel m;
        final Config c;
        final Kernels k;
        final float[] x, u, xz, xdb, dt, y, out, logits;
        final float[][] convState, ssm;
        int pos;

        State(MambaModel m) {
            this.m = m;
            this.c = m.c;
            this.k = m.k;
            x = new float[c.dim];
            u = new float[c.dim];
            xz = new float[2 * c.inner];
            xdb = new float[c.dtRank + 2 * c.state];
            dt = new float[c.inner];
            y = new float[c.inner];
            out = new float[c.dim];
            logits = new float[c.vocab];
            convState = new float[c.layers][c.inner * (c.conv - 1)];
            ssm = new float[c.layers][dev.panamax.runtime.model.Memory.floats("the SSM state", (long) c.inner * c.state, c.layers)];
        }

        @Override
        public int position() {
            return pos;
        }

        /**
         * The prompt in the parallel form: the projections as GEMMs over the [T, ·] block, and for each
         * state index s the recurrence h[t][c] = exp(Δ[t][c]·A[c][s])·h[t−1][c] + Δ[t][c]·B[t][s]·x[t][c]
         * as a chunked parallel scan over time ({@link dev.panamax.simd.LinearScan}), starting from the
         * session's state and leaving it updated.
         */
        @Override
        public float[] prefill(int[] tokens, boolean allLogits) {
            int T = tokens.length;
            if (T < m.w.options().promptBatchFrom()) return LanguageModel.Session.super.prefill(tokens, allLogits);
            int d = c.dim, inner = c.inner, ns = c.state, kc = c.conv, r = c.dtRank, xw = r + 2 * ns;
            float[] X = new float[T * d], U = new float[T * d], XZ = new float[T * 2 * inner], XC = new float[T * inner],
                    XDB = new float[T * xw], DT = new float[T * inner], Y = new float[T * inner], O = new float[T * d];
            float[] a = new float[T * inner], b = new float[T * inner], h = new float[T * inner], h0 = new float[inner];
            for (int t = 0; t < T; t++) {
                if (tokens[t] < 0 || tokens[t] >= c.vocab) throw new ModelException("token id " + tokens[t] + " is outside the vocabulary (0.." + (c.vocab - 1) + ")");
                m.embed.row(k, tokens[t], X, t * d);
            }
            for (int l = 0; l < c.layers; l++) {
                Layer L = m.layers[l];
                for (int t = 0; t < T; t++) k.rmsnorm(U, t * d, X, t * d, L.norm(), d, c.eps);
                linear(k, m.w.cpu(L.inProj()), U, T, d, XZ, 2 * inner);
                // Causal depthwise conv over time, continuing from the conv state; then SiLU.
                Ssm.convBlock(XZ, 2 * inner, 0, T, inner, L.convW(), L.convB(), convState[l], kc, XC);
                k.silu(XC, 0, T * inner);
                linear(k, m.w.cpu(L.xProj()), XC, T, inner, XDB, xw);
                for (int t = 0; t < T; t++) {
                    for (int ch = 0; ch < inner; ch++) {
                        DT[t * inner + ch] = Ssm.softplus(L.dtBias()[ch] + k.dot(L.dtProj(), ch * r, XDB, t * xw, r));
                    }
                }
                java.util.Arrays.fill(Y, 0f);
                float[] st = ssm[l];
                for (int s = 0; s < ns; s++) {
                    for (int t = 0; t < T; t++) {
                        float bs = XDB[t * xw + r + s];
                        for (int ch = 0; ch < inner; ch++) {
                            int i = t * inner + ch;
                            a[i] = (float) Math.exp(DT[i] * L.a()[ch * ns + s]);
                            b[i] = DT[i] * bs * XC[i];
                        }
                    }
                    for (int ch = 0; ch < inner; ch++) h0[ch] = st[ch * ns + s];
                    // Four chunks of time: parallel work for the pool, and the carry pass stays short.
                    dev.panamax.simd.LinearScan.chunked(k, a, b, h0, h, T, inner, Math.max(4, (T + 3) / 4));
                    for (int t = 0; t < T; t++) {
                        float cv = XDB[t * xw + r + ns + s];
                        k.axpy(cv, h, t * inner, Y, t * inner, inner);
                    }
                    for (int ch = 0; ch < inner; ch++) st[ch * ns + s] = h[(T - 1) * inner + ch];
                }
                for (int t = 0; t < T; t++) {
                    for (int ch = 0; ch < inner; ch++) Y[t * inner + ch] += L.d()[ch] * XC[t * inner + ch];
                    k.silu(XZ, t * 2 * inner + inner, inner);
                    k.mul(Y, t * inner, XZ, t * 2 * inner + inner, Y, t * inner, inner);
                }
                linear(k, m.w.cpu(L.outProj()), Y, T, inner, O, d);
                k.add(X, 0, O, 0, X, 0, T * d);
            }
            pos += T;
            return Ssm.head(k, X, T, d, m.normF, c.eps, m.w.cpu(m.output), u, logits, allLogits);
        }

        @Override
        public float[] forward(int token) {
            if (token < 0 || token >= c.vocab) throw new ModelException("token id " + token + " is outside the vocabulary (0.." + (c.vocab - 1) + ")");
            int inner = c.inner, ns = c.state, kc = c.conv;
            m.embed.row(k, token, x, 0);
            for (int l = 0; l < c.layers; l++) {
                Layer L = m.layers[l];
                k.rmsnorm(u, 0, x, 0, L.norm(), c.dim, c.eps);
                m.w.cpu(L.inProj()).matvec(k, u, xz); // xz[0, inner) = x, xz[inner, 2·inner) = z
                // Causal depthwise conv over (state of the last kc−1 inputs, this input), then SiLU.
                Ssm.convStep(xz, 0, inner, L.convW(), L.convB(), convState[l], kc);
                k.silu(xz, 0, inner);
                m.w.cpu(L.xProj()).matvec(k, xz, xdb); // [δ (dtRank), B (state), C (state)]
                for (int ch = 0; ch < inner; ch++) {
                    dt[ch] = Ssm.softplus(L.dtBias()[ch] + k.dot(L.dtProj(), ch * c.dtRank, xdb, 0, c.dtRank));
                }
                float[] h = ssm[l];
                int bOff = c.dtRank, cOff = c.dtRank + ns;
                for (int ch = 0; ch < inner; ch++) {
                    float d = dt[ch], xv = xz[ch], acc = 0;
                    for (int s = 0; s < ns; s++) {
                        int i = ch * ns + s;
                        h[i] = (float) Math.exp(d * L.a()[i]) * h[i] + d * xdb[bOff + s] * xv;
                        acc += h[i] * xdb[cOff + s];
                    }
                    y[ch] = acc + L.d()[ch] * xv;
                }
                k.silu(xz, inner, inner);
                k.mul(y, 0, xz, inner, y, 0, inner);
                m.w.cpu(L.outProj()).matvec(k, y, out);
                k.add(x, 0, out, 0, x, 0, c.dim);
            }
            k.rmsnorm(u, 0, x, 0, m.normF, c.dim, c.eps);
            m.w.cpu(m.output).matvec(k, u, logits);
            pos++;
            return logits;
        }
    }
}
