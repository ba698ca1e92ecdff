package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * ggml's Q4_K: a super-block of 256 values in 144 bytes, 8 sub-blocks of 32 with 6-bit scales and mins.
 *
 * <pre>
 * offset 0    f16  d, dmin
 * offset 4    u8   scales[12]   8 six-bit scales and 8 six-bit mins ({@link #scaleMin})
 * offset 16   u8   qs[128]      per 64 values (32 bytes): low nibbles = the first 32, high nibbles the next 32
 *                               x = d·scale·code − dmin·min
 * </pre>
 */
public final class Q4_KBlock {
    private Q4_KBlock() {}

    public static final int SIZE = 256, BYTES = 144;

    /**
     * Sub-block j's six-bit scale and min from the 12 packed bytes at {@code q}: for j &lt; 4 the low six
     * bits of bytes j and j+4; else the nibbles of byte j+4 with the top two bits of bytes j−4 and j.
     * Returns scale | min &lt;&lt; 8.
     */
    static int scaleMin(MemorySegment s, long q, int j) {
        int sc, m;
        if (j < 4) {
            sc = Bytes.u8(s, q + j) & 63;
            m = Bytes.u8(s, q + j + 4) & 63;
        } else {
            sc = (Bytes.u8(s, q + j + 4) & 0x0f) | (Bytes.u8(s, q + j - 4) >>> 6) << 4;
            m = (Bytes.u8(s, q + j + 4) >>> 4) | (Bytes.u8(s, q + j) >>> 6) << 4;
        }
        return sc | m << 8;
    }

    /**
     * Panamax's quantizer: per sub-block of 32 a least-squares scale and min ({@link KQuantFit}),
     * the 8 scales and mins then quantized to 6 bits against the super-block's f16 d and dmin, and
     * each value's code chosen against the stored (rounded) scale and min.
     */
    public static void quantize(float[] x, int xOff, int n, MemorySegment dst, long dstOff) {
        int[] codes = new int[SIZE];
        for (int b = 0; b < n / SIZE; b++) {
            long o = dstOff + (long) b * BYTES;
            KQuantFit.superBlockScaleMin(x, xOff + b * SIZE, 15, dst, o, codes);
            for (int g = 0; g < 4; g++)
                for (int l = 0; l < 32; l++) KQuantFit.put(dst, o + 16 + 32 * g + l, codes[64 * g + l] | codes[64 * g + 32 + l] << 4);
        }
    }

    /** d, dmin and the 8 scales and mins, each repeated for both groups of 16 (Q5_K shares this head). */
    static void unpackScales(MemorySegment src, long off, int[] s, int[] m, float[] ab) {
        ab[0] = Bytes.f16(src, off);
        ab[1] = Bytes.f16(src, off + 2);
        for (int j = 0; j < 8; j++) {
            int sm = scaleMin(src, off + 4, j);
            s[2 * j] = s[2 * j + 1] = sm & 0xff;
            m[2 * j] = m[2 * j + 1] = sm >>> 8;
        }
    }

    public static void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++, off += BYTES) {
            float d = Bytes.f16(src, off), dmin = Bytes.f16(src, off + 2);
            for (int g = 0; g < 4; g++) {
                int a = scaleMin(src, off + 4, 2 * g), c = scaleMin(src, off + 4, 2 * g + 1);
                float d1 = d * (a & 0xff), m1 = dmin * (a >>> 8), d2 = d * (c & 0xff), m2 = dmin * (c >>> 8);
                long q = off + 16 + 32L * g;
                for (int l = 0; l < 32; l++) y[yOff++] = d1 * (Bytes.u8(src, q + l) & 0x0f) - m1;
                for (int l = 0; l < 32; l++) y[yOff++] = d2 * (Bytes.u8(src, q + l) >>> 4) - m2;
            }
        }
    }

    /**
     * The block at {@code off} in integer form (see {@link BlockFormat#unpack}): int8 codes, an integer
     * scale and min per 16 values, and the float factors {a, b} with x = a·scale·code − b·min.
     */
    static void unpack(MemorySegment src, long off, byte[] c, int[] s, int[] m, float[] ab) {
        unpackScales(src, off, s, m, ab);
        for (int g = 0; g < 4; g++) {
            long q = off + 16 + 32L * g;
            for (int l = 0; l < 32; l++) {
                int v = Bytes.u8(src, q + l);
                c[64 * g + l] = (byte) (v & 0x0f);
                c[64 * g + 32 + l] = (byte) (v >>> 4);
            }
        }
    }
}
