package dev.panamax.proptest;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** softmax, RMSNorm, LayerNorm. */
class SoftmaxNormProperties {

    record Row(float[] x) {
        @Override
        public String toString() {
            return "Row[n=" + x.length + ", x=" + Gen.show(x) + "]";
        }
    }

    @Provide
    Arbitrary<Row> logits() {
        // Logit-like values, spread wide enough that some exponentials underflow.
        return Gen.length(300).flatMap(n -> Arbitraries.floats().between(-60, 60).ofScale(7).array(float[].class).ofSize(n)).map(Row::new);
    }

    @Provide
    Arbitrary<Row> rows() {
        return Gen.length(300).flatMap(Gen::floats).map(Row::new);
    }

    @Provide
    Arbitrary<Row> rowsWithSpecials() {
        return Gen.length(100).flatMap(Gen::floatsWithSpecials).map(Row::new);
    }

    static float[] softmax(dev.panamax.simd.Kernels k, float[] x) {
        float[] y = x.clone();
        k.softmax(y, 0, y.length);
        return y;
    }

    @Property
    void softmaxMatchesFloat64AndScalarTwinAndSumsToOne(@ForAll("logits") Row row) {
        float[] x = row.x();
        int n = x.length;
        float[] y = softmax(Paths.active(), x), twin = softmax(Paths.scalar(), x);
        if (n == 0) return;
        double max = Double.NEGATIVE_INFINITY;
        for (float v : x) max = Math.max(max, v);
        double sum = 0;
        for (float v : x) sum += Math.exp(v - max);
        double total = 0;
        for (int i = 0; i < n; i++) {
            // x − max is rounded to float before exp: an error of |x − max|·u in the exponent.
            double rel = (Math.abs(x[i] - max) + 2 * n + 10) * Gen.U;
            double exact = Math.exp(x[i] - max) / sum;
            assertThat(Math.abs(y[i] - exact)).as("y[%d] vs float64", i).isLessThanOrEqualTo(rel * exact + Float.MIN_NORMAL);
            assertThat(Math.abs((double) y[i] - twin[i])).as("y[%d] vs scalar twin", i).isLessThanOrEqualTo(2 * rel * exact + Float.MIN_NORMAL);
            total += y[i];
        }
        assertThat(Math.abs(total - 1)).as("sum").isLessThanOrEqualTo((2 * n + 130) * Gen.U);
    }

    /** exp(x − shift) in place and its sum (the online softmax's step): against float64 and the scalar twin. */
    @Property
    void expShiftMatchesFloat64AndScalarTwin(@ForAll("logits") Row row, @ForAll("shifts") int offset) {
        float[] x = row.x(), y = x.clone(), twin = x.clone();
        // As used: the shift is the running max or above it (by up to 30), so nothing overflows.
        float max = Float.NEGATIVE_INFINITY;
        for (float v : x) max = Math.max(max, v);
        float shift = x.length == 0 ? 0 : max + Math.floorMod(offset, 31);
        float sum = Paths.active().expShift(y, 0, y.length, shift), twinSum = Paths.scalar().expShift(twin, 0, twin.length, shift);
        double exactSum = 0;
        for (int i = 0; i < x.length; i++) {
            double exact = Math.exp((double) x[i] - shift);
            exactSum += exact;
            // x − shift rounds to float before exp: |x − shift|·u in the exponent, plus the exp's own few u.
            double rel = (Math.abs(x[i] - shift) + 10) * Gen.U;
            assertThat(Math.abs(y[i] - exact)).as("y[%d] vs float64", i).isLessThanOrEqualTo(rel * exact + Float.MIN_NORMAL);
            assertThat(Math.abs((double) y[i] - twin[i])).as("y[%d] vs scalar twin", i).isLessThanOrEqualTo(2 * rel * exact + Float.MIN_NORMAL);
        }
        double bound = (x.length + 80) * 4 * Gen.U * exactSum + Float.MIN_NORMAL;
        assertThat(Math.abs(sum - exactSum)).as("sum").isLessThanOrEqualTo(bound);
        assertThat(Math.abs((double) sum - twinSum)).as("sum vs scalar twin").isLessThanOrEqualTo(2 * bound);
    }

    @Provide
    Arbitrary<float[]> gridLogits() {
        // Multiples of 2^-10 in [-16, 16]: adding an integer shift below 1000 is exact in float.
        return Gen.length(200).flatMap(n -> Arbitraries.integers().between(-16 * 1024, 16 * 1024).array(int[].class).ofSize(n))
                .map(q -> {
                    float[] x = new float[q.length];
                    for (int i = 0; i < q.length; i++) x[i] = q[i] / 1024f;
                    return x;
                });
    }

    @Property
    void softmaxIsShiftInvariant(@ForAll("gridLogits") float[] x, @ForAll("shifts") int shift) {
        float[] shifted = x.clone();
        for (int i = 0; i < x.length; i++) shifted[i] += shift;
        // x − max is the same exact float either way, so the result is identical, bit for bit.
        assertThat(softmax(Paths.active(), shifted)).isEqualTo(softmax(Paths.active(), x));
    }

    @Provide
    Arbitrary<Integer> shifts() {
        return Arbitraries.integers().between(-1000, 1000);
    }

    @Property
    void softmaxTreatsNaNAndInfinitiesLikeTheScalarTwin(@ForAll("rowsWithSpecials") Row row) {
        float[] y = softmax(Paths.active(), row.x()), twin = softmax(Paths.scalar(), row.x());
        int n = y.length;
        for (int i = 0; i < n; i++) {
            assertThat(Float.isNaN(y[i])).as("NaN at %d", i).isEqualTo(Float.isNaN(twin[i]));
            if (!Float.isNaN(y[i])) {
                assertThat(Math.abs((double) y[i] - twin[i])).as("y[%d]", i).isLessThanOrEqualTo((4 * n + 20) * Gen.U * twin[i] + Float.MIN_NORMAL);
            }
        }
    }

    record Norm(float[] x, float[] w, float[] b, float eps) {
        @Override
        public String toString() {
            return "Norm[n=" + x.length + ", eps=" + eps + ", x=" + Gen.show(x) + ", w=" + Gen.show(w) + ", b=" + Gen.show(b) + "]";
        }
    }

    @Provide
    Arbitrary<Norm> norms() {
        return Gen.length(300).flatMap(n -> Combinators.combine(Gen.floats(n),
                        Arbitraries.floats().between(-2, 2).ofScale(7).array(float[].class).ofSize(n),
                        Arbitraries.floats().between(-1, 1).ofScale(7).array(float[].class).ofSize(n),
                        Arbitraries.of(1e-5f, 1e-6f, 1e-12f))
                .as(Norm::new));
    }

    @Property
    void rmsnormMatchesFloat64AndScalarTwin(@ForAll("norms") Norm c) {
        int n = c.x().length;
        float[] y = new float[n], twin = new float[n];
        Paths.active().rmsnorm(y, 0, c.x(), 0, c.w(), n, c.eps());
        Paths.scalar().rmsnorm(twin, 0, c.x(), 0, c.w(), n, c.eps());
        double ss = 0;
        for (float v : c.x()) ss += (double) v * v;
        double inv = n == 0 ? 0 : 1 / Math.sqrt(ss / n + c.eps());
        for (int i = 0; i < n; i++) {
            double exact = c.x()[i] * inv * c.w()[i];
            double bound = (n + 12) * Gen.U * Math.abs(exact) + Float.MIN_NORMAL;
            assertThat(Math.abs(y[i] - exact)).as("y[%d] vs float64", i).isLessThanOrEqualTo(bound);
            assertThat(Math.abs((double) y[i] - twin[i])).as("y[%d] vs scalar twin", i).isLessThanOrEqualTo(2 * bound);
        }
        // In place gives the same answer.
        float[] x = c.x().clone();
        Paths.active().rmsnorm(x, 0, x, 0, c.w(), n, c.eps());
        assertThat(x).isEqualTo(y);
    }

    @Property
    void layernormMatchesFloat64AndScalarTwin(@ForAll("norms") Norm c) {
        int n = c.x().length;
        float[] y = new float[n], twin = new float[n];
        Paths.active().layernorm(y, 0, c.x(), 0, c.w(), c.b(), n, c.eps());
        Paths.scalar().layernorm(twin, 0, c.x(), 0, c.w(), c.b(), n, c.eps());
        double mean = 0, meanAbs = 0;
        for (float v : c.x()) {
            mean += v;
            meanAbs += Math.abs(v);
        }
        mean /= Math.max(n, 1);
        meanAbs /= Math.max(n, 1);
        double var = 0;
        for (float v : c.x()) var += (v - mean) * (v - mean);
        double inv = n == 0 ? 0 : 1 / Math.sqrt(var / n + c.eps());
        for (int i = 0; i < n; i++) {
            double exact = (c.x()[i] - mean) * inv * c.w()[i] + c.b()[i];
            // Rounding the sum for the mean shifts every (x − mean) by up to n·u·mean|x|, whatever
            // the cancellation in the mean itself; its effect scales with |x| + mean|x|.
            double bound = (4 * n + 16) * Gen.U * ((Math.abs(c.x()[i]) + meanAbs) * inv * Math.abs(c.w()[i]) + Math.abs(c.b()[i]))
                    + Float.MIN_NORMAL;
            assertThat(Math.abs(y[i] - exact)).as("y[%d] vs float64", i).isLessThanOrEqualTo(bound);
            assertThat(Math.abs((double) y[i] - twin[i])).as("y[%d] vs scalar twin", i).isLessThanOrEqualTo(2 * bound);
        }
    }
}
