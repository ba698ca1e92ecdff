package dev.panamax.models;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.format.Weights;
import dev.panamax.runtime.model.Architecture;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelSource;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.runtime.tokenizer.Tokenizer;
import dev.panamax.simd.Kernels;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/**
 * The Llama family: Llama 2/3 (with Llama 3 rope scaling), Mistral (sliding-window attention),
 * TinyLlama and SmolLM, Qwen2 (q/k/v biases), Qwen3 (per-head q/k RMSNorm), and the BitNet b1.58
 * architecture in float (an RMSNorm before W_o and before W_down, and ReLU² instead of SiLU).
 * For each layer:
 *
 * <pre>
 *   h  = x + W_o · Attention(RoPE(W_q·n + b_q), RoPE(W_k·n + b_k), W_v·n + b_v),   n = RMSNorm(x)
 *   x' = h + W_down · (SiLU(W_gate·m) ⊙ W_up·m),                                  m = RMSNorm(h)
 * </pre>
 *
 * with grouped-query attention (each K/V head serves {@code heads / kvHeads} query heads) over the
 * cached keys and values of all earlier positions (or the last {@code slidingWindow} of them).
 */
public final class Llama implements Architecture {

    @Override
    public String name() {
        return "llama";
    }

    @Override
    public Set<String> huggingFaceTypes() {
        return Set.of("llama", "mistral", "qwen2", "qwen3", "bitnet");
    }

    @Override
    public Set<String> ggufArchitectures() {
        return Set.of("llama", "mistral", "qwen2", "qwen3");
    }

    /** Hyper-parameters, from config.json or GGUF metadata. */
    public record Config(String type, int dim, int layers, int heads, int kvHeads, int headDim, int ffnDim, int vocab,
                         int context, float normEps, double ropeTheta, RopeScaling ropeScaling, boolean ropeInterleaved,
                         int slidingWindow, boolean qkNorm, boolean bitnet) {

        static Config fromHuggingFace(Map<String, Object> c, String type) {
            int dim = Cfg.integer(c, "hidden_size");
            int heads = Cfg.integer(c, "num_attention_heads");
            int kvHeads = Cfg.integerOr(c, "num_key_value_heads", heads);
            int headDim = c.get("head_dim") != null ? Cfg.integer(c, "head_dim") : Cfg.divide(dim, "hidden_size", heads, "num_attention_heads");
            Map<String, Object> rope = Cfg.objectOr(c, "rope_parameters", c.containsKey("rope_scaling") && c.get("rope_scaling") != null
                    ? Cfg.objectOr(c, "rope_scaling", Map.of()) : Map.of());
            double theta = Cfg.numberOr(rope, "rope_theta", Cfg.numberOr(c, "rope_theta", 10000.0));
            String ropeType = Cfg.stringOr(rope, "rope_type", Cfg.stringOr(rope, "type", "default"));
            RopeScaling scaling = switch (ropeType) {
                case "default" -> null;
                case "llama3" -> new RopeScaling(Cfg.number(rope, "factor"), Cfg.number(rope, "low_freq_factor"),
                        Cfg.number(rope, "high_freq_factor"), Cfg.number(rope, "original_max_position_embeddings"));
                default -> throw new ModelException("rope_type '" + ropeType + "' is not supported (default, llama3)");
            };
            String act = Cfg.stringOr(c, "hidden_act", "silu"), wantAct = type.equals("bitnet") ? "relu2" : "silu";
            if (!act.equals(wantAct)) throw new ModelException(type + " with hidden_act '" + act + "' is not supported (expected " + wantAct + ")");
            Object window = c.get("sliding_window");
            boolean useWindow = type.equals("mistral") || Boolean.TRUE.equals(c.get("use_sliding_window"));
            int slidingWindow = useWindow && window instanceof Number n ? n.intValue() : 0;
            return new Config(type, dim, Cfg.integer(c, "num_hidden_layers"), heads, kvHeads, headDim, Cfg.integer(c, "intermediate_size"),
                    Cfg.integer(c, "vocab_size"), Cfg.integerOr(c, "max_position_embeddings", 2048), (float) Cfg.numberOr(c, "rms_norm_eps", 1e-6),
                    theta, scaling, false, slidingWindow, type.equals("qwen3"), type.equals("bitnet")).validated();
        }

        static Config fromGguf(Map<String, Object> m, String arch) {
            String p = arch + ".";
            int dim = Cfg.integer(m, p + "embedding_length");
            int heads = Cfg.integer(m, p + "attention.head_count");
            int kvHeads = Cfg.integerOr(m, p + "attention.head_count_kv", heads);
            int headDim = m.get(p + "attention.key_length") != null ? Cfg.integer(m, p + "attention.key_length")
                    : Cfg.divide(dim, p + "embedding_length", heads, p + "attention.head_count");
            RopeScaling scaling = null;
            if ("llama3".equals(m.get(p + "rope.scaling.type")) || m.containsKey(p + "rope.scaling.low_freq_factor")) {
                scaling = new RopeScaling(Cfg.number(m, p + "rope.scaling.factor"), Cfg.number(m, p + "rope.scaling.low_freq_factor"),
                        Cfg.number(m, p + "rope.scaling.high_freq_factor"), Cfg.number(m, p + "rope.scaling.original_context_length"));
            }
            // llama.cpp permutes Q/K rows of llama-type models for interleaved RoPE; qwen keeps HF's layout.
            boolean interleaved = arch.equals("llama") || arch.equals("mistral");
            return new Config(arch, dim, Cfg.integer(m, p + "block_count"), heads, kvHeads, headDim, Cfg.integer(m, p + "feed_forward_length"),
                    Cfg.integerOr(m, p + "vocab_size", -1), Cfg.integerOr(m, p + "context_length", 2048),
                    (float) Cfg.numberOr(m, p + "attention.layer_norm_rms_epsilon", 1e-5), Cfg.numberOr(m, p + "rope.freq_base", 10000.0),
                    scaling, interleaved, Cfg.integerOr(m, p + "attention.sliding_window", 0), arch.equals("qwen3"), false).validated();
        }

        Config withVocab(int v) {
            return new Config(type, dim, layers, heads, kvHeads, headDim, ffnDim, v, context, normEps, ropeTheta, ropeScaling,
                    ropeInterleaved, slidingWindow, qkNorm, bitnet);
        }

        Config validated() {
            if (dim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || ffnDim <= 0 || context <= 0) {
                throw new ModelException("bad hyper-parameters: " + this);
            }
            if (heads % kvHeads != 0) throw new ModelException(heads + " attention heads are not a multiple of " + kvHeads + " key/value heads");
            if (slidingWindow < 0) throw new ModelException("the sliding window must be 0 (none) or more, found " + slidingWindow);
            if ((headDim & 1) != 0) throw new ModelException("head dimension " + headDim + " is odd: RoPE needs pairs");
            return this;
        }
    }

    /** Llama 3's frequency-dependent RoPE scaling. */
    public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, double originalContext) {}

    @Override
    public LanguageModel load(ModelSource src) {
        Config cfg = src.isGguf() ? Config.fromGguf(src.config(), src.architecture()) : Config.fromHuggingFace(src.config(), src.architecture());
        Names names = src.isGguf() ? Names.GGUF : Names.HF;
        Weights w = src.weights();
        Tensor embed = w.get(names.embed);
        if (cfg.vocab < 0) cfg = cfg.withVocab(embed.rows());
        return new Model(cfg, w, names, src.tokenizer(), src.chatTemplate(), src.endIds());
    }

    /** Tensor names in the two formats; one scheme per format, so the forward pass reads the same. */
    enum Names {
        HF("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight", "model.layers.%d.",
                "input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                "self_attn.q_norm", "self_attn.k_norm", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
                "self_attn.attn_sub_norm", "mlp.ffn_sub_norm"),
        GGUF("token_embd.weight", "output_norm.weight", "output.weight", "blk.%d.",
                "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "attn_q_norm", "attn_k_norm",
                "ffn_norm", "ffn_gate", "ffn_up", "ffn_down", "attn_sub_norm", "ffn_sub_norm");

        final String embed, norm, output, layer, attnNorm, q, k, v, o, qNorm, kNorm, ffnNorm, gate, up, down, attnSubNorm, ffnSubNorm;

        Names(String embed, String norm, String output, String layer, String attnNorm, String q, String k, String v, String o,
              String qNorm, String kNorm, String ffnNorm, String gate, String up, String down, String attnSubNorm, String ffnSubNorm) {
            this.attnSubNorm = attnSubNorm;
            this.ffnSubNorm = ffnSubNorm;
            this.embed = embed; this.norm = norm; this.output = output; this.layer = layer; this.attnNorm = attnNorm;
            this.q = q; this.k = k; this.v = v; this.o = o; this.qNorm = qNorm; this.kNorm = kNorm; this.ffnNorm = ffnNorm;
            this.gate = gate; this.up = up; this.down = down;
        }
    }

    /** One layer's weights. Norm vectors and biases are small and live on the heap as floats. */
    record Layer(float[] attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo, float[] bq, float[] bk, float[] bv,
                 float[] qNorm, float[] kNorm, float[] ffnNorm, Tensor gate, Tensor up, Tensor down,
                 float[] attnSubNorm, float[] ffnSubNorm) {}

    static final class Model extends LoadedLanguageModel implements dev.panamax.runtime.backend.DecoderSpec.Source {
        final Config cfg;
        final Tensor embed, output;
        final float[] finalNorm;
        final Layer[] layers;
        /** Inverse RoPE frequencies, one per rotated pair. */
        final float[] invFreq;
        /**
         * The attention's shape; {@link dev.panamax.runtime.LoadOptions#sigmoidAttention} swaps softmax for
         * sigmoid weights with the −log n bias, for checkpoints trained that way (Apple's sigmoid self-attention).
         */
        final dev.panamax.simd.Attention.Shape attention;
        /** The KV cache in half floats ({@code --kv-type f16}, {@link dev.panamax.runtime.LoadOptions#kvCache}): half the memory, as llama.cpp's default. */
        final boolean kvF16;

        /** Whether prompts can run as matrix-matrix work: every layer matrix is float32. */
        final boolean batchable;
        /**
         * Prompts (or blocks of one) of fewer tokens go through the decoding arithmetic as the rows of
         * one step ({@link dev.panamax.runtime.LoadOptions#promptBatchFrom(boolean)}: by default 16, or 48
         * when most of the layer matrices' weights are in quantized decode layouts — there a step's batched
         * kernels read each weight once for all the rows, where the GEMM widens every row to floats for a
         * few tokens).
         */
        final int promptBatchFrom;

        Model(Config c, Weights w, Names n, Tokenizer tokenizer, String chatTemplate, int[] endIds) {
            super(c.type, w, tokenizer, c.vocab, c.context, chatTemplate, endIds);
            this.cfg = c;
            int qDim = c.heads * c.headDim, kvDim = c.kvHeads * c.headDim;
            embed = w.get(n.embed).expect(c.vocab, c.dim);
            Tensor out = w.find(n.output);
            output = matrix(out != null ? out : embed).expect(c.vocab, c.dim); // tied embeddings
            finalNorm = vector(w.get(n.norm), c.dim);
            layers = new Layer[c.layers];
            for (int i = 0; i < c.layers; i++) {
                String p = n.layer.replace("%d", Integer.toString(i)); // not String.format: its first call costs a fresh process ~15 ms
                layers[i] = new Layer(
                        vector(w.get(p + n.attnNorm + ".weight"), c.dim),
                        matrix(w.get(p + n.q + ".weight")).expect(qDim, c.dim),
                        matrix(w.get(p + n.k + ".weight")).expect(kvDim, c.dim),
                        matrix(w.get(p + n.v + ".weight")).expect(kvDim, c.dim),
                        matrix(w.get(p + n.o + ".weight")).expect(c.dim, qDim),
                        optionalVector(w.find(p + n.q + ".bias"), qDim),
                        optionalVector(w.find(p + n.k + ".bias"), kvDim),
                        optionalVector(w.find(p + n.v + ".bias"), kvDim),
                        c.qkNorm ? vector(w.get(p + n.qNorm + ".weight"), c.headDim) : null,
                        c.qkNorm ? vector(w.get(p + n.kNorm + ".weight"), c.headDim) : null,
                        vector(w.get(p + n.ffnNorm + ".weight"), c.dim),
                        matrix(w.get(p + n.gate + ".weight")).expect(c.ffnDim, c.dim),
                        matrix(w.get(p + n.up + ".weight")).expect(c.ffnDim, c.dim),
                        matrix(w.get(p + n.down + ".weight")).expect(c.dim, c.ffnDim),
                        c.bitnet ? vector(w.get(p + n.attnSubNorm + ".weight"), qDim) : null,
                        c.bitnet ? vector(w.get(p + n.ffnSubNorm + ".weight"), c.ffnDim) : null);
            }
            invFreq = ropeFrequencies(c);
            kvF16 = w.options().kvCache() == dev.panamax.runtime.LoadOptions.KvCache.F16;
            attention = new dev.panamax.simd.Attention.Shape(c.heads, c.kvHeads, c.headDim, c.slidingWindow, w.options().sigmoidAttention());
            // BitNet's ternary matrices multiply activations quantized per token; they stay token by token.
            // Most of the weights in quantized decode layouts: short prompts go as the rows of a step (promptBatchFrom).
            boolean ternary = false;
            long inLayouts = 0, elements = 0;
            for (Layer L : layers) {
                for (Tensor t : new Tensor[] {L.wq(), L.wk(), L.wv(), L.wo(), L.gate(), L.up(), L.down()}) {
                    ternary |= Linear.quantizesActivationsPerToken(t);
                    elements += t.elements();
                    if (w.inDecodeLayout(t)) inLayouts += t.elements();
                }
            }
            batchable = !ternary;
            promptBatchFrom = w.options().promptBatchFrom(2 * inLayouts > elements);
            // llama.cpp's Llama 3 files carry the scaling as per-pair divisors instead of metadata.
            Tensor factors = n == Names.GGUF ? w.find("rope_freqs.weight") : null;
            if (factors != null) {
                float[] f = vector(factors, c.headDim / 2);
                for (int j = 0; j < f.length; j++) invFreq[j] /= f[j];
            }
        }

        private Tensor matrix(Tensor t) {
            return weights.matrix(t);
        }

        private float[] vector(Tensor t, int length) {
            return t.expect(length).toFloats(k);
        }

        private float[] optionalVector(Tensor t, int length) {
            return t == null ? null : vector(t, length);
        }

        /** θ^(−2j/d) for each pair j, with Llama 3's scaling of the low frequencies when configured. */
        static float[] ropeFrequencies(Config c) {
            int half = c.headDim / 2;
            float[] f = new float[half];
            for (int j = 0; j < half; j++) {
                double inv = 1.0 / Math.pow(c.ropeTheta, (2.0 * j) / c.headDim);
                RopeScaling s = c.ropeScaling;
                if (s != null) {
                    double wavelen = 2 * Math.PI / inv;
                    double lowWavelen = s.originalContext / s.lowFreqFactor, highWavelen = s.originalContext / s.highFreqFactor;
                    if (wavelen > lowWavelen) {
                        inv = inv / s.factor;
                    } else if (wavelen >= highWavelen) {
                        double smooth = (s.originalContext / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
                        inv = (1 - smooth) * inv / s.factor + smooth * inv;
                    }
                }
                f[j] = (float) inv;
            }
            return f;
        }

        @Override
        public Session newSession() {
            return new State(this);
        }

        @Override
        public int hiddenSize() {
            return cfg.dim;
        }

        /** The KV cache as {@link State#grow} grows it: 64 positions, doubled until they fit, at most the context. */
        @Override
        public long sessionBytes(int positions) {
            int cap = Math.min(cfg.context, 64);
            while (cap < positions && cap < cfg.context) cap = (int) Math.min(cfg.context, 2L * cap);
            long kv = (long) cap * cfg.kvHeads * cfg.headDim; // one layer's keys (or values), elements
            return kvF16 ? kv * cfg.layers * 2 * 2 + kv * 2 * 4 // half floats, and one layer's widened copy
                    : kv * cfg.layers * 2 * 4;
        }

        /** The rows' tokens as one [rows, dim] block, each weight matrix read once ({@link State#decodeStep}). */
        @Override
        public float[][] decodeStep(Session[] sessions, int[] tokens) {
            if (sessions.length != tokens.length) throw new IllegalArgumentException(sessions.length + " sessions, " + tokens.length + " tokens");
            State[] seqs = new State[sessions.length];
            for (int i = 0; i < seqs.length; i++) {
                if (!(sessions[i] instanceof State st) || st.m != this) throw new IllegalArgumentException("session " + i + " is not this model's");
                seqs[i] = st;
            }
            if (seqs.length == 1) return new float[][] {seqs[0].forward(tokens[0])};
            return State.decodeStep(seqs, tokens);
        }

        @Override
        public float[] hiddenStates(int[] ids) {
            return new State(this).hidden(ids);
        }

        /** The model described for a backend (the CUDA one): the same weights and shape. */
        @Override
        public dev.panamax.runtime.backend.DecoderSpec decoderSpec() {
            var list = new java.util.ArrayList<dev.panamax.runtime.backend.DecoderSpec.Layer>();
            for (Layer L : layers) {
                list.add(new dev.panamax.runtime.backend.DecoderSpec.Layer(L.attnNorm(), null, L.wq(), L.wk(), L.wv(), L.wo(), L.bq(), L.bk(),
                        L.bv(), null, L.qNorm(), L.kNorm(), L.ffnNorm(), null, L.gate(), L.up(), L.down(), null, null, L.attnSubNorm(),
                        L.ffnSubNorm()));
            }
            return new dev.panamax.runtime.backend.DecoderSpec(cfg.dim, cfg.layers, cfg.heads, cfg.kvHeads, cfg.headDim, cfg.ffnDim, cfg.vocab,
                    cfg.context, cfg.normEps, invFreq.clone(), null, cfg.ropeInterleaved, cfg.slidingWindow, cfg.bitnet ? "relu2" : "silu",
                    attention.sigmoid(), kvF16, embed, output, finalNorm, null, java.util.List.copyOf(list));
        }
    }

    /** One sequence: activations and the KV cache, grown as the sequence grows. */
    static final class State implements LanguageModel.Session {
        final Model m;
        final Config c;
        final Kernels k;
        /** The model's layers; each matrix is read in the CPU's layout ({@link #cpu}). */
        final Layer[] layers;
        final Tensor output;
        final float[] x, logits;
        /** A decoding step's activations (one token), kept from step to step. */
        final Block one;
        final int[] oneToken = new int[1];
        float[][] keys, values; // per layer: [capacity × kvDim] (F32 cache)
        // The same in half floats (--kv-type f16); keys/values then hold one layer's widened copy. Off
        // the heap: a heap segment in the 16-bit loads would make the weights' kernels bimorphic (DEVELOPERS.md).
        MemorySegment[] keys16, values16;
        final boolean kvF16;
        int capacity;
        int pos;

        State(Model m) {
            this.m = m;
            this.c = m.cfg;
            this.k = m.k;
            this.layers = m.layers;
            this.output = cpu(m.output);
            x = new float[c.dim];
            logits = new float[c.vocab];
            one = new Block(c, 1);
            kvF16 = m.kvF16;
            keys = new float[kvF16 ? 1 : c.layers][];
            values = new float[kvF16 ? 1 : c.layers][];
            keys16 = new MemorySegment[kvF16 ? c.layers : 0];
            values16 = new MemorySegment[kvF16 ? c.layers : 0];
            grow(Math.min(c.context, 64));
        }

        /** The layout the CPU kernels read matrix {@code t} in (its interleaved copy: {@link Weights#cpu}). */
        private Tensor cpu(Tensor t) {
            return m.weights.cpu(t);
        }

        private void grow(int cap) {
            int kvDim = c.kvHeads * c.headDim;
            int n = dev.panamax.runtime.model.Memory.floats("the KV cache for " + cap + " positions", (long) cap * kvDim, kvF16 ? c.layers : 2L * c.layers);
            for (int l = 0; l < keys.length; l++) {
                keys[l] = keys[l] == null ? new float[n] : Arrays.copyOf(keys[l], n);
                values[l] = values[l] == null ? new float[n] : Arrays.copyOf(values[l], n);
            }
            for (int l = 0; l < keys16.length; l++) {
                keys16[l] = grown(keys16[l], 2L * cap * kvDim);
                values16[l] = grown(values16[l], 2L * cap * kvDim);
            }
            capacity = cap;
        }

        /** A zeroed off-heap buffer of {@code bytes}, beginning with {@code old}'s contents (if any). */
        private static MemorySegment grown(MemorySegment old, long bytes) {
            MemorySegment s = java.lang.foreign.Arena.ofAuto().allocate(bytes, 64);
            if (old != null) MemorySegment.copy(old, 0, s, 0, old.byteSize());
            return s;
        }

        @Override
        public int position() {
            return pos;
        }

        /** The KV cache holds every earlier position: going back is forgetting what came after. */
        @Override
        public boolean rewind(int position) {
            if (position < 0 || position > pos) return false;
            pos = position;
            return true;
        }

        /** The activations of T tokens on their way through the layers, row t token t's (T = 1: a decoding step). */
        private static final class Block {
            final int T;
            final float[] X, XB, Q, K, V, A, O, G, U;
            final float[][] cos, sin; // each token's RoPE rotation, [T][headDim / 2]

            Block(Config c, int T) {
                int d = c.dim, qDim = c.heads * c.headDim, kvDim = c.kvHeads * c.headDim, f = c.ffnDim;
                this.T = T;
                X = new float[T * d];
                XB = new float[T * Math.max(d, qDim)];
                Q = new float[T * qDim];
                K = new float[T * kvDim];
                V = new float[T * kvDim];
                A = new float[T * qDim];
                O = new float[T * d];
                G = new float[T * f];
                U = new float[T * f];
                cos = new float[T][c.headDim / 2];
                sin = new float[T][c.headDim / 2];
            }
        }

        /**
         * One step of B rows (B &gt; 1), row t being token tokens[t] of sequence seqs[t] — a sequence's
         * next token, or several rows of one sequence (its prompt's tokens, in order) — as one
         * [B, dim] block through the same layer function: its matrix products batched
         * ({@link Tensor#matvecBatch}: each row bit for bit its decode matvec), each row's attention
         * over its own sequence's cache at its own position exactly as {@link #forward} attends. The
         * logits of each sequence's last row, null for the rows before it.
         */
        static float[][] decodeStep(State[] seqs, int[] tokens) {
            State s0 = seqs[0];
            Config c = s0.c;
            int B = seqs.length, d = c.dim, hd = c.headDim;
            // Each row's position, and each sequence's rows in order (a sequence may bring several).
            int[] at = new int[B];
            java.util.Map<State, java.util.List<Integer>> rows = new java.util.IdentityHashMap<>();
            java.util.List<State> order = new java.util.ArrayList<>();
            for (int t = 0; t < B; t++) {
                java.util.List<Integer> mine = rows.get(seqs[t]);
                if (mine == null) {
                    rows.put(seqs[t], mine = new java.util.ArrayList<>());
                    order.add(seqs[t]);
                }
                at[t] = seqs[t].pos + mine.size();
                mine.add(t);
                if (at[t] + 1 > c.context) throw new ModelException("sequence " + t + " reached the context length of " + c.context + " tokens");
                if (tokens[t] < 0 || tokens[t] >= c.vocab) throw new ModelException("token id " + tokens[t] + " is outside the vocabulary (0.." + (c.vocab - 1) + ")");
            }
            Block b = new Block(c, B);
            for (int t = 0; t < B; t++) {
                State st = seqs[t];
                while (at[t] + 1 > st.capacity) st.grow((int) Math.min(c.context, 2L * st.capacity));
                s0.m.embed.row(s0.k, tokens[t], b.X, t * d);
                for (int j = 0; j < hd / 2; j++) {
                    double angle = (double) (float) at[t] * s0.m.invFreq[j];
                    b.cos[t][j] = (float) Math.cos(angle);
                    b.sin[t][j] = (float) Math.sin(angle);
                }
            }
            int[][] byState = new int[order.size()][];
            int[] start = new int[order.size()];
            for (int i = 0; i < byState.length; i++) {
                byState[i] = rows.get(order.get(i)).stream().mapToInt(Integer::intValue).toArray();
                start[i] = order.get(i).pos;
            }
            try {
                for (int l = 0; l < c.layers; l++) s0.layer(l, b, new Rows(order, byState, at));
            } finally {
                for (int i = 0; i < byState.length; i++) order.get(i).pos = start[i];
            }
            // Logits for each sequence's last row only.
            int n = order.size();
            float[] normed = new float[n * d], all = new float[n * c.vocab];
            Linear.perToken(n, i -> s0.k.rmsnorm(normed, i * d, b.X, byState[i][byState[i].length - 1] * d, s0.m.finalNorm, d, c.normEps));
            s0.output.matvecBatch(s0.k, normed, n, all);
            float[][] logits = new float[B][];
            for (int i = 0; i < n; i++) {
                State st = order.get(i);
                System.arraycopy(all, i * c.vocab, st.logits, 0, c.vocab);
                logits[byState[i][byState[i].length - 1]] = st.logits;
                st.pos += byState[i].length;
            }
            return logits;
        }

        /** A step's rows by sequence: the distinct sequences, each one's rows in order, each row's position. */
        private record Rows(java.util.List<State> seqs, int[][] rows, int[] at) {}

        /** A decoding step: the one-token case of {@link #run}. */
        @Override
        public float[] forward(int token) {
            oneToken[0] = token;
            return run(oneToken, one, false);
        }

        /**
         * The prompt as matrix-matrix work: the T new tokens go through each layer as one [T, dim]
         * block, so every weight matrix is read once per layer instead of once per token (tiled GEMM;
         * quantized and 16-bit matrices widened a panel at a time, {@link Tensor#matmul}). Short
         * prompts ({@link Model#promptBatchFrom}) and ternary (BitNet)
         * weights, whose activations are quantized per token, go through the decoding arithmetic
         * instead — the same bits as token by token — as the rows of one {@link #decodeStep}, so
         * their weights are read once too.
         */
        @Override
        public boolean prefillsTokenByToken(int tokens) {
            return tokens < m.promptBatchFrom || !m.batchable;
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

        /** One block of a prompt. */
        private float[] prefillBlock(int[] tokens, boolean allLogits) {
            // At start-up the GEMM path's code is not compiled yet and costs more than it saves on a
            // few tokens (measured: 5 tokens, 0.5 s → 0.75 s to the first token).
            if (prefillsTokenByToken(tokens.length)) {
                if (allLogits || tokens.length == 1) return LanguageModel.Session.super.prefill(tokens, allLogits);
                // The tokens as rows of one step of this sequence alone: each computed as forward computes it
                // (the same bits as token by token), the weights read once for all of them.
                State[] self = new State[tokens.length];
                Arrays.fill(self, this);
                return decodeStep(self, tokens)[tokens.length - 1];
            }
            return run(tokens, new Block(c, tokens.length), allLogits);
        }

        /** Feeds {@code tokens} at positions pos.. through every layer, in {@code b}; the logits after the last (or after each). */
        private float[] run(int[] tokens, Block b, boolean allLogits) {
            int T = tokens.length, d = c.dim;
            throughLayers(tokens, b);
            if (!allLogits) {
                k.rmsnorm(x, 0, b.X, (T - 1) * d, m.finalNorm, d, c.normEps);
                output.matvec(k, x, logits);
                return logits;
            }
            for (int t = 0; t < T; t++) k.rmsnorm(b.X, t * d, b.X, t * d, m.finalNorm, d, c.normEps);
            float[] all = new float[T * c.vocab];
            Linear.apply(k, output, b.X, T, all);
            System.arraycopy(all, (T - 1) * c.vocab, logits, 0, c.vocab);
            return all;
        }

        /** {@link Model#hiddenStates}: {@code ids} through every layer as one block, each row after the final norm. */
        float[] hidden(int[] ids) {
            if (ids.length == 0) throw new ModelException("no tokens to embed");
            Block b = new Block(c, ids.length);
            throughLayers(ids, b);
            for (int t = 0; t < ids.length; t++) k.rmsnorm(b.X, t * c.dim, b.X, t * c.dim, m.finalNorm, c.dim, c.normEps);
            return b.X;
        }

        /** Feeds {@code tokens} at positions pos.. through every layer, X of {@code b} left holding the last layer's output; pos advances. */
        private void throughLayers(int[] tokens, Block b) {
            int T = tokens.length, d = c.dim, hd = c.headDim;
            if (pos + T > c.context) throw new ModelException("the sequence reached the context length of " + c.context + " tokens");
            while (pos + T > capacity) grow((int) Math.min(c.context, 2L * capacity));
            for (int t = 0; t < T; t++) {
                if (tokens[t] < 0 || tokens[t] >= c.vocab) throw new ModelException("token id " + tokens[t] + " is outside the vocabulary (0.." + (c.vocab - 1) + ")");
                m.embed.row(k, tokens[t], b.X, t * d);
                for (int j = 0; j < hd / 2; j++) {
                    double angle = (double) (float) (pos + t) * m.invFreq[j];
                    b.cos[t][j] = (float) Math.cos(angle);
                    b.sin[t][j] = (float) Math.sin(angle);
                }
            }
            for (int l = 0; l < c.layers; l++) layer(l, b, null);
            pos += T;
        }

        /**
         * Layer l over the block's T tokens, X updated in place — the equations over {@link Llama}:
         * h = x + W_o·Attention(RoPE(W_q·n + b_q), RoPE(W_k·n + b_k), W_v·n + b_v), n = RMSNorm(x);
         * x' = h + W_down·(SiLU(W_gate·m) ⊙ W_up·m), m = RMSNorm(h). The per-token work between the
         * matrix products (norms, RoPE, activations, residuals) is split over the threads too: on one
         * core it was 6–7% of a two-thread SmolLM-135M prefill.
         */
        private void layer(int l, Block b, Rows step) {
            Layer L = layers[l];
            int T = b.T, d = c.dim, hd = c.headDim, qDim = c.heads * hd, kvDim = c.kvHeads * hd, f = c.ffnDim;
            float eps = c.normEps;
            boolean rows = step != null; // rows of sequences' decoding steps, each computed as forward computes it
            Linear.perToken(T, t -> k.rmsnorm(b.XB, t * d, b.X, t * d, L.attnNorm(), d, eps));
            Linear.apply(k, new Tensor[] {cpu(L.wq()), cpu(L.wk()), cpu(L.wv())}, b.XB, T, rows, new float[][] {b.Q, b.K, b.V});
            Linear.perToken(T, t -> {
                if (L.bq() != null) k.add(b.Q, t * qDim, L.bq(), 0, b.Q, t * qDim, qDim);
                if (L.bk() != null) k.add(b.K, t * kvDim, L.bk(), 0, b.K, t * kvDim, kvDim);
                if (L.bv() != null) k.add(b.V, t * kvDim, L.bv(), 0, b.V, t * kvDim, kvDim);
                if (L.qNorm() != null) {
                    for (int h = 0; h < c.heads; h++) k.rmsnorm(b.Q, t * qDim + h * hd, b.Q, t * qDim + h * hd, L.qNorm(), hd, eps);
                    for (int h = 0; h < c.kvHeads; h++) k.rmsnorm(b.K, t * kvDim + h * hd, b.K, t * kvDim + h * hd, L.kNorm(), hd, eps);
                }
                k.rope(b.Q, t * qDim, c.heads, hd, hd, b.cos[t], b.sin[t], c.ropeInterleaved);
                k.rope(b.K, t * kvDim, c.kvHeads, hd, hd, b.cos[t], b.sin[t], c.ropeInterleaved);
            });
            if (rows) { // each sequence over its own cache, its rows in order; the sequences spread over the threads
                dev.panamax.simd.Parallel.forEach(step.seqs().size(), i -> {
                    for (int t : step.rows()[i]) step.seqs().get(i).attendRow(l, b, t, step.at()[t]);
                });
            } else {
                store(l, b.K, b.V, T);
                attention(l, b.Q, b.A, T);
            }
            if (L.attnSubNorm() != null) Linear.perToken(T, t -> k.rmsnorm(b.A, t * qDim, b.A, t * qDim, L.attnSubNorm(), qDim, eps));
            Linear.apply(k, new Tensor[] {cpu(L.wo())}, b.A, T, rows, new float[][] {b.O});
            Linear.perToken(T, t -> {
                k.add(b.X, t * d, b.O, t * d, b.X, t * d, d);
                k.rmsnorm(b.XB, t * d, b.X, t * d, L.ffnNorm(), d, eps);
            });
            Linear.apply(k, new Tensor[] {cpu(L.gate()), cpu(L.up())}, b.XB, T, rows, new float[][] {b.G, b.U});
            Linear.perToken(T, t -> {
                if (c.bitnet) k.reluSquared(b.G, t * f, f);
                else k.silu(b.G, t * f, f);
                k.mul(b.G, t * f, b.U, t * f, b.G, t * f, f);
                if (L.ffnSubNorm() != null) k.rmsnorm(b.G, t * f, b.G, t * f, L.ffnSubNorm(), f, eps);
            });
            Linear.apply(k, new Tensor[] {cpu(L.down())}, b.G, T, rows, new float[][] {b.O});
            Linear.perToken(T, t -> k.add(b.X, t * d, b.O, t * d, b.X, t * d, d));
        }

        /**
         * softmax(q·Kᵀ/√d)·V for the T new rows of Q (positions pos..pos+T−1, before pos advances),
         * each over the cached positions it may see (all earlier ones, or the last slidingWindow):
         * a long prompt flash-style (tiles, online softmax), a decoded token with its key range split
         * across the threads ({@link dev.panamax.simd.Attention#attend}).
         */
        private void attention(int l, float[] Q, float[] A, int T) {
            float[] kc = keys[0], vc = values[0];
            if (kvF16) { // widen the positions this step can see into the shared float copy
                int kvDim = c.kvHeads * c.headDim, from = c.slidingWindow > 0 ? Math.max(0, pos - c.slidingWindow + 1) : 0;
                k.f16ToF32(keys16[l], 2L * from * kvDim, kc, from * kvDim, (pos + T - from) * kvDim);
                k.f16ToF32(values16[l], 2L * from * kvDim, vc, from * kvDim, (pos + T - from) * kvDim);
            } else {
                kc = keys[l];
                vc = values[l];
            }
            dev.panamax.simd.Attention.attend(k, Q, T, pos, kc, vc, m.attention, A);
        }

        /**
         * Row t of a batched step's block is this sequence's token at {@code position}: its K and V into this cache, its
         * attention over this cache — through this sequence's one-token block, so the kernels see
         * exactly the arrays and offsets {@link #forward} gives them. (Run on a pool thread, the
         * attention's own split over the key range runs there in one piece: the same parts, merged
         * in the same order, so the same bits.)
         */
        private void attendRow(int l, Block b, int t, int position) {
            int qDim = c.heads * c.headDim, kvDim = c.kvHeads * c.headDim;
            pos = position; // the row's own position (decodeStep puts pos back after the layers)
            System.arraycopy(b.K, t * kvDim, one.K, 0, kvDim);
            System.arraycopy(b.V, t * kvDim, one.V, 0, kvDim);
            System.arraycopy(b.Q, t * qDim, one.Q, 0, qDim);
            store(l, one.K, one.V, 1);
            attention(l, one.Q, one.A, 1);
            System.arraycopy(one.A, 0, b.A, t * qDim, qDim);
        }

        /** The T new rows of K and V into layer l's cache at pos (rounded to half floats with --kv-type f16). */
        private void store(int l, float[] K, float[] V, int T) {
            int n = T * c.kvHeads * c.headDim, at = pos * c.kvHeads * c.headDim;
            if (kvF16) {
                k.f32ToF16(K, 0, keys16[l], 2L * at, n);
                k.f32ToF16(V, 0, values16[l], 2L * at, n);
            } else {
                System.arraycopy(K, 0, keys[l], at, n);
                System.arraycopy(V, 0, values[l], at, n);
            }
        }

    }
}
