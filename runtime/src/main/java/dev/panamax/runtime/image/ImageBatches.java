package dev.panamax.runtime.image;

import dev.panamax.runtime.model.VisionModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Image files through an image model {@link #SIZE} at a time: each read and preprocessed as the
 * model's {@code preprocessor_config.json} says, consecutive images of one size given to the
 * model together ({@link VisionModel#classify(List, int, int)}, {@link VisionModel#embedImages}),
 * which gives each image the result it gets alone, faster. {@code panamax classify}, {@code embed
 * --image} and {@code search --images} run their files through it, as {@link dev.panamax.runtime.Vision}
 * does its lists of files.
 */
public final class ImageBatches {
    private ImageBatches() {}

    /** Images a pass: enough for the batched product to pay (16 ViT-B/16 images hold ~10 MB of pixels). */
    public static final int SIZE = 16;

    /** One pass of the model over images of one size. */
    @FunctionalInterface
    public interface Pass {
        List<float[]> apply(List<float[]> images, int height, int width);
    }

    /** The results of {@code pass} for each file, in the files' order. */
    public static List<float[]> run(List<Path> files, ImageProcessor processor, VisionModel v, Pass pass) {
        List<float[]> out = new ArrayList<>(files.size()), pending = new ArrayList<>();
        int h = 0, w = 0;
        for (Path f : files) {
            float[] pixels = processor.apply(RgbImage.read(f));
            int ph = processor.outputHeight() > 0 ? processor.outputHeight() : v.imageSize(), pw = pixels.length / (v.channels() * ph);
            if (!pending.isEmpty() && (ph != h || pw != w || pending.size() == SIZE)) {
                out.addAll(pass.apply(pending, h, w));
                pending.clear();
            }
            pending.add(pixels);
            h = ph;
            w = pw;
        }
        if (!pending.isEmpty()) out.addAll(pass.apply(pending, h, w));
        return out;
    }
}
