package dev.panamax.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Both vector shapes of the integer kernels against the scalar definitions, on any machine: a
 * species wider than the hardware's runs emulated (slowly, with the same results), so the 512-bit
 * kernels are checked on an AVX2 machine and the 256-bit ones on an AVX-512 machine. Weight bytes
 * are random over their whole range (−128 included: the 256-bit Q8_0 kernel adds two products in 16
 * bits, which holds because activations stop at ±127), activations at their extremes too.
 */
class VectorQuantDotTest {

    private static boolean vectorModule() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    /** Blocks of random bytes starting at byte {@code off}, each with a sane f16 scale at {@code scaleAt}. */
    private static MemorySegment randomBlocks(SplittableRandom r, long off, int blocks, int bytes, int scaleAt) {
        MemorySegment w = Arena.ofAuto().allocate(off + (long) blocks * bytes);
        for (long i = 0; i < w.byteSize(); i++) w.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(256));
        for (int b = 0; b < blocks; b++) {
            w.set(Q8_0Block.F16, off + (long) b * bytes + scaleAt, Float.floatToFloat16((float) (r.nextDouble(0.001, 0.1) * (r.nextBoolean() ? 1 : -1))));
        }
        return w;
    }

    private static float[] activations(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        for (int i = 0; i < n; i += 7) x[i] = i % 2 == 0 ? 9f : -9f; // saturating codes ±127 in every block
        return x;
    }

    /** The float sums of per-block products may differ in order (two accumulators), never in content. */
    private static float tolerance(float want, int n) {
        return 1e-5f * Math.max(1, Math.abs(want)) * (float) Math.sqrt(n);
    }

    /**
     * Widening to float rounds as the definitions do (Q4_0's vector path computes q·d − 8d in one
     * FMA, which is (q − 8)·d rounded once), so the values must be equal — up to the sign of a zero,
     * which that FMA makes +0 where (q − 8)·d with d &lt; 0 gives −0.
     */
    @Test
    void dequantizeEqualsTheDefinition() {
        assumeTrue(vectorModule(), "jdk.incubator.vector is not in this JVM");
        SplittableRandom r = new SplittableRandom(11);
        for (BlockFormat f : new BlockFormat[] {BlockFormat.Q8_0, BlockFormat.Q4_0, BlockFormat.IQ4_NL, BlockFormat.Q5_0,
                BlockFormat.Q3_K, BlockFormat.Q4_K, BlockFormat.Q5_K, BlockFormat.Q6_K}) {
            for (int n : new int[] {256, 512, 4352}) {
                long off = 5;
                MemorySegment w = randomBlocks(r, off, n / f.size, f.bytes, f == BlockFormat.Q6_K ? 208 : f == BlockFormat.Q3_K ? 108 : 0);
                if (f == BlockFormat.Q4_K || f == BlockFormat.Q5_K || f == BlockFormat.Q4_1 || f == BlockFormat.Q5_1) { // dmin, m as well
                    for (int b = 0; b < n / f.size; b++) w.set(Q8_0Block.F16, off + (long) b * f.bytes + 2, Float.floatToFloat16(-0.02f));
                }
                float[] want = new float[n + 3], got = new float[n + 3];
                f.dequantize(w, off, want, 3, n);
                VectorQuantDot.INSTANCE.dequantize(f, w, off, got, 3, n);
                for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 0f, f + ", n = " + n + ", element " + i);
                java.util.Arrays.fill(got, 0);
                QuantizedMatvec.dequantize(f, w, off, got, 3, n);
                for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 0f, f + " through QuantizedMatvec, n = " + n + ", element " + i);
            }
        }
        MemorySegment small = Arena.ofAuto().allocate(Q8_0Block.BYTES);
        org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class,
                () -> QuantizedMatvec.dequantize(BlockFormat.Q8_0, small, 0, new float[64], 0, 64), "two blocks from one block's bytes");
    }

    /**
     * The fused Q4_1, Q5_0, Q5_1, IQ4_NL and Q2_K–Q6_K kernels (both shapes where there are two) against the scalar integer form (unpack, then Σ scale·Σ code·q):
     * random bytes cover every code, 6-bit scale and min and int8 scale; activations saturate at ±127
     * in every group. Integer sums are exact in both, so only the per-block float scaling may differ.
     */
    @Test
    void fusedKQuantsEqualTheIntegerForm() {
        assumeTrue(vectorModule(), "jdk.incubator.vector is not in this JVM");
        SplittableRandom r = new SplittableRandom(13);
        for (BlockFormat f : new BlockFormat[] {BlockFormat.Q4_1, BlockFormat.Q5_0, BlockFormat.Q5_1, BlockFormat.IQ4_NL,
                BlockFormat.Q2_K, BlockFormat.Q3_K, BlockFormat.Q4_K, BlockFormat.Q5_K, BlockFormat.Q6_K}) {
            for (int blocks : new int[] {1, 2, 9}) {
                int n = blocks * f.size;
                long off = 7;
                int scaleAt = switch (f) { case Q6_K -> 208; case Q3_K -> 108; case Q2_K -> 80; default -> 0; };
                MemorySegment w = randomBlocks(r, off, blocks, f.bytes, scaleAt);
                if (f == BlockFormat.Q4_K || f == BlockFormat.Q5_K || f == BlockFormat.Q4_1 || f == BlockFormat.Q5_1 || f == BlockFormat.Q2_K) { // dmin, m
                    for (int b = 0; b < blocks; b++) w.set(Q8_0Block.F16, off + (long) b * f.bytes + scaleAt + 2, Float.floatToFloat16(0.01f));
                }
                float[] xf = activations(r, n);
                for (int i = 3; i < n; i += 16) xf[i] = -9f;
                Q8_KBlock x = Q8_KBlock.quantize(xf, n, f.size);
                byte[] c = new byte[f.size];
                int[] sc = new int[f.size / 16], m = new int[f.size / 16];
                float[] ab = new float[2];
                float want = QuantizedMatvec.dotIntegerForm(QuantizedMatvec.SCALAR, f, w, off, x, n, c, sc, m, ab);
                float got = switch (f) {
                    case Q4_1 -> VectorQuantDot.dotQ41or51(w, off, x, blocks, false);
                    case Q5_0 -> VectorQuantDot.dotQ5_0(w, off, x, blocks);
                    case Q5_1 -> VectorQuantDot.dotQ41or51(w, off, x, blocks, true);
                    case IQ4_NL -> VectorQuantDot.dotIQ4NL(w, off, x, blocks);
                    case Q2_K -> VectorQuantDot.dotQ2K(w, off, x, blocks);
                    case Q3_K -> VectorQuantDot.dotQ3K(w, off, x, blocks);
                    case Q4_K -> VectorQuantDot.dotQ4K(w, off, x, blocks);
                    case Q5_K -> VectorQuantDot.dotQ5K(w, off, x, blocks);
                    default -> VectorQuantDot.dotQ6K(w, off, x, blocks);
                };
                assertEquals(want, got, tolerance(want, n) * 4, f + ", " + blocks + " blocks");
                float wide = switch (f) {
                    case Q4_1, Q5_0, Q5_1, Q2_K -> got; // one shape
                    case IQ4_NL -> VectorQuantDot.dotIQ4NL(w, off, x, blocks); // one shape
                    case Q3_K -> VectorQuantDot.dotQ3K512(w, off, x, blocks);
                    case Q4_K -> VectorQuantDot.dotQ4K512(w, off, x, blocks);
                    case Q5_K -> VectorQuantDot.dotQ5K512(w, off, x, blocks);
                    default -> VectorQuantDot.dotQ6K512(w, off, x, blocks);
                };
                assertEquals(want, wide, tolerance(want, n) * 4, "512-bit " + f + ", " + blocks + " blocks");
                assertEquals(want, VectorQuantDot.INSTANCE.rowDot(f, w, off, x, n, c, sc, m, ab), tolerance(want, n) * 4, f + " through rowDot");
            }
        }
    }

    @Test
    void q8_0BothShapesEqualTheReference() {
        assumeTrue(vectorModule(), "jdk.incubator.vector is not in this JVM");
        SplittableRandom r = new SplittableRandom(7);
        for (int n : new int[] {32, 64, 96, 1024, 4128}) {
            int blocks = n / 32;
            long off = 3; // rows need not start aligned
            MemorySegment w = randomBlocks(r, off, blocks, Q8_0Block.BYTES, 0);
            Q8_KBlock x = Q8_KBlock.quantize(activations(r, n), n, 32);
            float want = Q8_0Block.dotReference(w, off, x, n);
            assertEquals(want, VectorQuantDot.dotQ8(w, off, x.wide, x.d, blocks), tolerance(want, n), "512-bit, n = " + n);
            assertEquals(want, VectorQuantDot.dotQ8x256(w, off, x.wide, x.d, blocks), tolerance(want, n), "256-bit, n = " + n);
        }
    }

    @Test
    void q4_0EqualsTheReference() {
        assumeTrue(vectorModule(), "jdk.incubator.vector is not in this JVM");
        SplittableRandom r = new SplittableRandom(11);
        for (int n : new int[] {32, 64, 96, 1024, 4128}) {
            int blocks = n / 32;
            MemorySegment w = randomBlocks(r, 5, blocks, Q4_0Block.BYTES, 0);
            Q8_KBlock x = Q8_KBlock.quantize(activations(r, n), n, 32);
            float want = Q4_0Block.dotReference(w, 5, x, n);
            assertEquals(want, VectorQuantDot.dotQ4(w, 5, x.wide, x.d, blocks), tolerance(want, n), "n = " + n);
        }
    }

    @Test
    void tq2_0BothShapesEqualTheReferenceExactly() {
        assumeTrue(vectorModule(), "jdk.incubator.vector is not in this JVM");
        SplittableRandom r = new SplittableRandom(13);
        for (int n : new int[] {256, 512, 2304}) {
            int blocks = n / TQ2_0Block.SIZE;
            MemorySegment w = randomBlocks(r, 0, blocks, TQ2_0Block.BYTES, 64);
            byte[] xq = new byte[n];
            BitNetTernary.quantizeActivations(activations(r, n), n, xq);
            float want = BitNetTernary.dotReference(w, 0, xq, n);
            // Integer sums per block are exact; one float product per block, added in the same order.
            assertEquals(want, VectorQuantDot.ternary512(w, 0, xq, n), 0f, "512-bit, n = " + n);
            assertEquals(want, VectorQuantDot.ternary256(w, 0, xq, n), 0f, "256-bit, n = " + n);
        }
    }

    /**
     * A batched step's activations on vectors ({@link VectorActivations}) are the scalar reference's
     * field by field — codes, shorts, scales, sums, pairs, codes as floats — including blocks whose
     * max is zero, subnormal, tiny enough that 127/max overflows, infinite or NaN, ties of the
     * rounding, and a vector that starts mid-array.
     */
    @Test
    void batchActivationsOnVectorsAreTheReferences() {
        assumeTrue(vectorModule(), "jdk.incubator.vector is not in this JVM");
        SplittableRandom r = new SplittableRandom(29);
        for (BlockFormat f : new BlockFormat[] {BlockFormat.Q8_0, BlockFormat.Q4_0, BlockFormat.Q4_K, BlockFormat.Q6_K}) {
            for (int cols : new int[] {256, 2048, 5632}) {
                int off = 37;
                float[] x = new float[off + cols];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian() * (r.nextInt(8) == 0 ? 100 : 1);
                int blocks = cols / 32;
                java.util.Arrays.fill(x, off + 32, off + 64, 0f); // a zero block
                for (int i = 0; i < 32; i++) x[off + 64 + i] = Float.MIN_VALUE * (i - 16); // subnormal max
                for (int i = 0; i < 32; i++) x[off + 96 + i] = 2e-37f * (i - 16) / 16; // 127/max overflows
                x[off + 130] = Float.POSITIVE_INFINITY;
                x[off + 170] = Float.NaN;
                x[off + 200] = -0f;
                for (int i = 0; i < 31; i++) x[off + 224 + i] = i - 16 + 0.5f; // max 127: multiplier 1, codes on .5 ties
                x[off + 255] = 127f;
                if (blocks > 8) x[off + 32 * (blocks - 1) + 5] = Float.NEGATIVE_INFINITY;
                QuantizedMatvec.Activations want = QuantizedMatvec.Activations.of(f, x, off, cols, true);
                QuantizedMatvec.Activations got = VectorActivations.of(f, x, off, cols);
                String at = f + ", " + cols + " columns";
                assertArrayEquals(want.xq().q, got.xq().q, at + ": codes");
                assertArrayEquals(want.xq().wide, got.xq().wide, at + ": shorts");
                assertArrayEquals(bits(want.xq().d), bits(got.xq().d), at + ": scales");
                assertArrayEquals(want.xq().sums, got.xq().sums, at + ": sums per 16");
                assertArrayEquals(want.pairs(), got.pairs(), at + ": pairs");
                assertArrayEquals(bits(want.xs8()), bits(got.xs8()), at + ": 8·Σ per 32");
                assertArrayEquals(want.xsum32(), got.xsum32(), at + ": Σ per 32");
                if (f == BlockFormat.Q8_0) assertArrayEquals(bits(want.codes()), bits(got.codes()), at + ": codes as floats");
                else assertNull(got.codes(), at);
            }
        }
    }

    private static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Float.floatToRawIntBits(v[i]);
        return b;
    }
}
