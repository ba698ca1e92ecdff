package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.ModelException;
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

/** {@code panamax classify}: an image classifier's top labels for preprocessed pixels. */
final class ClassifyCommand extends Command {

    ClassifyCommand() {
        super("classify", "MODEL --pixels FILE.f32 [--top K]", "an image classifier's top labels (ViT, DeiT)", """
                Runs a ViT or DeiT classifier (a Hugging Face directory) on one image given as its
                preprocessed pixels: a float32 little-endian [3, S, S] tensor, S the model's image
                size — what transformers' image processor returns (resized, rescaled, normalised as
                preprocessor_config.json says). Prints the top K labels, best first, one per line
                as "label probability" (softmax of the logits). Decoding PNG and JPEG files and the
                preprocessing itself come next (issue 26).
                """, List.of(Option.valued("--pixels", "FILE.f32", "the pixel tensor [3, S, S], float32 little-endian"),
                Option.valued("--top", "K", "labels to print (default 5)"), Option.THREADS));
    }

    @Override
    int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        threads(a);
        if (a.positional.size() != 1) throw new UsageException("classify needs MODEL (see panamax classify --help)");
        String pixelsFile = a.value("--pixels", null);
        if (pixelsFile == null) throw new UsageException("classify needs --pixels FILE.f32 (decoding image files comes next)");
        int top = a.integer("--top", 5);
        if (top < 1) throw new UsageException("--top must be at least 1, got " + top);
        try (Model m = ModelLoader.load(Path.of(a.positional.get(0)), loadOptions(a))) {
            if (!(m instanceof VisionModel v)) throw new ModelException(a.positional.get(0) + " is a " + m.architecture() + " model, not an image classifier");
            int s = v.imageSize(), c = v.channels();
            Path p = Path.of(pixelsFile);
            long bytes = Files.size(p), want = 4L * c * s * s;
            if (bytes != want) {
                throw new ModelException(p + ": " + bytes + " bytes; a [" + c + ", " + s + ", " + s + "] float32 tensor is " + want);
            }
            float[] pixels = new float[c * s * s];
            ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(pixels);
            float[] logits = v.classify(pixels, s, s);
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
        return 0;
    }
}
