package dev.panamax.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The interleaved layouts ({@link Q8_0x16}, {@link Q4_0x64}, {@link Q4_Kx16}, {@link Q6_Kx16}) against the file's
 * layout they are made from: every value survives the reordering, the scalar references compute
 * the row-major integer kernels' sums, and both vector shapes equal the references bit for bit.
 */
class InterleavedTest {

    private static final BlockFormat[] FORMATS = {BlockFormat.Q8_0, BlockFormat.Q4_0, BlockFormat.Q4_K, BlockFormat.Q6_K};

    private static boolean vectorModule() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    /** Where a block's f16 scale is (Q6_K keeps its d at the end). */
    private static int scaleAt(BlockFormat f) {
        return f == BlockFormat.Q6_K ? 208 : 0;
    }

    /**
     * Random code bytes over their whole range (Q6_K's sub-block scales too, −128 included);
     * scales (Q4_K: d and dmin) of both signs, one subnormal half and one zero per matrix.
     */
    private static MemorySegment randomMatrix(SplittableRandom r, BlockFormat f, long off, int rows, int cols) {
        long blocks = (long) rows * cols / f.size;
        MemorySegment w = Arena.ofAuto().allocate(off + blocks * f.bytes);
        for (long i = 0; i < w.byteSize(); i++) w.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(256));
        int scales = f == BlockFormat.Q4_K ? 2 : 1;
        for (long b = 0; b < blocks; b++) {
            for (int i = 0; i < scales; i++) {
                w.set(Q8_0Block.F16, off + b * f.bytes + scaleAt(f) + 2 * i, Float.floatToFloat16((float) (r.nextDouble(0.001, 0.1) * (r.nextBoolean() ? 1 : -1))));
            }
        }
        w.set(Q8_0Block.F16, off + (blocks / 3) * f.bytes + scaleAt(f), (short) 0x8123); // −subnormal
        w.set(Q8_0Block.F16, off + (blocks / 2) * f.bytes + scaleAt(f) + 2 * (scales - 1), (short) 0);
        return w;
    }

    private static MemorySegment interleaved(BlockFormat f, MemorySegment w, long off, int rows, int cols) {
        MemorySegment p = Arena.ofAuto().allocate(QuantizedMatvec.interleavedBytes(f, rows, cols), 64);
        assertTrue(QuantizedMatvec.interleave(f, w, off, rows, cols, p));
        return p;
    }

    private static float[] activations(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        for (int i = 0; i < n; i += 7) x[i] = i % 2 == 0 ? 9f : -9f; // codes ±127 in every block
        return x;
    }

    @Test
    void everyValueSurvivesTheReordering() {
        SplittableRandom r = new SplittableRandom(3);
        for (BlockFormat f : FORMATS) {
            int rows = 48, cols = f.size == 256 ? 512 : 96;
            long off = 7;
            MemorySegment w = randomMatrix(r, f, off, rows, cols), p = interleaved(f, w, off, rows, cols);
            float[] want = new float[cols], got = new float[cols];
            for (int row = 0; row < rows; row++) {
                f.dequantize(w, off + (long) row * cols / f.size * f.bytes, want, 0, cols);
                QuantizedMatvec.dequantizeInterleavedRows(f, p, rows, cols, row, 1, got, 0);
                assertArrayEquals(want, got, f + " row " + row);
            }
        }
    }

    /**
     * The references sum the same integers per block as the file-layout kernels; only the float order
     * across blocks differs (and the 256-bit kernels' order from the 512-bit ones'), so they agree to
     * float rounding of the sum's terms.
     */
    @Test
    void referencesMatchTheRowMajorKernels() {
        SplittableRandom r = new SplittableRandom(5);
        for (BlockFormat f : FORMATS) {
            int rows = 32, cols = f.size == 256 ? 768 : 640;
            MemorySegment w = randomMatrix(r, f, 0, rows, cols), p = interleaved(f, w, 0, rows, cols);
            float[] x = activations(r, cols), want = new float[rows], got = new float[rows];
            QuantizedMatvec.matvec(f, w, 0, x, want, rows, cols);
            Activations a = new Activations(x, f);
            reference(f, p, a, cols, got, rows);
            float[] row = new float[cols];
            for (int i = 0; i < rows; i++) {
                // Float rounding of a sum is bounded by its terms' magnitudes, not its value (which may cancel):
                // blocks + 32 roundings of at most 2^-24 each, relative to Σ|w·x|.
                f.dequantize(w, (long) i * cols / f.size * f.bytes, row, 0, cols);
                double magnitude = 0;
                for (int c = 0; c < cols; c++) magnitude += Math.abs((double) row[c] * x[c]);
                assertEquals(want[i], got[i], (cols / f.size + 32) * 0x1p-24 * magnitude + 1e-6, f + " row " + i);
            }
        }
    }

    @Test
    void bothVectorShapesEqualTheReferences() {
        assumeTrue(vectorModule(), "jdk.incubator.vector is not in this JVM");
        SplittableRandom r = new SplittableRandom(9);
        for (BlockFormat f : FORMATS) {
            for (int cols : f.size == 256 ? new int[] {256, 2048} : new int[] {32, 576, 2048}) {
                int rows = 128, groups = rows / QuantizedMatvec.interleavedGroupRows(f);
                MemorySegment p = interleaved(f, randomMatrix(r, f, 3, rows, cols), 3, rows, cols);
                float[] x = activations(r, cols);
                Activations a = new Activations(x, f);
                float[] want = new float[rows], wide = new float[rows], narrow = new float[rows];
                reference(f, p, a, cols, want, rows);
                switch (f) {
                    case Q4_0 -> {
                        VectorInterleaved.q4(p, 0, a.pairs, a.q.d, a.xs8, cols / 32, wide, 0, groups);
                        VectorInterleaved.q4x256(p, 0, a.pairs, a.q.d, a.xs8, cols / 32, narrow, 0, groups);
                        // q4 takes two groups at a time too: an odd count leaves one to go alone
                        float[] odd = new float[rows];
                        VectorInterleaved.q4(p, 0, a.pairs, a.q.d, a.xs8, cols / 32, odd, 1, groups);
                        assertArrayEquals(java.util.Arrays.copyOfRange(want, 64, rows), java.util.Arrays.copyOfRange(odd, 64, rows), "Q4_0 groups 1.." + groups);
                        assertEquals(0f, odd[0]);
                    }
                    case Q4_K -> {
                        VectorInterleaved.q4k(p, 0, a.pairs, a.q.d, a.xsum32, cols / 256, wide, 0, groups);
                        VectorInterleaved.q4kx256(p, 0, a.pairs, a.q.d, a.xsum32, cols / 256, narrow, 0, groups);
                    }
                    case Q6_K -> {
                        VectorInterleaved.q6k(p, 0, a.pairs, a.q.d, cols / 256, wide, 0, groups);
                        VectorInterleaved.q6kx256(p, 0, a.pairs, a.q.d, cols / 256, narrow, 0, groups);
                    }
                    default -> {
                        VectorInterleaved.q8(p, 0, a.pairs, a.q.d, cols / 32, wide, 0, groups);
                        VectorInterleaved.q8x256(p, 0, a.pairs, a.q.d, cols / 32, narrow, 0, groups);
                        // q8 reads two groups at a time: an odd count leaves one to go alone
                        float[] odd = new float[rows];
                        VectorInterleaved.q8(p, 0, a.pairs, a.q.d, cols / 32, odd, 1, groups);
                        assertArrayEquals(java.util.Arrays.copyOfRange(want, 16, rows), java.util.Arrays.copyOfRange(odd, 16, rows), "Q8_0 groups 1.." + groups);
                        assertEquals(0f, odd[0]);
                    }
                }
                assertArrayEquals(want, wide, f + " 512-bit, cols " + cols);
                assertArrayEquals(want, narrow, f + " 256-bit, cols " + cols);
                float[] viaApi = new float[rows];
                QuantizedMatvec.matvecInterleaved(f, p, x, viaApi, rows, cols);
                assertArrayEquals(want, viaApi, f + " through the public entry");
            }
        }
    }

    /**
     * The start-up twins ({@link InterleavedTwins}) give the references' bits — and so the vector
     * kernels' — for one vector and for several at once (a batched step), on every group range,
     * with random codes over their whole range, scales of both signs, a subnormal and a zero, and
     * at the extremes of their 32-bit lanes: Q8_0 codes all −128 or 127, Q4_0 nibbles all 15, Q6_K
     * codes all 63 (or −32 and 31 mixed) with sub-block scales −128, −1 or 127, against activation
     * codes all +127 or −127. Plain Java: checked on the scalar path too.
     */
    @Test
    void startUpTwinsEqualTheReferences() {
        SplittableRandom r = new SplittableRandom(17);
        for (BlockFormat f : new BlockFormat[] {BlockFormat.Q8_0, BlockFormat.Q4_0, BlockFormat.Q6_K}) {
            for (int cols : f == BlockFormat.Q6_K ? new int[] {256, 2048} : new int[] {32, 576, 2048}) {
                for (int fill : new int[] {-1, 0x00, 0x7f, 0x80, 0xff}) { // -1: random bytes; else every code byte
                    int rows = 128, group = QuantizedMatvec.interleavedGroupRows(f), groups = rows / group;
                    MemorySegment w = randomMatrix(r, f, 3, rows, cols);
                    if (fill >= 0) { // the codes (and Q6_K's sub-block scales), not the f16 scale
                        int from = f == BlockFormat.Q6_K ? 0 : 2, to = f == BlockFormat.Q6_K ? 208 : f.bytes;
                        for (long b = 0; b < (long) rows * cols / f.size; b++) {
                            for (int i = from; i < to; i++) w.set(ValueLayout.JAVA_BYTE, 3 + b * f.bytes + i, (byte) fill);
                        }
                    }
                    MemorySegment p = interleaved(f, w, 3, rows, cols);
                    float[][] xs = {activations(r, cols), new float[cols], new float[cols]};
                    java.util.Arrays.fill(xs[1], 2f); // codes all 127
                    java.util.Arrays.fill(xs[2], -2f); // all −127
                    QuantizedMatvec.Activations[] a = new QuantizedMatvec.Activations[xs.length];
                    float[][] want = new float[xs.length][rows], got = new float[xs.length][rows], alone = new float[xs.length][rows];
                    for (int v = 0; v < xs.length; v++) {
                        a[v] = QuantizedMatvec.Activations.of(f, xs[v], 0, cols, false);
                        reference(f, p, new Activations(xs[v], f), cols, want[v], rows);
                    }
                    int g0 = fill == 0x80 ? 1 : 0; // a range that does not start at 0
                    InterleavedTwins.matvec(f, p, 0, a, cols, got, g0, groups);
                    for (int v = 0; v < xs.length; v++) {
                        InterleavedTwins.matvec(f, p, 0, new QuantizedMatvec.Activations[] {a[v]}, cols, new float[][] {alone[v]}, g0, groups);
                        String what = f + " cols " + cols + " fill " + fill + " vector " + v;
                        float[] expect = java.util.Arrays.copyOfRange(want[v], g0 * group, rows);
                        assertArrayEquals(expect, java.util.Arrays.copyOfRange(got[v], g0 * group, rows), what + " (batched)");
                        assertArrayEquals(expect, java.util.Arrays.copyOfRange(alone[v], g0 * group, rows), what + " (alone)");
                        if (g0 > 0) assertEquals(0f, got[v][0], what + ": rows before the range untouched");
                    }
                }
            }
        }
    }

    /**
     * The 512-bit batched kernels of a decoding step — Q8_0 eight vectors at a time
     * ({@code q8Batch8}) and four ({@code q8Batch4}), Q6_K four ({@code q6kBatch4}), Q4_0, Q4_K and Q6_K
     * two ({@code q4Batch2}, {@code q4kBatch2}, {@code q6kBatch2}) — give each vector
     * the reference's bits (and so the one-vector kernel's), called directly: through the public
     * entry a fresh JVM runs the start-up twins instead. Batch sizes that take octets, quads, a
     * short quad and a pair with one left over; codes random or all at an extreme, against
     * activation codes random, all +127 or all −127. On 256-bit vectors (quant's vector-256 run) the
     * same for {@code q8Batch8x256}, {@code q4Batch2x256}, {@code q4kBatch2x256} and {@code q6kBatch2x256}.
     */
    @Test
    void batchedVectorKernelsEqualTheReferences() {
        assumeTrue(vectorModule(), "jdk.incubator.vector is not in this JVM");
        VectorQuantDot.batchCalls = Math.max(VectorQuantDot.batchCalls, VectorQuantDot.BATCH_AFTER); // as in a process past its first tokens
        SplittableRandom r = new SplittableRandom(23);
        // 256-bit vectors (AVX2; quant's vector-256 test run): Q8_0 eight vectors at a time, the others two
        BlockFormat[] formats = {BlockFormat.Q8_0, BlockFormat.Q4_0, BlockFormat.Q4_K, BlockFormat.Q6_K};
        for (BlockFormat f : formats) {
            int cols = f.size == 256 ? 768 : 576, rows = 192, group = QuantizedMatvec.interleavedGroupRows(f), groups = rows / group;
            // the bytes of a block's codes: after the scale (Q8_0, Q4_0), after d, dmin and the 12 scale bytes (Q4_K), before the scales (Q6_K)
            int codesFrom = f == BlockFormat.Q4_K ? 16 : f == BlockFormat.Q6_K ? 0 : 2, codesTo = f == BlockFormat.Q6_K ? 192 : f.bytes;
            for (int fill : new int[] {-1, 0x80, 0x7f, 0xff}) {
                MemorySegment w = randomMatrix(r, f, 3, rows, cols);
                if (fill >= 0) {
                    for (long b = 0; b < (long) rows * cols / f.size; b++) {
                        for (int i = codesFrom; i < codesTo; i++) w.set(ValueLayout.JAVA_BYTE, 3 + b * f.bytes + i, (byte) fill);
                    }
                }
                MemorySegment p = interleaved(f, w, 3, rows, cols);
                for (int B : new int[] {2, 3, 5, 8, 13, 16}) {
                    QuantizedMatvec.Activations[] a = new QuantizedMatvec.Activations[B];
                    float[][] want = new float[B][rows], got = new float[B][rows];
                    for (int v = 0; v < B; v++) {
                        float[] x = activations(r, cols);
                        if (v % 5 == 1) java.util.Arrays.fill(x, 2f); // codes all 127
                        if (v % 5 == 3) java.util.Arrays.fill(x, -2f); // all −127
                        a[v] = QuantizedMatvec.Activations.of(f, x, 0, cols, true);
                        reference(f, p, new Activations(x, f), cols, want[v], rows);
                    }
                    int g0 = B % 2; // odd batches start at the second group
                    boolean batched = VectorQuantDot.INSTANCE.matvecInterleavedBatch(f, p, 0, a, cols, got, g0, groups);
                    if (!VectorQuantDot.WIDE && f == BlockFormat.Q8_0 && B < 8) {
                        assertFalse(batched, "256-bit: fewer than eight vectors go one at a time");
                        continue;
                    }
                    assertTrue(batched);
                    for (int v = 0; v < B; v++) {
                        String what = f + " fill " + fill + " B " + B + " vector " + v;
                        assertArrayEquals(java.util.Arrays.copyOfRange(want[v], g0 * group, rows),
                                java.util.Arrays.copyOfRange(got[v], g0 * group, rows), what);
                        if (g0 > 0) assertEquals(0f, got[v][0], what + ": rows before the range untouched");
                    }
                }
            }
        }
    }

    /**
     * The scalar path's quantized matvec ({@code QuantizedMatvec.SCALAR}: no Vector API, or vectors
     * narrower than 256 bits) decodes Q8_0, Q4_0 and Q6_K on the start-up twins through the interleaved
     * layouts, one vector and batched, with the references' bits; Q4_K has no twin there.
     */
    @Test
    void theScalarPathDecodesOnTheTwins() {
        SplittableRandom r = new SplittableRandom(29);
        for (BlockFormat f : new BlockFormat[] {BlockFormat.Q8_0, BlockFormat.Q4_0, BlockFormat.Q6_K}) {
            int cols = f.size == 256 ? 512 : 256, rows = 128, groups = rows / QuantizedMatvec.interleavedGroupRows(f);
            MemorySegment p = interleaved(f, randomMatrix(r, f, 3, rows, cols), 3, rows, cols);
            QuantizedMatvec.Activations[] a = new QuantizedMatvec.Activations[3];
            float[][] want = new float[3][rows], got = new float[3][rows];
            for (int v = 0; v < 3; v++) {
                float[] x = activations(r, cols);
                a[v] = QuantizedMatvec.Activations.of(f, x, 0, cols, true);
                reference(f, p, new Activations(x, f), cols, want[v], rows);
            }
            assertTrue(QuantizedMatvec.SCALAR.matvecInterleavedBatch(f, p, 0, a, cols, got, 0, groups), f + ": batched on the twins");
            for (int v = 0; v < 3; v++) assertArrayEquals(want[v], got[v], f + " batched, vector " + v);
            float[] one = new float[rows];
            QuantizedMatvec.SCALAR.matvecInterleaved(f, p, 0, a[1].xq(), a[1].pairs(), a[1].xs8(), a[1].xsum32(), cols, one, 0, groups);
            assertArrayEquals(want[1], one, f + " one vector");
            assertTrue(QuantizedMatvec.twinned(f));
        }
        assertFalse(QuantizedMatvec.twinned(BlockFormat.Q4_K), "Q4_K keeps the file's layout on the scalar path");
    }

    /**
     * Q8_0's kernels add code × activation-nibble products in 16 bits over a whole block: at the
     * extremes (every code −128 or 127, every activation code ±127, so each low nibble is 15 or 1
     * and each high one 7 or −8) the sums stay exact, equal to the reference.
     */
    @Test
    void q8SixteenBitSumsHoldAtTheExtremes() {
        assumeTrue(vectorModule(), "jdk.incubator.vector is not in this JVM");
        int rows = 32, cols = 64;
        for (int code : new int[] {-128, 127}) {
            for (float sign : new float[] {1, -1}) {
                MemorySegment w = Arena.ofAuto().allocate((long) rows * cols / 32 * Q8_0Block.BYTES);
                for (long b = 0; b < w.byteSize() / Q8_0Block.BYTES; b++) {
                    w.set(Q8_0Block.F16, b * Q8_0Block.BYTES, Float.floatToFloat16(0.5f));
                    for (int i = 0; i < 32; i++) w.set(ValueLayout.JAVA_BYTE, b * Q8_0Block.BYTES + 2 + i, (byte) code);
                }
                MemorySegment p = interleaved(BlockFormat.Q8_0, w, 0, rows, cols);
                float[] x = new float[cols];
                java.util.Arrays.fill(x, 3f * sign);
                Activations a = new Activations(x, BlockFormat.Q8_0);
                assertEquals(127 * (int) sign, a.q.q[0]);
                float[] want = new float[rows], wide = new float[rows], narrow = new float[rows];
                reference(BlockFormat.Q8_0, p, a, cols, want, rows);
                VectorInterleaved.q8(p, 0, a.pairs, a.q.d, cols / 32, wide, 0, rows / 16);
                VectorInterleaved.q8x256(p, 0, a.pairs, a.q.d, cols / 32, narrow, 0, rows / 16);
                float exact = 0.5f * code * 3f * sign * cols; // d · code · x per column (the activations' scale is an f16: 1e-4 off)
                assertEquals(exact, want[0], Math.abs(exact) * 1e-3f, "reference, code " + code + " x " + 3f * sign);
                assertArrayEquals(want, wide, "512-bit, code " + code + " x " + 3f * sign);
                assertArrayEquals(want, narrow, "256-bit, code " + code + " x " + 3f * sign);
            }
        }
    }

    /** Quads of rows for prompts: both vector shapes equal the references; unaligned requests go row by row. */
    @Test
    void rowsComeOutAsTheFileFormatDefinesThem() {
        assumeTrue(vectorModule(), "jdk.incubator.vector is not in this JVM");
        SplittableRandom r = new SplittableRandom(13);
        for (BlockFormat f : FORMATS) {
            int rows = 80, cols = f.size == 256 ? 512 : 160;
            MemorySegment w = randomMatrix(r, f, 0, rows, cols), p = interleaved(f, w, 0, rows, cols);
            float[] want = new float[rows * cols];
            for (int row = 0; row < rows; row++) f.dequantize(w, (long) row * cols / f.size * f.bytes, want, row * cols, cols);
            for (boolean wide : new boolean[] {true, false}) {
                float[] got = new float[rows * cols + 5];
                switch (f) {
                    case Q4_0 -> VectorInterleaved.q4Rows(wide, p, 0, cols, 0, rows, got, 5);
                    case Q4_K -> VectorInterleaved.q4kRows(wide, p, 0, cols, 0, rows, got, 5);
                    case Q6_K -> VectorInterleaved.q6kRows(wide, p, 0, cols, 0, rows, got, 5);
                    default -> VectorInterleaved.q8Rows(wide, p, 0, cols, 0, rows, got, 5);
                }
                assertArrayEquals(want, java.util.Arrays.copyOfRange(got, 5, got.length), f + (wide ? " 512" : " 256") + "-bit");
            }
            float[] some = new float[3 * cols];
            QuantizedMatvec.dequantizeInterleavedRows(f, p, rows, cols, 17, 3, some, 0);
            assertArrayEquals(java.util.Arrays.copyOfRange(want, 17 * cols, 20 * cols), some, f + " rows 17..19");
        }
    }

    @Test
    void nonFiniteScalesKeepTheFileLayout() {
        for (BlockFormat f : FORMATS) {
            int cols = 2 * f.size;
            MemorySegment w = randomMatrix(new SplittableRandom(1), f, 0, 16, cols);
            w.set(Q8_0Block.F16, f.bytes + scaleAt(f) + (f == BlockFormat.Q4_K ? 2 : 0), (short) 0x7c00); // +inf in the second block (Q4_K: its dmin)
            assertFalse(QuantizedMatvec.interleave(f, w, 0, 16, cols, Arena.ofAuto().allocate(QuantizedMatvec.interleavedBytes(f, 16, cols))));
        }
    }

    @Test
    void shapesThatDoNotInterleaveAreRefused() {
        MemorySegment w = Arena.ofAuto().allocate(32L * 2 * 34);
        assertThrows(IllegalArgumentException.class, () -> QuantizedMatvec.interleave(BlockFormat.Q5_K, w, 0, 16, 256, w));
        assertThrows(IllegalArgumentException.class, () -> QuantizedMatvec.interleave(BlockFormat.Q8_0, w, 0, 16, 48, w));
        assertThrows(IndexOutOfBoundsException.class,
                () -> QuantizedMatvec.interleave(BlockFormat.Q8_0, w, 1200, 16, 64, Arena.ofAuto().allocate(16L * 2 * 34)));
        assertThrows(IllegalArgumentException.class,
                () -> QuantizedMatvec.interleave(BlockFormat.Q8_0, w, 0, 24, 64, Arena.ofAuto().allocate(24L * 2 * 34)), "dst not padded to 32 rows");
        assertFalse(QuantizedMatvec.interleaves(BlockFormat.Q5_K, 32, 256));
    }

    /** Rows not in whole groups (GPT-2's vocabulary of 50257): the last group padded with zero rows, which no result shows. */
    /** Each format names the layout it decodes through; a layout refuses a format whose codes it does not hold. */
    @Test
    void everyDecodableFormatNamesItsLayout() {
        assertEquals(DecodeLayout.Q8_0x16, DecodeLayout.of(BlockFormat.Q8_0));
        assertEquals(DecodeLayout.Q8_0x16, DecodeLayout.of(BlockFormat.Q5_0));
        assertEquals(DecodeLayout.Q8_0x16, DecodeLayout.of(BlockFormat.IQ4_NL));
        assertEquals(DecodeLayout.Q4_0x64, DecodeLayout.of(BlockFormat.Q4_0));
        assertEquals(DecodeLayout.Q4_Kx16, DecodeLayout.of(BlockFormat.Q4_K));
        assertEquals(DecodeLayout.Q6_Kx16, DecodeLayout.of(BlockFormat.Q6_K));
        assertEquals(null, DecodeLayout.of(BlockFormat.TQ2_0));
        assertEquals(64, DecodeLayout.Q4_0x64.groupRows());
        assertEquals(148, DecodeLayout.Q4_Kx16.rowBytes());
        assertEquals(274, DecodeLayout.Q6_Kx16.rowBytes());
        assertEquals(32L * 34 * 2, DecodeLayout.Q8_0x16.bytes(17, 64), "17 rows padded to 32");
        MemorySegment w = Arena.ofAuto().allocate(BlockFormat.Q4_0.bytes * 16L), dst = Arena.ofAuto().allocate(DecodeLayout.Q8_0x16.bytes(16, 32));
        assertThrows(IllegalArgumentException.class, () -> DecodeLayout.Q8_0x16.copy(BlockFormat.Q4_0, w, 0, 16, 32, dst));
    }

    /**
     * Q5_0 and IQ4_NL interleave as Q8_0x16: every value of the copy is the file's exactly (Q5_0's
     * codes − 16, IQ4_NL's table levels, under the same scale), the last group padded; their
     * products through the public entry, the file's format named, match the file layout's kernel
     * (the same integer sums, the blocks added in another order).
     */
    @Test
    void q5_0AndIq4NlAreInterleavedAsQ8_0Exactly() {
        SplittableRandom r = new SplittableRandom(11);
        int rows = 40, cols = 576; // 576 = SmolLM's width, where K-quant files fall back to Q5_0 or IQ4_NL
        for (BlockFormat f : new BlockFormat[] {BlockFormat.Q5_0, BlockFormat.IQ4_NL}) {
            assertEquals(BlockFormat.Q8_0, QuantizedMatvec.interleavedAs(f));
            MemorySegment w = randomMatrix(r, f, 5, rows, cols);
            MemorySegment p = Arena.ofAuto().allocate(QuantizedMatvec.interleavedBytes(f, rows, cols), 64);
            assertEquals(QuantizedMatvec.interleavedBytes(BlockFormat.Q8_0, rows, cols), p.byteSize());
            assertTrue(QuantizedMatvec.interleave(f, w, 5, rows, cols, p));
            float[] want = new float[cols], got = new float[cols];
            for (int row = 0; row < rows; row++) {
                QuantizedMatvec.dequantize(f, w, 5 + (long) row * (cols / 32) * f.bytes, want, 0, cols);
                Q8_0x16.dequantizeRow(p, 0, cols, row, got, 0);
                assertArrayEquals(want, got, f + " row " + row);
            }
            float[] x = activations(r, cols), viaCopy = new float[rows], viaFile = new float[rows];
            QuantizedMatvec.matvecInterleaved(f, p, x, viaCopy, rows, cols);
            QuantizedMatvec.matvec(f, w, 5, x, viaFile, rows, cols);
            float max = 0;
            for (float v : viaFile) max = Math.max(max, Math.abs(v));
            for (int row = 0; row < rows; row++) assertEquals(viaFile[row], viaCopy[row], 1e-5f * max, f + " row " + row);
            float[] rowsOut = new float[4 * cols];
            QuantizedMatvec.dequantizeInterleavedRows(f, p, rows, cols, 36, 4, rowsOut, 0);
            QuantizedMatvec.dequantize(f, w, 5 + 39L * (cols / 32) * f.bytes, want, 0, cols);
            assertArrayEquals(want, java.util.Arrays.copyOfRange(rowsOut, 3 * cols, 4 * cols), f + " row 39 through the rows entry");
        }
    }

    @Test
    void aPartialLastGroupIsPadded() {
        SplittableRandom r = new SplittableRandom(17);
        for (BlockFormat f : FORMATS) {
            int rows = 37, cols = f.size == 256 ? 256 : 64;
            MemorySegment w = randomMatrix(r, f, 0, rows, cols);
            MemorySegment p = Arena.ofAuto().allocate(QuantizedMatvec.interleavedBytes(f, rows, cols), 64);
            assertEquals((f == BlockFormat.Q4_0 ? 64L : 48L) * cols / f.size * QuantizedMatvec.interleavedRowBytes(f), p.byteSize());
            assertTrue(QuantizedMatvec.interleave(f, w, 0, rows, cols, p));
            float[] want = new float[rows * cols], got = new float[rows * cols];
            for (int row = 0; row < rows; row++) f.dequantize(w, (long) row * cols / f.size * f.bytes, want, row * cols, cols);
            QuantizedMatvec.dequantizeInterleavedRows(f, p, rows, cols, 0, rows, got, 0);
            assertArrayEquals(want, got, f + ": values");
            float[] x = activations(r, cols), mv = new float[rows], ref = new float[rows + 1];
            QuantizedMatvec.matvec(f, w, 0, x, ref, rows, cols);
            ref[rows] = 12345f;
            float[] out = new float[rows + 1];
            out[rows] = 12345f;
            QuantizedMatvec.matvecInterleaved(f, p, x, out, rows, cols);
            for (int i = 0; i < rows; i++) assertEquals(ref[i], out[i], 2e-5f * Math.max(1, Math.abs(ref[i])), f + " row " + i);
            assertEquals(12345f, out[rows], "nothing written past the last row");
        }
    }

    /**
     * A prompt through {@link QuantizedMatvec#matmulInterleaved} equals decoding its tokens one by
     * one, bit for bit: Q4_0's integer prompt GEMM (512-bit machines) and the token-by-token path
     * elsewhere — for partial groups of rows, one column block, panels of 64 tokens and narrower last
     * ones, a block whose 16-bit sum is the largest there is (codes 0 against −127: 32·8·127), and
     * activations exactly halfway between two codes (rounded to even, as decoding rounds them).
     */
    @Test
    void aPromptEqualsItsTokensDecodedOneByOne() {
        SplittableRandom r = new SplittableRandom(21);
        for (BlockFormat f : FORMATS) {
            for (int[] shape : f.size == 256 ? new int[][] {{64, 256}, {37, 512}} : new int[][] {{64, 32}, {37, 576}, {48, 2048}, {100, 64}}) {
                int rows = shape[0], cols = shape[1];
                MemorySegment w = randomMatrix(r, f, 0, rows, cols);
                if (f == BlockFormat.Q4_0) {
                    for (int i = 2; i < Q4_0Block.BYTES; i++) w.set(ValueLayout.JAVA_BYTE, i, (byte) 0); // row 0, block 0: every code 0 (−8)
                    w.set(Q8_0Block.F16, 0, Float.floatToFloat16(0.05f));
                }
                MemorySegment p = Arena.ofAuto().allocate(QuantizedMatvec.interleavedBytes(f, rows, cols), 64);
                assertTrue(QuantizedMatvec.interleave(f, w, 0, rows, cols, p));
                for (int tokens : new int[] {1, 31, 33, 64, 100, 130}) {
                    float[] x = activations(r, tokens * cols);
                    for (int c = 0; c < 32; c++) x[c] = -9f; // token 0, block 0: every code −127
                    if (tokens > 1) for (int c = 0; c < 32; c++) x[cols + c] = c == 0 ? 127f : c - 16.5f; // token 1, block 0: scale 1, halves (ties) to round
                    float[] want = new float[tokens * rows + 1], got = new float[tokens * rows + 1], xt = new float[cols], ot = new float[rows];
                    for (int t = 0; t < tokens; t++) {
                        System.arraycopy(x, t * cols, xt, 0, cols);
                        QuantizedMatvec.matvecInterleaved(f, p, xt, ot, rows, cols);
                        System.arraycopy(ot, 0, want, t * rows, rows);
                    }
                    want[tokens * rows] = got[tokens * rows] = 12345f;
                    QuantizedMatvec.matmulInterleaved(f, p, rows, cols, x, tokens, got);
                    assertArrayEquals(want, got, f + " [" + rows + ", " + cols + "] × " + tokens + " tokens");
                    if (f == BlockFormat.Q4_0) {
                        if (cols == 32) {
                            float d = Float.float16ToFloat(Float.floatToFloat16(0.05f)) * Q8_KBlock.quantize(x, 32, 32).d[0];
                            assertEquals(32 * 8 * 127 * d, want[0], "row 0 of token 0: one block of the largest sum");
                        }
                        if (vectorModule() && VectorQuantDot.WIDE) {
                            java.util.Arrays.fill(got, 0, tokens * rows, Float.NaN);
                            Q4_0PromptGemm.multiply(p, rows, cols, x, tokens, got);
                            assertArrayEquals(want, got, "the integer prompt GEMM itself, " + tokens + " tokens");
                        }
                    }
                }
            }
        }
    }

    @Test
    void aPromptOfTheWrongSizeIsRefused() {
        int rows = 32, cols = 64;
        MemorySegment p = Arena.ofAuto().allocate(QuantizedMatvec.interleavedBytes(BlockFormat.Q4_0, rows, cols), 64);
        assertThrows(IllegalArgumentException.class, () -> QuantizedMatvec.matmulInterleaved(BlockFormat.Q4_0, p, rows, cols, new float[cols * 40 - 1], 40, new float[rows * 40]), "x short by one");
        assertThrows(IllegalArgumentException.class, () -> QuantizedMatvec.matmulInterleaved(BlockFormat.Q4_0, p, rows, cols, new float[cols * 40], 40, new float[rows * 40 - 1]), "out short by one");
        assertThrows(IllegalArgumentException.class, () -> QuantizedMatvec.matmulInterleaved(BlockFormat.Q4_0, p, rows + 64, cols, new float[cols * 40], 40, new float[(rows + 64) * 40]), "a matrix of another size");
        assertFalse(QuantizedMatvec.multipliesPrompt(BlockFormat.Q4_0, 31), "below 32 tokens the float GEMM runs");
        assertFalse(QuantizedMatvec.multipliesPrompt(BlockFormat.Q8_0, 64), "Q8_0's products do not fit 16 bits");
    }

    /** Activations as the interleaved kernels take them: quantized per block (Q4_K, Q6_K: per 256), paired, with sums per 32. */
    private static final class Activations {
        final Q8_KBlock q;
        final int[] pairs, xsum32;
        final float[] xs8;

        Activations(float[] x, BlockFormat f) {
            int n = x.length;
            q = Q8_KBlock.quantize(x, n, f.size == 256 ? 256 : 32);
            if (f == BlockFormat.Q8_0) {
                pairs = Q8_0x16.nibblePairs(q.q, n);
            } else {
                pairs = new int[n / 2];
                for (int i = 0; i < pairs.length; i++) pairs[i] = (q.q[2 * i] & 0xffff) | q.q[2 * i + 1] << 16;
            }
            xsum32 = new int[n / 32];
            xs8 = new float[n / 32];
            for (int b = 0; b < xs8.length; b++) {
                xsum32[b] = q.sums[2 * b] + q.sums[2 * b + 1];
                xs8[b] = 8 * xsum32[b];
            }
        }
    }

    /** The scalar reference's first {@code rows} results (the last group's padding rows dropped). */
    private static void reference(BlockFormat f, MemorySegment p, Activations a, int cols, float[] out, int rows) {
        int group = QuantizedMatvec.interleavedGroupRows(f), groups = (rows + group - 1) / group;
        float[] all = new float[groups * group];
        switch (f) {
            case Q4_0 -> Q4_0x64.matvecReference(p, 0, a.q.q, a.q.d, cols, all, 0, groups);
            case Q4_K -> Q4_Kx16.matvecReference(p, 0, a.q.q, a.q.d, a.xsum32, cols, all, 0, groups);
            case Q6_K -> Q6_Kx16.matvecReference(p, 0, a.q.q, a.q.d, cols, all, 0, groups);
            default -> Q8_0x16.matvecReference(p, 0, a.q.q, a.q.d, cols, all, 0, groups);
        }
        System.arraycopy(all, 0, out, 0, rows);
    }
}
