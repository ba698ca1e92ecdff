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
        }

        private Tensor conv1d(Weights w, String name, int in, int out) {
            return w.matrix(w.transposedToF32(w.get(name).expect(in, out), k));
        }

        private float[] vec(Tensor t, int n) {
            return t.expect(n).toFloats(k);
        }

        @Override public Session newSession() { return new State(this); }

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
        final float[] x, xb, qkv, attnOut, h, logits;
        final float[][] keys, values;
        int pos;

        State(Gpt2Model m) {
            this.m = m;
            this.c = m.cfg;
            this.k = m.k;
            this.layers = m.layers;
            this.output = m.weights.cpu(m.output);
            x = new float[c.dim];
            xb = new float[c.dim];
            qkv = new float[3 * c.dim];
            attnOut = new float[c.dim];
            h = new float[c.ffnDim];
            logits = new float[c.vocab];
            keys = new float[c.layers][];
            values = new float[c.layers][];
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

        @Override
        public float[] forward(int token) {
            if (token < 0 || token >= c.vocab) throw new ModelException("token id " + token + " is outside the vocabulary (0.." + (c.vocab - 1) + ")");
            if (pos >= c.context) throw new ModelException("the sequence reached the context length of " + c.context + " tokens");
            int d = c.dim;
            if (keys[0] == null || keys[0].length < (pos + 1L) * d) {
                int cap = (int) Math.min(c.context, Math.max(64, 2L * pos + 2));
                int n = dev.panamax.runtime.model.Memory.floats("the KV cache for " + cap + " positions", (long) cap * d, 2L * c.layers);
                for (int l = 0; l < c.layers; l++) {
                    keys[l] = keys[l] == null ? new float[n] : Arrays.copyOf(keys[l], n);
                    values[l] = values[l] == null ? new float[n] : Arrays.copyOf(values[l], n);
                }
            }
            m.wte.row(k, token, x, 0);
            m.wpe.row(k, pos, xb, 0);
            k.add(x, 0, xb, 0, x, 0, d);
            for (int l = 0; l < c.layers; l++) {
                Layer L = layers[l];
                k.layernorm(xb, 0, x, 0, L.ln1w(), L.ln1b(), d, c.eps);
                m.weights.cpu(L.wqkv()).matvec(k, xb, qkv);
                k.add(qkv, 0, L.bqkv(), 0, qkv, 0, 3 * d);
                System.arraycopy(qkv, d, keys[l], pos * d, d);
                System.arraycopy(qkv, 2 * d, values[l], pos * d, d);
                attention(l);
                m.weights.cpu(L.wo()).matvec(k, attnOut, xb);
                k.add(xb, 0, L.bo(), 0, xb, 0, d);
                k.add(x, 0, xb, 0, x, 0, d);
                k.layernorm(xb, 0, x, 0, L.ln2w(), L.ln2b(), d, c.eps);
                m.weights.cpu(L.wfc()).matvec(k, xb, h);
                k.add(h, 0, L.bfc(), 0, h, 0, c.ffnDim);
                k.geluTanh(h, 0, c.ffnDim);
                m.weights.cpu(L.wdown()).matvec(k, h, xb);
                k.add(xb, 0, L.bdown(), 0, xb, 0, d);
                k.add(x, 0, xb, 0, x, 0, d);
            }
            k.layernorm(x, 0, x, 0, m.lnfW, m.lnfB, d, c.eps);
            output.matvec(k, x, logits);
            pos++;
            return logits;
        }

        /** Causal multi-head attention of this position's query (qkv[0:d]) over positions 0..pos. */
        private void attention(int l) {
            int hd = c.dim / c.heads, d = c.dim, len = pos + 1;
            float scale = (float) (1 / Math.sqrt(hd));
            float[] kc = keys[l], vc = values[l];
            Parallel.forRange(c.heads, 1, (h0, h1) -> {
                float[] att = new float[len];
                for (int hh = h0; hh < h1; hh++) {
                    for (int t = 0; t < len; t++) att[t] = k.dot(qkv, hh * hd, kc, t * d + hh * hd, hd) * scale;
                    k.softmax(att, 0, len);
                    Arrays.fill(attnOut, hh * hd, hh * hd + hd, 0f);
                    for (int t = 0; t < len; t++) k.axpy(att[t], vc, t * d + hh * hd, attnOut, hh * hd, hd);
                }
            });
        }
    }
}
