package dev.panamax.quant;

/**
 * Activations quantized for the integer dot products of every weight format other than Q8_0/Q4_0
 * (ggml's Q8_K, kept in Java arrays since it is never written to a file): per block of the weight
 * format's size (32 or 256) one float scale d = max|x|/127 and int8 codes, plus the sum of the
 * codes of every 16 values, which the formats with a min (x = d·s·q − dmin·m) need.
 *
 * <pre>
 * q[n]         int8 codes, x[i] ≈ d[i / block]·q[i]
 * wide[n]      the same codes as shorts, widened once for the Vector API kernels
 * d[n/block]   float scales (for blocks of 32 rounded to f16, exactly as ggml's Q8_0 stores them)
 * sums[n/16]   Σ q over each 16
 * </pre>
 * The codes are computed as ggml's x86 kernels compute them at run time (multiplier 127/max|x|,
 * rounding half to even), so activations agree with llama.cpp's to the last bit.
 */
public final class Q8_KBlock {
    public final byte[] q;
    public final short[] wide;
    public final float[] d;
    public final int[] sums;
    public final int block;

    Q8_KBlock(int n, int block) {
        this.q = new byte[n];
        this.wide = new short[n];
        this.d = new float[n / block];
        this.sums = new int[n / 16];
        this.block = block;
    }

    /** x[0, n) in blocks of {@code block} values (n a multiple of it, block a multiple of 16). */
    public static Q8_KBlock quantize(float[] x, int n, int block) {
        Q8_KBlock a = new Q8_KBlock(n, block);
        for (int b = 0; b < n / block; b++) {
            a.d[b] = quantizeBlock(x, b * block, block, a.q, b * block);
            for (int i = b * block; i < (b + 1) * block; i++) a.wide[i] = a.q[i];
        }
        for (int g = 0; g < n / 16; g++) {
            int s = 0;
            for (int i = 16 * g; i < 16 * g + 16; i++) s += a.q[i];
            a.sums[g] = s;
        }
        return a;
    }

    /** x[from, from + block) as codes into q[qOff, qOff + block); returns the block's scale d (f16-rounded for blocks of 32). */
    static float quantizeBlock(float[] x, int from, int block, byte[] q, int qOff) {
        float amax = 0;
        for (int i = from; i < from + block; i++) amax = Math.max(amax, Math.abs(x[i]));
        float id = amax != 0 ? 127f / amax : 0f;
        for (int i = 0; i < block; i++) q[qOff + i] = (byte) Math.rint(x[from + i] * id);
        return block == 32 ? Float.float16ToFloat(Float.floatToFloat16(amax / 127f)) : amax / 127f;
    }
}
