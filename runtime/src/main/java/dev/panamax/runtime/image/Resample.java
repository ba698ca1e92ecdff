package dev.panamax.runtime.image;

/**
 * Resizing as Pillow's {@code Image.resize} does it on 8-bit images, which transformers' image
 * processors call: separable, horizontal pass then vertical, each output pixel a weighted sum over
 * the input pixels under the filter, the filter stretched by the scale when shrinking
 * (antialiasing), the weights normalised to sum to 1 and applied in fixed point (22 fractional
 * bits), each pass rounded and clipped to 0..255.
 */
final class Resample {
    private Resample() {}

    /** Pillow's filter numbers (transformers' {@code resample}): 2 bilinear, 3 bicubic. */
    static final int BILINEAR = 2, BICUBIC = 3;

    private static final int PRECISION_BITS = 32 - 8 - 2;

    static double support(int filter) {
        return switch (filter) {
            case BILINEAR -> 1.0;
            case BICUBIC -> 2.0;
            default -> throw new IllegalArgumentException("resample " + filter + " is not supported (2 bilinear, 3 bicubic)");
        };
    }

    static double weight(int filter, double x) {
        x = Math.abs(x);
        if (filter == BILINEAR) return x < 1 ? 1 - x : 0;
        double a = -0.5; // Pillow's bicubic
        if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
        return 0;
    }

    /** For each output index: the first input index, the count, and the fixed-point weights. */
    private record Taps(int[] first, int[] count, int[][] weights) {}

    private static Taps taps(int in, int out, int filter) {
        double scale = (double) in / out, filterScale = Math.max(scale, 1), support = support(filter) * filterScale;
        int[] first = new int[out], count = new int[out];
        int[][] weights = new int[out][];
        for (int i = 0; i < out; i++) {
            double center = (i + 0.5) * scale;
            int lo = Math.max((int) (center - support + 0.5), 0), hi = Math.min((int) (center + support + 0.5), in);
            double[] k = new double[Math.max(0, hi - lo)];
            double sum = 0;
            for (int x = 0; x < k.length; x++) sum += k[x] = weight(filter, (x + lo - center + 0.5) / filterScale);
            int[] q = new int[k.length];
            for (int x = 0; x < k.length; x++) {
                double v = sum != 0 ? k[x] / sum : 0;
                q[x] = (int) (v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
            }
            first[i] = lo;
            count[i] = k.length;
            weights[i] = q;
        }
        return new Taps(first, count, weights);
    }

    private static byte clip(long v) {
        long r = v >> PRECISION_BITS;
        return (byte) (r < 0 ? 0 : r > 255 ? 255 : r);
    }

    static RgbImage resize(RgbImage img, int width, int height, int filter) {
        support(filter);
        RgbImage x = img;
        if (width != img.width()) {
            Taps t = taps(img.width(), width, filter);
            byte[] out = new byte[3 * width * img.height()];
            for (int y = 0; y < img.height(); y++) {
                for (int i = 0; i < width; i++) {
                    for (int c = 0; c < 3; c++) {
                        long s = 1L << (PRECISION_BITS - 1);
                        for (int k = 0; k < t.count[i]; k++) s += (long) x.at(t.first[i] + k, y, c) * t.weights[i][k];
                        out[3 * (y * width + i) + c] = clip(s);
                    }
                }
            }
            x = new RgbImage(width, img.height(), out);
        }
        if (height != img.height()) {
            Taps t = taps(img.height(), height, filter);
            byte[] out = new byte[3 * x.width() * height];
            for (int j = 0; j < height; j++) {
                for (int i = 0; i < x.width(); i++) {
                    for (int c = 0; c < 3; c++) {
                        long s = 1L << (PRECISION_BITS - 1);
                        for (int k = 0; k < t.count[j]; k++) s += (long) x.at(i, t.first[j] + k, c) * t.weights[j][k];
                        out[3 * (j * x.width() + i) + c] = clip(s);
                    }
                }
            }
            x = new RgbImage(x.width(), height, out);
        }
        return x;
    }
}
