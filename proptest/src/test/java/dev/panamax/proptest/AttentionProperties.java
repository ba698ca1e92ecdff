package dev.panamax.proptest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.panamax.simd.Attention;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Flash-style (tiled, online softmax) and split-K attention equal naive attention computed in
 * float64: random shapes, GQA ratios, sliding windows, cache positions (context lengths from 1),
 * prompt lengths, numbers of parts, softmax and sigmoid weights; on the active kernels.
 */
class AttentionProperties {

    record Case(int kvHeads, int group, int hd, int pos, int T, int window, int parts, boolean sigmoid, double spread, long seed) {}

    @Provide
    Arbitrary<Case> cases() {
        return Combinators.combine(Arbitraries.integers().between(1, 3), Arbitraries.of(1, 2, 4), Arbitraries.integers().between(1, 40),
                        Arbitraries.integers().between(0, 150), Arbitraries.integers().between(1, 70), Arbitraries.of(0, 0, 1, 5, 33, 100),
                        Arbitraries.integers().between(1, 9), Arbitraries.of(false, false, true))
                .flatAs((kv, g, hd, pos, T, win, parts, sig) -> Combinators.combine(Arbitraries.of(0.1, 1.0, 4.0), Arbitraries.longs())
                        .as((spread, seed) -> new Case(kv, g, hd, pos, T, win, parts, sig, spread, seed)));
    }

    @Property(tries = 250)
    void flashAndSplitKEqualNaiveAttention(@ForAll("cases") Case c) {
        int H = c.kvHeads() * c.group(), hd = c.hd(), T = c.T(), pos = c.pos(), n = pos + T;
        int qDim = H * hd, kvDim = c.kvHeads() * hd;
        Random r = new Random(c.seed());
        float[] Q = new float[T * qDim], K = new float[n * kvDim], V = new float[n * kvDim];
        for (int i = 0; i < Q.length; i++) Q[i] = (float) (c.spread() * r.nextGaussian());
        for (int i = 0; i < K.length; i++) {
            K[i] = (float) (c.spread() * r.nextGaussian());
            V[i] = (float) r.nextGaussian();
        }
        Attention.Shape s = new Attention.Shape(H, c.kvHeads(), hd, c.window(), c.sigmoid());
        float[] ref = reference(Q, K, V, T, pos, s);

        float[] naive = new float[T * qDim], flash = new float[T * qDim];
        Attention.naive(Paths.active(), Q, T, pos, K, V, s, naive);
        Attention.flash(Paths.active(), Q, T, pos, K, V, s, flash);
        // Weights sum to 1 (softmax) or to at most ~1 (sigmoid with the −log n bias): outputs are averages
        // of |v| ≲ 4; float rounding through sums over up to n keys and d products.
        double tol = 3e-6 * (n + hd + 16) * 4;
        for (int i = 0; i < ref.length; i++) {
            assertThat(Math.abs((double) naive[i] - ref[i])).as("naive out[%d]", i).isLessThanOrEqualTo(tol);
            assertThat(Math.abs((double) flash[i] - ref[i])).as("flash out[%d] (row %d)", i, i / qDim).isLessThanOrEqualTo(tol);
        }
        // Decode: the last row alone, at its position, split into parts.
        float[] last = java.util.Arrays.copyOfRange(Q, (T - 1) * qDim, T * qDim), split = new float[qDim];
        Attention.splitK(Paths.active(), last, n - 1, K, V, s, split, c.parts());
        for (int i = 0; i < qDim; i++) {
            assertThat(Math.abs((double) split[i] - ref[(T - 1) * qDim + i])).as("split-K out[%d] in %d parts", i, c.parts()).isLessThanOrEqualTo(tol);
        }
    }

    /** float64 attention, the definition. */
    static float[] reference(float[] Q, float[] K, float[] V, int T, int pos, Attention.Shape s) {
        int hd = s.headDim(), qDim = s.heads() * hd, kvDim = s.kvHeads() * hd, group = s.heads() / s.kvHeads();
        float[] out = new float[T * qDim];
        for (int t = 0; t < T; t++) {
            int p = pos + t, start = s.window() > 0 ? Math.max(0, p - s.window() + 1) : 0, len = p - start + 1;
            for (int h = 0; h < s.heads(); h++) {
                int ko = (h / group) * hd;
                double[] w = new double[len];
                double mx = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < len; j++) {
                    double d = 0;
                    for (int e = 0; e < hd; e++) d += (double) Q[t * qDim + h * hd + e] * K[(start + j) * kvDim + ko + e];
                    w[j] = d / Math.sqrt(hd);
                    mx = Math.max(mx, w[j]);
                }
                for (int j = 0; j < len; j++) {
                    w[j] = s.sigmoid() ? 1 / (1 + Math.exp(-(w[j] - Math.log(len)))) : Math.exp(w[j] - mx);
                    sum += w[j];
                }
                for (int e = 0; e < hd; e++) {
                    double acc = 0;
                    for (int j = 0; j < len; j++) acc += w[j] * V[(start + j) * kvDim + ko + e];
                    out[t * qDim + h * hd + e] = (float) (s.sigmoid() ? acc : acc / sum);
                }
            }
        }
        return out;
    }
}
