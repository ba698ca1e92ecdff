package dev.panamax.proptest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.panamax.simd.DeltaRule;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The gated delta rule: the recurrent form and the chunkwise (UT transform) form both equal the
 * recurrence computed in float64, for random lengths (including ones that are not multiples of
 * the chunk, and 1), chunk sizes, head sizes, gates g ≤ 0 (decays in (0, 1]), step sizes β in
 * (0, 1) and unit-norm keys (as the models l2-normalise them), from a zero or a random initial state.
 */
class DeltaRuleProperties {

    record Case(int T, int dk, int dv, int chunk, double gateScale, boolean withState, long seed) {}

    @Provide
    Arbitrary<Case> cases() {
        return Combinators.combine(Arbitraries.integers().between(1, 90), Arbitraries.integers().between(1, 12), Arbitraries.integers().between(1, 12),
                        Arbitraries.integers().between(1, 40), Arbitraries.of(0.0, 0.01, 0.3, 3.0), Arbitraries.of(true, false), Arbitraries.longs())
                .as(Case::new);
    }

    @Property(tries = 300)
    void chunkedAndRecurrentEqualTheFloat64Recurrence(@ForAll("cases") Case c) {
        int T = c.T(), dk = c.dk(), dv = c.dv();
        Random r = new Random(c.seed());
        float[] q = new float[T * dk], k = new float[T * dk], v = new float[T * dv], g = new float[T], beta = new float[T], s0 = new float[dk * dv];
        for (int t = 0; t < T; t++) {
            double norm = 0;
            for (int i = 0; i < dk; i++) {
                q[t * dk + i] = (float) r.nextGaussian() / (float) Math.sqrt(dk);
                k[t * dk + i] = (float) r.nextGaussian();
                norm += k[t * dk + i] * k[t * dk + i];
            }
            for (int i = 0; i < dk; i++) k[t * dk + i] /= (float) Math.sqrt(norm + 1e-6);
            for (int j = 0; j < dv; j++) v[t * dv + j] = (float) (2 * r.nextDouble() - 1);
            g[t] = (float) (-c.gateScale() * r.nextDouble());
            beta[t] = (float) (0.01 + 0.98 * r.nextDouble());
        }
        if (c.withState()) for (int i = 0; i < s0.length; i++) s0[i] = (float) r.nextGaussian();

        // float64 reference
        double[] S = new double[dk * dv];
        for (int i = 0; i < S.length; i++) S[i] = s0[i];
        double[] ref = new double[T * dv];
        double maxRef = 1;
        for (int t = 0; t < T; t++) {
            double decay = Math.exp(g[t]);
            for (int i = 0; i < S.length; i++) S[i] *= decay;
            double[] delta = new double[dv];
            for (int j = 0; j < dv; j++) {
                double kv = 0;
                for (int i = 0; i < dk; i++) kv += S[i * dv + j] * k[t * dk + i];
                delta[j] = (v[t * dv + j] - kv) * beta[t];
            }
            for (int i = 0; i < dk; i++) for (int j = 0; j < dv; j++) S[i * dv + j] += k[t * dk + i] * delta[j];
            for (int j = 0; j < dv; j++) {
                double acc = 0;
                for (int i = 0; i < dk; i++) acc += S[i * dv + j] * q[t * dk + i];
                ref[t * dv + j] = acc;
                maxRef = Math.max(maxRef, Math.abs(acc));
            }
        }
        double maxState = 1;
        for (double x : S) maxState = Math.max(maxState, Math.abs(x));

        float[] sRec = s0.clone(), sChunk = s0.clone(), oRec = new float[T * dv], oChunk = new float[T * dv];
        DeltaRule.recurrent(q, k, v, g, beta, sRec, oRec, T, dk, dv);
        DeltaRule.chunked(q, k, v, g, beta, sChunk, oChunk, T, dk, dv, c.chunk());
        // Float rounding through T steps of products of size dk·dv, relative to the values flowing through.
        double tol = 2e-6 * (T + dk + dv) * maxRef, stateTol = 2e-6 * (T + dk + dv) * maxState;
        for (int i = 0; i < T * dv; i++) {
            assertThat(Math.abs(oRec[i] - ref[i])).as("recurrent o[%d] (t=%d)", i, i / dv).isLessThanOrEqualTo(tol);
            assertThat(Math.abs(oChunk[i] - ref[i])).as("chunked o[%d] (t=%d)", i, i / dv).isLessThanOrEqualTo(tol);
        }
        for (int i = 0; i < S.length; i++) {
            assertThat(Math.abs(sRec[i] - S[i])).as("recurrent final state %d", i).isLessThanOrEqualTo(stateTol);
            assertThat(Math.abs(sChunk[i] - S[i])).as("chunked final state %d", i).isLessThanOrEqualTo(stateTol);
        }
    }
}
