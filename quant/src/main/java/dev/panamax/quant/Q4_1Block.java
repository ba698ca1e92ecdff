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
}
