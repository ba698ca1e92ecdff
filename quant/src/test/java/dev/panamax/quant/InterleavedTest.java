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
 * The sixteen-row interleaved layouts ({@link Q8_0x16}, {@link Q4_0x16}) against the file's
 * layout they are made from: every value survives the reordering, the scalar references compute
 * the row-major integer kernels' sums, and both vector shapes equal the references bit for bit.
 */
class InterleavedTest {

    private static final BlockFormat[] FORMATS = {BlockFormat.Q8_0, BlockFormat.Q4_0};

    private static boolean vectorModule() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    /** Random code bytes over their whole range; scales of both signs, one subnormal half and one zero per matrix. */
    private static MemorySegment randomMatrix(SplittableRandom r, BlockFormat f, long off, int rows, int cols) {
        long blocks = (long) rows * cols / 32;
        MemorySegment w = Arena.ofAuto().allocate(off + blocks * f.bytes);
        for (long i = 0; i < w.byteSize(); i++) w.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(256));
        for (long b = 0; b < blocks; b++) {
            w.set(Q8_0Block.F16, off + b * f.bytes, Float.floatToFloat16((float) (r.nextDouble(0.001, 0.1) * (r.nextBoolean() ? 1 : -1))));
        }
        w.set(Q8_0Block.F16, off + (blocks / 3) * f.bytes, (short) 0x8123); // −subnormal
        w.set(Q8_0Block.F16, off + (blocks / 2) * f.bytes, (short) 0);
        return w;
    }

    private static MemorySegment interleaved(BlockFormat f, MemorySegment w, long off, int rows, int cols) {
        MemorySegment p = Arena.ofAuto().allocate((long) rows * cols / 32 * f.bytes, 64);
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
            int rows = 48, cols = 96;
            long off = 7;
            MemorySegment w = randomMatrix(r, f, off, rows, cols), p = interleaved(f, w, off, rows, cols);
            float[] want = new float[cols], got = new float[cols];
            for (int row = 0; row < rows; row++) {
                f.dequantize(w, off + (long) row * cols / 32 * f.bytes, want, 0, cols);
                QuantizedMatvec.dequantizeInterleavedRows(f, p, rows, cols, row, 1, got, 0);
                assertArrayEquals(want, got, f + " row " + row);
            }
        }
    }

    /** The references sum the same integers per block as the file-layout kernels; only the float order across blocks differs. */
    @Test
    void referencesMatchTheRowMajorKernels() {
        SplittableRandom r = new SplittableRandom(5);
        for (BlockFormat f : FORMATS) {
            int rows = 32, cols = 640;
            MemorySegment w = randomMatrix(r, f, 0, rows, cols), p = interleaved(f, w, 0, rows, cols);
            float[] x = activations(r, cols), want = new float[rows], got = new float[rows];
            QuantizedMatvec.matvec(f, w, 0, x, want, rows, cols);
            Q8_KBlock xq = Q8_KBlock.quantize(x, cols, 32);
            if (f == BlockFormat.Q4_0) Q4_0x16.matvecReference(p, 0, xq.q, xq.d, cols, got, 0, rows / 16);
            else Q8_0x16.matvecReference(p, 0, xq.q, xq.d, cols, got, 0, rows / 16);
            for (int i = 0; i < rows; i++) assertEquals(want[i], got[i], 2e-5f * Math.max(1, Math.abs(want[i])), f + " row " + i);
        }
    }

    @Test
    void bothVectorShapesEqualTheReferences() {
        assumeTrue(vectorModule(), "jdk.incubator.vector is not in this JVM");
        SplittableRandom r = new SplittableRandom(9);
        for (BlockFormat f : FORMATS) {
            boolean q4 = f == BlockFormat.Q4_0;
            for (int cols : new int[] {32, 576, 2048}) {
                int rows = 64;
                MemorySegment p = interleaved(f, randomMatrix(r, f, 3, rows, cols), 3, rows, cols);
                float[] x = activations(r, cols);
                Q8_KBlock xq = Q8_KBlock.quantize(x, cols, 32);
                int[] pairs = new int[cols / 2];
                for (int i = 0; i < pairs.length; i++) pairs[i] = (xq.q[2 * i] & 0xffff) | xq.q[2 * i + 1] << 16;
                float[] xs8 = new float[cols / 32];
                for (int b = 0; b < xs8.length; b++) xs8[b] = 8 * (xq.sums[2 * b] + xq.sums[2 * b + 1]);
                float[] want = new float[rows], wide = new float[rows], narrow = new float[rows];
                if (q4) {
                    Q4_0x16.matvecReference(p, 0, xq.q, xq.d, cols, want, 0, rows / 16);
                    VectorInterleaved.q4(p, 0, pairs, xq.d, xs8, cols / 32, wide, 0, rows / 16);
                    VectorInterleaved.q4x256(p, 0, pairs, xq.d, xs8, cols / 32, narrow, 0, rows / 16);
                } else {
                    Q8_0x16.matvecReference(p, 0, xq.q, xq.d, cols, want, 0, rows / 16);
                    VectorInterleaved.q8(p, 0, pairs, xq.d, cols / 32, wide, 0, rows / 16);
                    VectorInterleaved.q8x256(p, 0, pairs, xq.d, cols / 32, narrow, 0, rows / 16);
                }
                assertArrayEquals(want, wide, f + " 512-bit, cols " + cols);
                assertArrayEquals(want, narrow, f + " 256-bit, cols " + cols);
                float[] viaApi = new float[rows];
                QuantizedMatvec.matvecInterleaved(f, p, x, viaApi, rows, cols);
                assertArrayEquals(want, viaApi, f + " through the public entry");
            }
        }
    }

    /** Quads of rows for prompts: both vector shapes equal the references; unaligned requests go row by row. */
    @Test
    void rowsComeOutAsTheFileFormatDefinesThem() {
        assumeTrue(vectorModule(), "jdk.incubator.vector is not in this JVM");
        SplittableRandom r = new SplittableRandom(13);
        for (BlockFormat f : FORMATS) {
            boolean q4 = f == BlockFormat.Q4_0;
            int rows = 48, cols = 160;
            MemorySegment w = randomMatrix(r, f, 0, rows, cols), p = interleaved(f, w, 0, rows, cols);
            float[] want = new float[rows * cols];
            for (int row = 0; row < rows; row++) f.dequantize(w, (long) row * cols / 32 * f.bytes, want, row * cols, cols);
            for (boolean wide : new boolean[] {true, false}) {
                float[] got = new float[rows * cols + 5];
                if (q4) VectorInterleaved.q4Rows(wide, p, 0, cols, 0, rows, got, 5);
                else VectorInterleaved.q8Rows(wide, p, 0, cols, 0, rows, got, 5);
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
            MemorySegment w = randomMatrix(new SplittableRandom(1), f, 0, 16, 64);
            w.set(Q8_0Block.F16, f.bytes, (short) 0x7c00); // +inf in the second block
            assertFalse(QuantizedMatvec.interleave(f, w, 0, 16, 64, Arena.ofAuto().allocate(16L * 2 * f.bytes)));
        }
    }

    @Test
    void shapesThatDoNotInterleaveAreRefused() {
        MemorySegment w = Arena.ofAuto().allocate(24L * 2 * 34);
        assertThrows(IllegalArgumentException.class, () -> QuantizedMatvec.interleave(BlockFormat.Q8_0, w, 0, 24, 64, w));
        assertThrows(IllegalArgumentException.class, () -> QuantizedMatvec.interleave(BlockFormat.Q4_K, w, 0, 16, 256, w));
        assertThrows(IndexOutOfBoundsException.class,
                () -> QuantizedMatvec.interleave(BlockFormat.Q8_0, w, 1000, 16, 64, Arena.ofAuto().allocate(16L * 2 * 34)));
        assertFalse(QuantizedMatvec.interleaves(BlockFormat.Q8_0, 24, 64));
        assertFalse(QuantizedMatvec.interleaves(BlockFormat.Q6_K, 32, 256));
    }
}
