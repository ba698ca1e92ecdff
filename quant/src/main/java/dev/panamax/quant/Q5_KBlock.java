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

    /** As {@link Q4_KBlock#quantize}, with codes of 5 bits. */
    public static void quantize(float[] x, int xOff, int n, MemorySegment dst, long dstOff) {
        int[] codes = new int[SIZE];
        for (int b = 0; b < n / SIZE; b++) {
            long o = dstOff + (long) b * BYTES;
            KQuantFit.superBlockScaleMin(x, xOff + b * SIZE, 31, dst, o, codes);
            for (int l = 0; l < 32; l++) {
                int hi = 0;
                for (int g = 0; g < 4; g++) hi |= (codes[64 * g + l] >> 4) << (2 * g) | (codes[64 * g + 32 + l] >> 4) << (2 * g + 1);
                KQuantFit.put(dst, o + 16 + l, hi);
            }
            for (int g = 0; g < 4; g++)
                for (int l = 0; l < 32; l++) KQuantFit.put(dst, o + 48 + 32 * g + l, (codes[64 * g + l] & 15) | (codes[64 * g + 32 + l] & 15) << 4);
        }
    }

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

    /**
     * The block at {@code off} in integer form (see {@link BlockFormat#unpack}): int8 codes, an integer
     * scale and min per 16 values, and the float factors {a, b} with x = a·scale·code − b·min.
     */
    static void unpack(MemorySegment src, long off, byte[] c, int[] s, int[] m, float[] ab) {
        Q4_KBlock.unpackScales(src, off, s, m, ab);
        for (int g = 0; g < 4; g++) {
            long q = off + 48 + 32L * g;
            for (int l = 0; l < 32; l++) {
                int v = Bytes.u8(src, q + l), h = Bytes.u8(src, off + 16 + l);
                c[64 * g + l] = (byte) ((v & 0x0f) | ((h >>> (2 * g)) & 1) << 4);
                c[64 * g + 32 + l] = (byte) ((v >>> 4) | ((h >>> (2 * g + 1)) & 1) << 4);
            }
        }
    }
}
