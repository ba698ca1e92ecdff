package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * ggml's Q4_0: blocks of 32 values, one half-float scale and 32 four-bit codes.
 *
 * <pre>
 * offset 0   f16  d          scale: (the value of largest magnitude) / −8
 * offset 2   u8   qs[16]     byte j: low nibble = code of x[j], high nibble = code of x[j + 16]
 *                            x[i] ≈ d · (code − 8)
 * </pre>
 *
 * 18 bytes per 32 values (4.5 bits a value). Dot products quantize the activations to
 * {@link Q8_0Block}s and multiply in integers.
 */
public final class Q4_0Block {
    private Q4_0Block() {}

    public static final int SIZE = 32;
    public static final int BYTES = 18;

    /** Reference quantizer (ggml's quantize_row_q4_0_ref): n must be a multiple of 32. */
    /**
     * The value of largest magnitude among x[from..from + n), sign kept (the first one on a tie):
     * the formats whose codes are centred on zero (Q4_0, Q5_0, IQ4_NL) map it to their most
     * negative code, so their scale carries its sign.
     */
    static float largestMagnitude(float[] x, int from, int n) {
        float amax = 0, max = 0;
        for (int i = from; i < from + n; i++) {
            if (Math.abs(x[i]) > amax) {
                amax = Math.abs(x[i]);
                max = x[i];
            }
        }
        return max;
    }

    public static void quantize(float[] x, int xOff, int n, MemorySegment dst, long dstOff) {
        for (int b = 0; b < n / SIZE; b++) {
            int base = xOff + b * SIZE;
            float max = largestMagnitude(x, base, SIZE);
            float d = max / -8f;
            float id = d != 0 ? 1f / d : 0f;
            long o = dstOff + (long) b * BYTES;
            dst.set(Q8_0Block.F16, o, Float.floatToFloat16(d));
            for (int j = 0; j < SIZE / 2; j++) {
                int lo = Math.min(15, (int) (x[base + j] * id + 8.5f));
                int hi = Math.min(15, (int) (x[base + j + 16] * id + 8.5f));
                dst.set(ValueLayout.JAVA_BYTE, o + 2 + j, (byte) (lo | (hi << 4)));
            }
        }
    }

    /** Reference dequantizer. */
    public static void dequantize(MemorySegment src, long srcOff, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++) {
            long o = srcOff + (long) b * BYTES;
            float d = Float.float16ToFloat(src.get(Q8_0Block.F16, o));
            for (int j = 0; j < SIZE / 2; j++) {
                int q = src.get(ValueLayout.JAVA_BYTE, o + 2 + j) & 0xff;
                y[yOff + b * SIZE + j] = d * ((q & 0x0f) - 8);
                y[yOff + b * SIZE + j + 16] = d * ((q >>> 4) - 8);
            }
        }
    }

    /** The scalar definition of Q4_0 × Q8_0: Σ over blocks of d_w·d_x·Σ (code − 8)·qx. */
    public static float dotReference(MemorySegment w, long wOff, Q8_KBlock x, int n) {
        float sum = 0;
        for (int b = 0; b < n / SIZE; b++) {
            long ow = wOff + (long) b * BYTES;
            int isum = 0;
            for (int j = 0; j < SIZE / 2; j++) {
                int q = w.get(ValueLayout.JAVA_BYTE, ow + 2 + j) & 0xff;
                isum += ((q & 0x0f) - 8) * x.q[SIZE * b + j];
                isum += ((q >>> 4) - 8) * x.q[SIZE * b + j + 16];
            }
            sum += Float.float16ToFloat(w.get(Q8_0Block.F16, ow)) * x.d[b] * isum;
        }
        return sum;
    }
}
