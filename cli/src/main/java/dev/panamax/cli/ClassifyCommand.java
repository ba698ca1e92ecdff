package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.image.ImageBatches;
import dev.panamax.runtime.image.ImageProcessor;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.VisionModel;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/** {@code panamax classify}: an image classifier's top labels for image files or preprocessed pixels. */
final class ClassifyCommand extends Command {

    ClassifyCommand() {
        super("classify", "MODEL IMAGE... [--top K] [--labels A,B,C] | MODEL --pixels FILE.f32", "an image's top labels (ViT, DeiT; CLIP zero-shot)", """
                Runs a ViT or DeiT classifier (a Hugging Face directory) on each IMAGE (PNG or JPEG),
                preprocessed as the model's preprocessor_config.json says (Pillow's resize, centre
                crop, rescale, normalise), and prints its top K labels, best first, one per line as
                "label probability" (softmax of the logits); with several images, each list follows
                a line "== IMAGE". --pixels takes one image's preprocessed pixels instead: a float32
                little-endian [3, H, W] tensor, what transformers' image processor returns (square
                unless --pixel-size says; another size than the model's is run with its position
                embeddings resized, as transformers' interpolate_pos_encoding=True does).
                A CLIP model classifies zero-shot among --labels: each label becomes a text through
                --template (default "a photo of {label}"), and the probabilities are the softmax of
                CLIP's scaled similarities between the image and the texts.
                """, List.of(Option.valued("--pixels", "FILE.f32", "a preprocessed pixel tensor [3, H, W], float32 little-endian, instead of images"), PixelsFile.SIZE,
                Option.valued("--labels", "A,B,C", "CLIP: the labels to choose among (comma-separated)"),
                Option.valued("--labels-file", "FILE", "CLIP: the labels, one per line (for labels with commas)"),
                Option.valued("--template", "TEXT", "CLIP: the text for each label, {label} replaced (default \"a photo of {label}\")"),
                Option.valued("--top", "K", "labels to print (default 5)"), Option.THREADS, Option.QUANTIZE, Option.DEVICE));
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
        String device = deviceOption(a);
        try (Model m = placeModel(ModelLoader.load(dir, loadOptions(a)), device, err)) {
            if (!(m instanceof VisionModel model)) throw new ModelException(dir + " is a " + m.architecture() + " model, not an image classifier");
            VisionModel v = zeroShot(model, a);
            if (pixelsFile != null) {
                PixelsFile px = PixelsFile.read(Path.of(pixelsFile), v.channels(), v.imageSize(), a.value("--pixel-size", null));
                print(v, v.classify(px.pixels(), px.height(), px.width()), top, out);
                return 0;
            }
            ImageProcessor processor = ImageProcessor.read(dir);
            int[] next = {0}; // printed as each pass ends
            ImageBatches.run(images.stream().map(Path::of).toList(), processor, v, v::classify, logits -> {
                if (images.size() > 1) out.println("== " + images.get(next[0]));
                next[0]++;
                print(v, logits, top, out);
            });
        }
        return 0;
    }

    /**
     * CLIP with --labels: a classifier whose logits are the scaled similarities of the image's
     * embedding and each label's text embedding; any other model as it is (--labels refused).
     */
    private static VisionModel zeroShot(VisionModel m, Args a) {
        String labels = a.value("--labels", null), labelsFile = a.value("--labels-file", null);
        if (labels != null && labelsFile != null) throw new UsageException("give --labels or --labels-file, not both");
        if (labels == null && labelsFile == null) {
            if (m.labels().isEmpty()) throw new UsageException(m.architecture() + " has no classifier of its own: give --labels A,B,C to choose among (zero-shot)");
            return m;
        }
        if (!m.labels().isEmpty()) throw new UsageException(m.architecture() + " classifies with its own labels; --labels is for CLIP");
        List<String> names;
        if (labelsFile != null) {
            try {
                names = java.nio.file.Files.readAllLines(Path.of(labelsFile)).stream().map(String::strip).filter(x -> !x.isEmpty()).toList();
            } catch (IOException e) {
                throw new ModelException("cannot read " + labelsFile + ": " + e.getMessage(), e);
            }
        } else {
            names = Arrays.stream(labels.split(",")).map(String::strip).filter(x -> !x.isEmpty()).toList();
        }
        if (names.isEmpty()) throw new UsageException(labelsFile != null ? labelsFile + " has no labels" : "--labels is empty");
        String template = a.value("--template", "a photo of {label}");
        float[][] texts = new float[names.size()][];
        for (int i = 0; i < texts.length; i++) texts[i] = m.embedText(template.replace("{label}", names.get(i)));
        return new VisionModel() {
            @Override public int imageSize() { return m.imageSize(); }
            @Override public int channels() { return m.channels(); }
            @Override public List<String> labels() { return names; }
            @Override public int hiddenSize() { return m.hiddenSize(); }
            @Override public float[] hiddenStates(float[] pixels, int h, int w) { return m.hiddenStates(pixels, h, w); }
            @Override public String architecture() { return m.architecture(); }
            @Override public dev.panamax.runtime.tokenizer.Tokenizer tokenizer() { return m.tokenizer(); }
            @Override public void close() {}

            @Override
            public float[] classify(float[] pixels, int h, int w) {
                return similarities(m.embedImage(pixels, h, w));
            }

            @Override
            public List<float[]> classify(List<float[]> images, int h, int w) {
                return m.embedImages(images, h, w).stream().map(this::similarities).toList();
            }

            /** The image embedding's scaled similarity to each label's text embedding. */
            private float[] similarities(float[] image) {
                float[] logits = new float[texts.length];
                for (int i = 0; i < texts.length; i++) {
                    float dot = 0;
                    for (int j = 0; j < image.length; j++) dot += image[j] * texts[i][j];
                    logits[i] = m.logitScale() * dot;
                }
                return logits;
            }
        };
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
