package dev.panamax.proptest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.panamax.simd.Kernels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** matvec and both matmuls against the scalar twin and a float64 reference, element by element. */
class MatrixProperties {

    private static final Integer[] EDGES = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 24, 25, 47, 48, 49, 95, 96, 97};

    static Arbitrary<Integer> dim(int max) {
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(1, Arbitraries.of(EDGES)),
                net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(0, max)));
    }

    record Gemm(int m, int n, int k, float[] a, float[] b) {
        @Override
        public String toString() {
            return "Gemm[m=" + m + ", n=" + n + ", k=" + k + ", a=" + Gen.show(a) + ", b=" + Gen.show(b) + "]";
        }
    }

    @Provide
    Arbitrary<Gemm> smallShapes() {
        return Combinators.combine(dim(70), dim(110), dim(80))
                .flatAs((m, n, k) -> Combinators.combine(Gen.floats(m * k), Gen.floats(k * n)).as((a, b) -> new Gemm(m, n, k, a, b)));
    }

    /** Shapes that cross the cache blocks (KC = 512 on the k axis) and split over threads both ways. */
    @Provide
    Arbitrary<Gemm> blockCrossingShapes() {
        return Combinators.combine(Arbitraries.integers().between(1, 160), Arbitraries.integers().between(1, 200),
                        Arbitraries.integers().between(500, 1100))
                .flatAs((m, n, k) -> Combinators.combine(Gen.floats(m * k), Gen.floats(k * n)).as((a, b) -> new Gemm(m, n, k, a, b)));
    }

    /** B as [k, n] transposed to [n, k]. */
    static float[] transpose(float[] b, int k, int n) {
        float[] t = new float[b.length];
        for (int p = 0; p < k; p++)
            for (int j = 0; j < n; j++) t[j * k + p] = b[p * n + j];
        return t;
    }

    static void checkAgainstReference(Gemm g, float[] c, String what) {
        int m = g.m(), n = g.n(), k = g.k();
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double exact = 0, abs = 0;
                for (int p = 0; p < k; p++) {
                    double prod = (double) g.a()[i * k + p] * g.b()[p * n + j];
                    exact += prod;
                    abs += Math.abs(prod);
                }
                double bound = Level1Properties.dotBound(k, abs);
                assertThat(Math.abs(c[i * n + j] - exact)).as("%s C[%d,%d]", what, i, j).isLessThanOrEqualTo(bound);
            }
        }
    }

    private static void checkBoth(Gemm g) {
        int m = g.m(), n = g.n(), k = g.k();
        Kernels kern = Paths.active();
        float[] c = new float[m * n];
        java.util.Arrays.fill(c, Float.NaN); // C is overwritten, whatever it held
        kern.matmul(g.a(), g.b(), c, m, n, k);
        checkAgainstReference(g, c, "A·B");

        float[] bt = transpose(g.b(), k, n);
        java.util.Arrays.fill(c, Float.NaN);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment seg = arena.allocate(Math.max(4L, 4L * bt.length + 8));
            MemorySegment.copy(bt, 0, seg, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8, bt.length);
            kern.matmulTransposedB(g.a(), seg, 8, c, m, n, k);
        }
        checkAgainstReference(g, c, "A·Bᵀ");

        // B's rows produced on demand (as a quantized weight's are), counted to show each is made once.
        int[] made = new int[n];
        java.util.Arrays.fill(c, Float.NaN);
        kern.matmulTransposedB(g.a(), (row, count, dst, dOff) -> {
            for (int r = row; r < row + count; r++) {
                synchronized (made) { made[r]++; }
                System.arraycopy(bt, r * k, dst, dOff + (r - row) * k, k);
            }
        }, c, m, n, k);
        checkAgainstReference(g, c, "A·Bᵀ from rows");
        for (int r = 0; r < n; r++) assertThat(made[r]).as("row %d produced", r).isEqualTo(1);

        float[] twin = new float[m * n];
        Paths.scalar().matmul(g.a(), g.b(), twin, m, n, k);
        for (int i = 0; i < m * n; i++) {
            double abs = 0;
            for (int p = 0; p < k; p++) abs += Math.abs((double) g.a()[(i / n) * k + p] * g.b()[p * n + i % n]);
            assertThat(Math.abs((double) c[i] - twin[i])).as("vs scalar twin, C[%d]", i)
                    .isLessThanOrEqualTo(2 * Level1Properties.dotBound(k, abs));
        }
    }

    @Property(tries = 300)
    void matmulMatchesFloat64AndScalarTwin(@ForAll("smallShapes") Gemm g) {
        checkBoth(g);
    }

    @Property(tries = 12)
    void matmulAcrossCacheBlocks(@ForAll("blockCrossingShapes") Gemm g) {
        checkBoth(g);
    }

    /** More than 512 rows of A: C = A·Bᵀ takes the packed GEMM (fewer rows take the unpacked dot-product tiles). */
    @Provide
    Arbitrary<Gemm> manyRows() {
        return Combinators.combine(Arbitraries.integers().between(513, 600), Arbitraries.integers().between(1, 60), Arbitraries.integers().between(1, 90))
                .flatAs((m, n, k) -> Combinators.combine(Gen.floats(m * k), Gen.floats(k * n)).as((a, b) -> new Gemm(m, n, k, a, b)));
    }

    @Property(tries = 8)
    void matmulWithManyRows(@ForAll("manyRows") Gemm g) {
        checkBoth(g);
    }

    /** Rows of 4096 values and more: the vector path's eight-rows-at-a-time kernel (shorter rows go one by one). */
    @Provide
    Arbitrary<Gemm> wideRows() {
        return Combinators.combine(Arbitraries.integers().between(1, 21), Arbitraries.integers().between(4096, 4250))
                .flatAs((m, k) -> Combinators.combine(Gen.floats(m * k), Gen.floats(k)).as((a, b) -> new Gemm(m, 1, k, a, b)));
    }

    @Property(tries = 25)
    void matvecOfWideRowsMatchesFloat64AndScalarTwin(@ForAll("wideRows") Gemm g) {
        matvecMatchesFloat64AndScalarTwin(g);
    }

    @Property(tries = 300)
    void matvecMatchesFloat64AndScalarTwin(@ForAll("smallShapes") Gemm g) {
        // Use A [m, k] as the matrix and the first column of B (length k) as the vector.
        int rows = g.m(), cols = g.k();
        float[] x = new float[cols];
        for (int p = 0; p < cols; p++) x[p] = g.n() == 0 ? 1f : g.b()[p * g.n()];
        float[] out = new float[rows], twin = new float[rows];
        try (Arena arena = Arena.ofShared()) {
            MemorySegment w = arena.allocate(Math.max(4L, 4L * rows * cols));
            MemorySegment.copy(g.a(), 0, w, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, rows * cols);
            Paths.active().matvec(w, 0, x, out, rows, cols);
            Paths.scalar().matvec(w, 0, x, twin, rows, cols);
        }
        for (int r = 0; r < rows; r++) {
            double exact = 0, abs = 0;
            for (int p = 0; p < cols; p++) {
                double prod = (double) g.a()[r * cols + p] * x[p];
                exact += prod;
                abs += Math.abs(prod);
            }
            double bound = Level1Properties.dotBound(cols, abs);
            assertThat(Math.abs(out[r] - exact)).as("row %d vs float64", r).isLessThanOrEqualTo(bound);
            assertThat(Math.abs((double) out[r] - twin[r])).as("row %d vs scalar twin", r).isLessThanOrEqualTo(2 * bound);
        }
    }

    @Property(tries = 100)
    void matvec16OfSmallShapesMatchesFloat64AndScalarTwin(@ForAll("smallShapes") Gemm g, @ForAll boolean bf16) {
        matvec16Matches(g, bf16);
    }

    @Property(tries = 25)
    void matvec16OfWideRowsMatchesFloat64AndScalarTwin(@ForAll("wideRows") Gemm g, @ForAll boolean bf16) {
        matvec16Matches(g, bf16);
    }

    /** Half-float or bfloat16 weights (A narrowed), against the widened weights in float64 and the scalar twin. */
    private static void matvec16Matches(Gemm g, boolean bf16) {
        int rows = g.m(), cols = g.k();
        float[] x = new float[cols];
        for (int p = 0; p < cols; p++) x[p] = g.n() == 0 ? 1f : g.b()[p * g.n()];
        float[] out = new float[rows], twin = new float[rows], widened = new float[rows * cols];
        ValueLayout.OfShort le = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment w = arena.allocate(Math.max(2L, 2L * rows * cols));
            for (int i = 0; i < rows * cols; i++) {
                short h = bf16 ? (short) (Float.floatToRawIntBits(g.a()[i]) >>> 16) : Float.floatToFloat16(g.a()[i]);
                w.setAtIndex(le, i, h);
                widened[i] = bf16 ? Float.intBitsToFloat(h << 16) : Float.float16ToFloat(h);
            }
            Paths.active().matvec16(w, 0, bf16, x, out, rows, cols);
            Paths.scalar().matvec16(w, 0, bf16, x, twin, rows, cols);
        }
        for (int r = 0; r < rows; r++) {
            double exact = 0, abs = 0;
            for (int p = 0; p < cols; p++) {
                double prod = (double) widened[r * cols + p] * x[p];
                exact += prod;
                abs += Math.abs(prod);
            }
            double bound = Level1Properties.dotBound(cols, abs);
            assertThat(Math.abs(out[r] - exact)).as("row %d vs float64", r).isLessThanOrEqualTo(bound);
            assertThat(Math.abs((double) out[r] - twin[r])).as("row %d vs scalar twin", r).isLessThanOrEqualTo(2 * bound);
        }
    }

    record Tile(int m, int n, int len, int aStride, int bStride, long seed) {}

    @Provide
    Arbitrary<Tile> tiles() {
        return Combinators.combine(Arbitraries.integers().between(0, 13), Arbitraries.integers().between(0, 13), Arbitraries.integers().between(0, 70),
                        Arbitraries.integers().between(0, 9), Arbitraries.integers().between(0, 9), Arbitraries.longs())
                .as((m, n, len, ea, eb, seed) -> new Tile(m, n, len, len + ea, len + eb, seed));
    }

    /** Score tiles (every row of a against every row of b, strided): float64 and the scalar twin. */
    @Property(tries = 300)
    void dotTileMatchesFloat64AndScalarTwin(@ForAll("tiles") Tile t) {
        java.util.Random r = new java.util.Random(t.seed());
        int aOff = 3, bOff = 5, cStride = t.n() + 2;
        float[] a = new float[aOff + t.m() * t.aStride() + t.len()], b = new float[bOff + t.n() * t.bStride() + t.len()];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
        for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian();
        float[] c = new float[1 + t.m() * cStride], twin = new float[c.length];
        Paths.active().dotTile(a, aOff, t.aStride(), t.m(), b, bOff, t.bStride(), t.n(), t.len(), c, 1, cStride);
        Paths.scalar().dotTile(a, aOff, t.aStride(), t.m(), b, bOff, t.bStride(), t.n(), t.len(), twin, 1, cStride);
        for (int i = 0; i < t.m(); i++) {
            for (int j = 0; j < t.n(); j++) {
                double exact = 0, abs = 0;
                for (int p = 0; p < t.len(); p++) {
                    double prod = (double) a[aOff + i * t.aStride() + p] * b[bOff + j * t.bStride() + p];
                    exact += prod;
                    abs += Math.abs(prod);
                }
                double bound = Level1Properties.dotBound(t.len(), abs);
                float got = c[1 + i * cStride + j];
                assertThat(Math.abs(got - exact)).as("c[%d][%d] vs float64", i, j).isLessThanOrEqualTo(bound);
                assertThat(Math.abs((double) got - twin[1 + i * cStride + j])).as("c[%d][%d] vs scalar twin", i, j).isLessThanOrEqualTo(2 * bound);
            }
        }
    }

    /** Weights × values for a tile of rows (c += p·b, strided): float64 and the scalar twin. */
    @Property(tries = 300)
    void mulAddTileMatchesFloat64AndScalarTwin(@ForAll("tiles") Tile t) {
        java.util.Random r = new java.util.Random(t.seed());
        int m = t.m(), n = t.n(), len = t.len(), pStride = n + 1, bStride = t.bStride(), cStride = len + 3;
        float[] p = new float[2 + m * pStride], b = new float[4 + n * bStride + len], c0 = new float[1 + m * cStride];
        for (int i = 0; i < p.length; i++) p[i] = (float) r.nextGaussian();
        for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian();
        for (int i = 0; i < c0.length; i++) c0[i] = (float) r.nextGaussian();
        float[] c = c0.clone(), twin = c0.clone();
        Paths.active().mulAddTile(p, 2, pStride, m, b, 4, bStride, n, len, c, 1, cStride);
        Paths.scalar().mulAddTile(p, 2, pStride, m, b, 4, bStride, n, len, twin, 1, cStride);
        for (int i = 0; i < m; i++) {
            for (int d = 0; d < len; d++) {
                double exact = c0[1 + i * cStride + d], abs = Math.abs(exact);
                for (int j = 0; j < n; j++) {
                    double prod = (double) p[2 + i * pStride + j] * b[4 + j * bStride + d];
                    exact += prod;
                    abs += Math.abs(prod);
                }
                double bound = Level1Properties.dotBound(n + 1, abs);
                float got = c[1 + i * cStride + d];
                assertThat(Math.abs(got - exact)).as("c[%d][%d] vs float64", i, d).isLessThanOrEqualTo(bound);
                assertThat(Math.abs((double) got - twin[1 + i * cStride + d])).as("c[%d][%d] vs scalar twin", i, d).isLessThanOrEqualTo(2 * bound);
            }
        }
        for (int i = 0; i < m; i++) for (int d = len; d < cStride && 1 + i * cStride + d < c.length; d++) {
            assertThat(c[1 + i * cStride + d]).as("outside the tile untouched").isEqualTo(c0[1 + i * cStride + d]);
        }
    }
}
