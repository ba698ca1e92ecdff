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

    /**
     * Panamax's quantizer: a signed least-squares scale per sub-block of 16 ({@link KQuantFit}),
     * the 16 scales quantized to int8 against the super-block's f16 d, codes chosen against the
     * stored scales.
     */
    public static void quantize(float[] x, int xOff, int n, MemorySegment dst, long dstOff) {
        float[] s = new float[16];
        int[] q = new int[SIZE];
        for (int b = 0; b < n / SIZE; b++) {
            int base = xOff + b * SIZE;
            long o = dstOff + (long) b * BYTES;
            float amax = 0;
            for (int j = 0; j < 16; j++) {
                s[j] = KQuantFit.symmetricScale(x, base + 16 * j, 16, 32);
                amax = Math.max(amax, Math.abs(s[j]));
            }
            float d = KQuantFit.asF16(amax / 127);
            for (int j = 0; j < 16; j++) {
                int sc = d > 0 ? KQuantFit.clamp(Math.round(s[j] / d), -128, 127) : 0;
                KQuantFit.put(dst, o + 192 + j, sc);
                float step = d * sc;
                for (int i = 0; i < 16; i++) q[16 * j + i] = step != 0 ? KQuantFit.clamp(Math.round(x[base + 16 * j + i] / step), -32, 31) + 32 : 32;
            }
            dst.set(Q8_0Block.F16, o + 208, Float.floatToFloat16(d));
            for (int half = 0; half < 2; half++) {
                int v = 128 * half;
                long ql = o + 64L * half, qh = o + 128 + 32L * half;
                for (int l = 0; l < 32; l++) {
                    int q1 = q[v + l], q2 = q[v + 32 + l], q3 = q[v + 64 + l], q4 = q[v + 96 + l];
                    KQuantFit.put(dst, ql + l, (q1 & 15) | (q3 & 15) << 4);
                    KQuantFit.put(dst, ql + 32 + l, (q2 & 15) | (q4 & 15) << 4);
                    KQuantFit.put(dst, qh + l, (q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
                }
            }
        }
    }

    static void unpackScales(MemorySegment src, long off, int[] s, int[] m, float[] ab) {
        ab[0] = Bytes.f16(src, off + 208);
        ab[1] = 0;
        for (int g = 0; g < 16; g++) {
            s[g] = Bytes.i8(src, off + 192 + g);
            m[g] = 0;
        }
    }

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

    /**
     * The block at {@code off} in integer form (see {@link BlockFormat#unpack}): int8 codes, an integer
     * scale and min per 16 values, and the float factors {a, b} with x = a·scale·code − b·min.
     */
    static void unpack(MemorySegment src, long off, byte[] c, int[] s, int[] m, float[] ab) {
        unpackScales(src, off, s, m, ab);
        for (int half = 0; half < 2; half++) {
            long ql = off + 64L * half, qh = off + 128 + 32L * half;
            int base = 128 * half;
            for (int l = 0; l < 32; l++) {
                int h = Bytes.u8(src, qh + l), a = Bytes.u8(src, ql + l), b = Bytes.u8(src, ql + 32 + l);
                c[base + l] = (byte) (((a & 0x0f) | (h & 3) << 4) - 32);
                c[base + 32 + l] = (byte) (((b & 0x0f) | ((h >>> 2) & 3) << 4) - 32);
                c[base + 64 + l] = (byte) (((a >>> 4) | ((h >>> 4) & 3) << 4) - 32);
                c[base + 96 + l] = (byte) (((b >>> 4) | ((h >>> 6) & 3) << 4) - 32);
            }
        }
    }
}
