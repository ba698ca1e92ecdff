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
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/**
 * GPT-2: learned absolute positions, pre-LayerNorm blocks, fused QKV, GELU (tanh form):
 *
 * <pre>
 *   x  = W_te[token] + W_pe[pos]
 *   x += W_proj · MHA(split(W_attn · LN₁(x) + b_attn)) + b_proj
 *   x += W_down · gelu_new(W_fc · LN₂(x) + b_fc) + b_down
 *   logits = W_te · LN_f(x)                                   (tied output)
 * </pre>
 *
 * Hugging Face stores the linear layers as Conv1D, weight [in, out]; they are transposed once at
 * load. GGUF files (llama.cpp's {@code gpt2}) store them [out, in] already.
 */
public final class Gpt2 implements Architecture {

    @Override
    public String name() {
        return "gpt2";
    }

    @Override
    public Set<String> huggingFaceTypes() {
        return Set.of("gpt2");
    }

    @Override
    public Set<String> ggufArchitectures() {
        return Set.of("gpt2");
    }

    record Config(int dim, int layers, int heads, int ffnDim, int vocab, int context, float eps) {}

    record Layer(float[] ln1w, float[] ln1b, Tensor wqkv, float[] bqkv, Tensor wo, float[] bo,
                 float[] ln2w, float[] ln2b, Tensor wfc, float[] bfc, Tensor wdown, float[] bdown) {}

    @Override
    public Model load(ModelSource src) {
        Map<String, Object> m = src.config();
        Config c;
        if (src.isGguf()) {
            c = new Config(Cfg.integer(m, "gpt2.embedding_length"), Cfg.integer(m, "gpt2.block_count"), Cfg.integer(m, "gpt2.attention.head_count"),
                    Cfg.integer(m, "gpt2.feed_forward_length"), -1, Cfg.integer(m, "gpt2.context_length"),
                    (float) Cfg.numberOr(m, "gpt2.attention.layer_norm_epsilon", 1e-5));
        } else {
            String act = Cfg.stringOr(m, "activation_function", "gelu_new");
            if (!act.equals("gelu_new")) throw new ModelException("gpt2 with activation_function '" + act + "' is not supported (gelu_new)");
            int dim = Cfg.integer(m, "n_embd");
            c = new Config(dim, Cfg.integer(m, "n_layer"), Cfg.integer(m, "n_head"), Cfg.integerOr(m, "n_inner", 4 * dim),
                    Cfg.integer(m, "vocab_size"), Cfg.integer(m, "n_positions"), (float) Cfg.numberOr(m, "layer_norm_epsilon", 1e-5));
        }
        if (c.dim % c.heads != 0) throw new ModelException("gpt2: n_embd " + c.dim + " is not a multiple of n_head " + c.heads);
        return new Gpt2Model(c, src.weights(), src.isGguf(), src.tokenizer(), src.chatTemplate(), src.endIds());
    }

    static final class Gpt2Model extends LoadedLanguageModel implements dev.panamax.runtime.backend.DecoderSpec.Source {
        final Config cfg;
        final Tensor wte, wpe, output;
        final float[] lnfW, lnfB;
        final Layer[] layers;
        /** Multi-head attention: every head its own K and V, no window. */
        final dev.panamax.simd.Attention.Shape attention;
        /** Whether prompts can run as matrix-matrix work: no matrix quantizes its activations per token. */
        final boolean batchable;

        Gpt2Model(Config c0, Weights w, boolean gguf, Tokenizer tokenizer, String chatTemplate, int[] endIds) {
            Tensor wte = w.get(gguf ? "token_embd.weight" : "transformer.wte.weight");
            Config c = c0.vocab < 0 ? new Config(c0.dim, c0.layers, c0.heads, c0.ffnDim, wte.rows(), c0.context, c0.eps) : c0; // the vocabulary from the embedding
            super("gpt2", w, tokenizer, c.vocab, c.context, chatTemplate, endIds);
            this.wte = wte;
            this.cfg = c;
            wte.expect(c.vocab, c.dim);
            wpe = w.get(gguf ? "position_embd.weight" : "transformer.wpe.weight").expect(c.context, c.dim);
            Tensor out = gguf ? w.find("output.weight") : w.find("lm_head.weight");
            output = out != null ? out : wte;
            lnfW = vec(w.get(gguf ? "output_norm.weight" : "transformer.ln_f.weight"), c.dim);
            lnfB = vec(w.get(gguf ? "output_norm.bias" : "transformer.ln_f.bias"), c.dim);
            layers = new Layer[c.layers];
            for (int i = 0; i < c.layers; i++) {
                if (gguf) {
                    String p = "blk." + i + ".";
                    layers[i] = new Layer(vec(w.get(p + "attn_norm.weight"), c.dim), vec(w.get(p + "attn_norm.bias"), c.dim),
                            w.matrix(w.get(p + "attn_qkv.weight")).expect(3L * c.dim, c.dim), vec(w.get(p + "attn_qkv.bias"), 3 * c.dim),
                            w.matrix(w.get(p + "attn_output.weight")).expect(c.dim, c.dim), vec(w.get(p + "attn_output.bias"), c.dim),
                            vec(w.get(p + "ffn_norm.weight"), c.dim), vec(w.get(p + "ffn_norm.bias"), c.dim),
                            w.matrix(w.get(p + "ffn_up.weight")).expect(c.ffnDim, c.dim), vec(w.get(p + "ffn_up.bias"), c.ffnDim),
                            w.matrix(w.get(p + "ffn_down.weight")).expect(c.dim, c.ffnDim), vec(w.get(p + "ffn_down.bias"), c.dim));
                } else {
                    String p = "transformer.h." + i + ".";
                    layers[i] = new Layer(vec(w.get(p + "ln_1.weight"), c.dim), vec(w.get(p + "ln_1.bias"), c.dim),
                            conv1d(w, p + "attn.c_attn.weight", c.dim, 3 * c.dim), vec(w.get(p + "attn.c_attn.bias"), 3 * c.dim),
                            conv1d(w, p + "attn.c_proj.weight", c.dim, c.dim), vec(w.get(p + "attn.c_proj.bias"), c.dim),
                            vec(w.get(p + "ln_2.weight"), c.dim), vec(w.get(p + "ln_2.bias"), c.dim),
                            conv1d(w, p + "mlp.c_fc.weight", c.dim, c.ffnDim), vec(w.get(p + "mlp.c_fc.bias"), c.ffnDim),
                            conv1d(w, p + "mlp.c_proj.weight", c.ffnDim, c.dim), vec(w.get(p + "mlp.c_proj.bias"), c.dim));
                }
            }
            attention = new dev.panamax.simd.Attention.Shape(c.heads, c.heads, c.dim / c.heads, 0, false);
            batchable = Arrays.stream(layers).flatMap(L -> java.util.stream.Stream.of(L.wqkv(), L.wo(), L.wfc(), L.wdown()))
                    .noneMatch(Linear::quantizesActivationsPerToken);
        }

        private Tensor conv1d(Weights w, String name, int in, int out) {
            return w.matrix(w.transposedToF32(w.get(name).expect(in, out), k));
        }

        private float[] vec(Tensor t, int n) {
            return t.expect(n).toFloats(k);
        }

        @Override public Session newSession() { return new State(this); }
        @Override public int hiddenSize() { return cfg.dim; }
        @Override public float[] hiddenStates(int[] ids) { return new State(this).hidden(ids); }

        /** The model described for a backend: c_attn's rows split into W_q, W_k, W_v; LayerNorms with their biases. */
        @Override
        public dev.panamax.runtime.backend.DecoderSpec decoderSpec() {
            int d = cfg.dim;
            var list = new java.util.ArrayList<dev.panamax.runtime.backend.DecoderSpec.Layer>();
            for (Layer L : layers) {
                float[] b = L.bqkv();
                list.add(new dev.panamax.runtime.backend.DecoderSpec.Layer(L.ln1w(), L.ln1b(), L.wqkv().rows(0, d), L.wqkv().rows(d, d),
                        L.wqkv().rows(2 * d, d), L.wo(), Arrays.copyOfRange(b, 0, d), Arrays.copyOfRange(b, d, 2 * d),
                        Arrays.copyOfRange(b, 2 * d, 3 * d), L.bo(), null, null, L.ln2w(), L.ln2b(), null, L.wfc(), L.wdown(), L.bfc(),
                        L.bdown(), null, null));
            }
            return new dev.panamax.runtime.backend.DecoderSpec(d, cfg.layers, cfg.heads, cfg.heads, d / cfg.heads, cfg.ffnDim, cfg.vocab,
                    cfg.context, cfg.eps, null, wpe, false, 0, "gelu_tanh", false, false, wte, output, lnfW, lnfB, java.util.List.copyOf(list));
        }
    }

    static final class State implements LanguageModel.Session {
        final Gpt2Model m;
        final Config c;
        final Kernels k;
        /** The model's layers; each matrix is read in the CPU's layout ({@link Weights#cpu}). */
        final Layer[] layers;
        final Tensor output;
        final float[] x, logits;
        /** A decoding step's activations (one token), kept from step to step. */
        final Block one;
        final int[] oneToken = new int[1];
        final float[][] keys, values; // per layer: [capacity × dim]
        int capacity;
        int pos;

        State(Gpt2Model m) {
            this.m = m;
            this.c = m.cfg;
            this.k = m.k;
            this.layers = m.layers;
            this.output = m.weights.cpu(m.output);
            x = new float[c.dim];
            logits = new float[c.vocab];
            one = new Block(c, 1);
            keys = new float[c.layers][];
            values = new float[c.layers][];
            grow(Math.min(c.context, 64));
        }

        private Tensor cpu(Tensor t) {
            return m.weights.cpu(t);
        }

        private void grow(int cap) {
            int n = dev.panamax.runtime.model.Memory.floats("the KV cache for " + cap + " positions", (long) cap * c.dim, 2L * c.layers);
            for (int l = 0; l < c.layers; l++) {
                keys[l] = keys[l] == null ? new float[n] : Arrays.copyOf(keys[l], n);
                values[l] = values[l] == null ? new float[n] : Arrays.copyOf(values[l], n);
            }
            capacity = cap;
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
            final float[] X, XB, QKV, Q, A, O, H;

            Block(Config c, int T) {
                this.T = T;
                X = new float[T * c.dim];
                XB = new float[T * c.dim];
                QKV = new float[T * 3 * c.dim];
                Q = new float[T * c.dim];
                A = new float[T * c.dim];
                O = new float[T * c.dim];
                H = new float[T * c.ffnDim];
            }
        }

        /** A decoding step: the one-token case of {@link #run}. */
        @Override
        public float[] forward(int token) {
            oneToken[0] = token;
            return run(oneToken, one, false);
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

        /**
         * One block of a prompt as matrix-matrix work: its T tokens go through each layer as one [T, dim]
         * block (tiled GEMM), each weight matrix read once per layer. Short blocks
         * ({@link dev.panamax.runtime.LoadOptions#promptBatchFrom}) and ternary weights, whose
         * activations are quantized per token, go token by token.
         */
        private float[] prefillBlock(int[] tokens, boolean allLogits) {
            if (tokens.length < m.weights.options().promptBatchFrom(false) || !m.batchable) return LanguageModel.Session.super.prefill(tokens, allLogits);
            return run(tokens, new Block(c, tokens.length), allLogits);
        }

        /** Feeds {@code tokens} at positions pos.. through every layer, in {@code b}; the logits after the last (or after each). */
        private float[] run(int[] tokens, Block b, boolean allLogits) {
            int T = tokens.length, d = c.dim;
            throughLayers(tokens, b);
            if (!allLogits) {
                k.layernorm(x, 0, b.X, (T - 1) * d, m.lnfW, m.lnfB, d, c.eps);
                output.matvec(k, x, logits);
                return logits;
            }
            for (int t = 0; t < T; t++) k.layernorm(b.X, t * d, b.X, t * d, m.lnfW, m.lnfB, d, c.eps);
            float[] all = new float[T * c.vocab];
            Linear.apply(k, output, b.X, T, all);
            System.arraycopy(all, (T - 1) * c.vocab, logits, 0, c.vocab);
            return all;
        }

        /** {@link Gpt2Model#hiddenStates}: {@code ids} through every layer as one block, each row after LN_f. */
        float[] hidden(int[] ids) {
            if (ids.length == 0) throw new ModelException("no tokens to embed");
            Block b = new Block(c, ids.length);
            throughLayers(ids, b);
            for (int t = 0; t < ids.length; t++) k.layernorm(b.X, t * c.dim, b.X, t * c.dim, m.lnfW, m.lnfB, c.dim, c.eps);
            return b.X;
        }

        /** Feeds {@code tokens} at positions pos.. through every layer, X of {@code b} left holding the last layer's output; pos advances. */
        private void throughLayers(int[] tokens, Block b) {
            int T = tokens.length, d = c.dim;
            if (pos + T > c.context) throw new ModelException("the sequence reached the context length of " + c.context + " tokens");
            while (pos + T > capacity) grow((int) Math.min(c.context, 2L * capacity));
            for (int t = 0; t < T; t++) {
                if (tokens[t] < 0 || tokens[t] >= c.vocab) throw new ModelException("token id " + tokens[t] + " is outside the vocabulary (0.." + (c.vocab - 1) + ")");
                m.wte.row(k, tokens[t], b.X, t * d);
                m.wpe.row(k, pos + t, b.XB, t * d);
                k.add(b.X, t * d, b.XB, t * d, b.X, t * d, d);
            }
            for (int l = 0; l < c.layers; l++) layer(l, b);
            pos += T;
        }

        /**
         * Layer l over the block's T tokens, X updated in place — the equations over {@link Gpt2}:
         * x += W_proj·MHA(split(W_attn·LN₁(x) + b_attn)) + b_proj; x += W_down·gelu_new(W_fc·LN₂(x) + b_fc) + b_down.
         */
        private void layer(int l, Block b) {
            Layer L = layers[l];
            int T = b.T, d = c.dim, f = c.ffnDim, at = pos * d;
            float eps = c.eps;
            Linear.perToken(T, t -> k.layernorm(b.XB, t * d, b.X, t * d, L.ln1w(), L.ln1b(), d, eps));
            Linear.apply(k, cpu(L.wqkv()), b.XB, T, b.QKV); // rows: [q (dim), k (dim), v (dim)]
            Linear.perToken(T, t -> {
                int r = t * 3 * d;
                k.add(b.QKV, r, L.bqkv(), 0, b.QKV, r, 3 * d);
                System.arraycopy(b.QKV, r, b.Q, t * d, d);
                System.arraycopy(b.QKV, r + d, keys[l], at + t * d, d);
                System.arraycopy(b.QKV, r + 2 * d, values[l], at + t * d, d);
            });
            dev.panamax.simd.Attention.attend(k, b.Q, T, pos, keys[l], values[l], m.attention, b.A);
            Linear.apply(k, cpu(L.wo()), b.A, T, b.O);
            Linear.perToken(T, t -> {
                k.add(b.O, t * d, L.bo(), 0, b.O, t * d, d);
                k.add(b.X, t * d, b.O, t * d, b.X, t * d, d);
                k.layernorm(b.XB, t * d, b.X, t * d, L.ln2w(), L.ln2b(), d, eps);
            });
            Linear.apply(k, cpu(L.wfc()), b.XB, T, b.H);
            Linear.perToken(T, t -> {
                k.add(b.H, t * f, L.bfc(), 0, b.H, t * f, f);
                k.geluTanh(b.H, t * f, f);
            });
            Linear.apply(k, cpu(L.wdown()), b.H, T, b.O);
            Linear.perToken(T, t -> {
                k.add(b.O, t * d, L.bdown(), 0, b.O, t * d, d);
                k.add(b.X, t * d, b.O, t * d, b.X, t * d, d);
            });
        }
    }
}
