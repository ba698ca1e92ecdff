package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * ggml's Q3_K: a super-block of 256 values in 110 bytes, 16 sub-blocks of 16 with 6-bit signed scales.
 *
 * <pre>
 * offset 0    u8   hmask[32]    high bit of each code: bit k of byte l belongs to value 32k + l
 * offset 32   u8   qs[64]       low 2 bits, laid out as in Q2_K
 * offset 96   u8   scales[12]   16 six-bit scales: low 4 bits in bytes 0-7 (two per byte), high 2
 *                               bits in bytes 8-11 (four per byte); scale = code − 32
 * offset 108  f16  d            x = d·scale·(low2 − (high bit set ? 0 : 4))
 * </pre>
 */
public final class Q3_KBlock {
    private Q3_KBlock() {}

    public static final int SIZE = 256, BYTES = 110;

    /** The 16 six-bit scales, minus 32. */
    static int[] scales(MemorySegment src, long off) {
        int[] s = new int[16];
        for (int i = 0; i < 16; i++) {
            int low = (Bytes.u8(src, off + 96 + (i % 8)) >>> (4 * (i / 8))) & 0x0f;
            int high = (Bytes.u8(src, off + 96 + 8 + (i % 4)) >>> (2 * (i / 4))) & 3;
            s[i] = (low | high << 4) - 32;
        }
        return s;
    }

    public static void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++, off += BYTES) {
            float d = Bytes.f16(src, off + 108);
            int[] scales = scales(src, off);
            int sub = 0, bit = 0;
            for (int half = 0; half < 2; half++) {
                long q = off + 32 + 32L * half;
                for (int shift = 0; shift < 8; shift += 2, bit++) {
                    for (int part = 0; part < 2; part++, sub++) {
                        float dl = d * scales[sub];
                        for (int l = 0; l < 16; l++) {
                            int idx = 16 * part + l;
                            int low = (Bytes.u8(src, q + idx) >>> shift) & 3;
                            boolean high = ((Bytes.u8(src, off + idx) >>> bit) & 1) != 0;
                            y[yOff++] = dl * (low - (high ? 0 : 4));
                        }
                    }
                }
            }
        }
    }

    /**
     * The block at {@code off} in integer form (see {@link BlockFormat#unpack}): int8 codes, an integer
     * scale and min per 16 values, and the float factors {a, b} with x = a·scale·code − b·min.
     */
    static void unpack(MemorySegment src, long off, byte[] c, int[] s, int[] m, float[] ab) {
        ab[0] = Bytes.f16(src, off + 108);
        ab[1] = 0;
        int[] sc = scales(src, off);
        System.arraycopy(sc, 0, s, 0, 16);
        java.util.Arrays.fill(m, 0, 16, 0);
        int bit = 0, i = 0;
        for (int half = 0; half < 2; half++) {
            long q = off + 32 + 32L * half;
            for (int shift = 0; shift < 8; shift += 2, bit++)
                for (int part = 0; part < 2; part++)
                    for (int l = 0; l < 16; l++) {
                        int idx = 16 * part + l;
                        int low = (Bytes.u8(src, q + idx) >>> shift) & 3;
                        boolean high = ((Bytes.u8(src, off + idx) >>> bit) & 1) != 0;
                        c[i++] = (byte) (low - (high ? 0 : 4));
                    }
        }
    }
}
