package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Panamax's binary (1-bit) weights, XNOR-Net style: 64 values in 10 bytes (1.25 bits a value), the
 * signs and one scale per block. Made at load ({@code --quantize binary}); not a GGUF type.
 *
 * <pre>
 * offset 0   u64  bits    bit i set: value i is +α, clear: −α
 * offset 8   f16  α       mean |w| over the block (XNOR-Net's optimal scale for sign(w))
 * </pre>
 *
 * In integer form the codes are ±1 with scale 1, so the shared integer kernel multiplies them with
 * int8 activations; binary × binary is {@link BinaryCodes#hamming} (XOR and popcount).
 */
public final class BinaryBlock {
    private BinaryBlock() {}

    public static final int SIZE = 64, BYTES = 10;

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public static void quantize(float[] x, int xOff, int n, MemorySegment dst, long dstOff) {
        for (int b = 0; b < n / SIZE; b++) {
            long bits = 0;
            double abs = 0;
            for (int i = 0; i < SIZE; i++) {
                float v = x[xOff + b * SIZE + i];
                abs += Math.abs(v);
                if (v > 0) bits |= 1L << i;
            }
            long o = dstOff + (long) b * BYTES;
            dst.set(U64, o, bits);
            dst.set(Q8_0Block.F16, o + 8, Float.floatToFloat16((float) (abs / SIZE)));
        }
    }

    public static void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++, off += BYTES) {
            long bits = src.get(U64, off);
            float a = Bytes.f16(src, off + 8);
            for (int i = 0; i < SIZE; i++) y[yOff++] = ((bits >>> i) & 1) != 0 ? a : -a;
        }
    }

    static void unpack(MemorySegment src, long off, byte[] c, int[] s, int[] m, float[] ab) {
        long bits = src.get(U64, off);
        ab[0] = Bytes.f16(src, off + 8);
        ab[1] = 0;
        for (int g = 0; g < 4; g++) {
            s[g] = 1;
            m[g] = 0;
        }
        for (int i = 0; i < SIZE; i++) c[i] = (byte) (((bits >>> i) & 1) != 0 ? 1 : -1);
    }
}
