package dev.panamax.runtime.image;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A model's image processor as its {@code preprocessor_config.json} describes it (transformers'
 * {@code ViTImageProcessor}, {@code DeiTImageProcessor}, {@code CLIPImageProcessor}): resize (to a
 * height and width, or the shortest edge to a length keeping the aspect ratio) with Pillow's
 * bilinear or bicubic filter on the 8-bit image, centre crop, rescale (× 1/255), normalise
 * ((x − mean) / std per channel). {@link #apply} gives the model's input, a {@code [3, H, W]} tensor.
 *
 * <pre>{@code
 * ImageProcessor p = ImageProcessor.read(modelDir);
 * float[] pixels = p.apply(RgbImage.read(Path.of("cat.jpg")));
 * float[] logits = visionModel.classify(pixels, p.outputHeight(), p.outputWidth());
 * }</pre>
 */
public record ImageProcessor(boolean resize, int height, int width, int shortestEdge, int resample, boolean centerCrop, int cropHeight, int cropWidth,
                             boolean rescale, double rescaleFactor, boolean normalize, float[] mean, float[] std) {

    /** Reads {@code preprocessor_config.json} from a model directory. */
    public static ImageProcessor read(Path dir) {
        Path f = dir.resolve("preprocessor_config.json");
        if (!Files.isRegularFile(f)) throw new ModelException(dir + ": no preprocessor_config.json (the image processor's settings)");
        Map<String, Object> c;
        try {
            c = Json.object(Json.parse(Files.readString(f)), "preprocessor_config.json");
        } catch (IOException | Json.JsonException e) {
            throw new ModelException(f + ": " + e.getMessage(), e);
        }
        boolean resize = bool(c, "do_resize", true), crop = bool(c, "do_center_crop", false);
        Map<String, Object> size = c.get("size") instanceof Map<?, ?> m ? cast(m) : Map.of();
        int h = integer(size, "height", 0), w = integer(size, "width", 0), shortest = integer(size, "shortest_edge", 0);
        if (resize && shortest <= 0 && (h <= 0 || w <= 0)) throw new ModelException(f + ": size needs height and width, or shortest_edge");
        Map<String, Object> cs = c.get("crop_size") instanceof Map<?, ?> m ? cast(m) : Map.of();
        int ch = integer(cs, "height", 0), cw = integer(cs, "width", 0);
        if (crop && (ch <= 0 || cw <= 0)) throw new ModelException(f + ": do_center_crop without crop_size height and width");
        int resample = c.get("resample") instanceof Number n ? n.intValue() : Resample.BILINEAR;
        if (resize) {
            try {
                Resample.support(resample);
            } catch (IllegalArgumentException e) {
                throw new ModelException(f + ": " + e.getMessage());
            }
        }
        return new ImageProcessor(resize, h, w, shortest, resample, crop, ch, cw, bool(c, "do_rescale", true),
                c.get("rescale_factor") instanceof Number n ? n.doubleValue() : 1 / 255.0, bool(c, "do_normalize", true),
                triple(c.get("image_mean"), f, "image_mean"), triple(c.get("image_std"), f, "image_std"));
    }

    /** The output's height (the crop's, or the resize's for a fixed size); −1 when it depends on the image. */
    public int outputHeight() {
        return centerCrop ? cropHeight : resize && shortestEdge <= 0 ? height : -1;
    }

    /** The output's width, as {@link #outputHeight}. */
    public int outputWidth() {
        return centerCrop ? cropWidth : resize && shortestEdge <= 0 ? width : -1;
    }

    /** The model's input for {@code image}: {@code [3, H, W]} floats, H × W as {@link #outputHeight} and {@link #outputWidth} say. */
    public float[] apply(RgbImage image) {
        RgbImage x = image;
        if (resize) {
            int w = width, h = height;
            if (shortestEdge > 0) { // the shorter side to shortestEdge, the longer in proportion (rounded down), as transformers does
                boolean wide = image.width() >= image.height();
                int shortSide = wide ? image.height() : image.width(), longSide = wide ? image.width() : image.height();
                int newLong = (int) ((long) shortestEdge * longSide / shortSide);
                w = wide ? newLong : shortestEdge;
                h = wide ? shortestEdge : newLong;
            }
            x = Resample.resize(x, w, h, resample);
        }
        int top = 0, left = 0, H = x.height(), W = x.width();
        if (centerCrop) {
            if (cropHeight > H || cropWidth > W) {
                throw new ModelException("a " + W + "×" + H + " image cannot be cropped to " + cropWidth + "×" + cropHeight);
            }
            top = (H - cropHeight) / 2;
            left = (W - cropWidth) / 2;
            H = cropHeight;
            W = cropWidth;
        }
        float[] out = new float[3 * H * W];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < H; y++) {
                for (int i = 0; i < W; i++) {
                    float v = x.at(left + i, top + y, c);
                    if (rescale) v = (float) (v * rescaleFactor);
                    if (normalize) v = (v - mean[c]) / std[c];
                    out[(c * H + y) * W + i] = v;
                }
            }
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Map<?, ?> m) {
        return (Map<String, Object>) m;
    }

    private static boolean bool(Map<String, Object> c, String key, boolean otherwise) {
        return c.get(key) instanceof Boolean b ? b : otherwise;
    }

    private static int integer(Map<String, Object> c, String key, int otherwise) {
        return c.get(key) instanceof Number n ? n.intValue() : otherwise;
    }

    private static float[] triple(Object v, Path f, String key) {
        if (v == null) return new float[] {0.5f, 0.5f, 0.5f}; // transformers' IMAGENET_STANDARD_MEAN and _STD
        if (!(v instanceof List<?> l) || l.size() != 3) throw new ModelException(f + ": " + key + " should be three numbers");
        float[] r = new float[3];
        for (int i = 0; i < 3; i++) {
            if (!(l.get(i) instanceof Number n)) throw new ModelException(f + ": " + key + " should be three numbers");
            r[i] = n.floatValue();
            if (key.equals("image_std") && r[i] == 0) throw new ModelException(f + ": image_std has a zero");
        }
        return r;
    }
}
