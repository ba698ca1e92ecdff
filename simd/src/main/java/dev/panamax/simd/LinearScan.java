package dev.panamax.simd;

/**
 * First-order linear recurrences over time, one per channel — the core of the state-space models:
 *
 * <pre>
 *   h[t][c] = a[t][c] · h[t−1][c] + b[t][c],      h[−1][c] = h0[c],     t &lt; T, c &lt; C
 * </pre>
 *
 * with a, b and the output h row-major [T, C]. Three ways to compute it, equal within float rounding:
 * <ul>
 * <li>{@link #sequential}: the definition, one step at a time (the reference);</li>
 * <li>{@link #lanes}: the same order of operations, with channels in vector lanes
 *     ({@link Kernels}' fma over a row, so the Vector API when it runs);</li>
 * <li>{@link #chunked}: the two-pass parallel scan over time: each chunk of time is scanned from
 *     zero while it also multiplies up its decays, the chunk ends are chained in order, and each
 *     chunk adds its carried-in state times its running decay (fix-up) — chunks in parallel.</li>
 * </ul>
 */
public final class LinearScan {
    private LinearScan() {}

    /** The reference. {@code h0} may be null (zeros); the final state is left in h[T−1]. */
    public static void sequential(float[] a, float[] b, float[] h0, float[] h, int T, int C) {
        for (int c = 0; c < C; c++) {
            float s = h0 == null ? 0f : h0[c];
            for (int t = 0; t < T; t++) {
                s = a[t * C + c] * s + b[t * C + c];
                h[t * C + c] = s;
            }
        }
    }

    /** Channels in vector lanes: row t = a[t] ⊙ row t−1 + b[t], by the active kernels' multiply and add. */
    public static void lanes(Kernels k, float[] a, float[] b, float[] h0, float[] h, int T, int C) {
        if (T == 0) return;
        if (h0 == null) {
            System.arraycopy(b, 0, h, 0, C);
        } else {
            k.mul(a, 0, h0, 0, h, 0, C);
            k.add(h, 0, b, 0, h, 0, C);
        }
        for (int t = 1; t < T; t++) {
            k.mul(a, t * C, h, (t - 1) * C, h, t * C, C);
            k.add(h, t * C, b, t * C, h, t * C, C);
        }
    }

    /** The parallel form, over time chunks of {@code chunk} steps (the last may be shorter). */
    public static void chunked(Kernels k, float[] a, float[] b, float[] h0, float[] h, int T, int C, int chunk) {
        if (T == 0) return;
        int n = (T + chunk - 1) / chunk;
        float[] decay = new float[T * C]; // running product of a within each chunk, up to and including t
        // Pass 1, chunks in parallel: local scans from zero, and the running decays.
        Parallel.forEach(n, q -> {
            int t0 = q * chunk, t1 = Math.min(T, t0 + chunk);
            System.arraycopy(b, t0 * C, h, t0 * C, C);
            System.arraycopy(a, t0 * C, decay, t0 * C, C);
            for (int t = t0 + 1; t < t1; t++) {
                k.mul(a, t * C, h, (t - 1) * C, h, t * C, C);
                k.add(h, t * C, b, t * C, h, t * C, C);
                k.mul(a, t * C, decay, (t - 1) * C, decay, t * C, C);
            }
        });
        // Pass 2, in order: the state entering each chunk.
        float[] carry = new float[n * C];
        if (h0 != null) System.arraycopy(h0, 0, carry, 0, C);
        for (int q = 1; q < n; q++) {
            int end = (Math.min(T, q * chunk) - 1) * C;
            k.mul(decay, end, carry, (q - 1) * C, carry, q * C, C);
            k.add(carry, q * C, h, end, carry, q * C, C);
        }
        // Pass 3, chunks in parallel: add the carried state, decayed to each step.
        Parallel.forEach(n, q -> {
            if (q == 0 && h0 == null) return;
            int t0 = q * chunk, t1 = Math.min(T, t0 + chunk);
            float[] tmp = new float[C];
            for (int t = t0; t < t1; t++) {
                k.mul(decay, t * C, carry, q * C, tmp, 0, C);
                k.add(h, t * C, tmp, 0, h, t * C, C);
            }
        });
    }
}
