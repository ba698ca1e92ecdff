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
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * CLIP (Radford et al., 2021; Hugging Face {@code CLIPModel}): an image tower and a text tower whose
 * pooled outputs, projected and L2-normalised, share one space. Both towers are pre-LN transformer
 * encoders with QuickGELU (x·σ(1.702x)):
 *
 * <pre>
 *   image:  x = LayerNorm_pre([cls; W_p·patch_1; …; W_p·patch_N] + E_pos)   (no patch bias)
 *           e_img = normalise(W_vis · LayerNorm_post(encoder(x)[0]))
 *   text:   x = E_tok[ids] + E_pos                                         (causal attention)
 *           e_txt = normalise(W_txt · LayerNorm_final(encoder(x))[first end-of-text])
 *   logit(image, text) = exp(logit_scale) · e_img · e_txt
 * </pre>
 */
public final class Clip implements Architecture {

    @Override
    public String name() {
        return "clip";
    }

    @Override
    public Set<String> huggingFaceTypes() {
        return Set.of("clip");
    }

    @Override
    public Set<String> ggufArchitectures() {
        return Set.of();
    }

    /** One tower's shape. */
    record Tower(int dim, int layers, int heads, int ffnDim, float eps) {
        static Tower of(Map<String, Object> c, String what) {
            String act = Cfg.stringOr(c, "hidden_act", "quick_gelu");
            if (!act.equals("quick_gelu")) throw new ModelException("CLIP's " + what + " with hidden_act '" + act + "' is not supported (quick_gelu)");
            int dim = Cfg.integer(c, "hidden_size"), heads = Cfg.integer(c, "num_attention_heads");
            Cfg.divide(dim, "hidden_size", heads, "num_attention_heads");
            return new Tower(dim, Cfg.integer(c, "num_hidden_layers"), heads, Cfg.integer(c, "intermediate_size"), (float) Cfg.numberOr(c, "layer_norm_eps", 1e-5));
        }

        PreLnEncoder.Shape shape(boolean causal) {
            return new PreLnEncoder.Shape(dim, heads, ffnDim, eps, PreLnEncoder.Activation.QUICK_GELU, causal);
        }
    }

    @Override
    public Model load(ModelSource src) {
        if (src.isGguf()) throw new ModelException("CLIP is read from Hugging Face directories here, not GGUF");
        return new Loaded(src.config(), src.weights(), src.tokenizer());
    }

    static final class Loaded implements VisionModel, dev.panamax.runtime.backend.VisionSpec.Source {
        final Weights w;
        final Kernels k = Simd.kernels();
        final Tokenizer tokenizer;
        final Tower vision, text;
        final int patch, imageSize, channels, projection, positions, eosId;
        final float[] classEmbedding, visionPositions, preW, preB, postW, postB, finalW, finalB, textPositions;
        final Tensor patchProj, tokenEmbedding, visualProjection, textProjection;
        final PreLnEncoder.Layer[] visionLayers, textLayers;
        final float logitScale;

        Loaded(Map<String, Object> config, Weights w, Tokenizer tokenizer) {
            this.w = w;
            this.tokenizer = tokenizer;
            Map<String, Object> vc = Cfg.objectOr(config, "vision_config", Map.of()), tc = Cfg.objectOr(config, "text_config", Map.of());
            vision = Tower.of(vc, "vision_config");
            text = Tower.of(tc, "text_config");
            patch = Cfg.integer(vc, "patch_size");
            imageSize = Cfg.integer(vc, "image_size");
            channels = Cfg.integerOr(vc, "num_channels", 3);
            if (patch <= 0 || imageSize % patch != 0) throw new ModelException("image_size " + imageSize + " is not a whole number of " + patch + "-pixel patches");
            projection = Cfg.integerOr(config, "projection_dim", 512);
            positions = Cfg.integerOr(tc, "max_position_embeddings", 77);
            eosId = Cfg.integerOr(tc, "eos_token_id", 2);
            int dv = vision.dim, dt = text.dim, n = (imageSize / patch) * (imageSize / patch);
            classEmbedding = vec("vision_model.embeddings.class_embedding", dv);
            patchProj = PreLnEncoder.patchMatrix(w, "vision_model.embeddings.patch_embedding.weight", dv, channels, patch);
            visionPositions = vec("vision_model.embeddings.position_embedding.weight", (n + 1) * dv);
            preW = vec("vision_model.pre_layrnorm.weight", dv);
            preB = vec("vision_model.pre_layrnorm.bias", dv);
            postW = vec("vision_model.post_layernorm.weight", dv);
            postB = vec("vision_model.post_layernorm.bias", dv);
            visionLayers = layers("vision_model.encoder.layers.", vision);
            tokenEmbedding = w.get("text_model.embeddings.token_embedding.weight");
            if (tokenEmbedding.rank() != 2 || tokenEmbedding.cols() != dt) throw new ModelException("the token embedding is not [vocab, " + dt + "]");
            textPositions = vec("text_model.embeddings.position_embedding.weight", positions * dt);
            finalW = vec("text_model.final_layer_norm.weight", dt);
            finalB = vec("text_model.final_layer_norm.bias", dt);
            textLayers = layers("text_model.encoder.layers.", text);
            visualProjection = w.matrix(w.get("visual_projection.weight")).expect(projection, dv);
            textProjection = w.matrix(w.get("text_projection.weight")).expect(projection, dt);
            logitScale = (float) Math.exp(vec("logit_scale", 1)[0]);
        }

        private PreLnEncoder.Layer[] layers(String prefix, Tower t) {
            PreLnEncoder.Layer[] out = new PreLnEncoder.Layer[t.layers];
            int d = t.dim;
            for (int i = 0; i < t.layers; i++) {
                String p = prefix + i + ".";
                out[i] = new PreLnEncoder.Layer(vec(p + "layer_norm1.weight", d), vec(p + "layer_norm1.bias", d),
                        mat(p + "self_attn.q_proj.weight", d, d), vec(p + "self_attn.q_proj.bias", d),
                        mat(p + "self_attn.k_proj.weight", d, d), vec(p + "self_attn.k_proj.bias", d),
                        mat(p + "self_attn.v_proj.weight", d, d), vec(p + "self_attn.v_proj.bias", d),
                        mat(p + "self_attn.out_proj.weight", d, d), vec(p + "self_attn.out_proj.bias", d),
                        vec(p + "layer_norm2.weight", d), vec(p + "layer_norm2.bias", d),
                        mat(p + "mlp.fc1.weight", t.ffnDim, d), vec(p + "mlp.fc1.bias", t.ffnDim),
                        mat(p + "mlp.fc2.weight", d, t.ffnDim), vec(p + "mlp.fc2.bias", d));
            }
            return out;
        }

        private float[] vec(String name, int n) {
            Tensor t = w.get(name);
            if (t.elements() != n) throw new ModelException(name + " has " + t.elements() + " values, expected " + n);
            return t.toFloats(k);
        }

        private Tensor mat(String name, int rows, int cols) {
            return w.matrix(w.get(name)).expect(rows, cols);
        }

        @Override public String architecture() { return "clip"; }
        @Override public Tokenizer tokenizer() { return tokenizer; }
        @Override public int imageSize() { return imageSize; }
        @Override public int channels() { return channels; }
        @Override public List<String> labels() { return List.of(); }
        @Override public int hiddenSize() { return vision.dim; }
        @Override public float logitScale() { return logitScale; }
        @Override public void close() { w.close(); }
        @Override public Map<String, Long> parametersByType() { return w.parametersByType(); }

        @Override
        public float[] classify(float[] pixels, int height, int width) {
            throw new ModelException("CLIP has no classifier: compare its image embedding with the embeddings of label texts (zero-shot)");
        }

        /** The image tower's last layer, [tokens, dim], before the post-layernorm. */
        @Override
        public float[] hiddenStates(float[] pixels, int height, int width) {
            return imageTower(List.of(pixels), height, width);
        }

        /** The image tower's last layers of a batch of images, stacked: [images · tokens, dim]. */
        private float[] imageTower(List<float[]> images, int height, int width) {
            float[] x = embedPatches(images, height, width);
            PreLnEncoder.run(k, w, x, tokens(height, width), images.size(), vision.shape(false), visionLayers);
            return x;
        }

        private int tokens(int height, int width) {
            return 1 + (height / patch) * (width / patch);
        }

        /** The images' tokens before the first layer, through the pre-layernorm: [images · tokens, dim]. */
        private float[] embedPatches(List<float[]> images, int height, int width) {
            int d = vision.dim;
            float[] x = PreLnEncoder.embedImages(k, w, images, channels, height, width, patch, patchProj, null, new float[][] {classEmbedding},
                    visionPositions, imageSize / patch, d);
            for (int t = 0; t < images.size() * tokens(height, width); t++) k.layernorm(x, t * d, x, t * d, preW, preB, d, vision.eps);
            return x;
        }

        @Override
        public float[] embedImage(float[] pixels, int height, int width) {
            return embedImages(List.of(pixels), height, width).get(0);
        }

        /** One pass for all the images: each linear layer one stacked product, each embedding as the image gets it alone. */
        @Override
        public List<float[]> embedImages(List<float[]> images, int height, int width) {
            return pool(imageTower(images, height, width), images.size(), tokens(height, width));
        }

        /** Each image's embedding from the tower's output: its class token's post-layernorm, projected, normalised. */
        private List<float[]> pool(float[] x, int images, int T) {
            List<float[]> out = new java.util.ArrayList<>(images);
            for (int i = 0; i < images; i++) {
                float[] pooled = new float[vision.dim];
                k.layernorm(pooled, 0, x, i * T * vision.dim, postW, postB, vision.dim, vision.eps);
                out.add(project(visualProjection, pooled));
            }
            return out;
        }

        /** The image tower's layers for a backend; the embedding, the pooling and the text tower stay here. */
        @Override
        public dev.panamax.runtime.backend.VisionSpec visionSpec() {
            List<dev.panamax.runtime.backend.EncoderSpec.Layer> list = new java.util.ArrayList<>();
            for (PreLnEncoder.Layer L : visionLayers) list.add(L.asEncoderLayer());
            return new dev.panamax.runtime.backend.VisionSpec(vision.dim, vision.heads, vision.ffnDim, vision.eps, true, list,
                    new dev.panamax.runtime.backend.VisionSpec.Stages() {
                        @Override public int tokens(int height, int width) { return Loaded.this.tokens(height, width); }
                        @Override public float[] embed(List<float[]> images, int height, int width) { return embedPatches(images, height, width); }

                        @Override
                        public List<float[]> finish(float[] hidden, int images, int tokens, boolean embedding) {
                            if (!embedding) throw new ModelException("CLIP has no classifier: compare its image embedding with the embeddings of label texts (zero-shot)");
                            return pool(hidden, images, tokens);
                        }

                        @Override
                        public int rowsFinishReads() {
                            return 1; // pooled at the class token
                        }

                        @Override
                        public dev.panamax.runtime.backend.VisionSpec.PatchEmbedding patchEmbedding() {
                            return PreLnEncoder.patchEmbedding(patchProj, null, new float[][] {classEmbedding}, visionPositions, channels, patch,
                                    imageSize / patch, vision.dim, preW, preB);
                        }
                    });
        }

        @Override
        public float[] embedText(String input) {
            if (tokenizer == null) throw new ModelException("this CLIP model came without its tokenizer (vocab.json and merges.txt)");
            int[] ids = tokenizer.encode(input, true);
            if (ids.length > positions) throw new ModelException("the text is " + ids.length + " tokens; CLIP's text tower takes at most " + positions);
            int d = text.dim, T = ids.length;
            float[] x = new float[T * d];
            for (int t = 0; t < T; t++) {
                if (ids[t] < 0 || ids[t] >= tokenEmbedding.rows()) throw new ModelException("token id " + ids[t] + " is outside the vocabulary");
                tokenEmbedding.row(k, ids[t], x, t * d);
            }
            k.add(x, 0, textPositions, 0, x, 0, T * d);
            PreLnEncoder.run(k, w, x, T, text.shape(true), textLayers);
            // Pooled at the first end-of-text token (older configs, eos 2: at the highest id, as transformers does).
            int at = T - 1;
            if (eosId == 2) {
                for (int t = 0; t < T; t++) if (ids[t] > ids[at] || (ids[t] == ids[at] && t < at)) at = t;
            } else {
                for (int t = 0; t < T; t++) if (ids[t] == eosId) { at = t; break; }
            }
            float[] pooled = new float[d];
            k.layernorm(pooled, 0, x, at * d, finalW, finalB, d, text.eps);
            return project(textProjection, pooled);
        }

        /** W·v, L2-normalised. */
        private float[] project(Tensor proj, float[] v) {
            float[] e = new float[projection];
            w.cpu(proj).matvec(k, v, e);
            double norm = 0;
            for (float f : e) norm += (double) f * f;
            float inv = (float) (1 / Math.sqrt(norm));
            for (int i = 0; i < e.length; i++) e[i] *= inv;
            return e;
        }
    }
}
