package dev.panamax.simd;

/**
 * The gated delta rule (Yang, Kautz &amp; Hatamizadeh, "Gated Delta Networks", 2024) for one head: a
 * linear-attention recurrence whose state S is a dk × dv matrix, decayed and then corrected toward
 * the current key's target value:
 *
 * <pre>
 *   S  ← exp(g_t) · S                              g_t ≤ 0: the gate (a decay in (0, 1])
 *   S  ← S + k_t ⊗ β_t·(v_t − Sᵀk_t)                β_t ∈ (0, 1): the delta-rule step size
 *   o_t = Sᵀ q_t
 * </pre>
 *
 * q, k are [T, dk], v and o [T, dv], g and β [T], all row-major; S is [dk, dv], read as the initial
 * state and left as the final one. Two ways, equal within float rounding:
 * <ul>
 * <li>{@link #recurrent}: the definition, token by token (decode, and the reference);</li>
 * <li>{@link #chunked}: the chunkwise form for prompts. Inside a chunk of C tokens with cumulative
 *     gates G_i = Σ_{j≤i} g_j, the UT transform turns the sequential corrections into matrix
 *     products: with A[i][j] = −β_i (k_i·k_j) e^{G_i−G_j} (j &lt; i), T = (I − A)⁻¹ by forward
 *     substitution, U = T·(β⊙V) and W = T·(β⊙e^G⊙K). Then the chunk's new values are
 *     V' = U − W·S, its outputs O = (e^G⊙Q)·S + (QKᵀ ⊙ e^{G_i−G_j}, causal)·V', and the state
 *     S ← e^{G_C}·S + Σ_i (e^{G_C−G_i} k_i) ⊗ V'_i. The state passes once per chunk instead of per
 *     token, and everything else is dense C×C and C×d products.</li>
 * </ul>
 */
public final class DeltaRule {
    private DeltaRule() {}

    /** The reference: T steps of the recurrence. */
    public static void recurrent(float[] q, float[] k, float[] v, float[] g, float[] beta, float[] S, float[] o, int T, int dk, int dv) {
        float[] kv = new float[dv];
        for (int t = 0; t < T; t++) {
            float decay = (float) Math.exp(g[t]);
            for (int i = 0; i < dk * dv; i++) S[i] *= decay;
            java.util.Arrays.fill(kv, 0f);
            for (int i = 0; i < dk; i++) {
                float ki = k[t * dk + i];
                for (int j = 0; j < dv; j++) kv[j] += S[i * dv + j] * ki;
            }
            for (int j = 0; j < dv; j++) kv[j] = (v[t * dv + j] - kv[j]) * beta[t]; // the delta
            for (int i = 0; i < dk; i++) {
                float ki = k[t * dk + i];
                for (int j = 0; j < dv; j++) S[i * dv + j] += ki * kv[j];
            }
            for (int j = 0; j < dv; j++) {
                float acc = 0;
                for (int i = 0; i < dk; i++) acc += S[i * dv + j] * q[t * dk + i];
                o[t * dv + j] = acc;
            }
        }
    }

    /** The chunkwise form with chunks of {@code C} tokens (the last may be shorter). */
    public static void chunked(float[] q, float[] k, float[] v, float[] g, float[] beta, float[] S, float[] o, int T, int dk, int dv, int C) {
        float[] G = new float[C], A = new float[C * C], U = new float[C * dv], W = new float[C * dk], Vn = new float[C * dv];
        for (int t0 = 0; t0 < T; t0 += C) {
            int L = Math.min(C, T - t0);
            float cum = 0;
            for (int i = 0; i < L; i++) G[i] = cum += g[t0 + i];
            // A[i][j] = −β_i (k_i·k_j) e^{G_i − G_j} for j < i, then T = (I − A)⁻¹ row by row (forward substitution).
            for (int i = 0; i < L; i++) {
                for (int j = 0; j < i; j++) {
                    float dot = 0;
                    for (int d = 0; d < dk; d++) dot += k[(t0 + i) * dk + d] * k[(t0 + j) * dk + d];
                    A[i * C + j] = -beta[t0 + i] * dot * (float) Math.exp(G[i] - G[j]);
                }
                for (int j = 0; j < i; j++) {
                    float acc = A[i * C + j];
                    for (int m = j + 1; m < i; m++) acc += A[i * C + m] * A[m * C + j];
                    A[i * C + j] = acc;
                }
            }
            // U = T·(β⊙V), W = T·(β⊙e^G⊙K), with T = A + I (A strictly lower).
            for (int i = 0; i < L; i++) {
                for (int d = 0; d < dv; d++) U[i * dv + d] = beta[t0 + i] * v[(t0 + i) * dv + d];
                float eg = beta[t0 + i] * (float) Math.exp(G[i]);
                for (int d = 0; d < dk; d++) W[i * dk + d] = eg * k[(t0 + i) * dk + d];
                for (int j = 0; j < i; j++) {
                    float a = A[i * C + j];
                    for (int d = 0; d < dv; d++) U[i * dv + d] += a * beta[t0 + j] * v[(t0 + j) * dv + d];
                    float ej = a * beta[t0 + j] * (float) Math.exp(G[j]);
                    for (int d = 0; d < dk; d++) W[i * dk + d] += ej * k[(t0 + j) * dk + d];
                }
            }
            // V' = U − W·S; O = (e^G ⊙ Q)·S + causal(QKᵀ ⊙ e^{G_i − G_j})·V'.
            for (int i = 0; i < L; i++) {
                float eg = (float) Math.exp(G[i]);
                for (int d = 0; d < dv; d++) {
                    float ws = 0, qs = 0;
                    for (int e = 0; e < dk; e++) {
                        ws += W[i * dk + e] * S[e * dv + d];
                        qs += q[(t0 + i) * dk + e] * S[e * dv + d];
                    }
                    Vn[i * dv + d] = U[i * dv + d] - ws;
                    o[(t0 + i) * dv + d] = eg * qs;
                }
            }
            for (int i = 0; i < L; i++) {
                for (int j = 0; j <= i; j++) {
                    float dot = 0;
                    for (int d = 0; d < dk; d++) dot += q[(t0 + i) * dk + d] * k[(t0 + j) * dk + d];
                    float a = dot * (float) Math.exp(G[i] - G[j]);
                    for (int d = 0; d < dv; d++) o[(t0 + i) * dv + d] += a * Vn[j * dv + d];
                }
            }
            // S ← e^{G_L}·S + Σ_i (e^{G_L − G_i} k_i) ⊗ V'_i.
            float last = G[L - 1], total = (float) Math.exp(last);
            for (int e = 0; e < dk * dv; e++) S[e] *= total;
            for (int i = 0; i < L; i++) {
                float w = (float) Math.exp(last - G[i]);
                for (int e = 0; e < dk; e++) {
                    float ke = w * k[(t0 + i) * dk + e];
                    for (int d = 0; d < dv; d++) S[e * dv + d] += ke * Vn[i * dv + d];
                }
            }
        }
    }
}
