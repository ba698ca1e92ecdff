package dev.panamax.proptest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.panamax.simd.Ssd;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Mamba-2's SSD: the recurrent and the chunked (masked-attention inside chunks, state passing between
 * them) forms equal the recurrence in float64 — random lengths (1, and not multiples of the chunk),
 * chunk sizes, head and state sizes, decays e^{Δa} in (0, 1), zero or random initial state.
 */
class SsdProperties {

    record Case(int T, int P, int N, int chunk, double aScale, boolean withState, long seed) {}

    @Provide
    Arbitrary<Case> cases() {
        return Combinators.combine(Arbitraries.integers().between(1, 90), Arbitraries.integers().between(1, 10), Arbitraries.integers().between(1, 12),
                        Arbitraries.integers().between(1, 40), Arbitraries.of(0.01, 0.5, 4.0), Arbitraries.of(true, false), Arbitraries.longs())
                .as(Case::new);
    }

    @Property(tries = 300)
    void chunkedAndRecurrentEqualTheFloat64Recurrence(@ForAll("cases") Case c) {
        int T = c.T(), P = c.P(), N = c.N();
        Random r = new Random(c.seed());
        float[] x = new float[T * P], dt = new float[T], B = new float[T * N], C = new float[T * N], s0 = new float[P * N];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        for (int t = 0; t < T; t++) dt[t] = (float) (0.001 + r.nextDouble());
        for (int i = 0; i < B.length; i++) {
            B[i] = (float) r.nextGaussian();
            C[i] = (float) r.nextGaussian();
        }
        if (c.withState()) for (int i = 0; i < s0.length; i++) s0[i] = (float) r.nextGaussian();
        float a = (float) (-c.aScale() * (0.05 + r.nextDouble()));

        double[] S = new double[P * N], ref = new double[T * P];
        double maxRef = 1, maxAbs = 1;
        for (int i = 0; i < S.length; i++) S[i] = s0[i];
        for (int t = 0; t < T; t++) {
            double decay = Math.exp((double) dt[t] * a);
            for (int p = 0; p < P; p++) {
                double acc = 0, abs = 0;
                for (int n = 0; n < N; n++) {
                    S[p * N + n] = decay * S[p * N + n] + (double) dt[t] * x[t * P + p] * B[t * N + n];
                    acc += S[p * N + n] * C[t * N + n];
                    abs += Math.abs(S[p * N + n] * C[t * N + n]);
                }
                ref[t * P + p] = acc;
                maxRef = Math.max(maxRef, Math.abs(acc));
                maxAbs = Math.max(maxAbs, abs);
            }
        }
        double maxState = 1;
        for (double v : S) maxState = Math.max(maxState, Math.abs(v));

        float[] sRec = s0.clone(), sChunk = s0.clone(), yRec = new float[T * P], yChunk = new float[T * P];
        Ssd.recurrent(x, dt, a, B, C, sRec, yRec, T, P, N);
        Ssd.chunked(x, dt, a, B, C, sChunk, yChunk, T, P, N, c.chunk());
        // Rounding of sums of N and of up to a chunk's worth of terms, against the magnitudes summed.
        double tol = 4e-6 * (N + Math.min(T, c.chunk()) + 8) * maxAbs, stateTol = 4e-6 * (T + 8) * maxState;
        for (int i = 0; i < T * P; i++) {
            assertThat(Math.abs(yRec[i] - ref[i])).as("recurrent y[%d]", i).isLessThanOrEqualTo(tol);
            assertThat(Math.abs(yChunk[i] - ref[i])).as("chunked y[%d]", i).isLessThanOrEqualTo(tol);
        }
        for (int i = 0; i < S.length; i++) {
            assertThat(Math.abs(sRec[i] - S[i])).as("recurrent state %d", i).isLessThanOrEqualTo(stateTol);
            assertThat(Math.abs(sChunk[i] - S[i])).as("chunked state %d", i).isLessThanOrEqualTo(stateTol);
        }
    }
}
