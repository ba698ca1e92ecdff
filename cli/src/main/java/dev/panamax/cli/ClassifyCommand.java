package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.image.ImageProcessor;
import dev.panamax.runtime.image.RgbImage;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.VisionModel;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/** {@code panamax classify}: an image classifier's top labels for image files or preprocessed pixels. */
final class ClassifyCommand extends Command {

    ClassifyCommand() {
        super("classify", "MODEL IMAGE... [--top K] | MODEL --pixels FILE.f32", "an image classifier's top labels (ViT, DeiT)", """
                Runs a ViT or DeiT classifier (a Hugging Face directory) on each IMAGE (PNG or JPEG),
                preprocessed as the model's preprocessor_config.json says (Pillow's resize, centre
                crop, rescale, normalise), and prints its top K labels, best first, one per line as
                "label probability" (softmax of the logits); with several images, each list follows
                a line "== IMAGE". --pixels takes one image's preprocessed pixels instead: a float32
                little-endian [3, S, S] tensor, what transformers' image processor returns.
                """, List.of(Option.valued("--pixels", "FILE.f32", "a preprocessed pixel tensor [3, S, S], float32 little-endian, instead of images"),
                Option.valued("--top", "K", "labels to print (default 5)"), Option.THREADS));
    }

    @Override
    int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        threads(a);
        if (a.positional.isEmpty()) throw new UsageException("classify needs MODEL and IMAGE... (see panamax classify --help)");
        String pixelsFile = a.value("--pixels", null);
        List<String> images = a.positional.subList(1, a.positional.size());
        if (pixelsFile == null && images.isEmpty()) throw new UsageException("classify needs IMAGE... or --pixels FILE.f32");
        if (pixelsFile != null && !images.isEmpty()) throw new UsageException("classify takes images or --pixels, not both");
        int top = a.integer("--top", 5);
        if (top < 1) throw new UsageException("--top must be at least 1, got " + top);
        Path dir = Path.of(a.positional.get(0));
        try (Model m = ModelLoader.load(dir, loadOptions(a))) {
            if (!(m instanceof VisionModel v)) throw new ModelException(dir + " is a " + m.architecture() + " model, not an image classifier");
            if (pixelsFile != null) {
                int s = v.imageSize(), c = v.channels();
                Path p = Path.of(pixelsFile);
                long bytes = Files.size(p), want = 4L * c * s * s;
                if (bytes != want) {
                    throw new ModelException(p + ": " + bytes + " bytes; a [" + c + ", " + s + ", " + s + "] float32 tensor is " + want);
                }
                float[] pixels = new float[c * s * s];
                ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(pixels);
                print(v, v.classify(pixels, s, s), top, out);
                return 0;
            }
            ImageProcessor processor = ImageProcessor.read(dir);
            for (String image : images) {
                RgbImage img = RgbImage.read(Path.of(image));
                float[] pixels = processor.apply(img);
                int h = processor.outputHeight() > 0 ? processor.outputHeight() : v.imageSize(), w = pixels.length / (3 * h);
                if (images.size() > 1) out.println("== " + image);
                print(v, v.classify(pixels, h, w), top, out);
            }
        }
        return 0;
    }

    /** The top labels, best first, as "label probability". */
    private static void print(VisionModel v, float[] logits, int top, PrintStream out) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float x : logits) max = Math.max(max, x);
        double[] prob = new double[logits.length];
        for (int i = 0; i < logits.length; i++) sum += prob[i] = Math.exp(logits[i] - max);
        Integer[] order = new Integer[logits.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (x, y) -> Double.compare(prob[y], prob[x]));
        for (int i = 0; i < Math.min(top, order.length); i++) {
            out.printf(java.util.Locale.ROOT, "%s %.4f%n", v.labels().get(order[i]), prob[order[i]] / sum);
        }
    }
}
