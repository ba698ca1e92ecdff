package dev.panamax.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The kernels' half of the reproducibility contract (docs/testing.md): the same inputs give the
 * same bits whatever the thread count, and whatever the JIT tier — lane sums in one fixed order
 * ({@link LaneSums}), e^x from plain IEEE operations ({@code VectorKernels.exp}). The whole-model
 * half (every weight format, repeated, concurrent, before and after warm-up) is DeterminismTest
 * in models/.
 */
class ReproducibilityTest {

    static Stream<Kernels> paths() {
        List<Kernels> all = new ArrayList<>();
        all.add(Simd.scalar());
        Simd.vector().ifPresent(all::add);
        return all.stream();
    }

    private static float[] random(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    /** What {@code body} returns with the pool at 1, 2, 3 and 5 threads: all equal bit for bit. */
    private static void sameForEveryThreadCount(String what, Supplier<float[]> body) {
        int before = Parallel.threads();
        try {
            Parallel.setThreads(1);
            float[] one = body.get();
            for (int t : new int[] {2, 3, 5}) {
                Parallel.setThreads(t);
                float[] got = body.get();
                for (int i = 0; i < one.length; i++) {
                    int index = i;
                    assertEquals(Float.floatToRawIntBits(one[i]), Float.floatToRawIntBits(got[i]),
                            () -> what + " on " + t + " threads, element " + index + ": " + got[index] + " against " + one[index] + " on one");
                }
            }
        } finally {
            Parallel.setThreads(before);
        }
    }

    @ParameterizedTest
    @MethodSource("paths")
    void matvecRowsDoNotDependOnTheThreadRanges(Kernels k) {
        Random r = new Random(7);
        // Narrow rows (one dot each), wide ones (two far-apart rows at a time) and wider (four):
        // with 37 or 101 rows every thread count leaves rows over from the pairs and quads.
        for (int cols : new int[] {300, 1100, 4101}) {
            for (int rows : new int[] {37, 101}) {
                float[] w = random(r, rows * cols), x = random(r, cols);
                try (Arena arena = Arena.ofShared()) {
                    MemorySegment seg = arena.allocate(4L * w.length, 64);
                    MemorySegment.copy(w, 0, seg, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, w.length);
                    MemorySegment h = arena.allocate(2L * w.length, 64), b = arena.allocate(2L * w.length, 64);
                    k.f32ToF16(w, 0, h, 0, w.length);
                    k.f32ToBf16(w, 0, b, 0, w.length);
                    String shape = k.name() + " [" + rows + ", " + cols + "]";
                    sameForEveryThreadCount("F32 matvec " + shape, () -> {
                        float[] out = new float[rows];
                        k.matvec(seg, 0, x, out, rows, cols);
                        return out;
                    });
                    sameForEveryThreadCount("F16 matvec " + shape, () -> {
                        float[] out = new float[rows];
                        k.matvec16(h, 0, false, x, out, rows, cols);
                        return out;
                    });
                    sameForEveryThreadCount("BF16 matvec " + shape, () -> {
                        float[] out = new float[rows];
                        k.matvec16(b, 0, true, x, out, rows, cols);
                        return out;
                    });
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("paths")
    void promptGemmDoesNotDependOnTheThreadRanges(Kernels k) {
        Random r = new Random(8);
        int n = 70, kk = 257;
        float[] b = random(r, n * kk);
        for (int m : new int[] {5, 40, 600}) { // the dot-product tiles, the broadcast tiles, the packed GEMM
            float[] a = random(r, m * kk);
            sameForEveryThreadCount(k.name() + " GEMM m = " + m, () -> {
                float[] c = new float[m * n];
                k.matmulTransposedB(a, b, c, m, n, kk);
                return c;
            });
        }
    }

    /**
     * The broadcast tiles taking k a chunk at a time (A's panels kept in cache, each tile's sums
     * resumed from C) give bit for bit the one-pass product: chunks of 64 and 80 columns (a ragged
     * last one), panels of 64 tokens and narrower last ones, rows of B not a multiple of four.
     */
    @Test
    void broadcastTilesInChunksOfKGiveTheOnePassBits() {
        assumeTrue(Simd.vector().isPresent() && BroadcastGemm.applies(), "no 512-bit vectors in this JVM");
        Random r = new Random(10);
        for (int[] shape : new int[][] {{197, 38, 300}, {64, 7, 129}, {40, 13, 1000}, {250, 4, 64}, {50, 9, 300}}) {
            int m = shape[0], n = shape[1], kk = shape[2];
            float[] a = random(r, m * kk), b = random(r, n * kk), whole = new float[m * n];
            // B three floats into its segment, as a weight lies in a file: on the heap (its rows copied) and in
            // native memory (one panel of 49 to 64 tokens reads whole tiles of four rows in place)
            float[] padded = new float[3 + n * kk];
            System.arraycopy(b, 0, padded, 3, b.length);
            MemorySegment bs = MemorySegment.ofArray(padded);
            MemorySegment native_ = Arena.ofAuto().allocate(4L * padded.length, 64).copyFrom(bs);
            BroadcastGemm.multiply(a, bs, 12, null, whole, m, n, kk, kk);
            for (int chunk : new int[] {kk, 64, 80}) {
                for (MemorySegment from : new MemorySegment[] {bs, native_}) {
                    float[] chunked = new float[m * n];
                    BroadcastGemm.multiply(a, from, 12, null, chunked, m, n, kk, chunk);
                    for (int i = 0; i < whole.length; i++) {
                        assertEquals(Float.floatToRawIntBits(whole[i]), Float.floatToRawIntBits(chunked[i]),
                                m + "×" + n + "×" + kk + " in chunks of " + chunk + (from.isNative() ? ", native" : ", heap") + ", element " + i);
                    }
                }
            }
            double worst = 0; // and the product itself, against double sums
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    for (int p = 0; p < kk; p++) sum += (double) a[i * kk + p] * b[j * kk + p];
                    worst = Math.max(worst, Math.abs(sum - whole[i * n + j]) / Math.sqrt(kk));
                }
            }
            assertTrue(worst < 1e-5, "GEMM off by " + worst);
        }
        float[] empty = new float[40 * 5]; // k = 0: C is zeros, whatever it held
        java.util.Arrays.fill(empty, Float.NaN);
        BroadcastGemm.multiply(new float[0], MemorySegment.ofArray(new float[0]), 0, null, empty, 40, 5, 0, 0);
        for (float v : empty) assertEquals(0f, v);
        assertEquals(300, BroadcastGemm.chunkOf(4, 300)); // panels that fit are taken in one pass
        assertTrue(BroadcastGemm.chunkOf(4, 3072) < 3072 && BroadcastGemm.chunkOf(4, 3072) % 16 == 0);
    }

    /**
     * Items stacked into one GEMM (the images of a batch) get, row for row, the bits each gets
     * alone: item sizes in each kernel's range (dot-product tiles with a row past the last whole
     * tile, broadcast tiles with a narrow last panel, the packed GEMM), weights as float32 and as
     * rows widened on demand, and more items than one call of the unpacked kernels takes.
     */
    @ParameterizedTest
    @MethodSource("paths")
    void stackedItemsGetTheirSoloBits(Kernels k) {
        Random r = new Random(9);
        int n = 36, kk = 83;
        float[] b = random(r, n * kk);
        MemorySegment bs = MemorySegment.ofArray(b);
        Kernels.RowSource widened = (row, count, dst, off) -> System.arraycopy(b, row * kk, dst, off, count * kk);
        for (int[] shape : new int[][] {{5, 3}, {17, 40}, {40, 3}, {197, 6}, {600, 2}}) {
            int rows = shape[0], items = shape[1], m = rows * items;
            float[] a = random(r, m * kk), stacked = new float[m * n], fromRows = new float[m * n];
            k.matmulTransposedB(a, bs, 0, stacked, m, n, kk, rows);
            k.matmulTransposedB(a, widened, fromRows, m, n, kk, rows);
            for (int i = 0; i < items; i++) {
                float[] ai = java.util.Arrays.copyOfRange(a, i * rows * kk, (i + 1) * rows * kk), alone = new float[rows * n], aloneRows = new float[rows * n];
                k.matmulTransposedB(ai, bs, 0, alone, rows, n, kk);
                k.matmulTransposedB(ai, widened, aloneRows, rows, n, kk);
                for (int j = 0; j < rows * n; j++) {
                    int at = i * rows * n + j;
                    assertEquals(Float.floatToRawIntBits(alone[j]), Float.floatToRawIntBits(stacked[at]),
                            k.name() + ": item " + i + " of " + items + " × " + rows + " rows, element " + j);
                    assertEquals(Float.floatToRawIntBits(aloneRows[j]), Float.floatToRawIntBits(fromRows[at]),
                            k.name() + " (widened rows): item " + i + " of " + items + " × " + rows + " rows, element " + j);
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> k.matmulTransposedB(new float[10 * kk], bs, 0, new float[10 * n], 10, n, kk, 3));
    }

    @Test
    void laneSumsFoldHalvesInAFixedOrder() {
        assumeTrue(Simd.vector().isPresent(), "no Vector API in this JVM");
        var species = FloatVector.SPECIES_PREFERRED;
        int n = species.length();
        // Values whose sum depends on the order: 1e8 and −1e8 cancel only if added to each other first.
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = i % 2 == 0 ? 1f : 3e-8f * i;
        x[0] = 1e8f;
        x[n / 2] = -1e8f;
        float[] copy = x.clone();
        float want = LaneSums.fold(copy);
        assertEquals(want, LaneSums.sum(FloatVector.fromArray(species, x, 0)));
        // The fold pairs lane 0 with lane n/2 first, so the big values cancel exactly.
        float[] pairs = x.clone();
        pairs[0] = 0;
        pairs[n / 2] = 0;
        assertEquals(LaneSums.fold(pairs), want);
        // Many calls, as C2 compiles the method between them: the same bits every time.
        float[] y = random(new Random(9), n);
        float first = LaneSums.sum(FloatVector.fromArray(species, y, 0));
        for (int i = 0; i < 200_000; i++) {
            float again = LaneSums.sum(FloatVector.fromArray(species, y, 0));
            if (Float.floatToRawIntBits(again) != Float.floatToRawIntBits(first)) {
                throw new AssertionError("call " + i + " gave " + again + ", the first " + first);
            }
        }
    }

    @Test
    void sum4FoldsEachVectorAsSumDoes() {
        assumeTrue(Simd.vector().isPresent(), "no Vector API in this JVM");
        Random r = new Random(10);
        for (var species : List.of(FloatVector.SPECIES_PREFERRED, FloatVector.SPECIES_256, FloatVector.SPECIES_128)) {
            int n = species.length();
            for (int trial = 0; trial < 1000; trial++) {
                FloatVector[] v = new FloatVector[4];
                for (int q = 0; q < 4; q++) {
                    float[] x = new float[n];
                    for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(8) - 4));
                    v[q] = FloatVector.fromArray(species, x, 0);
                }
                FloatVector s = LaneSums.sum4(v[0], v[1], v[2], v[3]);
                int[] lane = {0, n / 2, n / 4, 3 * n / 4};
                for (int q = 0; q < 4; q++) {
                    assertEquals(Float.floatToRawIntBits(LaneSums.sum(v[q])), Float.floatToRawIntBits(s.lane(lane[q])),
                            n + " lanes, vector " + q);
                }
            }
        }
    }

    /** exp on the vector path: within 2 ulp of Math.exp over the range softmax and the activations use, exact at the edges. */
    @Test
    void vectorExpIsCloseToMathExpAndHandlesTheEdges() {
        assumeTrue(Simd.vector().isPresent(), "no Vector API in this JVM");
        Kernels v = Simd.vector().get();
        int n = 200_001;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -87f + 175f * i / (n - 1);
        float[] y = x.clone();
        v.expShift(y, 0, n, 0f);
        double worstUlps = 0;
        for (int i = 0; i < n; i++) {
            float want = (float) Math.exp(x[i]);
            worstUlps = Math.max(worstUlps, Math.abs(y[i] - want) / Math.ulp(want));
        }
        double w = worstUlps;
        assertTrue(w <= 2, () -> "worst error " + w + " ulp");
        int lanes = v.vectorBits() / 32;
        float[] edges = new float[lanes * 2];
        float[] in = {Float.NEGATIVE_INFINITY, -1000f, -87.5f, 0f, 1e-30f, 88.7f, 89f, Float.POSITIVE_INFINITY, Float.NaN, -0f};
        System.arraycopy(in, 0, edges, 0, in.length);
        v.expShift(edges, 0, lanes * 2, 0f);
        assertEquals(0f, edges[0]);
        assertEquals(0f, edges[1]);
        assertEquals(0f, edges[2]); // below the smallest normal result: flushed to zero
        assertEquals(1f, edges[3]);
        assertEquals(1f, edges[4]);
        assertEquals((float) Math.exp(88.7f), edges[5], Math.ulp((float) Math.exp(88.7f)) * 2);
        assertEquals(Float.POSITIVE_INFINITY, edges[6]);
        assertEquals(Float.POSITIVE_INFINITY, edges[7]);
        assertTrue(Float.isNaN(edges[8]));
        assertEquals(1f, edges[9]);
    }
}
