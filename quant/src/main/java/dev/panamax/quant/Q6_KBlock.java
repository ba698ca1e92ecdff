package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * ggml's Q6_K: a super-block of 256 values in 210 bytes, 16 sub-blocks of 16 with signed 8-bit scales.
 *
 * <pre>
 * offset 0    u8   ql[128]     low 4 bits
 * offset 128  u8   qh[64]      high 2 bits
 * offset 192  i8   scales[16]
 * offset 208  f16  d           x = d·scale·(code − 32), code = low4 | high2 &lt;&lt; 4
 * </pre>
 * Per half (128 values; 64 bytes of ql, 32 of qh): value l, 32+l, 64+l, 96+l (l &lt; 32) take the low
 * nibble of ql[l], of ql[32+l], the high nibble of ql[l], of ql[32+l], and bits 0-1, 2-3, 4-5, 6-7 of qh[l].
 */
public final class Q6_KBlock {
    private Q6_KBlock() {}

    public static final int SIZE = 256, BYTES = 210;

    public static void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++, off += BYTES) {
            float d = Bytes.f16(src, off + 208);
            for (int half = 0; half < 2; half++) {
                long ql = off + 64L * half, qh = off + 128 + 32L * half, sc = off + 192 + 8L * half;
                int base = yOff + 128 * half;
                for (int l = 0; l < 32; l++) {
                    int is = l / 16, h = Bytes.u8(src, qh + l);
                    int q1 = ((Bytes.u8(src, ql + l) & 0x0f) | (h & 3) << 4) - 32;
                    int q2 = ((Bytes.u8(src, ql + 32 + l) & 0x0f) | ((h >>> 2) & 3) << 4) - 32;
                    int q3 = ((Bytes.u8(src, ql + l) >>> 4) | ((h >>> 4) & 3) << 4) - 32;
                    int q4 = ((Bytes.u8(src, ql + 32 + l) >>> 4) | ((h >>> 6) & 3) << 4) - 32;
                    y[base + l] = d * Bytes.i8(src, sc + is) * q1;
                    y[base + 32 + l] = d * Bytes.i8(src, sc + is + 2) * q2;
                    y[base + 64 + l] = d * Bytes.i8(src, sc + is + 4) * q3;
                    y[base + 96 + l] = d * Bytes.i8(src, sc + is + 6) * q4;
                }
            }
            yOff += SIZE;
        }
    }
}
