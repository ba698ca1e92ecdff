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
import dev.panamax.simd.Parallel;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Mamba-2 (Dao &amp; Gu, 2024, "SSD"): the state-space layer with a scalar-times-identity A per head
 * and B, C shared by groups of heads. Each layer, for the normalised input u:
 *
 * <pre>
 *   [z, xBC, dt] = W_in · u                        xBC = [x (heads·P), B (G·N), C (G·N)]
 *   xBC  = SiLU(causal depthwise conv1d(xBC) + b)
 *   Δ[h] = clamp(softplus(dt[h] + dt_bias[h]), time_step_limit)
 *   S[h] = exp(Δ[h]·A[h]) · S[h] + Δ[h] · x[h] ⊗ B[g(h)]     S[h] is P × N;  A = −exp(A_log)
 *   y[h] = S[h] · C[g(h)] + D[h] · x[h]
 *   out  = W_out · RMSNorm(y ⊙ SiLU(z))                        the gated RMSNorm
 * </pre>
 *
 * Decoding uses the recurrence (O(1) per token); prompts run each head through SSD's chunked form
 * ({@link dev.panamax.simd.Ssd}: masked attention inside chunks of config.chunk_size, the state passed
 * between chunks), heads in parallel.
 */
public final class Mamba2 implements Architecture {

    @Override
    public String name() {
        return "mamba2";
    }

    @Override
    public Set<String> huggingFaceTypes() {
        return Set.of("mamba2");
    }

    @Override
    public Set<String> ggufArchitectures() {
        return Set.of("mamba2");
    }

    /**
     * Tensor names: Hugging Face's, and llama.cpp's (its converter stores A = −exp(A_log) as ssm_a,
     * dt_bias as ssm_dt.bias, A and D as [heads, 1], the conv as [channels, taps] and the gated
     * norm's weight as [groups, inner/groups]).
     */
    record Names(String embed, String output, String normF, String layer, String norm, String inProj, String conv, String convBias,
                 String dtBias, String a, String d, String gateNorm, String outProj, boolean aIsLog) {
        static final Names HF = new Names("backbone.embeddings.weight", "lm_head.weight", "backbone.norm_f.weight", "backbone.layers.%d.",
                "norm.weight", "mixer.in_proj.weight", "mixer.conv1d.weight", "mixer.conv1d.bias", "mixer.dt_bias", "mixer.A_log", "mixer.D",
                "mixer.norm.weight", "mixer.out_proj.weight", true);
        static final Names GGUF = new Names("token_embd.weight", "output.weight", "output_norm.weight", "blk.%d.", "attn_norm.weight",
                "ssm_in.weight", "ssm_conv1d.weight", "ssm_conv1d.bias", "ssm_dt.bias", "ssm_a", "ssm_d", "ssm_norm.weight", "ssm_out.weight", false);
    }

    record Config(int dim, int layers, int inner, int heads, int headDim, int groups, int state, int conv, int vocab, float eps,
                  float dtMin, float dtMax, int chunk) {
        int convDim() {
            return inner + 2 * groups * state;
        }
    }

    record Layer(float[] norm, Tensor inProj, float[] convW, float[] convB, float[] dtBias, float[] a, float[] d, float[] gateNorm, Tensor outProj) {}

    @Override
    public Model load(ModelSource src) {
        Map<String, Object> m = src.config();
        if (src.isGguf()) {
            int inner = Cfg.integer(m, "mamba2.ssm.inner_size"), heads = Cfg.integer(m, "mamba2.ssm.time_step_rank");
            Config c = new Config(Cfg.integer(m, "mamba2.embedding_length"), Cfg.integer(m, "mamba2.block_count"), inner, heads,
                    Cfg.divide(inner, "mamba2.ssm.inner_size", heads, "mamba2.ssm.time_step_rank"),
                    Cfg.integerOr(m, "mamba2.ssm.group_count", 1), Cfg.integer(m, "mamba2.ssm.state_size"), Cfg.integer(m, "mamba2.ssm.conv_kernel"),
                    src.weights().get("token_embd.weight").rows(), (float) Cfg.numberOr(m, "mamba2.attention.layer_norm_rms_epsilon", 1e-5),
                    0f, Float.POSITIVE_INFINITY, 64);
            if (c.groups <= 0 || c.heads % c.groups != 0) throw new ModelException("mamba2: " + c.heads + " heads are not a multiple of " + c.groups + " groups");
            return new Mamba2Model(c, src.weights(), src.tokenizer(), src.endIds(), Names.GGUF);
        }
        int dim = Cfg.integer(m, "hidden_size"), heads = Cfg.integer(m, "num_heads"), headDim = Cfg.integer(m, "head_dim");
        float lo = 0f, hi = Float.POSITIVE_INFINITY;
        if (m.get("time_step_limit") instanceof List<?> l && l.size() == 2) {
            lo = (float) dev.panamax.runtime.json.Json.number(l.get(0), "time_step_limit");
            hi = (float) dev.panamax.runtime.json.Json.number(l.get(1), "time_step_limit");
        }
        Config c = new Config(dim, Cfg.integer(m, "num_hidden_layers"), Cfg.product(heads, "num_heads", headDim, "head_dim"), heads, headDim, Cfg.integerOr(m, "n_groups", 1),
                Cfg.integer(m, "state_size"), Cfg.integer(m, "conv_kernel"), Cfg.integer(m, "vocab_size"),
                (float) Cfg.numberOr(m, "layer_norm_epsilon", 1e-5), lo, hi, Math.max(1, Cfg.integerOr(m, "chunk_size", 64)));
        if (c.heads % c.groups != 0) throw new ModelException("mamba2: " + c.heads + " heads are not a multiple of " + c.groups + " groups");
        if (Boolean.TRUE.equals(m.get("use_bias"))) throw new ModelException("mamba2 with use_bias (projection biases) is not supported yet");
        return new Mamba2Model(c, src.weights(), src.tokenizer(), src.endIds(), Names.HF);
    }

    static final class Mamba2Model extends LoadedLanguageModel implements dev.panamax.runtime.backend.SsmSpec.Source {
        final Config c;
        final Tensor embed, output;
        final float[] normF;
        final Layer[] layers;

        Mamba2Model(Config c, Weights w, Tokenizer tokenizer, int[] endIds, Names n) {
            super("mamba2", w, tokenizer, c.vocab, Integer.MAX_VALUE, null, endIds); // no context limit: the state does not grow
            this.c = c;
            embed = w.get(n.embed()).expect(c.vocab, c.dim);
            Tensor head = w.find(n.output());
            output = w.matrix((head != null ? head : embed).expect(c.vocab, c.dim));
            normF = w.get(n.normF()).expect(c.dim).toFloats(k);
            layers = new Layer[c.layers];
            int proj = c.inner + c.convDim() + c.heads;
            for (int i = 0; i < c.layers; i++) {
                String p = n.layer().replace("%d", Integer.toString(i));
                float[] a = values(w.get(p + n.a()), c.heads);
                if (n.aIsLog()) for (int h = 0; h < c.heads; h++) a[h] = (float) -Math.exp(a[h]);
                Tensor convB = w.find(p + n.convBias());
                layers[i] = new Layer(w.get(p + n.norm()).expect(c.dim).toFloats(k),
                        w.matrix(w.get(p + n.inProj()).expect(proj, c.dim)),
                        values(w.get(p + n.conv()), (long) c.convDim() * c.conv),
                        convB == null ? new float[c.convDim()] : convB.expect(c.convDim()).toFloats(k),
                        w.get(p + n.dtBias()).expect(c.heads).toFloats(k), a,
                        values(w.get(p + n.d()), c.heads),
                        values(w.get(p + n.gateNorm()), c.inner),
                        w.matrix(w.get(p + n.outProj()).expect(c.dim, c.inner)));
            }
        }

        /** A small tensor's values, whatever its shape in this format, as long as it holds {@code count} of them. */
        private float[] values(Tensor t, long count) {
            if (t.elements() != count) throw new ModelException("tensor " + t + " should hold " + count + " values");
            return t.toFloats(k);
        }

        @Override public Session newSession() { return new State(this); }

        @Override
        public dev.panamax.runtime.backend.SsmSpec ssmSpec() {
            var list = new java.util.ArrayList<dev.panamax.runtime.backend.SsmSpec.Layer>();
            for (Layer L : layers) {
                list.add(new dev.panamax.runtime.backend.SsmSpec.Layer(L.norm(), L.inProj(), L.convW(), L.convB(), null, null, L.dtBias(),
                        L.a(), L.d(), L.gateNorm(), L.outProj()));
            }
            return new dev.panamax.runtime.backend.SsmSpec(2, c.dim, c.layers, c.inner, c.state, c.conv, c.heads, c.groups, 0, c.vocab, c.eps,
                    c.dtMin, c.dtMax, embed, output, normF, list);
        }
    }

    /** Per layer: the last d_conv − 1 conv inputs and heads × P × N of SSM state. */
    static final class State implements LanguageModel.Session {
        final Mamba2Model m;
        final Config c;
        final Kernels k;
        final float[] u, logits;
        final float[][] convState, ssm;
        /** A decoding step's activations (one token), kept from step to step. */
        final Block one;
        final int[] oneToken = new int[1];
        int pos;

        State(Mamba2Model m) {
            this.m = m;
            this.c = m.c;
            this.k = m.k;
            u = new float[c.dim];
            logits = new float[c.vocab];
            one = new Block(c, 1);
            convState = new float[c.layers][c.convDim() * (c.conv - 1)];
            ssm = new float[c.layers][dev.panamax.runtime.model.Memory.floats("the SSM state", (long) c.heads * c.headDim * c.state, c.layers)];
        }

        /** The activations of T tokens on their way through the layers, row t token t's (T = 1: a decoding step). */
        static final class Block {
            final int T;
            final float[] X, U, P, XC, DT, Y, O;

            Block(Config c, int T) {
                this.T = T;
                X = new float[T * c.dim];
                U = new float[T * c.dim];
                P = new float[T * (c.inner + c.convDim() + c.heads)];
                XC = new float[T * c.convDim()];
                DT = new float[T * c.heads];
                Y = new float[T * c.inner];
                O = new float[T * c.dim];
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
         * Layer l over the block's T tokens, X updated in place — the equations over {@link Mamba2}:
         * in_proj to [z, xBC, dt], the causal conv over xBC (continuing from the conv state), Δ, the
         * SSD recurrence from the layer's state (leaving it updated), the gated RMSNorm, out_proj, the residual.
         */
        private void layer(int l, Block b) {
            Layer L = m.layers[l];
            int T = b.T, d = c.dim, inner = c.inner, cd = c.convDim(), pw = inner + cd + c.heads;
            for (int t = 0; t < T; t++) k.rmsnorm(b.U, t * d, b.X, t * d, L.norm(), d, c.eps);
            Linear.apply(k, m.weights.cpu(L.inProj()), b.U, T, b.P); // rows: [z (inner), xBC (cd), dt (heads)]
            Ssm.convBlock(b.P, pw, inner, T, cd, L.convW(), L.convB(), convState[l], c.conv, b.XC);
            k.silu(b.XC, 0, T * cd);
            for (int t = 0; t < T; t++) {
                for (int hh = 0; hh < c.heads; hh++) {
                    float dt = Ssm.softplus(b.P[t * pw + inner + cd + hh] + L.dtBias()[hh]);
                    b.DT[t * c.heads + hh] = Math.min(Math.max(dt, c.dtMin), c.dtMax);
                }
            }
            ssd(L, ssm[l], b);
            for (int t = 0; t < T; t++) { // the gated RMSNorm: RMSNorm(y ⊙ SiLU(z))
                k.silu(b.P, t * pw, inner);
                k.mul(b.Y, t * inner, b.P, t * pw, b.Y, t * inner, inner);
                k.rmsnorm(b.Y, t * inner, b.Y, t * inner, L.gateNorm(), inner, c.eps);
            }
            Linear.apply(k, m.weights.cpu(L.outProj()), b.Y, T, b.O);
            k.add(b.X, 0, b.O, 0, b.X, 0, T * d);
        }

        /**
         * y = C·S + D·x with S[t] = exp(Δ[t]·A)·S[t−1] + Δ[t]·x[t] ⊗ B[t] per head (its group's B and C),
         * from {@code st} (heads × P × N), which ends holding the last S. One token steps the recurrence
         * directly; a block goes through SSD's chunked form ({@link dev.panamax.simd.Ssd}), heads in parallel.
         */
        private void ssd(Layer L, float[] st, Block b) {
            int T = b.T, inner = c.inner, cd = c.convDim(), ns = c.state, hp = c.headDim, headsPerGroup = c.heads / c.groups;
            int bOff = inner, cOff = inner + c.groups * ns; // B and C inside xBC
            if (T == 1) {
                for (int h = 0; h < c.heads; h++) {
                    float dt = b.DT[h], decay = (float) Math.exp(dt * L.a()[h]);
                    int g = h / headsPerGroup;
                    for (int p = 0; p < hp; p++) {
                        float xv = b.XC[h * hp + p], acc = 0;
                        int base = (h * hp + p) * ns;
                        for (int n = 0; n < ns; n++) {
                            st[base + n] = decay * st[base + n] + dt * xv * b.XC[bOff + g * ns + n];
                            acc += st[base + n] * b.XC[cOff + g * ns + n];
                        }
                        b.Y[h * hp + p] = acc + L.d()[h] * xv;
                    }
                }
                return;
            }
            Parallel.forRange(c.heads, 1, (h0s, h1s) -> {
                float[] xh = new float[T * hp], dth = new float[T], bg = new float[T * ns], cg = new float[T * ns], yh = new float[T * hp], sh = new float[hp * ns];
                for (int hh = h0s; hh < h1s; hh++) {
                    int g = hh / headsPerGroup;
                    for (int t = 0; t < T; t++) {
                        System.arraycopy(b.XC, t * cd + hh * hp, xh, t * hp, hp);
                        System.arraycopy(b.XC, t * cd + bOff + g * ns, bg, t * ns, ns);
                        System.arraycopy(b.XC, t * cd + cOff + g * ns, cg, t * ns, ns);
                        dth[t] = b.DT[t * c.heads + hh];
                    }
                    System.arraycopy(st, hh * hp * ns, sh, 0, hp * ns);
                    dev.panamax.simd.Ssd.chunked(xh, dth, L.a()[hh], bg, cg, sh, yh, T, hp, ns, c.chunk);
                    System.arraycopy(sh, 0, st, hh * hp * ns, hp * ns);
                    for (int t = 0; t < T; t++) System.arraycopy(yh, t * hp, b.Y, t * inner + hh * hp, hp);
                }
            });
            for (int t = 0; t < T; t++) {
                for (int ch = 0; ch < inner; ch++) b.Y[t * inner + ch] += L.d()[ch / hp] * b.XC[t * cd + ch];
            }
        }
    }
}
