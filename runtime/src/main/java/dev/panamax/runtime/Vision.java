package dev.panamax.runtime;

import dev.panamax.runtime.image.ImageBatches;
import dev.panamax.runtime.image.ImageProcessor;
import dev.panamax.runtime.image.RgbImage;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.VisionModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Panamax's image API: load a ViT, DeiT or CLIP directory; classify images, embed them, and (CLIP)
 * embed texts in the same space or classify among labels of one's own. Images are decoded and
 * preprocessed as the model's {@code preprocessor_config.json} says ({@link ImageProcessor}).
 *
 * <pre>{@code
 * try (Vision vit = Vision.load(Path.of("vit-base-patch16-224"))) {
 *     for (Vision.Label l : vit.classify(Path.of("cat.jpg"), 3)) System.out.println(l.label() + " " + l.probability());
 * }
 * try (Vision clip = Vision.load(Path.of("clip-vit-base-patch32"))) {
 *     List<Vision.Label> best = clip.classify(Path.of("cat.jpg"), List.of("a photo of a cat", "a photo of a dog"));
 *     float[] image = clip.embedImage(Path.of("cat.jpg")), text = clip.embedText("a cat on a sofa");
 * }
 * }</pre>
 *
 * Thread-safe, as the model underneath is.
 */
public final class Vision implements AutoCloseable {

    /** A label and its probability (the softmax of the logits). */
    public record Label(String label, double probability) {}

    private final VisionModel model;
    private final ImageProcessor processor;

    private Vision(VisionModel model, ImageProcessor processor) {
        this.model = model;
        this.processor = processor;
    }

    /** Loads an image model's Hugging Face directory (config.json, model.safetensors, preprocessor_config.json). */
    public static Vision load(Path dir) {
        return load(dir, LoadOptions.defaults());
    }

    /** As {@link #load(Path)}, with options. */
    public static Vision load(Path dir, LoadOptions options) {
        Model m = ModelLoader.load(dir, options);
        if (!(m instanceof VisionModel v)) {
            m.close();
            throw new ModelException(dir + " is a " + m.architecture() + " model, not an image model: use Panamax.load");
        }
        try {
            return new Vision(v, ImageProcessor.read(dir));
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** The model underneath (its preprocessed-pixel methods, its labels). */
    public VisionModel model() {
        return model;
    }

    /** The image's pixels as the model takes them, {@code [3, H, W]}. */
    public float[] pixels(RgbImage image) {
        return processor.apply(image);
    }

    /** The classifier's top {@code k} labels for the image file, best first. */
    public List<Label> classify(Path image, int k) {
        return classify(RgbImage.read(image), k);
    }

    /** The same for a decoded image ({@link RgbImage#decode} reads one from bytes). */
    public List<Label> classify(RgbImage image, int k) {
        float[] pixels = pixels(image);
        int h = height(pixels);
        return top(model.classify(pixels, h, pixels.length / (3 * h)), model.labels(), k);
    }

    /**
     * The top {@code k} labels of each image file, in the files' order: 16 images a pass through
     * the model ({@link ImageBatches}), each image's answer the one it gets alone.
     */
    public List<List<Label>> classify(List<Path> images, int k) {
        return ImageBatches.run(images, processor, model, model::classify).stream().map(logits -> top(logits, model.labels(), k)).toList();
    }

    /** CLIP: the image's probabilities among {@code texts} (softmax of the scaled similarities), best first. */
    public List<Label> classify(Path image, List<String> texts) {
        if (texts.isEmpty()) throw new IllegalArgumentException("no texts to choose among");
        float[] e = embedImage(image), logits = new float[texts.size()];
        for (int i = 0; i < logits.length; i++) {
            float[] t = model.embedText(texts.get(i));
            float dot = 0;
            for (int j = 0; j < e.length; j++) dot += e[j] * t[j];
            logits[i] = model.logitScale() * dot;
        }
        return top(logits, texts, texts.size());
    }

    /** The image file's embedding, unit length (CLIP). */
    public float[] embedImage(Path image) {
        return embedImage(RgbImage.read(image));
    }

    /** The same for a decoded image. */
    public float[] embedImage(RgbImage image) {
        float[] pixels = pixels(image);
        int h = height(pixels);
        return model.embedImage(pixels, h, pixels.length / (3 * h));
    }

    /** The embeddings of the image files, in their order, 16 a pass ({@link ImageBatches}), each the one the image gets alone (CLIP). */
    public List<float[]> embedImages(List<Path> images) {
        return ImageBatches.run(images, processor, model, model::embedImages);
    }

    /** A text's embedding in the images' space, unit length (CLIP). */
    public float[] embedText(String text) {
        return model.embedText(text);
    }

    private int height(float[] pixels) {
        return processor.outputHeight() > 0 ? processor.outputHeight() : model.imageSize();
    }

    private static List<Label> top(float[] logits, List<String> labels, int k) {
        if (k < 1) throw new IllegalArgumentException("k must be at least 1, got " + k);
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float x : logits) max = Math.max(max, x);
        double[] p = new double[logits.length];
        for (int i = 0; i < p.length; i++) sum += p[i] = Math.exp(logits[i] - max);
        List<Label> all = new ArrayList<>();
        for (int i = 0; i < p.length; i++) all.add(new Label(labels.get(i), p[i] / sum));
        all.sort(Comparator.comparingDouble(Label::probability).reversed());
        return List.copyOf(all.subList(0, Math.min(k, all.size())));
    }

    @Override
    public void close() {
        model.close();
    }
}
