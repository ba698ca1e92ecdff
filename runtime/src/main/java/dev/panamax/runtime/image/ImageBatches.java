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

    /**
     * The results of {@code pass} for each file, in the files' order. The files of a pass are read
     * and preprocessed on the kernels' threads, a file each: decoding and resizing a photo takes
     * tens of milliseconds, as long as a small model's pass over it (docs/benchmarks.md). A file
     * that cannot be read stops the run with its own error.
     */
    public static List<float[]> run(List<Path> files, ImageProcessor processor, VisionModel v, Pass pass) {
        List<float[]> out = new ArrayList<>(files.size());
        run(files, processor, v, pass, out::add);
        return out;
    }

    /** As {@link #run(List, ImageProcessor, VisionModel, Pass)}, each result given to {@code each} in the files' order as its pass ends. */
    public static void run(List<Path> files, ImageProcessor processor, VisionModel v, Pass pass, java.util.function.Consumer<float[]> each) {
        int h = processor.outputHeight() > 0 ? processor.outputHeight() : v.imageSize();
        for (int f0 = 0; f0 < files.size(); f0 += SIZE) {
            int n = Math.min(SIZE, files.size() - f0), first = f0;
            float[][] pixels = new float[n][];
            dev.panamax.simd.Parallel.forEach(n, i -> pixels[i] = processor.apply(RgbImage.read(files.get(first + i))));
            for (int i = 0; i < n; ) { // runs of one size (a processor without a crop keeps each image's aspect)
                int j = i + 1;
                while (j < n && pixels[j].length == pixels[i].length) j++;
                pass.apply(java.util.Arrays.asList(pixels).subList(i, j), h, pixels[i].length / (v.channels() * h)).forEach(each);
                i = j;
            }
        }
    }
}
