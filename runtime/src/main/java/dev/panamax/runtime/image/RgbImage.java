package dev.panamax.runtime.image;

import dev.panamax.runtime.ModelException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An 8-bit RGB image, row-major, three bytes per pixel (red, green, blue) — what image processors
 * start from. {@link #read} decodes PNG and JPEG with the JDK's {@code javax.imageio} (module
 * {@code java.desktop}, optional: a runtime without it can still classify pixel tensors): alpha is
 * dropped, greyscale and palette images become RGB, 16-bit channels are reduced to 8, and a JPEG's
 * EXIF orientation is applied (a phone's portrait photo comes upright).
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
        requireImageIo(file.toString());
        return Decoder.read(file);
    }

    /**
     * Decodes a PNG or JPEG held in memory (a row of a table, a request body); {@code name} says in
     * errors which image it was.
     */
    public static RgbImage decode(byte[] bytes, String name) {
        requireImageIo(name);
        return Decoder.decode(bytes, name);
    }

    /** A runtime linked without java.desktop (a jlinked edge JVM) has no javax.imageio: say so, naming the image. */
    private static void requireImageIo(String image) {
        if (ModuleLayer.boot().findModule("java.desktop").isEmpty() && RgbImage.class.getModule().isNamed()) {
            throw new ModelException("decoding " + image + " needs the java.desktop module (javax.imageio), which this runtime lacks: add it, or pass preprocessed pixels");
        }
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
            return pixels(img, file.toString()).oriented(Exif.orientation(file));
        }

        static RgbImage decode(byte[] bytes, String name) {
            java.awt.image.BufferedImage img;
            try {
                img = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(bytes));
            } catch (IOException | RuntimeException e) {
                throw new ModelException(name + ": cannot decode the image (" + e.getMessage() + ")", e);
            }
            return pixels(img, name).oriented(Exif.orientation(bytes));
        }

        private static RgbImage pixels(java.awt.image.BufferedImage img, String file) {
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

    /**
     * This image as a viewer shows it, given the EXIF orientation (1–8) its JPEG file records — as
     * transformers' {@code load_image} does with Pillow's {@code exif_transpose}: 2 mirrored, 3 turned
     * 180°, 4 flipped, 5 transposed, 6 turned 90° clockwise, 7 transversed, 8 turned 90° counter-clockwise.
     */
    RgbImage oriented(int orientation) {
        if (orientation < 2 || orientation > 8) return this;
        boolean swap = orientation >= 5;
        int W = swap ? height : width, H = swap ? width : height;
        byte[] out = new byte[rgb.length];
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                int sx, sy; // the source pixel of output (x, y)
                switch (orientation) {
                    case 2 -> { sx = width - 1 - x; sy = y; }
                    case 3 -> { sx = width - 1 - x; sy = height - 1 - y; }
                    case 4 -> { sx = x; sy = height - 1 - y; }
                    case 5 -> { sx = y; sy = x; }
                    case 6 -> { sx = y; sy = height - 1 - x; }
                    case 7 -> { sx = width - 1 - y; sy = height - 1 - x; }
                    default -> { sx = width - 1 - y; sy = x; } // 8
                }
                System.arraycopy(rgb, 3 * (sy * width + sx), out, 3 * (y * W + x), 3);
            }
        }
        return new RgbImage(W, H, out);
    }

    /** The orientation tag (0x0112) of a JPEG file's EXIF block, or 1: every length and offset checked against the file. */
    static final class Exif {
        private Exif() {}

        static int orientation(Path file) {
            byte[] b;
            try (var in = Files.newInputStream(file)) {
                b = in.readNBytes(1 << 16); // the APP segments come first, each at most 64 KB
            } catch (IOException e) {
                return 1;
            }
            return orientation(b);
        }

        static int orientation(byte[] b) {
            if (b.length < 4 || (b[0] & 0xff) != 0xFF || (b[1] & 0xff) != 0xD8) return 1; // not a JPEG
            int p = 2;
            while (p + 4 <= b.length && (b[p] & 0xff) == 0xFF) {
                int marker = b[p + 1] & 0xff, len = ((b[p + 2] & 0xff) << 8) | (b[p + 3] & 0xff);
                if (marker == 0xDA || marker == 0xD9 || len < 2) return 1; // image data: no EXIF before it
                int start = p + 4, end = p + 2 + len;
                if (end > b.length) return 1;
                if (marker == 0xE1 && end - start >= 14 && b[start] == 'E' && b[start + 1] == 'x' && b[start + 2] == 'i' && b[start + 3] == 'f'
                        && b[start + 4] == 0 && b[start + 5] == 0) {
                    return tiff(b, start + 6, end);
                }
                p = end;
            }
            return 1;
        }

        /** IFD0's orientation in the TIFF block [t, end). */
        private static int tiff(byte[] b, int t, int end) {
            boolean little = b[t] == 'I' && b[t + 1] == 'I';
            if (!little && !(b[t] == 'M' && b[t + 1] == 'M')) return 1;
            long ifd = u32(b, t + 4, little);
            if (ifd < 8 || t + ifd + 2 > end) return 1;
            int at = (int) (t + ifd), n = u16(b, at, little);
            for (int i = 0; i < n; i++) {
                int e = at + 2 + 12 * i;
                if (e + 12 > end) return 1;
                if (u16(b, e, little) == 0x0112 && u16(b, e + 2, little) == 3) { // SHORT
                    int v = u16(b, e + 8, little);
                    return v >= 1 && v <= 8 ? v : 1;
                }
            }
            return 1;
        }

        private static int u16(byte[] b, int i, boolean little) {
            int a = b[i] & 0xff, c = b[i + 1] & 0xff;
            return little ? a | c << 8 : a << 8 | c;
        }

        private static long u32(byte[] b, int i, boolean little) {
            long v = 0;
            for (int k = 0; k < 4; k++) v |= (long) (b[i + (little ? k : 3 - k)] & 0xff) << (8 * k);
            return v;
        }
    }
}
