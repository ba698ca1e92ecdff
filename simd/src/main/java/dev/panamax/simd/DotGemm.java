package dev.panamax.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * C = A·Bᵀ for a few rows of A (a prompt block: m = T tokens) against a weight B stored [n, k]
 * row-major, without packing: every C[i][j] is a dot product of two contiguous rows. Four rows of B
 * at a time are copied into a heap array (read from memory once, then from L1 for every tile of A),
 * and a tile of R rows of A × those 4 rows keeps R·4 vector accumulators while streaming along k.
 * R is 4 where vectors are 512 bits (32 registers) and 2 where they are 256 (16 registers; see
 * {@link #tile2x4}). Reading B through the segment inside the tile loop instead of from the copy ran
 * at about half the speed on AVX2 (64 × 1536 × 576, one thread, a test harness: ~40 against ~80
 * GFLOP/s, OpenBLAS 82). Nothing is transposed — the packed GEMM ({@link VectorGemm}) spends
 * ~20% of a T = 64 prefill scattering the transposed weights into panels.
 */
final class DotGemm {
    private DotGemm() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    /** Rows of A per tile. */
    private static final int R = L >= 16 ? 4 : 2;

    static void multiply(Kernels k, float[] a, MemorySegment b, long bOff, float[] c, int m, int n, int kk) {
        // Columns (weight rows) split over the threads in multiples of 4; each thread sweeps all of A.
        Parallel.forRange(n, 4, (j0, j1) -> {
            float[] bt = new float[4 * kk];
            int j = j0;
            for (; j + 4 <= j1; j += 4) {
                MemorySegment.copy(b, F32_LE, bOff + 4L * j * kk, bt, 0, 4 * kk);
                int i = 0;
                for (; i + R <= m; i += R) {
                    if (R == 4) tile4x4(a, bt, c, i, j, n, kk);
                    else tile2x4(a, bt, c, i, j, n, kk);
                }
                for (; i < m; i++) for (int jj = 0; jj < 4; jj++) c[i * n + j + jj] = k.dot(bt, jj * kk, a, i * kk, kk);
            }
            for (; j < j1; j++) for (int i = 0; i < m; i++) c[i * n + j] = k.dot(b, bOff + 4L * j * kk, a, i * kk, kk);
        });
    }

    private static void tile4x4(float[] a, float[] b, float[] c, int i, int j, int n, int kk) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00,
                c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int a0 = i * kk, a1 = a0 + kk, a2 = a1 + kk, a3 = a2 + kk, b1 = kk, b2 = 2 * kk, b3 = 3 * kk;
        int p = 0;
        for (int end = S.loopBound(kk); p < end; p += L) {
            FloatVector x0 = FloatVector.fromArray(S, a, a0 + p), x1 = FloatVector.fromArray(S, a, a1 + p),
                    x2 = FloatVector.fromArray(S, a, a2 + p), x3 = FloatVector.fromArray(S, a, a3 + p);
            FloatVector w = FloatVector.fromArray(S, b, p);
            c00 = x0.fma(w, c00); c10 = x1.fma(w, c10); c20 = x2.fma(w, c20); c30 = x3.fma(w, c30);
            w = FloatVector.fromArray(S, b, b1 + p);
            c01 = x0.fma(w, c01); c11 = x1.fma(w, c11); c21 = x2.fma(w, c21); c31 = x3.fma(w, c31);
            w = FloatVector.fromArray(S, b, b2 + p);
            c02 = x0.fma(w, c02); c12 = x1.fma(w, c12); c22 = x2.fma(w, c22); c32 = x3.fma(w, c32);
            w = FloatVector.fromArray(S, b, b3 + p);
            c03 = x0.fma(w, c03); c13 = x1.fma(w, c13); c23 = x2.fma(w, c23); c33 = x3.fma(w, c33);
        }
        float[] t = new float[16];
        t[0] = c00.reduceLanes(VectorOperators.ADD); t[1] = c01.reduceLanes(VectorOperators.ADD);
        t[2] = c02.reduceLanes(VectorOperators.ADD); t[3] = c03.reduceLanes(VectorOperators.ADD);
        t[4] = c10.reduceLanes(VectorOperators.ADD); t[5] = c11.reduceLanes(VectorOperators.ADD);
        t[6] = c12.reduceLanes(VectorOperators.ADD); t[7] = c13.reduceLanes(VectorOperators.ADD);
        t[8] = c20.reduceLanes(VectorOperators.ADD); t[9] = c21.reduceLanes(VectorOperators.ADD);
        t[10] = c22.reduceLanes(VectorOperators.ADD); t[11] = c23.reduceLanes(VectorOperators.ADD);
        t[12] = c30.reduceLanes(VectorOperators.ADD); t[13] = c31.reduceLanes(VectorOperators.ADD);
        t[14] = c32.reduceLanes(VectorOperators.ADD); t[15] = c33.reduceLanes(VectorOperators.ADD);
        finish(a, b, c, t, 4, i, j, n, kk, p);
    }

    /**
     * The 256-bit tile: 2 rows of A × 4 of B, eight accumulators. AVX2 has 16 vector registers: a
     * 3 × 4 tile needs all of them, and C2 (which unrolls this loop 4×) spilled accumulators to the
     * stack, a store and a load on their dependency chains every step (~35 against ~55 GFLOP/s).
     */
    private static void tile2x4(float[] a, float[] b, float[] c, int i, int j, int n, int kk) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        int a0 = i * kk, a1 = a0 + kk;
        int p = 0;
        for (int end = S.loopBound(kk); p < end; p += L) {
            FloatVector x0 = FloatVector.fromArray(S, a, a0 + p), x1 = FloatVector.fromArray(S, a, a1 + p);
            FloatVector w = FloatVector.fromArray(S, b, p);
            c00 = x0.fma(w, c00); c10 = x1.fma(w, c10);
            w = FloatVector.fromArray(S, b, kk + p);
            c01 = x0.fma(w, c01); c11 = x1.fma(w, c11);
            w = FloatVector.fromArray(S, b, 2 * kk + p);
            c02 = x0.fma(w, c02); c12 = x1.fma(w, c12);
            w = FloatVector.fromArray(S, b, 3 * kk + p);
            c03 = x0.fma(w, c03); c13 = x1.fma(w, c13);
        }
        // Stored directly (no scratch array, no call): with k = 256 the tile's epilogue is a large
        // share of its time.
        float t00 = c00.reduceLanes(VectorOperators.ADD), t01 = c01.reduceLanes(VectorOperators.ADD),
                t02 = c02.reduceLanes(VectorOperators.ADD), t03 = c03.reduceLanes(VectorOperators.ADD),
                t10 = c10.reduceLanes(VectorOperators.ADD), t11 = c11.reduceLanes(VectorOperators.ADD),
                t12 = c12.reduceLanes(VectorOperators.ADD), t13 = c13.reduceLanes(VectorOperators.ADD);
        for (; p < kk; p++) { // the k tail, scalar
            float x0 = a[a0 + p], x1 = a[a1 + p], w0 = b[p], w1 = b[kk + p], w2 = b[2 * kk + p], w3 = b[3 * kk + p];
            t00 += x0 * w0; t01 += x0 * w1; t02 += x0 * w2; t03 += x0 * w3;
            t10 += x1 * w0; t11 += x1 * w1; t12 += x1 * w2; t13 += x1 * w3;
        }
        int r0 = i * n + j, r1 = r0 + n;
        c[r0] = t00; c[r0 + 1] = t01; c[r0 + 2] = t02; c[r0 + 3] = t03;
        c[r1] = t10; c[r1 + 1] = t11; c[r1 + 2] = t12; c[r1 + 3] = t13;
    }

    /** The k tail (scalar) and the tile's store: t holds rows × 4 sums over k < p. */
    private static void finish(float[] a, float[] b, float[] c, float[] t, int rows, int i, int j, int n, int kk, int p) {
        for (; p < kk; p++) {
            for (int r = 0; r < rows; r++) {
                float x = a[(i + r) * kk + p];
                for (int q = 0; q < 4; q++) t[r * 4 + q] += x * b[q * kk + p];
            }
        }
        for (int r = 0; r < rows; r++) for (int q = 0; q < 4; q++) c[(i + r) * n + j + q] = t[r * 4 + q];
    }
}
