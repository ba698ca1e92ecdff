package dev.panamax.runtime.backend;

import java.util.List;

/**
 * An image model's encoder (ViT, DeiT, CLIP's image tower) described for a backend: the pre-LN
 * layers, with the steps before and after them left to the model on the CPU ({@link Stages}: the
 * patch embedding, a few hundred rows once an image; the final norm and the heads on one or two rows).
 * The equations are those of {@code models/PreLnEncoder}, every token seeing every token:
 *
 * <pre>
 *   h  = x + W_o·Attention(W_q·n + b_q, W_k·n + b_k, W_v·n + b_v) + b_o,   n = LN₁(x)
 *   x' = h + W_out·act(W_in·m + b_in) + b_out,                              m = LN₂(h)
 * </pre>
 *
 * with act GELU (erf) or, {@code quickGelu}, CLIP's x·σ(1.702x). The layers' weights are
 * {@link EncoderSpec.Layer}s: ln1 the norm before attention, ln2 the one before the feed-forward.
 */
public record VisionSpec(int dim, int heads, int ffnDim, float eps, boolean quickGelu, List<EncoderSpec.Layer> layerWeights, Stages stages) {

    /** The model's own steps around the encoder layers, on the CPU. */
    public interface Stages {
        /** Tokens an image of this size becomes (prefix tokens and patches). */
        int tokens(int height, int width);

        /** The images' tokens as the first layer takes them, stacked: [images · tokens, dim]. */
        float[] embed(List<float[]> images, int height, int width);

        /**
         * Each image's result from the last layer's output [images · tokens, dim] (stacked as
         * {@link #embed} stacks them): the classifier's logits, or ({@code embedding}) CLIP's
         * normalised image embedding.
         */
        List<float[]> finish(float[] hidden, int images, int tokens, boolean embedding);

        /**
         * The patch embedding for a backend to run itself, or null (the default: {@link #embed} runs
         * here). Where given, an image's tokens are {@code base} plus, on the rows after the
         * {@code prefix} rows, its patches times the projection (plus the bias) — what {@link #embed}
         * computes, summed in another order.
         */
        default PatchEmbedding patchEmbedding() {
            return null;
        }

        /**
         * How many rows at the start of each image's output {@link #finish} reads (its prefix tokens):
         * a backend need return only those. All of them unless the model says otherwise.
         */
        default int rowsFinishReads() {
            return Integer.MAX_VALUE;
        }
    }

    /**
     * x = base + [0 (prefix rows); P·Wᵀ + b]: the patch embedding as a matrix product a backend runs,
     * P the unfolded patches [N, C·P·P], W the projection [dim, C·P·P], base the prefix tokens and
     * every row's position embedding [prefix + N, dim].
     */
    public interface PatchEmbedding {
        /** W [dim, C·P·P], as the CPU's kernels hold it. */
        dev.panamax.runtime.tensor.Tensor projection();

        /** b [dim], or null. */
        float[] bias();

        /** Rows before the patches (the class token; DeiT's distillation token). */
        int prefix();

        /** Channels C and patch size P of the images [C, H, W] the patches are cut from. */
        int channels();

        int patch();

        /** Checks every image's size as {@link Stages#embed} checks it (a clear error for a wrong one). */
        void check(List<float[]> images, int height, int width);

        /** The images' patches, unfolded and stacked [images · N, C·P·P]; every image's size checked as {@link Stages#embed} checks it. */
        float[] patches(List<float[]> images, int height, int width);

        /** [prefix + N, dim]: the prefix tokens plus their position embeddings, then the patch rows' position embeddings (resized to the grid). */
        float[] base(int height, int width);

        /** A LayerNorm's weight [dim] applied to every token after the embedding (CLIP's pre-layernorm), or null (none). */
        default float[] normWeight() {
            return null;
        }

        /** That LayerNorm's bias [dim]. */
        default float[] normBias() {
            return null;
        }
    }

    /** An image model that can describe itself as a {@link VisionSpec}. */
    public interface Source {
        VisionSpec visionSpec();
    }
}
