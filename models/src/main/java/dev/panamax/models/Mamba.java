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

    static final class MambaModel extends LoadedLanguageModel implements dev.panamax.runtime.backend.SsmSpec.Source {
        final Config c;
        final Tensor embed, output;
        final float[] normF;
        final Layer[] layers;

        MambaModel(Config c, Weights w, Tokenizer tokenizer, int[] endIds, Names n) {
            super("mamba", w, tokenizer, c.vocab, Integer.MAX_VALUE, null, endIds); // no context limit: the state does not grow
            this.c = c;
            embed = w.get(n.embed()).expect(c.vocab, c.dim);
            Tensor head = w.find(n.output());
            output = w.matrix(head != null ? head : embed).expect(c.vocab, c.dim);
            normF = w.get(n.normF()).expect(c.dim).toFloats(k);
            layers = new Layer[c.layers];
            for (int i = 0; i < c.layers; i++) {
                String p = n.layer().replace("%d", Integer.toString(i));
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

        @Override public Session newSession() { return new State(this); }

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



    /** Per layer: the last d_conv − 1 conv inputs and the d_inner × d_state SSM state. */
    static final class State implements LanguageModel.Session {
        final MambaModel m;
        final Config c;
        final Kernels k;
        final float[] u, logits;
        final float[][] convState, ssm;
        /** A decoding step's activations (one token), kept from step to step. */
        final Block one;
        final int[] oneToken = new int[1];
        int pos;

        State(MambaModel m) {
            this.m = m;
            this.c = m.c;
            this.k = m.k;
            u = new float[c.dim];
            logits = new float[c.vocab];
            one = new Block(c, 1);
            convState = new float[c.layers][c.inner * (c.conv - 1)];
            ssm = new float[c.layers][dev.panamax.runtime.model.Memory.floats("the SSM state", (long) c.inner * c.state, c.layers)];
        }

        /** The activations of T tokens on their way through the layers, row t token t's (T = 1: a decoding step). */
        static final class Block {
            final int T;
            final float[] X, U, XZ, XC, XDB, DT, Y, O;

            Block(Config c, int T) {
                int d = c.dim, inner = c.inner;
                this.T = T;
                X = new float[T * d];
                U = new float[T * d];
                XZ = new float[T * 2 * inner];
                XC = new float[T * inner];
                XDB = new float[T * (c.dtRank + 2 * c.state)];
                DT = new float[T * inner];
                Y = new float[T * inner];
                O = new float[T * d];
            }
        }

        @Override
        public int position() {
            return pos;
        }

        /** A decoding step: the one-token case of {@link #run}. */
        @Override
        public float[] forward(int token) {
            oneToken[0] = token;
            return run(oneToken, one, false);
        }

        @Override
        public float[] prefill(int[] tokens, boolean allLogits) {
            return LanguageModel.Session.inBlocks(tokens, allLogits, prefillChunk(), c.vocab, 0, Integer.MAX_VALUE, this::prefillBlock);
        }

        /** {@link #prefillChunk}: a long prompt in blocks of {@link dev.panamax.runtime.LoadOptions#promptChunk} tokens. */
        @Override
        public int prefillChunk() {
            return m.weights.options().promptChunk();
        }

        /** One block of a prompt as one block of the scan (from {@link dev.panamax.runtime.LoadOptions#promptBatchFrom} tokens; shorter ones token by token). */
        private float[] prefillBlock(int[] tokens, boolean allLogits) {
            if (tokens.length < m.weights.options().promptBatchFrom(false)) return LanguageModel.Session.super.prefill(tokens, allLogits);
            return run(tokens, new Block(c, tokens.length), allLogits);
        }

        private float[] run(int[] tokens, Block b, boolean allLogits) {
            int T = tokens.length, d = c.dim;
            for (int t = 0; t < T; t++) {
                if (tokens[t] < 0 || tokens[t] >= c.vocab) throw new ModelException("token id " + tokens[t] + " is outside the vocabulary (0.." + (c.vocab - 1) + ")");
                m.embed.row(k, tokens[t], b.X, t * d);
            }
            for (int l = 0; l < c.layers; l++) layer(l, b);
            pos += T;
            return Ssm.head(k, b.X, T, d, m.normF, c.eps, m.weights.cpu(m.output), u, logits, allLogits);
        }

        /**
         * Layer l over the block's T tokens, X updated in place — the equations over {@link Mamba}:
         * projections, the causal conv (continuing from the conv state), Δ, the selective scan from
         * the layer's state (leaving it updated), the SiLU gate, the output projection, the residual.
         */
        private void layer(int l, Block b) {
            Layer L = m.layers[l];
            int T = b.T, d = c.dim, inner = c.inner, r = c.dtRank, xw = r + 2 * c.state;
            for (int t = 0; t < T; t++) k.rmsnorm(b.U, t * d, b.X, t * d, L.norm(), d, c.eps);
            Linear.apply(k, m.weights.cpu(L.inProj()), b.U, T, b.XZ); // rows: [x (inner), z (inner)]
            Ssm.convBlock(b.XZ, 2 * inner, 0, T, inner, L.convW(), L.convB(), convState[l], c.conv, b.XC);
            k.silu(b.XC, 0, T * inner);
            Linear.apply(k, m.weights.cpu(L.xProj()), b.XC, T, b.XDB); // rows: [δ (dtRank), B (state), C (state)]
            for (int t = 0; t < T; t++) {
                for (int ch = 0; ch < inner; ch++) b.DT[t * inner + ch] = Ssm.softplus(L.dtBias()[ch] + k.dot(L.dtProj(), ch * r, b.XDB, t * xw, r));
            }
            scan(L, ssm[l], b);
            for (int t = 0; t < T; t++) {
                k.silu(b.XZ, t * 2 * inner + inner, inner);
                k.mul(b.Y, t * inner, b.XZ, t * 2 * inner + inner, b.Y, t * inner, inner);
            }
            Linear.apply(k, m.weights.cpu(L.outProj()), b.Y, T, b.O);
            k.add(b.X, 0, b.O, 0, b.X, 0, T * d);
        }

        /**
         * y = C·h + D·x with h[t] = exp(Δ[t]·A)·h[t−1] + Δ[t]·B[t]·x[t] per channel and state index,
         * from {@code st} (d_inner × d_state), which ends holding the last h. One token steps the
         * recurrence directly; a block runs it for each state index as a chunked parallel scan over
         * time ({@link dev.panamax.simd.LinearScan}).
         */
        private void scan(Layer L, float[] st, Block b) {
            int T = b.T, inner = c.inner, ns = c.state, r = c.dtRank, xw = r + 2 * ns;
            if (T == 1) {
                for (int ch = 0; ch < inner; ch++) {
                    float dlt = b.DT[ch], xv = b.XC[ch], acc = 0;
                    for (int s = 0; s < ns; s++) {
                        int i = ch * ns + s;
                        st[i] = (float) Math.exp(dlt * L.a()[i]) * st[i] + dlt * b.XDB[r + s] * xv;
                        acc += st[i] * b.XDB[r + ns + s];
                    }
                    b.Y[ch] = acc + L.d()[ch] * xv;
                }
                return;
            }
            float[] a = new float[T * inner], bb = new float[T * inner], h = new float[T * inner], h0 = new float[inner];
            java.util.Arrays.fill(b.Y, 0f);
            for (int s = 0; s < ns; s++) {
                for (int t = 0; t < T; t++) {
                    float bs = b.XDB[t * xw + r + s];
                    for (int ch = 0; ch < inner; ch++) {
                        int i = t * inner + ch;
                        a[i] = (float) Math.exp(b.DT[i] * L.a()[ch * ns + s]);
                        bb[i] = b.DT[i] * bs * b.XC[i];
                    }
                }
                for (int ch = 0; ch < inner; ch++) h0[ch] = st[ch * ns + s];
                // Four chunks of time: parallel work for the pool, and the carry pass stays short.
                dev.panamax.simd.LinearScan.chunked(k, a, bb, h0, h, T, inner, Math.max(4, (T + 3) / 4));
                for (int t = 0; t < T; t++) k.axpy(b.XDB[t * xw + r + ns + s], h, t * inner, b.Y, t * inner, inner);
                for (int ch = 0; ch < inner; ch++) st[ch * ns + s] = h[(T - 1) * inner + ch];
            }
            for (int t = 0; t < T; t++) {
                for (int ch = 0; ch < inner; ch++) b.Y[t * inner + ch] += L.d()[ch] * b.XC[t * inner + ch];
            }
        }
    }
}
