package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * ggml's Q5_0: 32 values in 22 bytes, 5-bit codes centred on 16.
 *
 * <pre>
 * offset 0   f16  d         step
 * offset 2   u32  qh        bit j = fifth bit of the code of x[j]
 * offset 6   u8   qs[16]    low 4 bits: byte j low nibble → x[j], high nibble → x[j + 16];  x = d·(code − 16)
 * </pre>
 */
public final class Q5_0Block {
    private Q5_0Block() {}

    public static final int SIZE = 32, BYTES = 22;

    public static void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++, off += BYTES, yOff += SIZE) {
            float d = Bytes.f16(src, off);
            int qh = Bytes.u32(src, off + 2);
            for (int j = 0; j < 16; j++) {
                int q = Bytes.u8(src, off + 6 + j);
                y[yOff + j] = d * (((q & 0x0f) | ((qh >>> j) & 1) << 4) - 16);
                y[yOff + j + 16] = d * (((q >>> 4) | ((qh >>> (j + 16)) & 1) << 4) - 16);
            }
        }
    }

    /**
     * The block at {@code off} in integer form (see {@link BlockFormat#unpack}): int8 codes, an integer
     * scale and min per 16 values, and the float factors {a, b} with x = a·scale·code − b·min.
     */
    static void unpack(MemorySegment src, long off, byte[] c, int[] s, int[] m, float[] ab) {
        ab[0] = Bytes.f16(src, off);
        ab[1] = 0;
        s[0] = s[1] = 1;
        m[0] = m[1] = 0;
        int qh = Bytes.u32(src, off + 2);
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(src, off + 6 + j);
            c[j] = (byte) (((q & 0x0f) | ((qh >>> j) & 1) << 4) - 16);
            c[j + 16] = (byte) (((q >>> 4) | ((qh >>> (j + 16)) & 1) << 4) - 16);
        }
    }
}
