package dev.panamax.proptest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.panamax.simd.Kernels;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** RoPE in both layouts and the activations, against float64 and the scalar twin. */
class RopeActivationProperties {

    record Rope(int heads, int headDim, int rotaryDim, int pos, double theta, boolean interleaved, float[] x) {
        @Override
        public String toString() {
            return "Rope[heads=" + heads + ", headDim=" + headDim + ", rotaryDim=" + rotaryDim + ", pos=" + pos
                    + ", theta=" + theta + ", interleaved=" + interleaved + ", x=" + Gen.show(x) + "]";
        }
    }

    @Provide
    Arbitrary<Rope> ropes() {
        Arbitrary<Integer> halfDims = Arbitraries.of(1, 2, 4, 7, 8, 16, 17, 32, 40, 64);
        return Combinators.combine(Arbitraries.integers().between(0, 5), halfDims, Arbitraries.integers().between(0, 4096),
                        Arbitraries.of(10000.0, 500000.0), Arbitraries.of(true, false), Arbitraries.of(1.0, 0.5, 0.25))
                .flatAs((heads, half, pos, theta, inter, frac) -> {
                    int headDim = 2 * half;
                    int rotary = 2 * Math.max(1, (int) Math.round(half * frac));
                    return Gen.floats(heads * headDim).map(x -> new Rope(heads, headDim, rotary, pos, theta, inter, x));
                });
    }

    @Property
    void ropeMatchesFloat64AndScalarTwin(@ForAll("ropes") Rope r) {
        int half = r.rotaryDim() / 2;
        float[] cos = new float[half], sin = new float[half];
        double[] angle = new double[half];
        for (int j = 0; j < half; j++) {
            angle[j] = r.pos() * Math.pow(r.theta(), -2.0 * j / r.rotaryDim());
            cos[j] = (float) Math.cos(angle[j]);
            sin[j] = (float) Math.sin(angle[j]);
        }
        float[] y = r.x().clone(), twin = r.x().clone();
        Paths.active().rope(y, 0, r.heads(), r.headDim(), r.rotaryDim(), cos, sin, r.interleaved());
        Paths.scalar().rope(twin, 0, r.heads(), r.headDim(), r.rotaryDim(), cos, sin, r.interleaved());
        for (int h = 0; h < r.heads(); h++) {
            int base = h * r.headDim();
            for (int j = 0; j < half; j++) {
                int i0 = r.interleaved() ? base + 2 * j : base + j;
                int i1 = r.interleaved() ? i0 + 1 : i0 + half;
                double x0 = r.x()[i0], x1 = r.x()[i1], c = cos[j], s = sin[j];
                // Two roundings on terms of these magnitudes, for each output of the pair.
                double bound0 = 4 * Gen.U * (Math.abs(x0 * c) + Math.abs(x1 * s)) + Float.MIN_NORMAL;
                double bound1 = 4 * Gen.U * (Math.abs(x1 * c) + Math.abs(x0 * s)) + Float.MIN_NORMAL;
                assertThat(Math.abs(y[i0] - (x0 * c - x1 * s))).as("head %d pair %d first", h, j).isLessThanOrEqualTo(bound0);
                assertThat(Math.abs(y[i1] - (x1 * c + x0 * s))).as("head %d pair %d second", h, j).isLessThanOrEqualTo(bound1);
                assertThat(Math.abs((double) y[i0] - twin[i0])).isLessThanOrEqualTo(2 * bound0);
                assertThat(Math.abs((double) y[i1] - twin[i1])).isLessThanOrEqualTo(2 * bound1);
            }
            for (int i = base + r.rotaryDim(); i < base + r.headDim(); i++) {
                assertThat(y[i]).as("beyond rotaryDim stays").isEqualTo(r.x()[i]);
            }
        }
    }

    @Provide
    Arbitrary<float[]> activations() {
        return Gen.length(200).flatMap(n -> Arbitraries.frequencyOf(
                        net.jqwik.api.Tuple.of(8, Arbitraries.floats().between(-8, 8).ofScale(7)),
                        net.jqwik.api.Tuple.of(1, Arbitraries.floats().between(-100, 100).ofScale(7)))
                .array(float[].class).ofSize(n));
    }

    private interface Activation {
        void apply(Kernels k, float[] x);
    }

    private static void check(float[] x, Activation f, java.util.function.DoubleUnaryOperator exact, double relToX, double absTol) {
        float[] y = x.clone(), twin = x.clone();
        f.apply(Paths.active(), y);
        f.apply(Paths.scalar(), twin);
        for (int i = 0; i < x.length; i++) {
            double want = exact.applyAsDouble(x[i]);
            double bound = relToX * Math.abs(x[i]) + absTol;
            assertThat(Math.abs(y[i] - want)).as("f(%s) vs float64 %s", x[i], want).isLessThanOrEqualTo(bound);
            assertThat(Math.abs((double) y[i] - twin[i])).as("f(%s) vs scalar twin", x[i]).isLessThanOrEqualTo(2 * bound);
        }
    }

    @Property
    void siluMatchesFloat64(@ForAll("activations") float[] x) {
        check(x, (k, v) -> k.silu(v, 0, v.length), v -> v / (1 + Math.exp(-v)), 8 * Gen.U, Float.MIN_NORMAL);
    }

    @Property
    void geluErfMatchesFloat64(@ForAll("activations") float[] x) {
        // erf comes from Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7): that, not float rounding, dominates.
        check(x, (k, v) -> k.geluErf(v, 0, v.length), v -> 0.5 * v * (1 + Erf.erf(v / Math.sqrt(2))), 0.5 * 1.5e-7 + 16 * Gen.U, Float.MIN_NORMAL);
    }

    @Property
    void geluTanhMatchesFloat64(@ForAll("activations") float[] x) {
        check(x, (k, v) -> k.geluTanh(v, 0, v.length),
                v -> 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))), 16 * Gen.U, Float.MIN_NORMAL);
    }

    @Property
    void reluSquaredIsExact(@ForAll("activations") float[] x) {
        float[] y = x.clone(), twin = x.clone();
        Paths.active().reluSquared(y, 0, y.length);
        Paths.scalar().reluSquared(twin, 0, twin.length);
        assertThat(y).isEqualTo(twin);
        for (int i = 0; i < x.length; i++) assertThat(y[i]).isEqualTo(x[i] > 0 ? x[i] * x[i] : 0f);
    }

    /** erf in float64 for the references: Taylor series near 0, a continued fraction for erfc beyond. */
    static final class Erf {
        static double erf(double z) {
            double a = Math.abs(z);
            double r;
            if (a < 3) {
                double term = a, sum = a;
                for (int n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
                    term *= -a * a / n;
                    sum += term / (2 * n + 1);
                }
                r = 2 / Math.sqrt(Math.PI) * sum;
            } else {
                // erfc(a) = exp(−a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + …)))))
                double f = a;
                for (int k = 120; k >= 1; k--) f = a + (k / 2.0) / f;
                r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
            }
            return z < 0 ? -r : r;
        }
    }
}
