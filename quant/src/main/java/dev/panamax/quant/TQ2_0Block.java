package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * ggml's TQ2_0: ternary {−1, 0, +1}·d, 256 values in 66 bytes, two bits each.
 *
 * <pre>
 * offset 0    u8   qs[64]    per 32 bytes (128 values): bits 2k..2k+1 of byte m → value 32k + m;  code ∈ {0, 1, 2}
 * offset 64   f16  d         x = (code − 1)·d
 * </pre>
 */
public final class TQ2_0Block {
    private TQ2_0Block() {}

    public static final int SIZE = 256, BYTES = 66;

    /**
     * ggml's reference rule: d = max|x| per block, code = round(x/d) + 1 — exact for weights that are
     * already ternary times a scale (BitNet b1.58 checkpoints), coarse for anything else.
     */
    public static void quantize(float[] x, int xOff, int n, MemorySegment dst, long dstOff) {
        for (int b = 0; b < n / SIZE; b++) {
            int base = xOff + b * SIZE;
            long o = dstOff + (long) b * BYTES;
            float d = 0;
            for (int i = 0; i < SIZE; i++) d = Math.max(d, Math.abs(x[base + i]));
            float id = d != 0 ? 1f / d : 0f;
            for (int j = 0; j < 64; j += 32)
                for (int m = 0; m < 32; m++) {
                    int v = 0;
                    for (int k = 0; k < 4; k++) v |= (Q8_0Block.roundHalfAway(x[base + 4 * j + 32 * k + m] * id) + 1) << (2 * k);
                    dst.set(java.lang.foreign.ValueLayout.JAVA_BYTE, o + j + m, (byte) v);
                }
            dst.set(Q8_0Block.F16, o + 64, Float.floatToFloat16(d));
        }
    }

    public static void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        for (int b = 0; b < n / SIZE; b++, off += BYTES) {
            float d = Bytes.f16(src, off + 64);
            for (int j = 0; j < 64; j += 32)
                for (int k = 0; k < 4; k++)
                    for (int m = 0; m < 32; m++) y[yOff++] = (((Bytes.u8(src, off + j + m) >>> (2 * k)) & 3) - 1) * d;
        }
    }

    /**
     * The block at {@code off} in integer form (see {@link BlockFormat#unpack}): int8 codes, an integer
     * scale and min per 16 values, and the float factors {a, b} with x = a·scale·code − b·min.
     */
    static void unpack(MemorySegment src, long off, byte[] c, int[] s, int[] m, float[] ab) {
        ab[0] = Bytes.f16(src, off + 64);
        ab[1] = 0;
        java.util.Arrays.fill(s, 0, 16, 1);
        java.util.Arrays.fill(m, 0, 16, 0);
        int i = 0;
        for (int j = 0; j < 64; j += 32)
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++) c[i++] = (byte) (((Bytes.u8(src, off + j + l) >>> (2 * k)) & 3) - 1);
    }
}
