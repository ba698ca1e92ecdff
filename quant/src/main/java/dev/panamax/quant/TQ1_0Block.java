package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * ggml's TQ1_0: ternary {−1, 0, +1}·d, 256 values in 54 bytes (1.69 bits a value): five ternary
 * digits per byte, stored as a fixed-point fraction so that digit n is ⌊3·(byte·3ⁿ mod 256)/256⌋.
 *
 * <pre>
 * offset 0    u8   qs[48]    first 32 bytes: digit n of byte m → value 32n + m (160 values);
 *                            last 16 bytes: digit n of byte m → value 160 + 16n + m (80 values)
 * offset 48   u8   qh[4]     digit n of byte m → value 240 + 4n + m (16 values, 4 digits a byte)
 * offset 52   f16  d         x = (digit − 1)·d
 * </pre>
 */
public final class TQ1_0Block {
    private TQ1_0Block() {}

    public static final int SIZE = 256, BYTES = 54;

    private static final int[] POW3 = {1, 3, 9, 27, 81, 243};

    static int digit(int b, int n) {
        int q = (b * POW3[n]) & 0xff;
        return (q * 3) >>> 8;
    }

    public static void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++, off += BYTES) {
            float d = Bytes.f16(src, off + 52);
            for (int k = 0; k < 5; k++)
                for (int m = 0; m < 32; m++) y[yOff++] = (digit(Bytes.u8(src, off + m), k) - 1) * d;
            for (int k = 0; k < 5; k++)
                for (int m = 0; m < 16; m++) y[yOff++] = (digit(Bytes.u8(src, off + 32 + m), k) - 1) * d;
            for (int k = 0; k < 4; k++)
                for (int m = 0; m < 4; m++) y[yOff++] = (digit(Bytes.u8(src, off + 48 + m), k) - 1) * d;
        }
    }

    /**
     * The block at {@code off} in integer form (see {@link BlockFormat#unpack}): int8 codes, an integer
     * scale and min per 16 values, and the float factors {a, b} with x = a·scale·code − b·min.
     */
    static void unpack(MemorySegment src, long off, byte[] c, int[] s, int[] m, float[] ab) {
        ab[0] = Bytes.f16(src, off + 52);
        ab[1] = 0;
        java.util.Arrays.fill(s, 0, 16, 1);
        java.util.Arrays.fill(m, 0, 16, 0);
        int i = 0;
        for (int k = 0; k < 5; k++)
            for (int j = 0; j < 32; j++) c[i++] = (byte) (digit(Bytes.u8(src, off + j), k) - 1);
        for (int k = 0; k < 5; k++)
            for (int j = 0; j < 16; j++) c[i++] = (byte) (digit(Bytes.u8(src, off + 32 + j), k) - 1);
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 4; j++) c[i++] = (byte) (digit(Bytes.u8(src, off + 48 + j), k) - 1);
    }
}
