package dev.panamax.simd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Known values for every kernel, on both paths. (Agreement over random inputs is the job of the
 * jqwik properties in proptest/; these pin the contract to numbers worked out by hand.)
 */
class KernelsTest {

    static Stream<Kernels> paths() {
        List<Kernels> all = new ArrayList<>();
        all.add(Simd.scalar());
        Simd.vector().ifPresent(all::add);
        return all.stream();
    }

    private static float[] range(int n, float start, float step) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = start + i * step;
        return x;
    }

    @ParameterizedTest
    @MethodSource("paths")
    void dotOfIntegersIsExact(Kernels k) {
        float[] a = range(100, 1, 1), b = range(100, 1, 0); // 1..100 · 1
        assertEquals(5050f, k.dot(a, 0, b, 0, 100));
        assertEquals(5050f - 1 - 2, k.dot(a, 2, b, 2, 98));
        assertEquals(0f, k.dot(a, 0, b, 0, 0));
        MemorySegment w = MemorySegment.ofArray(a);
        assertEquals(5050f, k.dot(w, 0, b, 0, 100));
        assertEquals(100f, k.dot(w, 4 * 99, b, 0, 1));
    }

    @ParameterizedTest
    @MethodSource("paths")
    void matvecOfAKnownMatrix(Kernels k) {
        // W = [[1 2 3], [4 5 6]], x = [1 0 -1]  →  [-2, -2]
        float[] w = {1, 2, 3, 4, 5, 6}, x = {1, 0, -1}, out = new float[2];
        k.matvec(w, x, out, 2, 3);
        assertArrayEquals(new float[] {-2, -2}, out);
    }

    @ParameterizedTest
    @MethodSource("paths")
    void matvecReadsALittleEndianMappedStyleSegmentAtAnOffset(Kernels k) {
        try (Arena arena = Arena.ofShared()) { // pool threads read it
            int rows = 37, cols = 53;
            MemorySegment seg = arena.allocate(8 + 4L * rows * cols);
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) seg.set(ScalarKernels.F32_LE, 8 + 4L * (r * cols + c), r == c ? 2f : 0f);
            float[] x = range(cols, 0, 1), out = new float[rows];
            k.matvec(seg, 8, x, out, rows, cols);
            for (int r = 0; r < rows; r++) assertEquals(2f * r, out[r]);
            assertThrows(IllegalArgumentException.class, () -> k.matvec(seg, 12, x, out, rows, cols));
        }
    }

    @ParameterizedTest
    @MethodSource("paths")
    void matmulOfKnownMatrices(Kernels k) {
        // A = [[1 2 3], [4 5 6]] (2×3), B = [[7 8], [9 10], [11 12]] (3×2)  →  [[58 64], [139 154]]
        float[] a = {1, 2, 3, 4, 5, 6}, b = {7, 8, 9, 10, 11, 12}, c = new float[4];
        k.matmul(a, b, c, 2, 2, 3);
        assertArrayEquals(new float[] {58, 64, 139, 154}, c);
        float[] bt = {7, 9, 11, 8, 10, 12}; // the same B stored as [n, k]
        java.util.Arrays.fill(c, -1);
        k.matmulTransposedB(a, bt, c, 2, 2, 3);
        assertArrayEquals(new float[] {58, 64, 139, 154}, c);
    }

    @ParameterizedTest
    @MethodSource("paths")
    void matmulAcrossEveryBlockBoundary(Kernels k) {
        // m, n, k cross MR, NR, KC (256) and NC (3072): every edge of the blocking, both thread splits;
        // m from 32 crosses the broadcast tiles' 64-token panels (full, 49–64, 33–48, 17–32, 1–16 wide) and n their 4 rows.
        int[][] shapes = {{9, 3100, 300}, {131, 50, 257}, {1, 1, 1}, {17, 49, 3}, {100, 13, 70}, {40, 5, 9}, {64, 8, 33}, {90, 6, 11}, {32, 4, 16}};
        Random rnd = new Random(7);
        for (int[] s : shapes) {
            int m = s[0], n = s[1], kk = s[2];
            float[] a = new float[m * kk], b = new float[kk * n], bt = new float[n * kk];
            // Small integers: every product and sum is exact, so all paths must agree exactly.
            for (int i = 0; i < a.length; i++) a[i] = rnd.nextInt(7) - 3;
            for (int p = 0; p < kk; p++)
                for (int j = 0; j < n; j++) bt[j * kk + p] = b[p * n + j] = rnd.nextInt(5) - 2;
            float[] want = new float[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    for (int p = 0; p < kk; p++) sum += a[i * kk + p] * b[p * n + j];
                    want[i * n + j] = (float) sum;
                }
            float[] c = new float[m * n];
            k.matmul(a, b, c, m, n, kk);
            assertArrayEquals(want, c, "matmul " + m + "x" + n + "x" + kk);
            java.util.Arrays.fill(c, Float.NaN);
            k.matmulTransposedB(a, bt, c, m, n, kk);
            assertArrayEquals(want, c, "matmulTransposedB " + m + "x" + n + "x" + kk);
        }
    }

    @ParameterizedTest
    @MethodSource("paths")
    void softmaxOfKnownValues(Kernels k) {
        float[] x = {1, 2, 3};
        k.softmax(x, 0, 3);
        assertArrayEquals(new float[] {0.09003057f, 0.24472847f, 0.66524096f}, x, 2e-7f);
        float[] big = range(40, 1000, 1); // would overflow exp without the max subtracted
        k.softmax(big, 0, 40);
        assertEquals(1 - Math.exp(-1), big[39], 1e-6);
    }

    @ParameterizedTest
    @MethodSource("paths")
    void rmsnormAndLayernormOfKnownValues(Kernels k) {
        float[] x = {3, 4}, w = {1, 2}, out = new float[2];
        k.rmsnorm(out, 0, x, 0, w, 2, 0f); // rms = sqrt(12.5)
        assertArrayEquals(new float[] {(float) (3 / Math.sqrt(12.5)), (float) (8 / Math.sqrt(12.5))}, out, 1e-6f);
        float[] y = {1, 2, 3, 4}, g = {1, 1, 1, 2}, b = {0, 0, 0, 1}, o = new float[4];
        k.layernorm(o, 0, y, 0, g, b, 4, 0f); // mean 2.5, var 1.25
        double s = Math.sqrt(1.25);
        assertArrayEquals(new float[] {(float) (-1.5 / s), (float) (-0.5 / s), (float) (0.5 / s), (float) (2 * 1.5 / s + 1)}, o, 1e-6f);
    }

    @ParameterizedTest
    @MethodSource("paths")
    void ropeRotatesEachPairByItsAngle(Kernels k) {
        // Two heads of 4, rotary over all 4: pair 0 by 90°, pair 1 by 180°.
        float[] cos = {0, -1}, sin = {1, 0};
        float[] inter = {1, 2, 3, 4, 5, 6, 7, 8};
        k.rope(inter, 0, 2, 4, 4, cos, sin, true); // pairs (x0,x1), (x2,x3)
        assertArrayEquals(new float[] {-2, 1, -3, -4, -6, 5, -7, -8}, inter);
        float[] half = {1, 2, 3, 4, 5, 6, 7, 8};
        k.rope(half, 0, 2, 4, 4, cos, sin, false); // pairs (x0,x2), (x1,x3)
        assertArrayEquals(new float[] {-3, -2, 1, -4, -7, -6, 5, -8}, half);
        float[] partial = {1, 2, 3, 4};
        k.rope(partial, 0, 1, 4, 2, cos, sin, false); // only (x0,x1) rotates
        assertArrayEquals(new float[] {-2, 1, 3, 4}, partial);
    }

    @ParameterizedTest
    @MethodSource("paths")
    void activationsOfKnownValues(Kernels k) {
        float[] xs = {-3, -1, 0, 0.5f, 1, 2, 3, 4, -2, 5, 6, 7, 8, 9, 10, 11, 12, 13};
        float[] s = xs.clone(), ge = xs.clone(), gt = xs.clone(), r = xs.clone();
        k.silu(s, 0, s.length);
        k.geluErf(ge, 0, ge.length);
        k.geluTanh(gt, 0, gt.length);
        k.reluSquared(r, 0, r.length);
        assertEquals(0.7310586f, s[4], 1e-6f);     // 1·σ(1)
        assertEquals(-0.14227763f, s[0], 1e-6f);   // −3·σ(−3)
        assertEquals(0.8413447f, ge[4], 1e-6f);    // Φ(1)
        assertEquals(-0.0040496597f, ge[0], 1e-6f);
        assertEquals(0.8411920f, gt[4], 1e-6f);
        assertEquals(-0.0036373f, gt[0], 1e-6f);
        assertEquals(0f, r[1]);
        assertEquals(16f, r[7]);
        assertEquals(0f, s[2]);
    }

    @ParameterizedTest
    @MethodSource("paths")
    void argmaxSkipsNaNAndTakesTheFirstMaximum(Kernels k) {
        float[] x = range(40, 0, 0);
        x[3] = 5;
        x[30] = 5;
        x[10] = Float.NaN;
        assertEquals(3, k.argmax(x, 0, 40));
        assertEquals(26, k.argmax(x, 4, 36)); // x[30], counted from offset 4
        float[] nan = {Float.NaN, Float.NaN};
        assertEquals(0, k.argmax(nan, 0, 2));
        assertEquals(-1, k.argmax(nan, 0, 0));
        assertEquals(1, k.argmax(new float[] {Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY}, 0, 2));
    }

    @ParameterizedTest
    @MethodSource("paths")
    void halfFloatsOfKnownBitPatterns(Kernels k) {
        short[] bits = {0x3c00, (short) 0xc000, 0x7bff, 0x0001, 0x0400, 0x7c00, (short) 0xfc00, 0x0000, (short) 0x8000, 0x3555,
                0x3c00, 0x3c00, 0x3c00, 0x3c00, 0x3c00, 0x3c00, 0x3c01};
        float[] want = {1f, -2f, 65504f, 0x1p-24f, 0x1p-14f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 0.33325195f,
                1, 1, 1, 1, 1, 1, 1.0009766f};
        MemorySegment seg = MemorySegment.ofArray(new byte[2 * bits.length]);
        for (int i = 0; i < bits.length; i++) seg.set(ScalarKernels.I16_LE, 2L * i, bits[i]);
        float[] got = new float[bits.length];
        k.f16ToF32(seg, 0, got, 0, bits.length);
        assertArrayEquals(want, got);
        MemorySegment back = MemorySegment.ofArray(new byte[2 * bits.length]);
        k.f32ToF16(got, 0, back, 0, bits.length);
        assertArrayEquals(seg.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), back.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        // Rounding: 65520 is halfway between 65504 and 65536 (infinity) and rounds to even: infinity.
        float[] r = {65520f, 65519f, 1.00048828125f, 1.00146484375f, Float.NaN, 1e-8f, 3e-8f, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        MemorySegment out = MemorySegment.ofArray(new byte[2 * r.length]);
        k.f32ToF16(r, 0, out, 0, r.length);
        assertEquals((short) 0x7c00, out.get(ScalarKernels.I16_LE, 0));
        assertEquals((short) 0x7bff, out.get(ScalarKernels.I16_LE, 2));
        assertEquals((short) 0x3c00, out.get(ScalarKernels.I16_LE, 4));  // tie → even
        assertEquals((short) 0x3c02, out.get(ScalarKernels.I16_LE, 6));  // tie → even (up)
        assertTrue(Float.isNaN(Float.float16ToFloat(out.get(ScalarKernels.I16_LE, 8))));
        assertEquals((short) 0x0000, out.get(ScalarKernels.I16_LE, 10)); // below half the smallest subnormal
        assertEquals((short) 0x0001, out.get(ScalarKernels.I16_LE, 12));
    }

    @ParameterizedTest
    @MethodSource("paths")
    void bfloat16RoundsToNearestEven(Kernels k) {
        float[] x = new float[20];
        x[0] = 1f;
        x[1] = Float.intBitsToFloat(0x3f808000); // exactly halfway: stays 0x3f80 (even)
        x[2] = Float.intBitsToFloat(0x3f818000); // halfway: rounds up to 0x3f82
        x[3] = Float.intBitsToFloat(0x3f808001); // above halfway: 0x3f81
        x[4] = Float.NaN;
        x[5] = -2.5f;
        MemorySegment seg = MemorySegment.ofArray(new byte[40]);
        k.f32ToBf16(x, 0, seg, 0, 20);
        assertEquals((short) 0x3f80, seg.get(ScalarKernels.I16_LE, 0));
        assertEquals((short) 0x3f80, seg.get(ScalarKernels.I16_LE, 2));
        assertEquals((short) 0x3f82, seg.get(ScalarKernels.I16_LE, 4));
        assertEquals((short) 0x3f81, seg.get(ScalarKernels.I16_LE, 6));
        float[] back = new float[20];
        k.bf16ToF32(seg, 0, back, 0, 20);
        assertTrue(Float.isNaN(back[4]));
        assertEquals(-2.5f, back[5]);
        assertEquals(Float.intBitsToFloat(0x3f820000), back[2]);
    }

    @ParameterizedTest
    @MethodSource("paths")
    void elementwiseHelpers(Kernels k) {
        float[] a = range(21, 1, 1), b = range(21, 2, 0), out = new float[21];
        k.add(a, 0, b, 0, out, 0, 21);
        assertEquals(23f, out[20]);
        k.mul(a, 0, b, 0, out, 0, 21);
        assertEquals(42f, out[20]);
        k.axpy(0.5f, a, 0, out, 0, 21); // out += a/2
        assertEquals(52.5f, out[20]);
        k.scale(out, 0, 21, 2f);
        assertEquals(105f, out[20]);
    }
}
