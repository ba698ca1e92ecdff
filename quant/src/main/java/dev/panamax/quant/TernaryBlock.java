package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Panamax's in-memory ternary format for BitNet b1.58 weights quantized at load: 16 values in 6 bytes.
 * Small blocks so that any row length that is a multiple of 16 fits (BitNet's FFN widths need not be
 * multiples of 256, which llama.cpp's TQ1_0/TQ2_0 require). Not a GGUF type.
 *
 * <pre>
 * offset 0   u8   q[4]    byte j, bits 2i..2i+1: code of value 4j + i; code ∈ {0, 1, 2} for {−1, 0, +1}
 * offset 4   f16  d       the tensor's scale γ = mean|W| (the same in every block: BitNet's per-tensor scale)
 * </pre>
 *
 * Quantization follows BitNet b1.58: W ≈ γ · round(clip(W/γ, −1, 1)). Activations are int8 per token
 * (absmax, {@link BitNetTernary#quantizeActivations}); the dot product adds and subtracts them,
 * never multiplying by a weight.
 */
public final class TernaryBlock {
    private TernaryBlock() {}

    public static final int SIZE = 16, BYTES = 6;

    /** Ternarizes a whole tensor (n values, a multiple of 16) with its absmean scale. */
    public static void quantize(float[] w, int n, MemorySegment dst, long off) {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.abs(w[i]);
        float gamma = (float) Math.max(sum / n, 1e-8);
        short d = Float.floatToFloat16(gamma);
        float g = Float.float16ToFloat(d); // divide by the scale as stored
        for (int b = 0; b < n / SIZE; b++, off += BYTES) {
            for (int j = 0; j < 4; j++) {
                int packed = 0;
                for (int i = 0; i < 4; i++) {
                    int t = Math.max(-1, Math.min(1, Q8_0Block.roundHalfAway(w[b * SIZE + 4 * j + i] / g)));
                    packed |= (t + 1) << (2 * i);
                }
                dst.set(ValueLayout.JAVA_BYTE, off + j, (byte) packed);
            }
            dst.set(Q8_0Block.F16, off + 4, d);
        }
    }

    public static void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++, off += BYTES) {
            float d = Bytes.f16(src, off + 4);
            for (int j = 0; j < 4; j++) {
                int q = Bytes.u8(src, off + j);
                for (int i = 0; i < 4; i++) y[yOff++] = (((q >>> (2 * i)) & 3) - 1) * d;
            }
        }
    }

    /** Σ over blocks of d · (Σ_{+1} x_q − Σ_{−1} x_q), with int8 activations: adds and subtracts only. */
    public static float dotReference(MemorySegment w, long off, byte[] xq, int n) {
        float sum = 0;
        for (int b = 0; b < n / SIZE; b++, off += BYTES) {
            int isum = 0;
            for (int j = 0; j < 4; j++) {
                int q = Bytes.u8(w, off + j);
                for (int i = 0; i < 4; i++) {
                    int code = (q >>> (2 * i)) & 3, x = xq[b * SIZE + 4 * j + i];
                    if (code == 2) isum += x;
                    else if (code == 0) isum -= x;
                }
            }
            sum += Bytes.f16(w, off + 4) * isum;
        }
        return sum;
    }
}
