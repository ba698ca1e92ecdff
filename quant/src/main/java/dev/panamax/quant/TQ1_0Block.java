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
}
