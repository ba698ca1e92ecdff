package dev.panamax.models;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.format.Weights;
import dev.panamax.runtime.model.Architecture;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelSource;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.runtime.tokenizer.Tokenizer;
import dev.panamax.simd.DeltaRule;
import dev.panamax.simd.Kernels;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Qwen3-Next: a hybrid of Gated DeltaNet linear attention and gated full attention (the config's
 * {@code layer_types}), each layer followed by a mixture of experts with a shared expert ({@link Moe}).
 * Every RMSNorm outside the DeltaNet scales by (1 + w). For the normalised input u of a layer:
 *
 * <pre>
 * Gated DeltaNet (linear_attention), per value head h (key head h / (nv/nk)):
 *   [q, k, v, z] = W_qkvz·u,  [b, a] = W_ba·u          (grouped by key head)
 *   [q, k, v]    = SiLU(causal depthwise conv1d([q, k, v]))
 *   q = l2norm(q)/√dk,  k = l2norm(k),  β = σ(b),  g = −exp(A_log)·softplus(a + dt_bias)
 *   S = e^g·S;  S += k ⊗ β(v − Sᵀk);  o = Sᵀq              ({@link DeltaRule}; S is dk × dv)
 *   out = W_o · [RMSNorm(o_h)·w ⊙ SiLU(z_h)]_h
 * Gated attention (full_attention):
 *   [q_h, gate_h] = (W_q·u)_h,  k = W_k·u,  v = W_v·u;  q, k ← RMSNorm per head, RoPE on the first
 *   partial_rotary_factor of each head (rotate-half);  out = W_o · (softmax(qkᵀ/√d)v ⊙ σ(gate))
 * </pre>
 *
 * Decoding keeps per layer either the conv window and the h × dk × dv states (O(1) a token) or the
 * KV cache. Prompts run layer by layer as [T, ·] blocks: projections as GEMMs, the DeltaNet through
 * the chunkwise form of the delta rule ({@code LoadOptions.deltaRuleChunk}, default 64).
 */
public final class Qwen3Next implements Architecture {


    @Override
    public String name() {
        return "qwen3_next";
    }

    @Override
    public Set<String> huggingFaceTypes() {
        return Set.of("qwen3_next");
    }

    @Override
    public Set<String> ggufArchitectures() {
        return Set.of();
    }

    record Config(int dim, int layers, boolean[] linear, int vocab, float eps, int context,
                  int heads, int kvHeads, int headDim, int rotaryDim, double theta,
                  int nk, int nv, int dk, int dv, int conv) {
        int qkvzDim() {
            return 2 * nk * dk + 2 * nv * dv;
        }

        int convDim() {
            return 2 * nk * dk + nv * dv;
        }
    }

    record DeltaNet(Tensor inQkvz, Tensor inBa, float[] convW, float[] aNeg, float[] dtBias, float[] norm, Tensor out) {}

    record Attention(Tensor q, Tensor k, Tensor v, Tensor o, float[] qNorm, float[] kNorm) {}

    /** A layer: its token mixer (one of the two) and its feed-forward block (MoE, or a dense MLP). */
    record Layer(float[] inNorm, float[] postNorm, DeltaNet delta, Attention attn, Moe moe, Moe.Mlp mlp) {}

    @Override
    public Model load(ModelSource src) {
        if (src.isGguf()) throw new ModelException("Qwen3-Next from GGUF is not supported yet; use the Hugging Face directory");
        Map<String, Object> m = src.config();
        int layers = Cfg.integer(m, "num_hidden_layers"), dim = Cfg.integer(m, "hidden_size");
        boolean[] linear = new boolean[layers];
        if (!(m.get("layer_types") instanceof List<?> types) || types.size() != layers) {
            throw new ModelException("qwen3_next: config.json needs layer_types with one entry per layer");
        }
        for (int i = 0; i < layers; i++) {
            Object t = types.get(i);
            if ("linear_attention".equals(t)) linear[i] = true;
            else if (!"full_attention".equals(t)) throw new ModelException("qwen3_next: unknown layer type " + t + " (linear_attention, full_attention)");
        }
        int heads = Cfg.integer(m, "num_attention_heads");
        int headDim = m.get("head_dim") != null ? Cfg.integer(m, "head_dim") : Cfg.divide(dim, "hidden_size", heads, "num_attention_heads");
        Map<String, Object> rope = Cfg.objectOr(m, "rope_parameters", Map.of());
        double partial = Cfg.numberOr(rope, "partial_rotary_factor", Cfg.numberOr(m, "partial_rotary_factor", 1.0));
        double theta = Cfg.numberOr(rope, "rope_theta", Cfg.numberOr(m, "rope_theta", 10000));
        String ropeType = Cfg.stringOr(rope, "rope_type", "default");
        if (!ropeType.equals("default")) throw new ModelException("qwen3_next: rope_type " + ropeType + " is not supported yet");
        Config c = new Config(dim, layers, linear, Cfg.integer(m, "vocab_size"), (float) Cfg.numberOr(m, "rms_norm_eps", 1e-6),
                Cfg.integerOr(m, "max_position_embeddings", 4096), heads, Cfg.integerOr(m, "num_key_value_heads", heads), headDim,
                (int) (headDim * partial), theta, Cfg.integer(m, "linear_num_key_heads"), Cfg.integer(m, "linear_num_value_heads"),
                Cfg.integer(m, "linear_key_head_dim"), Cfg.integer(m, "linear_value_head_dim"), Cfg.integer(m, "linear_conv_kernel_dim"));
        if (c.nv % c.nk != 0) throw new ModelException("qwen3_next: " + c.nv + " value heads are not a multiple of " + c.nk + " key heads");
        if (c.heads % c.kvHeads != 0) throw new ModelException("qwen3_next: " + c.heads + " heads are not a multiple of " + c.kvHeads + " KV heads");
        if (c.rotaryDim % 2 != 0 || c.rotaryDim > headDim) throw new ModelException("qwen3_next: rotary dimension " + c.rotaryDim + " does not fit head_dim " + headDim);
        return new Qwen3NextModel(c, m, src.weights(), src.tokenizer(), src.endIds());
    }

    /** Qwen3-Next's RMSNorm scales by (1 + w): the weights stored are offsets from one. */
    static float[] onePlus(Tensor t, Kernels k) {
        float[] w = t.toFloats(k);
        for (int i = 0; i < w.length; i++) w[i] += 1f;
        return w;
    }

    static final class Qwen3NextModel extends LoadedLanguageModel implements dev.panamax.runtime.backend.HybridSpec.Source {
        final Config c;
        final Tensor embed, output;
        final float[] normF, invFreq;
        final Layer[] layers;
        final dev.panamax.simd.Attention.Shape attention;

        Qwen3NextModel(Config c, Map<String, Object> m, Weights w, Tokenizer tokenizer, int[] endIds) {
            super("qwen3_next", w, tokenizer, c.vocab, c.context, null, endIds);
            this.c = c;
            int d = c.dim;
            embed = w.get("model.embed_tokens.weight").expect(c.vocab, d);
            Tensor head = w.find("lm_head.weight");
            output = w.matrix((head != null ? head : embed).expect(c.vocab, d));
            normF = onePlus(w.get("model.norm.weight").expect(d), k);
            invFreq = new float[c.rotaryDim / 2];
            for (int j = 0; j < invFreq.length; j++) invFreq[j] = (float) (1.0 / Math.pow(c.theta, (2.0 * j) / c.rotaryDim));
            attention = new dev.panamax.simd.Attention.Shape(c.heads, c.kvHeads, c.headDim, 0, false);
            int experts = Cfg.integerOr(m, "num_experts", 0), step = Cfg.integerOr(m, "decoder_sparse_step", 1);
            List<?> mlpOnly = m.get("mlp_only_layers") instanceof List<?> l ? l : List.of();
            layers = new Layer[c.layers];
            for (int i = 0; i < c.layers; i++) {
                String p = "model.layers." + i + ".";
                DeltaNet delta = null;
                Attention attn = null;
                if (c.linear[i]) {
                    String q = p + "linear_attn.";
                    float[] aLog = w.get(q + "A_log").expect(c.nv).toFloats(k), aNeg = new float[c.nv];
                    for (int h = 0; h < c.nv; h++) aNeg[h] = (float) -Math.exp(aLog[h]);
                    delta = new DeltaNet(w.matrix(w.get(q + "in_proj_qkvz.weight").expect(c.qkvzDim(), d)),
                            w.matrix(w.get(q + "in_proj_ba.weight").expect(2 * c.nv, d)),
                            w.get(q + "conv1d.weight").expect(c.convDim(), 1, c.conv).toFloats(k), aNeg,
                            w.get(q + "dt_bias").expect(c.nv).toFloats(k), w.get(q + "norm.weight").expect(c.dv).toFloats(k),
                            w.matrix(w.get(q + "out_proj.weight").expect(d, c.nv * c.dv)));
                } else {
                    String q = p + "self_attn.";
                    int hd = c.headDim;
                    attn = new Attention(w.matrix(w.get(q + "q_proj.weight").expect(2 * c.heads * hd, d)),
                            w.matrix(w.get(q + "k_proj.weight").expect(c.kvHeads * hd, d)),
                            w.matrix(w.get(q + "v_proj.weight").expect(c.kvHeads * hd, d)),
                            w.matrix(w.get(q + "o_proj.weight").expect(d, c.heads * hd)),
                            onePlus(w.get(q + "q_norm.weight").expect(hd), k), onePlus(w.get(q + "k_norm.weight").expect(hd), k));
                }
                Moe moe = null;
                Moe.Mlp mlp = null;
                boolean sparse = !mlpOnly.contains(i) && !mlpOnly.contains((double) i) && experts > 0 && (i + 1) % step == 0;
                if (sparse) {
                    int mi = Cfg.integer(m, "moe_intermediate_size"), si = Cfg.integerOr(m, "shared_expert_intermediate_size", 0);
                    Moe.Mlp[] ex = new Moe.Mlp[experts];
                    for (int e = 0; e < experts; e++) ex[e] = mlp(w, p + "mlp.experts." + e + ".", d, mi);
                    Moe.Mlp shared = si > 0 ? mlp(w, p + "mlp.shared_expert.", d, si) : null;
                    Tensor sharedGate = si > 0 ? w.get(p + "mlp.shared_expert_gate.weight").expect(1, d) : null;
                    moe = new Moe(w.get(p + "mlp.gate.weight").expect(experts, d), ex, Cfg.integer(m, "num_experts_per_tok"),
                            Boolean.TRUE.equals(m.get("norm_topk_prob")), shared, sharedGate);
                } else {
                    mlp = mlp(w, p + "mlp.", d, Cfg.integer(m, "intermediate_size"));
                }
                layers[i] = new Layer(onePlus(w.get(p + "input_layernorm.weight").expect(d), k),
                        onePlus(w.get(p + "post_attention_layernorm.weight").expect(d), k), delta, attn, moe, mlp);
            }
        }

        private static Moe.Mlp mlp(Weights w, String p, int d, int hidden) {
            return new Moe.Mlp(w.matrix(w.get(p + "gate_proj.weight").expect(hidden, d)), w.matrix(w.get(p + "up_proj.weight").expect(hidden, d)),
                    w.matrix(w.get(p + "down_proj.weight").expect(d, hidden)));
        }

        @Override public Session newSession() { return new State(this); }

        /** The model described for a backend: the same weights and shape. */
        @Override
        public dev.panamax.runtime.backend.HybridSpec hybridSpec() {
            var list = new java.util.ArrayList<dev.panamax.runtime.backend.HybridSpec.Layer>();
            for (Layer L : layers) {
                DeltaNet D = L.delta();
                Attention A = L.attn();
                list.add(new dev.panamax.runtime.backend.HybridSpec.Layer(L.inNorm(), L.postNorm(),
                        D == null ? null : new dev.panamax.runtime.backend.HybridSpec.DeltaNet(D.inQkvz(), D.inBa(), D.convW(), D.aNeg(), D.dtBias(),
                                D.norm(), D.out()),
                        A == null ? null : new dev.panamax.runtime.backend.HybridSpec.Attention(A.q(), A.k(), A.v(), A.o(), A.qNorm(), A.kNorm()),
                        L.moe() == null ? null : L.moe().spec(), L.mlp() == null ? null : L.mlp().spec()));
            }
            return new dev.panamax.runtime.backend.HybridSpec(c.dim, c.layers, c.vocab, c.context, c.eps, c.heads, c.kvHeads, c.headDim,
                    invFreq.clone(), c.nk, c.nv, c.dk, c.dv, c.conv, embed, output, normF, java.util.List.copyOf(list));
        }
    }

    /** Per DeltaNet layer: the conv window and nv states of dk × dv; per attention layer: the KV cache. */
    static final class State implements LanguageModel.Session {
        final Qwen3NextModel m;
        final Config c;
        final Kernels k;
        final float[][] convState, kCache, vCache;
        final float[][][] S;
        final float[] u, logits;
        int pos;

        State(Qwen3NextModel m) {
            this.m = m;
            this.c = m.c;
            this.k = m.k;
            convState = new float[c.layers][];
            S = new float[c.layers][][];
            kCache = new float[c.layers][];
            vCache = new float[c.layers][];
            for (int l = 0; l < c.layers; l++) {
                if (c.linear[l]) {
                    convState[l] = new float[c.convDim() * (c.conv - 1)];
                    S[l] = new float[c.nv][dev.panamax.runtime.model.Memory.floats("the linear-attention state", (long) c.dk * c.dv, (long) c.nv * c.layers)];
                } else {
                    kCache[l] = new float[0];
                    vCache[l] = new float[0];
                }
            }
            u = new float[c.dim];
            logits = new float[c.vocab];
        }

        @Override
        public int position() {
            return pos;
        }

        @Override
        public float[] forward(int token) {
            return prefill(new int[] {token}, false);
        }

        @Override
        public float[] prefill(int[] tokens, boolean allLogits) {
            return LanguageModel.Session.inBlocks(tokens, allLogits, prefillChunk(), c.vocab, pos, c.context, this::prefillBlock);
        }

        /** {@link #prefillChunk}: a long prompt in blocks of {@link dev.panamax.runtime.LoadOptions#promptChunk} tokens. */
        @Override
        public int prefillChunk() {
            return m.weights.options().promptChunk();
        }

        /** The tokens through every layer as one [T, dim] block (a single token is a block of one). */
        private float[] prefillBlock(int[] tokens, boolean allLogits) {
            int T = tokens.length, d = c.dim;
            if (pos + T > c.context) {
                throw new ModelException("the sequence (" + (pos + T) + " tokens) is longer than the context length of " + c.context + " tokens");
            }
            float[] X = new float[T * d], U = new float[T * d], Y = new float[T * d];
            for (int t = 0; t < T; t++) {
                if (tokens[t] < 0 || tokens[t] >= c.vocab) throw new ModelException("token id " + tokens[t] + " is outside the vocabulary (0.." + (c.vocab - 1) + ")");
                m.embed.row(k, tokens[t], X, t * d);
            }
            for (int l = 0; l < c.layers; l++) {
                Layer L = m.layers[l];
                for (int t = 0; t < T; t++) k.rmsnorm(U, t * d, X, t * d, L.inNorm(), d, c.eps);
                if (L.delta() != null) deltaNet(l, L.delta(), U, T, Y);
                else attention(l, L.attn(), U, T, Y);
                k.add(X, 0, Y, 0, X, 0, T * d);
                float[] row = new float[d], out = new float[d];
                for (int t = 0; t < T; t++) {
                    k.rmsnorm(row, 0, X, t * d, L.postNorm(), d, c.eps);
                    if (L.moe() != null) L.moe().apply(k, m.weights, row, out);
                    else L.mlp().apply(k, m.weights, row, out);
                    k.add(X, t * d, out, 0, X, t * d, d);
                }
            }
            pos += T;
            return Ssm.head(k, X, T, d, m.normF, c.eps, m.weights.cpu(m.output), u, logits, allLogits);
        }

        private void deltaNet(int l, DeltaNet D, float[] U, int T, float[] Y) {
            int d = c.dim, nk = c.nk, nv = c.nv, dk = c.dk, dv = c.dv, r = nv / nk, pw = c.qkvzDim(), cd = c.convDim();
            int group = 2 * dk + 2 * r * dv; // one key head's slice of the qkvz projection: [q, k, v (r heads), z (r heads)]
            float[] P = new float[T * pw], BA = new float[T * 2 * nv], mixed = new float[T * cd], XC = new float[T * cd];
            Linear.apply(k, m.weights.cpu(D.inQkvz()), U, T, P);
            Linear.apply(k, m.weights.cpu(D.inBa()), U, T, BA);
            for (int t = 0; t < T; t++) {
                for (int g = 0; g < nk; g++) {
                    int src = t * pw + g * group;
                    System.arraycopy(P, src, mixed, t * cd + g * dk, dk);                        // q
                    System.arraycopy(P, src + dk, mixed, t * cd + nk * dk + g * dk, dk);         // k
                    System.arraycopy(P, src + 2 * dk, mixed, t * cd + 2 * nk * dk + g * r * dv, r * dv); // v
                }
            }
            Ssm.convBlock(mixed, cd, 0, T, cd, D.convW(), new float[cd], convState[l], c.conv, XC);
            k.silu(XC, 0, T * cd);
            float[] q = new float[T * dk], kk = new float[T * dk], v = new float[T * dv], g = new float[T], beta = new float[T], o = new float[T * dv];
            float[] O = new float[T * nv * dv], z = new float[dv];
            float scale = (float) (1 / Math.sqrt(dk));
            for (int h = 0; h < nv; h++) {
                int kh = h / r, j = h % r;
                for (int t = 0; t < T; t++) {
                    System.arraycopy(XC, t * cd + kh * dk, q, t * dk, dk);
                    System.arraycopy(XC, t * cd + nk * dk + kh * dk, kk, t * dk, dk);
                    System.arraycopy(XC, t * cd + 2 * nk * dk + h * dv, v, t * dv, dv);
                    l2norm(q, t * dk, dk, scale);
                    l2norm(kk, t * dk, dk, 1f);
                    float b = BA[t * 2 * nv + kh * 2 * r + j], a = BA[t * 2 * nv + kh * 2 * r + r + j];
                    beta[t] = (float) (1 / (1 + Math.exp(-b)));
                    g[t] = D.aNeg()[h] * Ssm.softplus(a + D.dtBias()[h]);
                }
                int chunk = m.weights.options().deltaRuleChunk();
                if (T >= 2 && T >= Math.min(chunk, m.weights.options().promptBatchFrom(false))) DeltaRule.chunked(q, kk, v, g, beta, S[l][h], o, T, dk, dv, chunk);
                else DeltaRule.recurrent(q, kk, v, g, beta, S[l][h], o, T, dk, dv);
                // Gated RMSNorm per head: RMSNorm(o)·w ⊙ SiLU(z).
                for (int t = 0; t < T; t++) {
                    int oo = t * nv * dv + h * dv;
                    k.rmsnorm(O, oo, o, t * dv, D.norm(), dv, c.eps);
                    System.arraycopy(P, t * pw + kh * group + 2 * dk + r * dv + j * dv, z, 0, dv);
                    k.silu(z, 0, dv);
                    k.mul(O, oo, z, 0, O, oo, dv);
                }
            }
            Linear.apply(k, m.weights.cpu(D.out()), O, T, Y);
        }

        /** x ← x·scale / sqrt(Σx² + 1e-6), as FLA's l2norm. */
        private static void l2norm(float[] x, int off, int n, float scale) {
            float ss = 0;
            for (int i = 0; i < n; i++) ss += x[off + i] * x[off + i];
            float inv = (float) (1 / Math.sqrt(ss + 1e-6f)) * scale;
            for (int i = 0; i < n; i++) x[off + i] *= inv;
        }

        private void attention(int l, Attention A, float[] U, int T, float[] Y) {
            int d = c.dim, hd = c.headDim, H = c.heads, kvDim = c.kvHeads * hd;
            if (kCache[l].length < (pos + T) * kvDim) {
                int cap = Math.min(c.context, Math.max(pos + T, 2 * kCache[l].length / Math.max(1, kvDim)));
                kCache[l] = java.util.Arrays.copyOf(kCache[l], cap * kvDim);
                vCache[l] = java.util.Arrays.copyOf(vCache[l], cap * kvDim);
            }
            float[] QG = new float[T * 2 * H * hd], K = new float[T * kvDim], V = new float[T * kvDim], O = new float[T * H * hd];
            Linear.apply(k, m.weights.cpu(A.q()), U, T, QG);
            Linear.apply(k, m.weights.cpu(A.k()), U, T, K);
            Linear.apply(k, m.weights.cpu(A.v()), U, T, V);
            float[] Q = new float[T * H * hd], cos = new float[c.rotaryDim / 2], sin = new float[c.rotaryDim / 2];
            for (int t = 0; t < T; t++) {
                int p = pos + t;
                for (int j = 0; j < cos.length; j++) {
                    double angle = (double) (float) p * m.invFreq[j];
                    cos[j] = (float) Math.cos(angle);
                    sin[j] = (float) Math.sin(angle);
                }
                for (int h = 0; h < H; h++) { // each head's q is the first half of its [q, gate] pair
                    System.arraycopy(QG, t * 2 * H * hd + h * 2 * hd, Q, t * H * hd + h * hd, hd);
                    k.rmsnorm(Q, t * H * hd + h * hd, Q, t * H * hd + h * hd, A.qNorm(), hd, c.eps);
                }
                for (int h = 0; h < c.kvHeads; h++) k.rmsnorm(K, t * kvDim + h * hd, K, t * kvDim + h * hd, A.kNorm(), hd, c.eps);
                k.rope(Q, t * H * hd, H, hd, c.rotaryDim, cos, sin, false);
                k.rope(K, t * kvDim, c.kvHeads, hd, c.rotaryDim, cos, sin, false);
            }
            System.arraycopy(K, 0, kCache[l], pos * kvDim, T * kvDim);
            System.arraycopy(V, 0, vCache[l], pos * kvDim, T * kvDim);
            dev.panamax.simd.Attention.attend(k, Q, T, pos, kCache[l], vCache[l], m.attention, O);
            for (int t = 0; t < T; t++) { // the output gate: σ(gate) per channel
                for (int h = 0; h < H; h++) {
                    int oo = t * H * hd + h * hd, go = t * 2 * H * hd + h * 2 * hd + hd;
                    for (int i = 0; i < hd; i++) O[oo + i] *= (float) (1 / (1 + Math.exp(-QG[go + i])));
                }
            }
            Linear.apply(k, m.weights.cpu(A.o()), O, T, Y);
        }
    }
}
