package dev.panamax.models;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.format.Weights;
import dev.panamax.runtime.model.Architecture;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelSource;
import dev.panamax.runtime.model.VisionModel;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.runtime.tokenizer.Tokenizer;
import dev.panamax.simd.Kernels;
import dev.panamax.simd.Simd;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Vision transformers: ViT (Dosovitskiy et al., 2020) and DeiT (Touvron et al., 2021) image
 * classifiers, from Hugging Face directories ({@code ViTForImageClassification},
 * {@code DeiTForImageClassificationWithTeacher}). An image [C, H, W] is cut into P×P patches, each
 * flattened (channel, row, column) and projected — the patch embedding, a convolution with stride =
 * kernel = P, as one matrix product — then:
 *
 * <pre>
 *   x  = [cls; (dist;) W_p·patch_1 + b_p; …; W_p·patch_N + b_p] + E_pos
 *   h  = x + W_o·Attention(W_q·n + b_q, W_k·n + b_k, W_v·n + b_v) + b_o,   n = LayerNorm(x)   (every token sees every token)
 *   x' = h + W_2·GELU(W_1·m + b_1) + b_2,                                 m = LayerNorm(h)
 *   logits = W_c·LayerNorm(x_L)[0] + b_c                    (DeiT with its teacher: the mean of that and W_d·LayerNorm(x_L)[1] + b_d)
 * </pre>
 */
public final class Vit implements Architecture {

    @Override
    public String name() {
        return "vit";
    }

    @Override
    public Set<String> huggingFaceTypes() {
        return Set.of("vit", "deit");
    }

    @Override
    public Set<String> ggufArchitectures() {
        return Set.of();
    }

    /** Hyper-parameters from config.json. */
    record Config(String type, int dim, int layers, int heads, int ffnDim, int patch, int imageSize, int channels, float eps, List<String> labels) {
        static Config of(Map<String, Object> c, String type) {
            String act = Cfg.stringOr(c, "hidden_act", "gelu");
            if (!act.equals("gelu")) throw new ModelException(type + " with hidden_act '" + act + "' is not supported (gelu)");
            int dim = Cfg.integer(c, "hidden_size"), heads = Cfg.integer(c, "num_attention_heads");
            Cfg.divide(dim, "hidden_size", heads, "num_attention_heads");
            int patch = Cfg.integer(c, "patch_size"), size = Cfg.integer(c, "image_size");
            if (patch <= 0 || size <= 0 || size % patch != 0) throw new ModelException("image_size " + size + " is not a whole number of " + patch + "-pixel patches");
            List<String> labels = new ArrayList<>();
            Map<String, Object> id2label = Cfg.objectOr(c, "id2label", Map.of());
            for (int i = 0; i < id2label.size(); i++) {
                Object l = id2label.get(Integer.toString(i));
                if (!(l instanceof String s)) throw new ModelException("id2label has no label " + i + " of " + id2label.size());
                labels.add(s);
            }
            return new Config(type, dim, Cfg.integer(c, "num_hidden_layers"), heads, Cfg.integer(c, "intermediate_size"), patch, size,
                    Cfg.integerOr(c, "num_channels", 3), (float) Cfg.numberOr(c, "layer_norm_eps", 1e-12), List.copyOf(labels));
        }
    }

    @Override
    public Model load(ModelSource src) {
        if (src.isGguf()) throw new ModelException("ViT and DeiT are read from Hugging Face directories here, not GGUF");
        return new Loaded(Config.of(src.config(), src.architecture()), src.weights(), src.tokenizer());
    }

    static final class Loaded implements VisionModel, dev.panamax.runtime.backend.VisionSpec.Source {
        final Config c;
        final Weights w;
        final Kernels k = Simd.kernels();
        final Tokenizer tokenizer;
        /** Class token, and DeiT's distillation token (null for ViT): the rows before the patches. */
        final float[] cls, dist;
        final float[] positions, patchBias, normW, normB, headB, distB;
        final Tensor patchProj, head, distHead;
        final PreLnEncoder.Layer[] layers;
        final PreLnEncoder.Shape shape;
        final int prefix;

        Loaded(Config c, Weights w, Tokenizer tokenizer) {
            this.c = c;
            this.w = w;
            this.tokenizer = tokenizer;
            String e = c.type + ".";
            int d = c.dim, n = (c.imageSize / c.patch) * (c.imageSize / c.patch);
            boolean deit = c.type.equals("deit");
            cls = vec(e + "embeddings.cls_token", d);
            dist = deit ? vec(e + "embeddings.distillation_token", d) : null;
            prefix = deit ? 2 : 1;
            positions = vec(e + "embeddings.position_embeddings", (n + prefix) * d);
            patchProj = PreLnEncoder.patchMatrix(w, e + "embeddings.patch_embeddings.projection.weight", d, c.channels, c.patch);
            patchBias = vec(e + "embeddings.patch_embeddings.projection.bias", d);
            layers = new PreLnEncoder.Layer[c.layers];
            shape = new PreLnEncoder.Shape(d, c.heads, c.ffnDim, c.eps, PreLnEncoder.Activation.GELU, false);
            for (int i = 0; i < c.layers; i++) {
                String p = e + "encoder.layer." + i + ".";
                layers[i] = new PreLnEncoder.Layer(vec(p + "layernorm_before.weight", d), vec(p + "layernorm_before.bias", d),
                        mat(p + "attention.attention.query.weight", d, d), vec(p + "attention.attention.query.bias", d),
                        mat(p + "attention.attention.key.weight", d, d), vec(p + "attention.attention.key.bias", d),
                        mat(p + "attention.attention.value.weight", d, d), vec(p + "attention.attention.value.bias", d),
                        mat(p + "attention.output.dense.weight", d, d), vec(p + "attention.output.dense.bias", d),
                        vec(p + "layernorm_after.weight", d), vec(p + "layernorm_after.bias", d),
                        mat(p + "intermediate.dense.weight", c.ffnDim, d), vec(p + "intermediate.dense.bias", c.ffnDim),
                        mat(p + "output.dense.weight", d, c.ffnDim), vec(p + "output.dense.bias", d));
            }
            normW = vec(e + "layernorm.weight", d);
            normB = vec(e + "layernorm.bias", d);
            int labels = c.labels.size();
            String headName = deit ? "cls_classifier" : "classifier";
            Tensor h = labels == 0 ? null : w.find(headName + ".weight");
            head = h == null ? null : w.matrix(h).expect(labels, d);
            headB = h == null ? null : vec(headName + ".bias", labels);
            Tensor dh = deit && labels > 0 ? w.find("distillation_classifier.weight") : null;
            distHead = dh == null ? null : w.matrix(dh).expect(labels, d);
            distB = dh == null ? null : vec("distillation_classifier.bias", labels);
        }

        private float[] vec(String name, int n) {
            Tensor t = w.get(name);
            if (t.elements() != n) throw new ModelException(name + " has " + t.elements() + " values, expected " + n);
            return t.toFloats(k);
        }

        private Tensor mat(String name, int rows, int cols) {
            return w.matrix(w.get(name)).expect(rows, cols);
        }

        @Override public String architecture() { return c.type; }
        @Override public Tokenizer tokenizer() { return tokenizer; }
        @Override public int imageSize() { return c.imageSize; }
        @Override public int channels() { return c.channels; }
        @Override public List<String> labels() { return c.labels; }
        @Override public int hiddenSize() { return c.dim; }
        @Override public void close() { w.close(); }
        @Override public Map<String, Long> parametersByType() { return w.parametersByType(); }

        @Override
        public float[] hiddenStates(float[] pixels, int height, int width) {
            return encode(List.of(pixels), height, width);
        }

        @Override
        public float[] classify(float[] pixels, int height, int width) {
            return classify(List.of(pixels), height, width).get(0);
        }

        /** One pass for all the images: each linear layer one stacked product, each image's logits as it gets them alone. */
        @Override
        public List<float[]> classify(List<float[]> images, int height, int width) {
            requireHead();
            return finish(encode(images, height, width), images.size(), tokens(height, width));
        }

        private void requireHead() {
            if (head == null) throw new ModelException("this " + c.type + " model has no classifier (no id2label or classifier weights)");
        }

        private int tokens(int height, int width) {
            return prefix + (height / c.patch) * (width / c.patch);
        }

        /** Each image's logits from the last layer's output, stacked [images · T, dim]. */
        private List<float[]> finish(float[] hidden, int images, int T) {
            List<float[]> out = new ArrayList<>(images);
            for (int i = 0; i < images; i++) out.add(logits(hidden, i * T * c.dim));
            return out;
        }

        /** The layers for a backend; the embedding and the heads stay here. */
        @Override
        public dev.panamax.runtime.backend.VisionSpec visionSpec() {
            List<dev.panamax.runtime.backend.EncoderSpec.Layer> list = new ArrayList<>();
            for (PreLnEncoder.Layer L : layers) list.add(L.asEncoderLayer());
            return new dev.panamax.runtime.backend.VisionSpec(c.dim, c.heads, c.ffnDim, c.eps, false, list, new dev.panamax.runtime.backend.VisionSpec.Stages() {
                @Override public int tokens(int height, int width) { return Loaded.this.tokens(height, width); }
                @Override public float[] embed(List<float[]> images, int height, int width) { return Loaded.this.embed(images, height, width); }

                @Override
                public List<float[]> finish(float[] hidden, int images, int tokens, boolean embedding) {
                    if (embedding) throw new ModelException("this " + c.type + " model gives no image embedding (CLIP does)");
                    requireHead();
                    return Loaded.this.finish(hidden, images, tokens);
                }

                @Override
                public int rowsFinishReads() {
                    return prefix; // the class (and distillation) token's rows: the heads read nothing else
                }

                @Override
                public dev.panamax.runtime.backend.VisionSpec.PatchEmbedding patchEmbedding() {
                    float[][] rows = dist == null ? new float[][] {cls} : new float[][] {cls, dist};
                    return PreLnEncoder.patchEmbedding(patchProj, patchBias, rows, positions, c.channels, c.patch, c.imageSize / c.patch, c.dim);
                }
            });
        }

        /** The classifier on the final norm of the prefix rows of the image at {@code off} of {@code hidden}. */
        private float[] logits(float[] hidden, int off) {
            for (int t = 0; t < prefix; t++) k.layernorm(hidden, off + t * c.dim, hidden, off + t * c.dim, normW, normB, c.dim, c.eps);
            int d = c.dim, L = c.labels.size();
            float[] logits = new float[L], row = new float[d];
            System.arraycopy(hidden, off, row, 0, d);
            w.cpu(head).matvec(k, row, logits);
            k.add(logits, 0, headB, 0, logits, 0, L);
            if (distHead == null) return logits;
            float[] second = new float[L];
            System.arraycopy(hidden, off + d, row, 0, d);
            w.cpu(distHead).matvec(k, row, second);
            k.add(second, 0, distB, 0, second, 0, L);
            for (int i = 0; i < L; i++) logits[i] = (logits[i] + second[i]) / 2;
            return logits;
        }

        /** The images' embeddings through every layer, before the final norm: [images · tokens, dim]. */
        private float[] encode(List<float[]> images, int height, int width) {
            float[] x = embed(images, height, width);
            PreLnEncoder.run(k, w, x, tokens(height, width), images.size(), shape, layers);
            return x;
        }

        /** The images' tokens before the first layer: [images · tokens, dim]. */
        private float[] embed(List<float[]> images, int height, int width) {
            float[][] rows = dist == null ? new float[][] {cls} : new float[][] {cls, dist};
            return PreLnEncoder.embedImages(k, w, images, c.channels, height, width, c.patch, patchProj, patchBias, rows, positions,
                    c.imageSize / c.patch, c.dim);
        }
    }
}
