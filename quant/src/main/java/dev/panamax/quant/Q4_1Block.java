package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * ggml's Q4_1: 32 values in 20 bytes.
 *
 * <pre>
 * offset 0   f16  d         step
 * offset 2   f16  m         minimum
 * offset 4   u8   qs[16]    byte j: low nibble = code of x[j], high nibble = code of x[j + 16];  x = d·code + m
 * </pre>
 */
public final class Q4_1Block {
    private Q4_1Block() {}

    public static final int SIZE = 32, BYTES = 20;

    public static void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++, off += BYTES, yOff += SIZE) {
            float d = Bytes.f16(src, off), m = Bytes.f16(src, off + 2);
            for (int j = 0; j < 16; j++) {
                int q = Bytes.u8(src, off + 4 + j);
                y[yOff + j] = d * (q & 0x0f) + m;
                y[yOff + j + 16] = d * (q >>> 4) + m;
            }
        }
    }

    /**
     * The block at {@code off} in integer form (see {@link BlockFormat#unpack}): int8 codes, an integer
     * scale and min per 16 values, and the float factors {a, b} with x = a·scale·code − b·min.
     */
    static void unpack(MemorySegment src, long off, byte[] c, int[] s, int[] m, float[] ab) {
        ab[0] = Bytes.f16(src, off);
        ab[1] = -Bytes.f16(src, off + 2);
        s[0] = s[1] = m[0] = m[1] = 1;
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(src, off + 4 + j);
            c[j] = (byte) (q & 0x0f);
            c[j + 16] = (byte) (q >>> 4);
        }
    }
}
