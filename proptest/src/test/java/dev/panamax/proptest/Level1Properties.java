package dev.panamax.proptest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.panamax.simd.Kernels;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** dot, axpy, scale, add, mul, argmax: the active path against the scalar twin and float64. */
class Level1Properties {

    record Pair(float[] a, float[] b, int offset) {
        int n() {
            return a.length - offset;
        }

        @Override
        public String toString() {
            return "Pair[n=" + n() + ", offset=" + offset + ", a=" + Gen.show(a) + ", b=" + Gen.show(b) + "]";
        }
    }

    @Provide
    Arbitrary<Pair> pairs() {
        return Combinators.combine(Gen.length(300), Arbitraries.integers().between(0, 3)).flatAs((n, off) ->
                Combinators.combine(Gen.floats(n + off), Gen.floats(n + off)).as((a, b) -> new Pair(a, b, off)));
    }

    /** Σ|aᵢbᵢ|, the scale of a dot product's rounding error. */
    static double absDot(float[] a, float[] b, int off, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.abs((double) a[off + i] * b[off + i]);
        return s;
    }

    static double exactDot(float[] a, float[] b, int off, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += (double) a[off + i] * b[off + i];
        return s;
    }

    /** |fl(Σ) − Σ| ≤ (n+2)·u·Σ|aᵢbᵢ| for any summation order, plus room for underflow. */
    static double dotBound(int n, double absDot) {
        return (n + 2) * Gen.U * absDot * 1.01 + n * (double) Float.MIN_NORMAL;
    }

    @Property
    void dotMatchesScalarTwinAndFloat64(@ForAll("pairs") Pair p) {
        Kernels k = Paths.active();
        int n = p.n(), off = p.offset();
        float got = k.dot(p.a(), off, p.b(), off, n);
        float twin = Paths.scalar().dot(p.a(), off, p.b(), off, n);
        double bound = dotBound(n, absDot(p.a(), p.b(), off, n));
        assertThat(Math.abs((double) got - twin)).as("active vs scalar").isLessThanOrEqualTo(2 * bound);
        assertThat(Math.abs(got - exactDot(p.a(), p.b(), off, n))).as("active vs float64").isLessThanOrEqualTo(bound);
    }

    @Property
    void segmentDotEqualsArrayDot(@ForAll("pairs") Pair p) {
        Kernels k = Paths.active();
        int n = p.n(), off = p.offset();
        // The weights as a little-endian byte segment at a byte offset, as in a mapped file.
        MemorySegment seg = MemorySegment.ofArray(new byte[4 * p.a().length + 4]);
        for (int i = 0; i < p.a().length; i++) {
            seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4 + 4L * i, p.a()[i]);
        }
        float fromSegment = k.dot(seg, 4 + 4L * off, p.b(), off, n);
        double bound = dotBound(n, absDot(p.a(), p.b(), off, n));
        assertThat(Math.abs(fromSegment - exactDot(p.a(), p.b(), off, n))).isLessThanOrEqualTo(bound);
        assertThat(Math.abs((double) fromSegment - k.dot(p.a(), off, p.b(), off, n))).isLessThanOrEqualTo(2 * bound);
    }

    @Property
    void axpyMatchesScalarTwin(@ForAll("pairs") Pair p, @ForAll("alphas") float alpha) {
        int n = p.n(), off = p.offset();
        float[] y1 = p.b().clone(), y2 = p.b().clone();
        Paths.active().axpy(alpha, p.a(), off, y1, off, n);
        Paths.scalar().axpy(alpha, p.a(), off, y2, off, n);
        for (int i = 0; i < off; i++) assertThat(y1[i]).as("before the offset").isEqualTo(p.b()[i]);
        for (int i = off; i < off + n; i++) {
            // One rounding (FMA) or two: they differ by at most 2u of the terms' magnitude.
            double scale = Math.abs((double) alpha * p.a()[i]) + Math.abs(p.b()[i]);
            assertThat(Math.abs((double) y1[i] - y2[i])).as("y[%d]", i).isLessThanOrEqualTo(2 * Gen.U * scale + Float.MIN_NORMAL);
        }
    }

    @Provide
    Arbitrary<Float> alphas() {
        return Arbitraries.floats().between(-4, 4).ofScale(7);
    }

    @Property
    void elementwiseOpsAreExact(@ForAll("pairs") Pair p, @ForAll("alphas") float alpha) {
        int n = p.n(), off = p.offset();
        Kernels k = Paths.active(), s = Paths.scalar();
        float[] o1 = new float[p.a().length], o2 = new float[p.a().length];
        k.add(p.a(), off, p.b(), off, o1, off, n);
        s.add(p.a(), off, p.b(), off, o2, off, n);
        assertThat(o1).isEqualTo(o2);
        k.mul(p.a(), off, p.b(), off, o1, off, n);
        s.mul(p.a(), off, p.b(), off, o2, off, n);
        assertThat(o1).isEqualTo(o2);
        float[] x1 = p.a().clone(), x2 = p.a().clone();
        k.scale(x1, off, n, alpha);
        s.scale(x2, off, n, alpha);
        assertThat(x1).isEqualTo(x2);
        // In place: out aliases an input.
        float[] a1 = p.a().clone(), a2 = p.a().clone();
        k.add(a1, off, p.b(), off, a1, off, n);
        s.add(a2, off, p.b(), off, a2, off, n);
        assertThat(a1).isEqualTo(a2);
    }

    record Values(float[] x, int offset) {
        @Override
        public String toString() {
            return "Values[offset=" + offset + ", x=" + Gen.show(x) + "]";
        }
    }

    @Provide
    Arbitrary<Values> valuesWithSpecials() {
        return Combinators.combine(Gen.length(200), Arbitraries.integers().between(0, 2))
                .flatAs((n, off) -> Gen.floatsWithSpecials(n + off).map(x -> new Values(x, off)));
    }

    @Property
    void argmaxEqualsScalarTwinEvenWithNaNAndInfinities(@ForAll("valuesWithSpecials") Values v) {
        int n = v.x().length - v.offset();
        int got = Paths.active().argmax(v.x(), v.offset(), n);
        assertThat(got).isEqualTo(Paths.scalar().argmax(v.x(), v.offset(), n));
        if (n == 0) {
            assertThat(got).isEqualTo(-1);
            return;
        }
        float best = v.x()[v.offset() + got];
        for (int i = 0; i < n; i++) {
            float x = v.x()[v.offset() + i];
            if (!Float.isNaN(x)) {
                assertThat(Float.isNaN(best)).as("a number exists, so the maximum is one").isFalse();
                assertThat(x).as("x[%d] vs the chosen maximum", i).isLessThanOrEqualTo(best);
                if (i < got) assertThat(x).as("first maximum").isLessThan(best);
            }
        }
    }
}
