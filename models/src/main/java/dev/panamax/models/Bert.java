package dev.panamax.models;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.format.Weights;
import dev.panamax.runtime.model.Architecture;
import dev.panamax.runtime.model.EncoderModel;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelSource;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.runtime.tokenizer.Tokenizer;
import dev.panamax.simd.Kernels;
import dev.panamax.simd.Parallel;
import dev.panamax.simd.Simd;
import java.util.Map;
import java.util.Set;

/**
 * BERT, a bidirectional post-LayerNorm encoder:
 *
 * <pre>
 *   X  = LN(W_word[ids] + W_pos[0..T) + W_type[0])
 *   X  = LN(X + W_o · MHA(W_q·X + b_q, W_k·X + b_k, W_v·X + b_v) + b_o)     every token sees every token
 *   X  = LN(X + W_out · gelu(W_in · X + b_in) + b_out)
 * </pre>
 *
 * The output is the last hidden state; {@link EncoderModel#embed} mean-pools and normalises it
 * into a sentence embedding.
 */
public final class Bert implements Architecture {

    @Override
    public String name() {
        return "bert";
    }

    @Override
    public Set<String> huggingFaceTypes() {
        return Set.of("bert");
    }

    @Override
    public Set<String> ggufArchitectures() {
        return Set.of("bert");
    }

    record Config(int dim, int layers, int heads, int ffnDim, int vocab, int positions, float eps) {}

    record Layer(Tensor wq, float[] bq, Tensor wk, float[] bk, Tensor wv, float[] bv, Tensor wo, float[] bo, float[] ln1w, float[] ln1b,
                 Tensor win, float[] bin, Tensor wout, float[] bout, float[] ln2w, float[] ln2b) {}

    /** Tensor names: Hugging Face's and llama.cpp's. */
    record Names(String word, String pos, String type, String embNormW, String embNormB, String layer, String q, String k, String v,
                 String o, String attnNorm, String ffnIn, String ffnOut, String outNorm) {
        static final Names HF = new Names("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias", "encoder.layer.%d.",
                "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "attention.output.LayerNorm",
                "intermediate.dense", "output.dense", "output.LayerNorm");
        static final Names GGUF = new Names("token_embd.weight", "position_embd.weight", "token_types.weight", "token_embd_norm.weight",
                "token_embd_norm.bias", "blk.%d.", "attn_q", "attn_k", "attn_v", "attn_output", "attn_output_norm", "ffn_up", "ffn_down",
                "layer_output_norm");
    }

    @Override
    public Model load(ModelSource src) {
        Map<String, Object> m = src.config();
        if (src.isGguf()) {
            Config c = new Config(Cfg.integer(m, "bert.embedding_length"), Cfg.integer(m, "bert.block_count"), Cfg.integer(m, "bert.attention.head_count"),
                    Cfg.integer(m, "bert.feed_forward_length"), src.weights().get("token_embd.weight").rows(), Cfg.integer(m, "bert.context_length"),
                    (float) Cfg.numberOr(m, "bert.attention.layer_norm_epsilon", 1e-12));
            return new BertModel(c, src.weights(), src.tokenizer(), Names.GGUF, "");
        }
        String act = Cfg.stringOr(m, "hidden_act", "gelu");
        if (!act.equals("gelu")) throw new ModelException("bert with hidden_act '" + act + "' is not supported (gelu)");
        Config c = new Config(Cfg.integer(m, "hidden_size"), Cfg.integer(m, "num_hidden_layers"), Cfg.integer(m, "num_attention_heads"),
                Cfg.integer(m, "intermediate_size"), Cfg.integer(m, "vocab_size"), Cfg.integer(m, "max_position_embeddings"),
                (float) Cfg.numberOr(m, "layer_norm_eps", 1e-12));
        if (c.dim % c.heads != 0) throw new ModelException("bert: hidden_size " + c.dim + " is not a multiple of num_attention_heads " + c.heads);
        String prefix = src.weights().find("embeddings.word_embeddings.weight") != null ? "" : "bert.";
        return new BertModel(c, src.weights(), src.tokenizer(), Names.HF, prefix);
    }

    static final class BertModel implements EncoderModel, dev.panamax.runtime.backend.EncoderSpec.Source {
        final Config c;
        final Weights w;
        final Tokenizer tokenizer;
        final Kernels k = Simd.kernels();
        final Tensor word, pos, type;
        final float[] embLnW, embLnB;
        final Layer[] layers;

        BertModel(Config c, Weights w, Tokenizer tokenizer, Names n, String e) {
            this.c = c;
            this.w = w;
            this.tokenizer = tokenizer;
            word = w.get(e + n.word()).expect(c.vocab, c.dim);
            pos = w.get(e + n.pos()).expect(c.positions, c.dim);
            type = w.get(e + n.type());
            embLnW = vec(e + n.embNormW(), c.dim);
            embLnB = vec(e + n.embNormB(), c.dim);
            layers = new Layer[c.layers];
            for (int i = 0; i < c.layers; i++) {
                String p = e + n.layer().replace("%d", Integer.toString(i));
                layers[i] = new Layer(
                        w.matrix(w.get(p + n.q() + ".weight")).expect(c.dim, c.dim), vec(p + n.q() + ".bias", c.dim),
                        w.matrix(w.get(p + n.k() + ".weight")).expect(c.dim, c.dim), vec(p + n.k() + ".bias", c.dim),
                        w.matrix(w.get(p + n.v() + ".weight")).expect(c.dim, c.dim), vec(p + n.v() + ".bias", c.dim),
                        w.matrix(w.get(p + n.o() + ".weight")).expect(c.dim, c.dim), vec(p + n.o() + ".bias", c.dim),
                        vec(p + n.attnNorm() + ".weight", c.dim), vec(p + n.attnNorm() + ".bias", c.dim),
                        w.matrix(w.get(p + n.ffnIn() + ".weight")).expect(c.ffnDim, c.dim), vec(p + n.ffnIn() + ".bias", c.ffnDim),
                        w.matrix(w.get(p + n.ffnOut() + ".weight")).expect(c.dim, c.ffnDim), vec(p + n.ffnOut() + ".bias", c.dim),
                        vec(p + n.outNorm() + ".weight", c.dim), vec(p + n.outNorm() + ".bias", c.dim));
            }
        }

        private float[] vec(String name, int n) {
            return w.get(name).expect(n).toFloats(k);
        }

        @Override public String architecture() { return "bert"; }
        @Override public Tokenizer tokenizer() { return tokenizer; }
        @Override public int hiddenSize() { return c.dim; }
        @Override public int maxPositions() { return c.positions; }
        @Override public void close() { w.close(); }
        @Override public java.util.Map<String, Long> parametersByType() { return w.parametersByType(); }

        /** The model described for a backend: the same weights and shape. */
        @Override
        public dev.panamax.runtime.backend.EncoderSpec encoderSpec() {
            var list = new java.util.ArrayList<dev.panamax.runtime.backend.EncoderSpec.Layer>();
            for (Layer L : layers) {
                list.add(new dev.panamax.runtime.backend.EncoderSpec.Layer(L.wq(), L.bq(), L.wk(), L.bk(), L.wv(), L.bv(), L.wo(), L.bo(),
                        L.ln1w(), L.ln1b(), L.win(), L.bin(), L.wout(), L.bout(), L.ln2w(), L.ln2b()));
            }
            float[] type0 = new float[c.dim];
            type.row(k, 0, type0, 0);
            return new dev.panamax.runtime.backend.EncoderSpec(c.dim, c.layers, c.heads, c.ffnDim, c.vocab, c.positions, c.eps, word, pos,
                    type0, embLnW, embLnB, java.util.List.copyOf(list));
        }

        @Override
        public float[] encode(int[] ids) {
            int T = ids.length, d = c.dim;
            if (T > c.positions) throw new ModelException(T + " tokens do not fit BERT's " + c.positions + " positions");
            float[] x = new float[T * d], tmp = new float[d];
            for (int t = 0; t < T; t++) {
                if (ids[t] < 0 || ids[t] >= c.vocab) throw new ModelException("token id " + ids[t] + " is outside the vocabulary (0.." + (c.vocab - 1) + ")");
                word.row(k, ids[t], x, t * d);
                pos.row(k, t, tmp, 0);
                k.add(x, t * d, tmp, 0, x, t * d, d);
                type.row(k, 0, tmp, 0);
                k.add(x, t * d, tmp, 0, x, t * d, d);
                k.layernorm(x, t * d, x, t * d, embLnW, embLnB, d, c.eps);
            }
            float[] q = new float[T * d], kk = new float[T * d], v = new float[T * d], att = new float[T * d];
            float[] h = new float[c.ffnDim], row = new float[d], out = new float[d];
            for (Layer L : layers) {
                for (int t = 0; t < T; t++) {
                    System.arraycopy(x, t * d, row, 0, d);
                    linear(L.wq(), L.bq(), row, q, t * d);
                    linear(L.wk(), L.bk(), row, kk, t * d);
                    linear(L.wv(), L.bv(), row, v, t * d);
                }
                attention(q, kk, v, att, T);
                for (int t = 0; t < T; t++) {
                    System.arraycopy(att, t * d, row, 0, d);
                    w.cpu(L.wo()).matvec(k, row, out);
                    k.add(out, 0, L.bo(), 0, out, 0, d);
                    k.add(x, t * d, out, 0, x, t * d, d);
                    k.layernorm(x, t * d, x, t * d, L.ln1w(), L.ln1b(), d, c.eps);
                    System.arraycopy(x, t * d, row, 0, d);
                    w.cpu(L.win()).matvec(k, row, h);
                    k.add(h, 0, L.bin(), 0, h, 0, c.ffnDim);
                    k.geluErf(h, 0, c.ffnDim);
                    w.cpu(L.wout()).matvec(k, h, out);
                    k.add(out, 0, L.bout(), 0, out, 0, d);
                    k.add(x, t * d, out, 0, x, t * d, d);
                    k.layernorm(x, t * d, x, t * d, L.ln2w(), L.ln2b(), d, c.eps);
                }
            }
            return x;
        }

        private void linear(Tensor wt, float[] b, float[] in, float[] dst, int off) {
            float[] o = new float[wt.rows()];
            w.cpu(wt).matvec(k, in, o);
            k.add(o, 0, b, 0, dst, off, o.length);
        }

        /** Full (unmasked) multi-head attention of every token over every token. */
        private void attention(float[] q, float[] kk, float[] v, float[] out, int T) {
            int d = c.dim, hd = d / c.heads;
            float scale = (float) (1 / Math.sqrt(hd));
            Parallel.forRange(c.heads, 1, (h0, h1) -> {
                float[] s = new float[T];
                for (int hh = h0; hh < h1; hh++) {
                    for (int i = 0; i < T; i++) {
                        for (int j = 0; j < T; j++) s[j] = k.dot(q, i * d + hh * hd, kk, j * d + hh * hd, hd) * scale;
                        k.softmax(s, 0, T);
                        java.util.Arrays.fill(out, i * d + hh * hd, i * d + hh * hd + hd, 0f);
                        for (int j = 0; j < T; j++) k.axpy(s[j], v, j * d + hh * hd, out, i * d + hh * hd, hd);
                    }
                }
            });
        }
    }
}
