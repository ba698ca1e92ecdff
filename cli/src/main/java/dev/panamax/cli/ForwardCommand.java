package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.image.ImageProcessor;
import dev.panamax.runtime.image.RgbImage;
import dev.panamax.runtime.model.EncoderModel;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.VisionModel;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;

/** {@code panamax forward}: one forward pass; writes the logits as float32 [T, vocab]. */
final class ForwardCommand extends Command {

    ForwardCommand() {
        super("forward", "MODEL (--ids A,B,C | --image IMAGE | --pixels FILE.f32) --out FILE [options]", "one forward pass; writes the logits as float32 [T, vocab]", """
                Runs the tokens through the model and writes, as float32 little-endian, row-major:
                the logits of every position [T, vocab] for language models, the last hidden state
                [T, hidden] for encoders (BERT). An image classifier (ViT, DeiT) takes --image (a PNG
                or JPEG, preprocessed as its preprocessor_config.json says) or --pixels (the
                preprocessed float32 [3, H, W] tensor; square unless --pixel-size HxW says) and writes
                its logits [labels]. For
                conformance checks.
                """, List.of(Option.valued("--ids", "A,B,C", "the tokens"), Option.valued("--image", "IMAGE", "an image file, for an image model"),
                Option.valued("--pixels", "FILE.f32", "preprocessed pixels, for an image model"), PixelsFile.SIZE,
                Option.valued("--out", "FILE", "where the floats go"), Option.THREADS, Option.KV_TYPE, Option.PROMPT_CHUNK, Option.DEVICE, Option.QUANTIZE));
    }

    @Override
    int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        threads(a);
        return forward(a, out, err);
    }

    private int forward(Args a, PrintStream out, PrintStream err) throws IOException {
        if (a.positional.size() != 1) throw new UsageException("forward needs MODEL (see panamax forward --help)");
        String idList = a.value("--ids", null), file = a.value("--out", null), image = a.value("--image", null), pixelsFile = a.value("--pixels", null);
        int inputs = (idList != null ? 1 : 0) + (image != null ? 1 : 0) + (pixelsFile != null ? 1 : 0);
        if (inputs != 1 || file == null) throw new UsageException("forward needs one of --ids A,B,C, --image IMAGE or --pixels FILE.f32, and --out FILE");
        int[] ids = idList == null ? new int[0] : Args.ids("--ids", idList);
        if (idList != null && ids.length == 0) throw new UsageException("--ids is empty");
        String device = deviceOption(a);
        Path dir = Path.of(a.positional.get(0));
        try (Model model = placeModel(ModelLoader.load(dir, loadOptions(a)), device, err);
             OutputStream os = new BufferedOutputStream(openForWriting("--out", Path.of(file)))) {
            if (model instanceof VisionModel v) {
                if (idList != null) throw new ModelException(dir + " is an image model: give it --image or --pixels, not --ids");
                float[] logits;
                if (image != null) {
                    ImageProcessor p = ImageProcessor.read(dir);
                    float[] pixels = p.apply(RgbImage.read(Path.of(image)));
                    int h = p.outputHeight() > 0 ? p.outputHeight() : v.imageSize();
                    logits = v.classify(pixels, h, pixels.length / (v.channels() * h));
                } else {
                    PixelsFile px = PixelsFile.read(Path.of(pixelsFile), v.channels(), v.imageSize(), a.value("--pixel-size", null));
                    logits = v.classify(px.pixels(), px.height(), px.width());
                }
                ByteBuffer all = ByteBuffer.allocate(4 * logits.length).order(ByteOrder.LITTLE_ENDIAN);
                all.asFloatBuffer().put(logits);
                os.write(all.array());
                err.printf("panamax: wrote [%d] float32 logits to %s%n", logits.length, file);
                return 0;
            }
            if (idList == null) throw new ModelException(dir + " is a " + model.architecture() + " model: give it --ids, not an image");
            int width;
            if (model instanceof EncoderModel enc) {
                // Encoders: the last hidden state [T, hidden].
                if (ids.length > enc.maxPositions()) throw new ModelException(ids.length + " ids do not fit the " + enc.maxPositions() + " positions of the model");
                float[] states = enc.encode(ids);
                width = enc.hiddenSize();
                ByteBuffer all = ByteBuffer.allocate(4 * states.length).order(ByteOrder.LITTLE_ENDIAN);
                all.asFloatBuffer().put(states);
                os.write(all.array());
            } else {
                LanguageModel m = (LanguageModel) model;
                if (ids.length > m.contextLength()) throw new ModelException(ids.length + " ids do not fit the context of " + m.contextLength());
                LanguageModel.Session s = m.newSession();
                width = m.vocabSize();
                ByteBuffer row = ByteBuffer.allocate(4 * width).order(ByteOrder.LITTLE_ENDIAN);
                for (int id : ids) {
                    float[] logits = s.forward(id);
                    row.clear();
                    row.asFloatBuffer().put(logits);
                    os.write(row.array());
                }
            }
            err.printf("panamax: wrote [%d, %d] float32 %s to %s%n", ids.length, width, model instanceof EncoderModel ? "hidden states" : "logits", file);
        }
        return 0;
    }
}
