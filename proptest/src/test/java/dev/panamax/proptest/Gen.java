package dev.panamax.proptest;

import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

/**
 * Arbitraries for kernel inputs. Lengths mix random sizes with the ones that break vector code
 * (0, 1, just below/at/above every vector width); arrays shrink towards short, small values, and
 * every generated value prints readably in a counterexample.
 */
final class Gen {
    private Gen() {}

    /** Unit roundoff of float32. */
    static final double U = 0x1p-24;

    private static final Integer[] AWKWARD = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 127, 128, 129};

    static Arbitrary<Integer> length(int max) {
        Integer[] edges = Arrays.stream(AWKWARD).filter(v -> v <= max).toArray(Integer[]::new);
        return Arbitraries.frequencyOf(
                Tuple.of(2, Arbitraries.of(edges)),
                Tuple.of(3, Arbitraries.integers().between(0, max)));
    }

    /** A scale per array, so magnitudes from 1e-3 to 1e3 are exercised. */
    static Arbitrary<Float> scale() {
        return Arbitraries.of(1f, 1e-3f, 1e3f, 0.5f);
    }

    static Arbitrary<float[]> floats(int n) {
        return Combinators.combine(Arbitraries.floats().between(-1, 1).ofScale(7).array(float[].class).ofSize(n), scale())
                .as((a, s) -> {
                    float[] r = a.clone();
                    for (int i = 0; i < r.length; i++) r[i] *= s;
                    return r;
                });
    }

    /** Finite values with NaN and infinities sprinkled in. */
    static Arbitrary<float[]> floatsWithSpecials(int n) {
        Arbitrary<Float> v = Arbitraries.frequencyOf(
                Tuple.of(20, Arbitraries.floats().between(-10, 10).ofScale(7)),
                Tuple.of(1, Arbitraries.of(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f)));
        return v.array(float[].class).ofSize(n);
    }

    /** Prints a float array in full for short arrays and as a head plus length for long ones. */
    static String show(float[] a) {
        if (a.length <= 24) return Arrays.toString(a);
        return Arrays.toString(Arrays.copyOf(a, 12)).replace("]", ", … (" + a.length + " values)]");
    }

    static boolean sameBits(float a, float b) {
        return Float.floatToIntBits(a) == Float.floatToIntBits(b);
    }
}
