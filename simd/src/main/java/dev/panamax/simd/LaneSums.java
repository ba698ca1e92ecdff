package dev.panamax.simd;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The sum of a float vector's lanes in one fixed order, the same in every JIT tier — use it
 * wherever a kernel would call {@code reduceLanes(VectorOperators.ADD)} on floats.
 *
 * <p>Why: the Vector API leaves the order of a floating-point lane reduction unspecified, and
 * HotSpot uses that freedom differently per tier. Before C2 compiles a kernel (interpreter, C1)
 * the Java fallback adds lane 0, 1, 2, … in turn; C2's intrinsic adds in a tree. The same call
 * then returned different last bits before and after warm-up, and once a model quantizes its
 * activations to int8 a last bit can flip a code: kjv-llama in Q8_0 gave logits 4.7e-2 apart
 * between its first and second prefill of one prompt in one JVM.
 *
 * <p>Here the halves are folded onto each other with lane-wise adds (lane i + lane i + n/2, then
 * again on the first half, …) until one lane is left: a tree fixed by the vector length, made of
 * operations every tier computes bit for bit alike (IEEE adds, exact permutations). Machines with
 * different vector widths fold different trees, so results are reproducible per width, not across
 * widths.
 *
 * <pre>{@code
 * FloatVector acc = ...;                   // per-lane partial sums
 * float total = LaneSums.sum(acc);         // not acc.reduceLanes(VectorOperators.ADD)
 * }</pre>
 */
public final class LaneSums {

    private static final VectorShuffle<Float> X16_8 = swap(FloatVector.SPECIES_512, 8);
    private static final VectorShuffle<Float> X16_4 = swap(FloatVector.SPECIES_512, 4);
    private static final VectorShuffle<Float> X16_2 = swap(FloatVector.SPECIES_512, 2);
    private static final VectorShuffle<Float> X16_1 = swap(FloatVector.SPECIES_512, 1);
    private static final VectorShuffle<Float> X8_4 = swap(FloatVector.SPECIES_256, 4);
    private static final VectorShuffle<Float> X8_2 = swap(FloatVector.SPECIES_256, 2);
    private static final VectorShuffle<Float> X8_1 = swap(FloatVector.SPECIES_256, 1);
    private static final VectorShuffle<Float> X4_2 = swap(FloatVector.SPECIES_128, 2);
    private static final VectorShuffle<Float> X4_1 = swap(FloatVector.SPECIES_128, 1);

    /** Lanes whose index has bit 8 (or 4) set: where {@link #sum4} puts b's (or c's) half. */
    private static final VectorMask<Float> B16_8 = bit(FloatVector.SPECIES_512, 8), B16_4 = bit(FloatVector.SPECIES_512, 4);
    private static final VectorMask<Float> B8_4 = bit(FloatVector.SPECIES_256, 4), B8_2 = bit(FloatVector.SPECIES_256, 2);

    private LaneSums() {}

    private static VectorShuffle<Float> swap(VectorSpecies<Float> species, int distance) {
        return VectorShuffle.fromOp(species, i -> i ^ distance);
    }

    private static VectorMask<Float> bit(VectorSpecies<Float> species, int bit) {
        boolean[] m = new boolean[species.length()];
        for (int i = 0; i < m.length; i++) m[i] = (i & bit) != 0;
        return VectorMask.fromArray(species, m, 0);
    }

    /**
     * Σ lanes of {@code v}, folded halves first: for 16 lanes
     * (((v0+v8)+(v4+v12))+((v2+v10)+(v6+v14))) + (((v1+v9)+(v5+v13))+((v3+v11)+(v7+v15))).
     */
    public static float sum(FloatVector v) {
        switch (v.length()) {
            case 16 -> {
                v = v.add(v.rearrange(X16_8));
                v = v.add(v.rearrange(X16_4));
                v = v.add(v.rearrange(X16_2));
                return v.add(v.rearrange(X16_1)).lane(0);
            }
            case 8 -> {
                v = v.add(v.rearrange(X8_4));
                v = v.add(v.rearrange(X8_2));
                return v.add(v.rearrange(X8_1)).lane(0);
            }
            case 4 -> {
                v = v.add(v.rearrange(X4_2));
                return v.add(v.rearrange(X4_1)).lane(0);
            }
            default -> {
                return fold(v.toArray()); // other widths (SVE, 64-bit): the same tree, in plain Java
            }
        }
    }

    /**
     * The lane sums of four vectors at once, each folded exactly as {@link #sum} folds it, in one
     * vector: for n lanes, a's sum in lane 0, b's in lane n/2, c's in lane n/4, d's in lane 3n/4.
     * The first two folds work on two vectors'
     * halves side by side (a blend puts b's lanes where a's would be dropped), so four sums cost
     * about a third of the operations of four {@link #sum}s. For 512- and 256-bit vectors; a
     * tile of dot products calls it once per four accumulators.
     */
    public static FloatVector sum4(FloatVector a, FloatVector b, FloatVector c, FloatVector d) {
        int n = a.length();
        if (n != 16 && n != 8) { // other widths (128-bit NEON): one at a time, the same sums
            return FloatVector.zero(a.species()).withLane(0, sum(a)).withLane(n / 2, sum(b)).withLane(n / 4, sum(c)).withLane(3 * n / 4, sum(d));
        }
        if (n == 16) {
            FloatVector ab = a.blend(b, B16_8).add(b.blend(a, B16_8).rearrange(X16_8)); // a folded in 0–7, b in 8–15
            FloatVector cd = c.blend(d, B16_8).add(d.blend(c, B16_8).rearrange(X16_8));
            FloatVector v = ab.blend(cd, B16_4).add(cd.blend(ab, B16_4).rearrange(X16_4)); // a, c, b, d in fours
            v = v.add(v.rearrange(X16_2));
            return v.add(v.rearrange(X16_1));
        }
        FloatVector ab = a.blend(b, B8_4).add(b.blend(a, B8_4).rearrange(X8_4));
        FloatVector cd = c.blend(d, B8_4).add(d.blend(c, B8_4).rearrange(X8_4));
        FloatVector v = ab.blend(cd, B8_2).add(cd.blend(ab, B8_2).rearrange(X8_2));
        return v.add(v.rearrange(X8_1));
    }

    /**
     * out[o + q] = {@link #sum} of vector q of {@code lanes} (vectors of {@code species} stored one
     * after another, as a tile's accumulators stored with {@code intoArray}), for q &lt; count, a
     * multiple of 4. For the big tile kernels: C2 stops inlining inside a method whose graph has
     * grown past its node budget (NodeCountInliningCutoff), and a helper that takes or returns vectors
     * and is not inlined boxes every one of them on each call. This call passes arrays, so it costs
     * a call at most; its vectors stay in registers inside it.
     */
    public static void sums(VectorSpecies<Float> species, float[] lanes, int count, float[] out, int o) {
        int n = species.length();
        for (int q = 0; q < count; q += 4, o += 4) {
            FloatVector s = sum4(FloatVector.fromArray(species, lanes, q * n), FloatVector.fromArray(species, lanes, (q + 1) * n),
                    FloatVector.fromArray(species, lanes, (q + 2) * n), FloatVector.fromArray(species, lanes, (q + 3) * n));
            out[o] = s.lane(0);
            out[o + 1] = s.lane(n / 2);
            out[o + 2] = s.lane(n / 4);
            out[o + 3] = s.lane(3 * n / 4);
        }
    }

    /** The same folding over an array whose length is a power of two. */
    static float fold(float[] a) {
        for (int n = a.length / 2; n >= 1; n /= 2)
            for (int i = 0; i < n; i++) a[i] += a[i + n];
        return a[0];
    }
}
