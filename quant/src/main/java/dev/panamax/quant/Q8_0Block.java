package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * ggml's Q8_0: blocks of 32 values, each block one half-float scale and 32 signed bytes.
 *
 * <pre>
 * offset 0   f16  d          scale: max|x| / 127
 * offset 2   i8   qs[32]     x[i] ≈ d · qs[i]
 * </pre>
 *
 * 34 bytes per 32 values (8.5 bits a value). It is also the format activations are quantized to,
 * per block, for the integer dot products of every quantized weight format here.
 */
public final class Q8_0Block {
    private Q8_0Block() {}

    public static final int SIZE = 32;
    public static final int BYTES = 34;

    static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Reference quantizer (ggml's quantize_row_q8_0_ref): n must be a multiple of 32. */
    public static void quantize(float[] x, int xOff, int n, MemorySegment dst, long dstOff) {
        for (int b = 0; b < n / SIZE; b++) {
            float amax = 0;
            for (int i = 0; i < SIZE; i++) amax = Math.max(amax, Math.abs(x[xOff + b * SIZE + i]));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            long o = dstOff + (long) b * BYTES;
            dst.set(F16, o, Float.floatToFloat16(d));
            for (int i = 0; i < SIZE; i++) dst.set(ValueLayout.JAVA_BYTE, o + 2 + i, (byte) roundHalfAway(x[xOff + b * SIZE + i] * id));
        }
    }

    /** C's roundf: halves away from zero (Math.round sends −2.5 to −2, roundf to −3). Exact in double. */
    static int roundHalfAway(float v) {
        return (int) (v < 0 ? -Math.floor(-(double) v + 0.5) : Math.floor((double) v + 0.5));
    }

    /** Reference dequantizer: n values (a multiple of 32) from block data at {@code srcOff}. */
    public static void dequantize(MemorySegment src, long srcOff, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++) {
            long o = srcOff + (long) b * BYTES;
            float d = Float.float16ToFloat(src.get(F16, o));
            for (int i = 0; i < SIZE; i++) y[yOff + b * SIZE + i] = d * src.get(ValueLayout.JAVA_BYTE, o + 2 + i);
        }
    }

    /** Σ over blocks of d_w·d_x·Σ qw·qx — the scalar definition of Q8_0 weights × activations in blocks of 32. */
    public static float dotReference(MemorySegment w, long wOff, Q8_KBlock x, int n) {
        float sum = 0;
        for (int b = 0; b < n / SIZE; b++) {
            long ow = wOff + (long) b * BYTES;
            int isum = 0;
            for (int i = 0; i < SIZE; i++) isum += w.get(ValueLayout.JAVA_BYTE, ow + 2 + i) * x.q[SIZE * b + i];
            sum += Float.float16ToFloat(w.get(F16, ow)) * x.d[b] * isum;
        }
        return sum;
    }
}
