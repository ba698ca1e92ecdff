package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * ggml's Q2_K: a super-block of 256 values in 84 bytes, 16 sub-blocks of 16 with 4-bit scales and mins.
 *
 * <pre>
 * offset 0    u8   scales[16]   sub-block s: low nibble = scale code, high nibble = min code
 * offset 16   u8   qs[64]       2-bit codes: for each half (128 values, 32 bytes), bits 2k..2k+1 of
 *                               byte l hold value 32k + l of that half (l &lt; 32)
 * offset 80   f16  d, dmin      x = d·scale·code − dmin·min
 * </pre>
 */
public final class Q2_KBlock {
    private Q2_KBlock() {}

    public static final int SIZE = 256, BYTES = 84;

    public static void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++, off += BYTES) {
            float d = Bytes.f16(src, off + 80), dmin = Bytes.f16(src, off + 82);
            int sub = 0;
            for (int half = 0; half < 2; half++) {
                long q = off + 16 + 32L * half;
                for (int shift = 0; shift < 8; shift += 2) {
                    for (int part = 0; part < 2; part++, sub++) {
                        int sc = Bytes.u8(src, off + sub);
                        float dl = d * (sc & 0x0f), ml = dmin * (sc >>> 4);
                        for (int l = 0; l < 16; l++) y[yOff++] = dl * ((Bytes.u8(src, q + 16L * part + l) >>> shift) & 3) - ml;
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
        ab[0] = Bytes.f16(src, off + 80);
        ab[1] = Bytes.f16(src, off + 82);
        int sub = 0, i = 0;
        for (int g = 0; g < 16; g++) {
            int sc = Bytes.u8(src, off + g);
            s[g] = sc & 0x0f;
            m[g] = sc >>> 4;
        }
        for (int half = 0; half < 2; half++) {
            long q = off + 16 + 32L * half;
            for (int shift = 0; shift < 8; shift += 2)
                for (int part = 0; part < 2; part++, sub++)
                    for (int l = 0; l < 16; l++) c[i++] = (byte) ((Bytes.u8(src, q + 16L * part + l) >>> shift) & 3);
        }
    }
}
