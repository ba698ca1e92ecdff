package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * ggml's IQ4_NL: 32 values in 18 bytes, 4-bit codes into a fixed non-linear table.
 *
 * <pre>
 * offset 0   f16  d         scale
 * offset 2   u8   qs[16]    byte j: low nibble → x[j], high nibble → x[j + 16];  x = d·TABLE[code]
 * </pre>
 */
public final class IQ4_NLBlock {
    private IQ4_NLBlock() {}

    public static final int SIZE = 32, BYTES = 18;

    /** The 16 levels, denser near zero where weights cluster. */
    static final int[] TABLE = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    /**
     * A reference quantizer: per block, the value of largest magnitude m sets the scale so that it
     * lands on the table's end (d = m / −127, the level of largest magnitude), and every value
     * takes the nearest level. Simpler than ggml's search over scales, and as exact to read back.
     */
    public static void quantize(float[] x, int xOff, int n, MemorySegment dst, long dstOff) {
        for (int b = 0; b < n / SIZE; b++) {
            int base = xOff + b * SIZE;
            float max = Q4_0Block.largestMagnitude(x, base, SIZE);
            float d = Float.float16ToFloat(Float.floatToFloat16(max / TABLE[0]));
            float id = d != 0 ? 1f / d : 0f;
            long o = dstOff + (long) b * BYTES;
            dst.set(Q8_0Block.F16, o, Float.floatToFloat16(d));
            for (int j = 0; j < SIZE / 2; j++) {
                int lo = nearest(x[base + j] * id), hi = nearest(x[base + j + 16] * id);
                dst.set(ValueLayout.JAVA_BYTE, o + 2 + j, (byte) (lo | hi << 4));
            }
        }
    }

    /** The index of the table level nearest v (the lower one on a tie). */
    static int nearest(float v) {
        int best = 0;
        for (int k = 1; k < TABLE.length; k++) if (Math.abs(TABLE[k] - v) < Math.abs(TABLE[best] - v)) best = k;
        return best;
    }

    public static void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++, off += BYTES, yOff += SIZE) {
            float d = Bytes.f16(src, off);
            for (int j = 0; j < 16; j++) {
                int q = Bytes.u8(src, off + 2 + j);
                y[yOff + j] = d * TABLE[q & 0x0f];
                y[yOff + j + 16] = d * TABLE[q >>> 4];
            }
        }
    }

    /**
     * The block at {@code off} in integer form (see {@link BlockFormat#unpack}): int8 codes, an integer
     * scale and min per 16 values, and the float factors {a, b} with x = a·scale·code − b·min.
     */
    static void unpack(MemorySegment src, long off, byte[] c, int[] s, int[] m, float[] ab) {
        ab[0] = Bytes.f16(src, off);
        ab[1] = 0;
        s[0] = s[1] = 1;
        m[0] = m[1] = 0;
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(src, off + 2 + j);
            c[j] = (byte) TABLE[q & 0x0f];
            c[j + 16] = (byte) TABLE[q >>> 4];
        }
    }
}
