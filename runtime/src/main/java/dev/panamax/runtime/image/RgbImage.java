package dev.panamax.runtime.image;

import dev.panamax.runtime.ModelException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An 8-bit RGB image, row-major, three bytes per pixel (red, green, blue) — what image processors
 * start from. {@link #read} decodes PNG and JPEG with the JDK's {@code javax.imageio} (module
 * {@code java.desktop}, optional: a runtime without it can still classify pixel tensors): alpha is
 * dropped, greyscale and palette images become RGB, 16-bit channels are reduced to 8.
 */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        if (width <= 0 || height <= 0 || rgb.length != 3L * width * height) {
            throw new IllegalArgumentException(width + "×" + height + " image with " + rgb.length + " bytes (3 per pixel expected)");
        }
    }

    /** The byte of channel {@code c} at (x, y), 0..255. */
    int at(int x, int y, int c) {
        return rgb[3 * (y * width + x) + c] & 0xff;
    }

    /** Decodes a PNG or JPEG file (whatever {@code javax.imageio} reads). */
    public static RgbImage read(Path file) {
        if (!Files.isRegularFile(file)) throw new ModelException(file + ": no such image file");
        if (ModuleLayer.boot().findModule("java.desktop").isEmpty() && RgbImage.class.getModule().isNamed()) {
            throw new ModelException("decoding " + file + " needs the java.desktop module (javax.imageio), which this runtime lacks: add it, or pass preprocessed pixels");
        }
        return Decoder.read(file);
    }

    /** Kept apart so that nothing of java.desktop is linked unless an image is decoded. */
    private static final class Decoder {
        static RgbImage read(Path file) {
            java.awt.image.BufferedImage img;
            try (var in = Files.newInputStream(file)) {
                img = javax.imageio.ImageIO.read(in);
            } catch (IOException | RuntimeException e) {
                throw new ModelException(file + ": cannot decode the image (" + e.getMessage() + ")", e);
            }
            if (img == null) throw new ModelException(file + ": not an image format this JVM decodes (PNG and JPEG are)");
            int w = img.getWidth(), h = img.getHeight();
            if ((long) w * h > 1L << 28) throw new ModelException(file + ": a " + w + "×" + h + " image is too large");
            byte[] rgb = new byte[3 * w * h];
            int[] row = new int[w];
            for (int y = 0; y < h; y++) {
                img.getRGB(0, y, w, 1, row, 0, w); // sRGB, 8 bits a channel, whatever the file's model
                for (int x = 0; x < w; x++) {
                    int p = row[x], o = 3 * (y * w + x);
                    rgb[o] = (byte) (p >> 16);
                    rgb[o + 1] = (byte) (p >> 8);
                    rgb[o + 2] = (byte) p;
                }
            }
            return new RgbImage(w, h, rgb);
        }
    }
}
