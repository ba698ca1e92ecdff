package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

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

    /**
     * The reference quantizer: per block, the value of largest magnitude m maps to code 0
     * (d = m / −16) and every value to the nearest code, clamped to 31.
     */
    public static void quantize(float[] x, int xOff, int n, MemorySegment dst, long dstOff) {
        for (int b = 0; b < n / SIZE; b++) {
            int base = xOff + b * SIZE;
            float max = Q4_0Block.largestMagnitude(x, base, SIZE);
            float d = max / -16f;
            float id = d != 0 ? 1f / d : 0f;
            long o = dstOff + (long) b * BYTES;
            dst.set(Q8_0Block.F16, o, Float.floatToFloat16(d));
            int qh = 0;
            for (int j = 0; j < SIZE / 2; j++) {
                int lo = Math.max(0, Math.min(31, (int) (x[base + j] * id + 16.5f)));
                int hi = Math.max(0, Math.min(31, (int) (x[base + j + 16] * id + 16.5f)));
                dst.set(ValueLayout.JAVA_BYTE, o + 6 + j, (byte) ((lo & 0x0f) | (hi & 0x0f) << 4));
                qh |= (lo >>> 4) << j | (hi >>> 4) << (j + 16);
            }
            dst.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), o + 2, qh);
        }
    }

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
