package dev.panamax.runtime.model;

import java.util.List;

/**
 * An image model (ViT, DeiT): a {@code [channels, height, width]} float tensor of preprocessed
 * pixels (resized, rescaled and normalised as the model's {@code preprocessor_config.json} says)
 * in, class logits or hidden states out. Thread-safe: the weights are shared and read-only.
 *
 * <p>Any size of at least one patch each way is taken: another size than {@link #imageSize()} runs
 * with the position embeddings resized to its grid of patches (bicubic, as transformers does with
 * {@code interpolate_pos_encoding=True}); pixels past the last whole patch are dropped, as the
 * patch convolution drops them.
 */
public interface VisionModel extends Model {

    /** The square side, in pixels, the model was trained at (its position embeddings' grid). */
    int imageSize();

    /** Input channels (3: RGB). */
    int channels();

    /** The classifier's labels by index ({@code id2label}); empty where the model has no classifier. */
    List<String> labels();

    /** The width of {@link #hiddenStates}' rows. */
    int hiddenSize();

    /**
     * The last encoder layer's output, {@code [tokens, hiddenSize]} — transformers'
     * {@code hidden_states[-1]}, before the final layer norm — the class token (and DeiT's
     * distillation token) first, then the patches in row-major order.
     */
    float[] hiddenStates(float[] pixels, int height, int width);

    /** The classifier's logits {@code [labels().size()]} for one image. */
    float[] classify(float[] pixels, int height, int width);

    /**
     * {@link #classify(float[], int, int)} for several images of one size in one pass: each linear
     * layer multiplies all of them at once (the weights read once for several images), and each
     * image's logits are bit for bit the ones it gets alone, whatever its batch mates.
     */
    default List<float[]> classify(List<float[]> images, int height, int width) {
        return images.stream().map(p -> classify(p, height, width)).toList();
    }

    /** {@link #embedImage} for several images of one size in one pass, each embedding bit for bit the one it gets alone. */
    default List<float[]> embedImages(List<float[]> images, int height, int width) {
        return images.stream().map(p -> embedImage(p, height, width)).toList();
    }

    /** The image's embedding, L2-normalised (CLIP); models without one say so. */
    default float[] embedImage(float[] pixels, int height, int width) {
        throw new dev.panamax.runtime.ModelException("this " + architecture() + " model gives no image embedding (CLIP does)");
    }

    /** A text's embedding in the images' space, L2-normalised (CLIP's text tower); models without one say so. */
    default float[] embedText(String text) {
        throw new dev.panamax.runtime.ModelException("this " + architecture() + " model has no text tower (CLIP does)");
    }

    /** The factor from a cosine similarity to a logit (CLIP's exp(logit_scale)); 1 where the model has none. */
    default float logitScale() {
        return 1;
    }
}
