package dev.panamax.simd;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * C = A·Bᵀ for a few rows of A (a prompt block: m = T tokens) against a weight B stored [n, k]
 * row-major, without packing: every C[i][j] is a dot product of two contiguous rows, so a 4 × 4 tile
 * keeps sixteen vector accumulators and streams four rows of A and four of B along k. B is read from
 * memory once (the tiles of A stay in cache), and nothing is transposed or copied — the packed GEMM
 * ({@link VectorGemm}) spends ~20% of a T = 64 prefill scattering the transposed weights into panels.
 */
final class DotGemm {
    private DotGemm() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    static void multiply(Kernels k, float[] a, MemorySegment b, long bOff, float[] c, int m, int n, int kk) {
        // Columns (weight rows) split over the threads in multiples of 4; each thread sweeps all of A.
        Parallel.forRange(n, 4, (j0, j1) -> {
            int j = j0;
            for (; j + 4 <= j1; j += 4) {
                int i = 0;
                for (; i + 4 <= m; i += 4) tile4x4(a, b, bOff, c, i, j, n, kk);
                for (; i < m; i++) for (int jj = j; jj < j + 4; jj++) c[i * n + jj] = k.dot(b, bOff + 4L * jj * kk, a, i * kk, kk);
            }
            for (; j < j1; j++) for (int i = 0; i < m; i++) c[i * n + j] = k.dot(b, bOff + 4L * j * kk, a, i * kk, kk);
        });
    }

    private static void tile4x4(float[] a, MemorySegment b, long bOff, float[] c, int i, int j, int n, int kk) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00,
                c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int a0 = i * kk, a1 = a0 + kk, a2 = a1 + kk, a3 = a2 + kk;
        long b0 = bOff + 4L * j * kk, rb = 4L * kk;
        int p = 0;
        for (; p + L <= kk; p += L) {
            FloatVector x0 = FloatVector.fromArray(S, a, a0 + p), x1 = FloatVector.fromArray(S, a, a1 + p),
                    x2 = FloatVector.fromArray(S, a, a2 + p), x3 = FloatVector.fromArray(S, a, a3 + p);
            long o = b0 + 4L * p;
            FloatVector w = FloatVector.fromMemorySegment(S, b, o, LE);
            c00 = x0.fma(w, c00); c10 = x1.fma(w, c10); c20 = x2.fma(w, c20); c30 = x3.fma(w, c30);
            w = FloatVector.fromMemorySegment(S, b, o + rb, LE);
            c01 = x0.fma(w, c01); c11 = x1.fma(w, c11); c21 = x2.fma(w, c21); c31 = x3.fma(w, c31);
            w = FloatVector.fromMemorySegment(S, b, o + 2 * rb, LE);
            c02 = x0.fma(w, c02); c12 = x1.fma(w, c12); c22 = x2.fma(w, c22); c32 = x3.fma(w, c32);
            w = FloatVector.fromMemorySegment(S, b, o + 3 * rb, LE);
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
        for (; p < kk; p++) { // the k tail, scalar
            for (int r = 0; r < 4; r++) {
                float x = a[(i + r) * kk + p];
                for (int q = 0; q < 4; q++) t[r * 4 + q] += x * b.get(ScalarKernels.F32_LE, b0 + 4L * p + q * rb);
            }
        }
        for (int r = 0; r < 4; r++) for (int q = 0; q < 4; q++) c[(i + r) * n + j + q] = t[r * 4 + q];
    }
}
