package dev.panamax.quant;

/**
 * 1-bit codes for embeddings (the "binary quantization" of sentence-transformers): each value keeps
 * only its sign, 64 to a {@code long} (bit i of word w = value 64w + i is positive). Two codes compare by
 * Hamming distance — XOR, then count the ones — which ranks like the dot product of the ±1 vectors;
 * a code against int8 values adds the values where the bit is set and subtracts the others.
 */
public final class BinaryCodes {
    private BinaryCodes() {}

    public static int words(int dims) {
        return (dims + 63) / 64;
    }

    /** Sign bits of v (zero counts as negative). */
    public static long[] pack(float[] v) {
        long[] bits = new long[words(v.length)];
        for (int i = 0; i < v.length; i++) if (v[i] > 0) bits[i >>> 6] |= 1L << (i & 63);
        return bits;
    }

    /** Number of differing bits between two codes of {@code words} longs (Vector API BIT_COUNT when available). */
    public static int hamming(long[] a, long[] b, int words) {
        return QuantizedMatvec.ACTIVE.hamming(a, b, words);
    }

    /** The scalar twin: {@link Long#bitCount} of each XOR. */
    public static int hammingReference(long[] a, long[] b, int words) {
        int d = 0;
        for (int i = 0; i < words; i++) d += Long.bitCount(a[i] ^ b[i]);
        return d;
    }

    /** Σ x[i]·(bit i ? +1 : −1) over dims values, as adds and subtracts. */
    public static int dotInt8(long[] bits, byte[] x, int dims) {
        int s = 0;
        for (int i = 0; i < dims; i++) {
            boolean set = ((bits[i >>> 6] >>> (i & 63)) & 1) != 0;
            s += set ? x[i] : -x[i];
        }
        return s;
    }

    /** int8 codes of a vector by absmax; returns the scale (value ≈ code · scale). */
    public static float int8(float[] v, byte[] out) {
        float amax = 0;
        for (float f : v) amax = Math.max(amax, Math.abs(f));
        float inv = amax == 0 ? 0 : 127f / amax;
        for (int i = 0; i < v.length; i++) out[i] = (byte) Math.max(-127, Math.min(127, Q8_0Block.roundHalfAway(v[i] * inv)));
        return amax / 127f;
    }
}
