package dev.panamax.quant;

/**
 * Fitting a sub-block's scale (and min) for the K-quant quantizers: a small search over step sizes,
 * each followed by a least-squares refit of the scale (and offset) to the codes it produced; the fit
 * with the lowest squared error wins. Panamax's own (not ggml's search), checked by the round-trip
 * properties and by llama.cpp running the files.
 */
final class KQuantFit {
    private KQuantFit() {}

    /**
     * Codes q ∈ [0, maxCode] with x ≈ s·q − m, s ≥ 0, m ≥ 0 (the K-quants store the min as a
     * subtracted non-negative number, so a sub-block of positive values gets m = 0).
     * Returns {s, m}.
     */
    static float[] scaleMin(float[] x, int off, int len, int maxCode) {
        float lo = 0, hi = -Float.MAX_VALUE;
        for (int i = 0; i < len; i++) {
            lo = Math.min(lo, x[off + i]);
            hi = Math.max(hi, x[off + i]);
        }
        if (hi <= lo) return new float[] {0, -lo};
        float bestS = (hi - lo) / maxCode, bestM = -lo;
        double bestErr = errorScaleMin(x, off, len, maxCode, bestS, bestM);
        for (int step = -4; step <= 8; step++) {
            float s = (hi - lo) / (maxCode + 0.25f * step);
            float m = -lo;
            // least squares of x on the codes: x ≈ s·q + b, with b = −m ≤ 0
            double sq = 0, sqq = 0, sx = 0, sqx = 0;
            for (int i = 0; i < len; i++) {
                int q = clamp(Math.round((x[off + i] + m) / s), 0, maxCode);
                sq += q;
                sqq += (double) q * q;
                sx += x[off + i];
                sqx += (double) q * x[off + i];
            }
            double det = len * sqq - sq * sq;
            if (det > 0) {
                double ns = (len * sqx - sq * sx) / det, nb = (sx - ns * sq) / len;
                if (nb > 0) { // the min would be negative: fit through the origin instead
                    nb = 0;
                    ns = sqq > 0 ? sqx / sqq : 0;
                }
                if (ns > 0) {
                    s = (float) ns;
                    m = (float) -nb;
                }
            }
            double err = errorScaleMin(x, off, len, maxCode, s, m);
            if (err < bestErr) {
                bestErr = err;
                bestS = s;
                bestM = m;
            }
        }
        return new float[] {bestS, bestM};
    }

    static double errorScaleMin(float[] x, int off, int len, int maxCode, float s, float m) {
        double err = 0;
        for (int i = 0; i < len; i++) {
            int q = s > 0 ? clamp(Math.round((x[off + i] + m) / s), 0, maxCode) : 0;
            double e = x[off + i] - (s * q - m);
            err += e * e;
        }
        return err;
    }

    /**
     * A signed scale s with codes q ∈ [−half, half − 1], x ≈ s·q: the value of largest magnitude sets
     * the sign (so it can take the extra negative code), then step sizes around max|x|/half are tried
     * with a least-squares refit each.
     */
    static float symmetricScale(float[] x, int off, int len, int half) {
        float max = 0;
        for (int i = 0; i < len; i++) if (Math.abs(x[off + i]) > Math.abs(max)) max = x[off + i];
        if (max == 0) return 0;
        float best = max / -half;
        double bestErr = errorSymmetric(x, off, len, half, best);
        for (int step = -8; step <= 8; step++) {
            float s = max / -(half + 0.25f * step);
            double sqq = 0, sqx = 0;
            for (int i = 0; i < len; i++) {
                int q = clamp(Math.round(x[off + i] / s), -half, half - 1);
                sqq += (double) q * q;
                sqx += (double) q * x[off + i];
            }
            if (sqq > 0) s = (float) (sqx / sqq);
            double err = errorSymmetric(x, off, len, half, s);
            if (err < bestErr) {
                bestErr = err;
                best = s;
            }
        }
        return best;
    }

    static double errorSymmetric(float[] x, int off, int len, int half, float s) {
        double err = 0;
        for (int i = 0; i < len; i++) {
            int q = s != 0 ? clamp(Math.round(x[off + i] / s), -half, half - 1) : 0;
            double e = x[off + i] - s * q;
            err += e * e;
        }
        return err;
    }

    static int clamp(int v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    /** A half float's value: what a stored f16 scale will really be. */
    static float asF16(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    /**
     * Q4_K/Q5_K's common head: fits the 8 sub-blocks of 32 of the super-block at {@code off}, stores
     * d, dmin and the 12 packed scale bytes at {@code o}, and writes each value's code to {@code codes}.
     */
    static void superBlockScaleMin(float[] x, int off, int maxCode, java.lang.foreign.MemorySegment dst, long o, int[] codes) {
        float[] s = new float[8], m = new float[8];
        float maxS = 0, maxM = 0;
        for (int j = 0; j < 8; j++) {
            float[] sm = scaleMin(x, off + 32 * j, 32, maxCode);
            s[j] = sm[0];
            m[j] = sm[1];
            maxS = Math.max(maxS, s[j]);
            maxM = Math.max(maxM, m[j]);
        }
        float d = asF16(maxS / 63), dmin = asF16(maxM / 63);
        int[] ls = new int[8], lm = new int[8];
        for (int j = 0; j < 8; j++) {
            ls[j] = d > 0 ? clamp(Math.round(s[j] / d), 0, 63) : 0;
            lm[j] = dmin > 0 ? clamp(Math.round(m[j] / dmin), 0, 63) : 0;
        }
        dst.set(Q8_0Block.F16, o, Float.floatToFloat16(d));
        dst.set(Q8_0Block.F16, o + 2, Float.floatToFloat16(dmin));
        for (int j = 0; j < 4; j++) {
            put(dst, o + 4 + j, (ls[j] & 63) | (ls[j + 4] >> 4) << 6);
            put(dst, o + 8 + j, (lm[j] & 63) | (lm[j + 4] >> 4) << 6);
            put(dst, o + 12 + j, (ls[j + 4] & 15) | (lm[j + 4] & 15) << 4);
        }
        for (int j = 0; j < 8; j++) {
            float ds = d * ls[j], dm = dmin * lm[j];
            for (int i = 0; i < 32; i++) codes[32 * j + i] = ds > 0 ? clamp(Math.round((x[off + 32 * j + i] + dm) / ds), 0, maxCode) : 0;
        }
    }

    static void put(java.lang.foreign.MemorySegment s, long o, int v) {
        s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, o, (byte) v);
    }
}
