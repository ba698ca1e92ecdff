package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * ggml's Q5_K: a super-block of 256 values in 176 bytes; Q4_K plus a fifth bit per value.
 *
 * <pre>
 * offset 0    f16  d, dmin
 * offset 4    u8   scales[12]   as Q4_K
 * offset 16   u8   qh[32]       fifth bits: for the g-th 64 values, bit 2g of byte l → value l, bit 2g+1 → value 32 + l
 * offset 48   u8   qs[128]      low 4 bits, as Q4_K;  x = d·scale·code − dmin·min
 * </pre>
 */
public final class Q5_KBlock {
    private Q5_KBlock() {}

    public static final int SIZE = 256, BYTES = 176;

    public static void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++, off += BYTES) {
            float d = Bytes.f16(src, off), dmin = Bytes.f16(src, off + 2);
            for (int g = 0; g < 4; g++) {
                int a = Q4_KBlock.scaleMin(src, off + 4, 2 * g), c = Q4_KBlock.scaleMin(src, off + 4, 2 * g + 1);
                float d1 = d * (a & 0xff), m1 = dmin * (a >>> 8), d2 = d * (c & 0xff), m2 = dmin * (c >>> 8);
                long q = off + 48 + 32L * g;
                for (int l = 0; l < 32; l++) {
                    int hi = (Bytes.u8(src, off + 16 + l) >>> (2 * g)) & 1;
                    y[yOff++] = d1 * ((Bytes.u8(src, q + l) & 0x0f) | hi << 4) - m1;
                }
                for (int l = 0; l < 32; l++) {
                    int hi = (Bytes.u8(src, off + 16 + l) >>> (2 * g + 1)) & 1;
                    y[yOff++] = d2 * ((Bytes.u8(src, q + l) >>> 4) | hi << 4) - m2;
                }
            }
        }
    }
}
