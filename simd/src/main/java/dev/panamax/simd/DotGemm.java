package dev.panamax.simd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * C = A·Bᵀ for a few rows of A (a prompt block: m = T tokens) against a weight B stored [n, k]
 * row-major, without packing: every C[i][j] is a dot product of two contiguous rows. Each thread
 * copies A once per call, and four rows of B at a time, into 64-byte-aligned scratch segments (B is
 * read from memory once, then from L1 for every tile of A), and a tile of R rows of A × those 4 rows keeps R·4 vector accumulators while
 * streaming along k. R is 4 where vectors are 512 bits (32 registers) and 2 where they are 256 (16
 * registers; see {@link #tile2x4}). Nothing is transposed — the packed GEMM ({@link VectorGemm})
 * spends ~20% of a T = 64 prefill scattering the transposed weights into panels.
 *
 * <p>Why aligned copies: a vector load that crosses a cache line costs two. A heap array's
 * elements sit wherever the collector put the array (8-byte granularity), so with the operands in
 * {@code float[]}s the speed depended on the garbage collector: the 64 × 576/1536 shapes of a
 * SmolLM-135M prefill on AVX2, one thread, ran at 39 GFLOP/s under SerialGC against 50 under G1,
 * and G1 fell to 33 when B's copy started 16 bytes later; with B aligned and A not, 54 under
 * SerialGC and 35 under G1. Loading B straight
 * from the weights' segment inside the tile loop ran at about half speed.
 */
final class DotGemm {
    private DotGemm() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    /** Rows of A per tile. */
    private static final int R = L >= 16 ? 4 : 2;

    /**
     * A thread's aligned copies of A (one per call: {@code call}) and of four rows of B, and a heap
     * buffer for rows a {@link Kernels.RowSource} produces. Safe because a thread works on one
     * multiply at a time: the tiles call nothing that multiplies again.
     */
    private static final class Scratch {
        MemorySegment a = MemorySegment.NULL, b = MemorySegment.NULL;
        float[] rows = new float[0];
        /** A tile's accumulators stored as floats (16 vectors), then their 16 sums. */
        final float[] sums = new float[16 * L + 16];
        long call = -1;
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
    private static final AtomicLong CALLS = new AtomicLong();

    private static MemorySegment atLeast(MemorySegment s, long bytes) {
        return s.byteSize() >= bytes ? s : Arena.ofAuto().allocate(bytes, 64);
    }

    /**
     * B is either float32 rows in a segment ({@code b} at byte {@code bOff}) or, when {@code src} is
     * not null, rows that {@code src} produces (dequantized weights) four at a time into the scratch.
     */
    static void multiply(Kernels k, float[] a, MemorySegment b, long bOff, Kernels.RowSource src, float[] c, int m, int n, int kk) {
        long call = CALLS.incrementAndGet();
        // Columns (weight rows) split over the threads in multiples of 4; each thread sweeps all of A.
        Parallel.forRange(n, 4, (j0, j1) -> {
            Scratch s = SCRATCH.get();
            if (s.call != call) { // the first range of this call on this thread: copy A
                s.a = atLeast(s.a, 4L * m * kk);
                MemorySegment.copy(a, 0, s.a, F32_LE, 0, m * kk);
                s.call = call;
            }
            if (src != null && s.rows.length < 4 * kk) s.rows = new float[4 * kk];
            MemorySegment as = s.a, bt = s.b = atLeast(s.b, 16L * kk);
            for (int j = j0; j < j1; j += 4) {
                int rows = Math.min(4, j1 - j);
                if (src == null) {
                    MemorySegment.copy(b, bOff + 4L * j * kk, bt, 0, 4L * rows * kk);
                } else {
                    src.rows(j, rows, s.rows, 0);
                    MemorySegment.copy(s.rows, 0, bt, F32_LE, 0, rows * kk);
                }
                if (rows == 4) {
                    int i = 0;
                    for (; i + R <= m; i += R) {
                        if (R == 4) tile4x4(as, bt, c, i, j, n, kk, s.sums);
                        else tile2x4(as, bt, c, i, j, n, kk, s.sums);
                    }
                    for (; i < m; i++) tile1x4(as, bt, c, i, j, n, kk, s.sums);
                } else {
                    for (int i = 0; i < m; i++) for (int q = 0; q < rows; q++) c[i * n + j + q] = k.dot(bt, 4L * q * kk, a, i * kk, kk);
                }
            }
        });
    }

    private static FloatVector load(MemorySegment b, int index) {
        return FloatVector.fromMemorySegment(S, b, 4L * index, LE);
    }

    private static float at(MemorySegment b, int index) {
        return b.getAtIndex(F32_LE, index);
    }

    /** The 512-bit tile: 4 rows of A × 4 of B, sixteen accumulators. */
    private static void tile4x4(MemorySegment a, MemorySegment b, float[] c, int i, int j, int n, int kk, float[] acc) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00,
                c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int a0 = i * kk, a1 = a0 + kk, a2 = a1 + kk, a3 = a2 + kk;
        int p = 0;
        for (int end = S.loopBound(kk); p < end; p += L) {
            FloatVector x0 = load(a, a0 + p), x1 = load(a, a1 + p),
                    x2 = load(a, a2 + p), x3 = load(a, a3 + p);
            FloatVector w = load(b, p);
            c00 = x0.fma(w, c00); c10 = x1.fma(w, c10); c20 = x2.fma(w, c20); c30 = x3.fma(w, c30);
            w = load(b, kk + p);
            c01 = x0.fma(w, c01); c11 = x1.fma(w, c11); c21 = x2.fma(w, c21); c31 = x3.fma(w, c31);
            w = load(b, 2 * kk + p);
            c02 = x0.fma(w, c02); c12 = x1.fma(w, c12); c22 = x2.fma(w, c22); c32 = x3.fma(w, c32);
            w = load(b, 3 * kk + p);
            c03 = x0.fma(w, c03); c13 = x1.fma(w, c13); c23 = x2.fma(w, c23); c33 = x3.fma(w, c33);
        }
        // The sixteen lane sums in LaneSums' fixed order, through a scratch array (see LaneSums.sums).
        c00.intoArray(acc, 0); c01.intoArray(acc, L); c02.intoArray(acc, 2 * L); c03.intoArray(acc, 3 * L);
        c10.intoArray(acc, 4 * L); c11.intoArray(acc, 5 * L); c12.intoArray(acc, 6 * L); c13.intoArray(acc, 7 * L);
        c20.intoArray(acc, 8 * L); c21.intoArray(acc, 9 * L); c22.intoArray(acc, 10 * L); c23.intoArray(acc, 11 * L);
        c30.intoArray(acc, 12 * L); c31.intoArray(acc, 13 * L); c32.intoArray(acc, 14 * L); c33.intoArray(acc, 15 * L);
        LaneSums.sums(S, acc, 16, acc, 16 * L);
        int ts = 16 * L;
        float t00 = acc[ts], t01 = acc[ts + 1], t02 = acc[ts + 2], t03 = acc[ts + 3], t10 = acc[ts + 4], t11 = acc[ts + 5], t12 = acc[ts + 6], t13 = acc[ts + 7],
                t20 = acc[ts + 8], t21 = acc[ts + 9], t22 = acc[ts + 10], t23 = acc[ts + 11], t30 = acc[ts + 12], t31 = acc[ts + 13], t32 = acc[ts + 14], t33 = acc[ts + 15];
        for (; p < kk; p++) { // the k tail, scalar
            float x0 = at(a, a0 + p), x1 = at(a, a1 + p), x2 = at(a, a2 + p), x3 = at(a, a3 + p);
            float w0 = at(b, p), w1 = at(b, kk + p), w2 = at(b, 2 * kk + p), w3 = at(b, 3 * kk + p);
            t00 += x0 * w0; t01 += x0 * w1; t02 += x0 * w2; t03 += x0 * w3;
            t10 += x1 * w0; t11 += x1 * w1; t12 += x1 * w2; t13 += x1 * w3;
            t20 += x2 * w0; t21 += x2 * w1; t22 += x2 * w2; t23 += x2 * w3;
            t30 += x3 * w0; t31 += x3 * w1; t32 += x3 * w2; t33 += x3 * w3;
        }
        int r0 = i * n + j, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
        c[r0] = t00; c[r0 + 1] = t01; c[r0 + 2] = t02; c[r0 + 3] = t03;
        c[r1] = t10; c[r1 + 1] = t11; c[r1 + 2] = t12; c[r1 + 3] = t13;
        c[r2] = t20; c[r2 + 1] = t21; c[r2 + 2] = t22; c[r2 + 3] = t23;
        c[r3] = t30; c[r3 + 1] = t31; c[r3 + 2] = t32; c[r3 + 3] = t33;
    }

    /**
     * One row of A × 4 of B for the rows past the last whole tile (m not a multiple of R), with a
     * tile row's arithmetic: the same lane accumulators, the same {@link LaneSums} order, the same
     * scalar k tail. So a row of C does not depend on where it falls in A: a block of stacked items
     * (images of a batch) gives each item's rows the bits that item alone gets.
     */
    private static void tile1x4(MemorySegment a, MemorySegment b, float[] c, int i, int j, int n, int kk, float[] acc) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00;
        int a0 = i * kk;
        int p = 0;
        for (int end = S.loopBound(kk); p < end; p += L) {
            FloatVector x0 = load(a, a0 + p);
            c00 = x0.fma(load(b, p), c00);
            c01 = x0.fma(load(b, kk + p), c01);
            c02 = x0.fma(load(b, 2 * kk + p), c02);
            c03 = x0.fma(load(b, 3 * kk + p), c03);
        }
        c00.intoArray(acc, 0); c01.intoArray(acc, L); c02.intoArray(acc, 2 * L); c03.intoArray(acc, 3 * L);
        LaneSums.sums(S, acc, 4, acc, 16 * L);
        int ts = 16 * L;
        float t00 = acc[ts], t01 = acc[ts + 1], t02 = acc[ts + 2], t03 = acc[ts + 3];
        for (; p < kk; p++) { // the k tail, scalar
            float x0 = at(a, a0 + p);
            t00 += x0 * at(b, p); t01 += x0 * at(b, kk + p); t02 += x0 * at(b, 2 * kk + p); t03 += x0 * at(b, 3 * kk + p);
        }
        int r0 = i * n + j;
        c[r0] = t00; c[r0 + 1] = t01; c[r0 + 2] = t02; c[r0 + 3] = t03;
    }

    /**
     * The 256-bit tile: 2 rows of A × 4 of B, eight accumulators. AVX2 has 16 vector registers: a
     * 3 × 4 tile needs all of them, and C2 (which unrolls this loop 4×) spilled accumulators to the
     * stack, a store and a load on their dependency chains every step (~35 against ~55 GFLOP/s).
     * The sums are stored directly (no scratch array, no call): with k = 256 the tile's epilogue is a
     * large share of its time.
     */
    private static void tile2x4(MemorySegment a, MemorySegment b, float[] c, int i, int j, int n, int kk, float[] acc) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        int a0 = i * kk, a1 = a0 + kk;
        int p = 0;
        for (int end = S.loopBound(kk); p < end; p += L) {
            FloatVector x0 = load(a, a0 + p), x1 = load(a, a1 + p);
            FloatVector w = load(b, p);
            c00 = x0.fma(w, c00); c10 = x1.fma(w, c10);
            w = load(b, kk + p);
            c01 = x0.fma(w, c01); c11 = x1.fma(w, c11);
            w = load(b, 2 * kk + p);
            c02 = x0.fma(w, c02); c12 = x1.fma(w, c12);
            w = load(b, 3 * kk + p);
            c03 = x0.fma(w, c03); c13 = x1.fma(w, c13);
        }
        c00.intoArray(acc, 0); c01.intoArray(acc, L); c02.intoArray(acc, 2 * L); c03.intoArray(acc, 3 * L);
        c10.intoArray(acc, 4 * L); c11.intoArray(acc, 5 * L); c12.intoArray(acc, 6 * L); c13.intoArray(acc, 7 * L);
        LaneSums.sums(S, acc, 8, acc, 16 * L);
        int ts = 16 * L;
        float t00 = acc[ts], t01 = acc[ts + 1], t02 = acc[ts + 2], t03 = acc[ts + 3], t10 = acc[ts + 4], t11 = acc[ts + 5], t12 = acc[ts + 6], t13 = acc[ts + 7];
        for (; p < kk; p++) { // the k tail, scalar
            float x0 = at(a, a0 + p), x1 = at(a, a1 + p);
            float w0 = at(b, p), w1 = at(b, kk + p), w2 = at(b, 2 * kk + p), w3 = at(b, 3 * kk + p);
            t00 += x0 * w0; t01 += x0 * w1; t02 += x0 * w2; t03 += x0 * w3;
            t10 += x1 * w0; t11 += x1 * w1; t12 += x1 * w2; t13 += x1 * w3;
        }
        int r0 = i * n + j, r1 = r0 + n;
        c[r0] = t00; c[r0 + 1] = t01; c[r0 + 2] = t02; c[r0 + 3] = t03;
        c[r1] = t10; c[r1 + 1] = t11; c[r1 + 2] = t12; c[r1 + 3] = t13;
    }
}
