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
    }

    /** An image model that can describe itself as a {@link VisionSpec}. */
    public interface Source {
        VisionSpec visionSpec();
    }
}
