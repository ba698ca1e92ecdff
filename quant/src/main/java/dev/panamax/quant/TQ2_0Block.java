package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * ggml's TQ2_0: ternary {−1, 0, +1}·d, 256 values in 66 bytes, two bits each.
 *
 * <pre>
 * offset 0    u8   qs[64]    per 32 bytes (128 values): bits 2k..2k+1 of byte m → value 32k + m;  code ∈ {0, 1, 2}
 * offset 64   f16  d         x = (code − 1)·d
 * </pre>
 */
public final class TQ2_0Block {
    private TQ2_0Block() {}

    public static final int SIZE = 256, BYTES = 66;

    public static void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++, off += BYTES) {
            float d = Bytes.f16(src, off + 64);
            for (int j = 0; j < 64; j += 32)
                for (int k = 0; k < 4; k++)
                    for (int m = 0; m < 32; m++) y[yOff++] = (((Bytes.u8(src, off + j + m) >>> (2 * k)) & 3) - 1) * d;
        }
    }
}
