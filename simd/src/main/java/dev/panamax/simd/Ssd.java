package dev.panamax.simd;

/**
 * Mamba-2's state-space duality (Dao &amp; Gu, 2024) for one head: a scalar decay per step and a
 * P × N state,
 *
 * <pre>
 *   S_t = e^{Δ_t·a} · S_{t−1} + Δ_t · x_t ⊗ B_t          a &lt; 0, Δ_t &gt; 0
 *   y_t = S_t · C_t
 * </pre>
 *
 * with x, y [T, P], B, C [T, N], Δ [T] row-major and S [P, N] read as the initial state and left as
 * the final one. Two ways, equal within float rounding:
 * <ul>
 * <li>{@link #recurrent}: the definition (decode, and the reference);</li>
 * <li>{@link #chunked}: SSD's block decomposition. Inside a chunk, with G_i = Σ_{j≤i} Δ_j·a, the
 *     output is the masked "attention" form Y = (L ⊙ C·Bᵀ)·(Δ⊙X), L[i][j] = e^{G_i−G_j} for j ≤ i,
 *     plus the carried-in state e^{G_i}·S·C_i; the state passes once per chunk:
 *     S ← e^{G_last}·S + Σ_j e^{G_last−G_j}·Δ_j·x_j ⊗ B_j.</li>
 * </ul>
 */
public final class Ssd {
    private Ssd() {}

    public static void recurrent(float[] x, float[] dt, float a, float[] B, float[] C, float[] S, float[] y, int T, int P, int N) {
        for (int t = 0; t < T; t++) {
            float decay = (float) Math.exp(dt[t] * a);
            for (int p = 0; p < P; p++) {
                float xv = dt[t] * x[t * P + p], acc = 0;
                for (int n = 0; n < N; n++) {
                    float s = decay * S[p * N + n] + xv * B[t * N + n];
                    S[p * N + n] = s;
                    acc += s * C[t * N + n];
                }
                y[t * P + p] = acc;
            }
        }
    }

    public static void chunked(float[] x, float[] dt, float a, float[] B, float[] C, float[] S, float[] y, int T, int P, int N, int chunk) {
        float[] G = new float[chunk], M = new float[chunk * chunk];
        for (int t0 = 0; t0 < T; t0 += chunk) {
            int L = Math.min(chunk, T - t0);
            float cum = 0;
            for (int i = 0; i < L; i++) G[i] = cum += dt[t0 + i] * a;
            // M[i][j] = e^{G_i − G_j}·(C_i·B_j)·Δ_j, j ≤ i.
            for (int i = 0; i < L; i++) {
                for (int j = 0; j <= i; j++) {
                    float cb = 0;
                    for (int n = 0; n < N; n++) cb += C[(t0 + i) * N + n] * B[(t0 + j) * N + n];
                    M[i * chunk + j] = (float) Math.exp(G[i] - G[j]) * cb * dt[t0 + j];
                }
            }
            // Y = e^{G}⊙(S·C) + M·X
            for (int i = 0; i < L; i++) {
                float eg = (float) Math.exp(G[i]);
                for (int p = 0; p < P; p++) {
                    float sc = 0;
                    for (int n = 0; n < N; n++) sc += S[p * N + n] * C[(t0 + i) * N + n];
                    float acc = eg * sc;
                    for (int j = 0; j <= i; j++) acc += M[i * chunk + j] * x[(t0 + j) * P + p];
                    y[(t0 + i) * P + p] = acc;
                }
            }
            float last = G[L - 1], total = (float) Math.exp(last);
            for (int e = 0; e < P * N; e++) S[e] *= total;
            for (int j = 0; j < L; j++) {
                float wj = (float) Math.exp(last - G[j]) * dt[t0 + j];
                for (int p = 0; p < P; p++) {
                    float xv = wj * x[(t0 + j) * P + p];
                    for (int n = 0; n < N; n++) S[p * N + n] += xv * B[(t0 + j) * N + n];
                }
            }
        }
    }
}
