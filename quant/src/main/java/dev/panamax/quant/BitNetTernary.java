package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * BitNet b1.58's quantization, kept in {@link TQ2_0Block}s so that llama.cpp can read the result:
 *
 * <ul>
 * <li>weights: one scale per tensor, γ = mean|W|; each weight becomes round(clip(W/γ, −1, 1)) ∈
 *     {−1, 0, +1}, stored as code + 1 with every block's d = γ (as a half float);</li>
 * <li>activations: one scale per token, absmax: x_q = round(x · 127 / max|x|), so x ≈ x_q · max|x|/127.</li>
 * </ul>
 *
 * The dot product then needs no multiplication on the weight side: Σ_{w=+1} x_q − Σ_{w=−1} x_q
 * per block, in integers, times d_block · max|x|/127 ({@link #dotReference}; the Vector API form is
 * {@code VectorQuantDot#ternary}).
 */
public final class BitNetTernary {
    private BitNetTernary() {}

    /** Ternarizes a row-major [rows, cols] matrix (cols a multiple of 256) into TQ2_0 blocks. */
    public static void quantize(float[] w, int rows, int cols, MemorySegment dst, long dstOff) {
        double sum = 0;
        for (float v : w) sum += Math.abs(v);
        float gamma = (float) Math.max(sum / w.length, 1e-8);
        short d = Float.floatToFloat16(gamma);
        long o = dstOff;
        for (int b = 0; b < w.length / TQ2_0Block.SIZE; b++, o += TQ2_0Block.BYTES) {
            int base = b * TQ2_0Block.SIZE;
            for (int half = 0; half < 2; half++) {
                for (int m = 0; m < 32; m++) {
                    int packed = 0;
                    for (int k = 0; k < 4; k++) {
                        float v = w[base + 128 * half + 32 * k + m] / gamma;
                        int t = Math.max(-1, Math.min(1, Q8_0Block.roundHalfAway(v)));
                        packed |= (t + 1) << (2 * k);
                    }
                    dst.set(ValueLayout.JAVA_BYTE, o + 32L * half + m, (byte) packed);
                }
            }
            dst.set(Q8_0Block.F16, o + 64, d);
        }
    }

    /** Per-token absmax int8 activations; returns the scale max|x|/127 (0 for a zero vector). */
    public static float quantizeActivations(float[] x, int n, byte[] q) {
        float amax = 0;
        for (int i = 0; i < n; i++) amax = Math.max(amax, Math.abs(x[i]));
        float inv = amax == 0 ? 0 : 127f / amax;
        for (int i = 0; i < n; i++) q[i] = (byte) Math.max(-127, Math.min(127, Q8_0Block.roundHalfAway(x[i] * inv)));
        return amax / 127f;
    }

    /** Σ over blocks of d · (Σ_{code=2} x_q − Σ_{code=0} x_q): adds and subtracts only, then one scale. */
    public static float dotReference(MemorySegment w, long wOff, byte[] xq, int n) {
        float sum = 0;
        for (int b = 0; b < n / TQ2_0Block.SIZE; b++) {
            long o = wOff + (long) b * TQ2_0Block.BYTES;
            int isum = 0;
            for (int half = 0; half < 2; half++) {
                for (int k = 0; k < 4; k++) {
                    for (int m = 0; m < 32; m++) {
                        int code = (Bytes.u8(w, o + 32L * half + m) >>> (2 * k)) & 3;
                        int x = xq[b * TQ2_0Block.SIZE + 128 * half + 32 * k + m];
                        if (code == 2) isum += x;
                        else if (code == 0) isum -= x;
                    }
                }
            }
            sum += Bytes.f16(w, o + 64) * isum;
        }
        return sum;
    }
}
