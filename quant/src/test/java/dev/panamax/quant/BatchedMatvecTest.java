package dev.panamax.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The batched decoding step's products (a server's B sequences per step): each vector's result bit
 * for bit the single-vector product's, for every block format in the file's layout and every
 * interleaved layout — the kernel half of batch invariance.
 */
class BatchedMatvecTest {

    private static float[] gaussian(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 2 - 1) * (i % 7 == 0 ? 4 : 1);
        return x;
    }

    /** A [rows, cols] matrix of {@code f}: quantized from random floats where Panamax writes the format, random (finite) bytes otherwise. */
    private static MemorySegment matrix(SplittableRandom r, BlockFormat f, int rows, int cols) {
        MemorySegment w = Arena.ofAuto().allocate((long) rows * cols / f.size * f.bytes, 64);
        if (f.canQuantize()) {
            for (int row = 0; row < rows; row++) f.quantize(gaussian(r, cols), 0, cols, w, (long) row * cols / f.size * f.bytes);
        } else {
            // Bytes below 0x40: any half-float scale among them is finite (exponent at most 15), so no NaN hides a difference.
            for (long i = 0; i < w.byteSize(); i++) w.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(0x40));
        }
        return w;
    }

    private static void assertBits(float[] want, float[] got, int gotOff, String what) {
        for (int i = 0; i < want.length; i++) {
            int index = i;
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[gotOff + i]),
                    () -> what + ", row " + index + ": batched " + got[gotOff + index] + " against alone " + want[index]);
        }
    }

    @ParameterizedTest
    @EnumSource(BlockFormat.class)
    void everyFileFormatBatchesBitForBit(BlockFormat f) {
        SplittableRandom r = new SplittableRandom(f.ordinal());
        int rows = 45, cols = 2 * Math.max(f.size, 256);
        MemorySegment w = matrix(r, f, rows, cols);
        for (int B : new int[] {2, 5}) {
            float[] x = gaussian(r, B * cols), out = new float[B * rows];
            QuantizedMatvec.matvecBatch(f, w, 0, x, B, out, rows, cols);
            for (int b = 0; b < B; b++) {
                float[] alone = new float[rows];
                QuantizedMatvec.matvec(f, w, 0, Arrays.copyOfRange(x, b * cols, (b + 1) * cols), alone, rows, cols);
                assertBits(alone, out, b * rows, f + ", B = " + B + ", vector " + b);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = BlockFormat.class, names = {"Q8_0", "Q4_0", "Q4_K", "Q6_K", "Q5_0", "IQ4_NL"})
    void everyInterleavedLayoutBatchesBitForBit(BlockFormat f) {
        assumeTrue(QuantizedMatvec.interleaves(f, 64, 512), "the interleaved kernels do not run in this JVM (no Vector API)");
        VectorQuantDot.batchCalls = Math.max(VectorQuantDot.batchCalls, VectorQuantDot.BATCH_AFTER); // Q4_K, Q6_K: the batched kernels, as past a process's first tokens
        SplittableRandom r = new SplittableRandom(100 + f.ordinal());
        BlockFormat as = QuantizedMatvec.interleavedAs(f);
        int cols = 512;
        int[] rows = {130, 64, 37}; // whole groups, a padded last group, fewer rows than a Q4_0 group
        MemorySegment[] ws = new MemorySegment[rows.length];
        for (int i = 0; i < rows.length; i++) {
            MemorySegment file = matrix(r, f, rows[i], cols);
            ws[i] = Arena.ofAuto().allocate(QuantizedMatvec.interleavedBytes(as, rows[i], cols), 64);
            assumeTrue(QuantizedMatvec.interleave(f, file, 0, rows[i], cols, ws[i]));
        }
        for (int B : new int[] {2, 3, 8, 13, 16}) { // Q8_0: quads, octets, an octet with a quad and a short quad
            float[] x = gaussian(r, B * cols);
            float[][] outs = new float[rows.length][];
            for (int i = 0; i < rows.length; i++) outs[i] = new float[B * rows[i]];
            QuantizedMatvec.matvecInterleavedBatch(f, ws, rows, cols, x, B, outs);
            for (int b = 0; b < B; b++) {
                float[] xb = Arrays.copyOfRange(x, b * cols, (b + 1) * cols);
                for (int i = 0; i < rows.length; i++) {
                    float[] alone = new float[rows[i]];
                    QuantizedMatvec.matvecInterleaved(f, ws[i], xb, alone, rows[i], cols);
                    assertBits(alone, outs[i], b * rows[i], f + " interleaved, B = " + B + ", matrix " + i + ", vector " + b);
                }
            }
        }
    }

    @Test
    void shapesAreChecked() {
        MemorySegment w = Arena.ofAuto().allocate(4L * 34, 64);
        assertThrows(IllegalArgumentException.class, () -> QuantizedMatvec.matvecBatch(BlockFormat.Q8_0, w, 0, new float[32], 2, new float[8], 4, 32));
        assertThrows(IllegalArgumentException.class, () -> QuantizedMatvec.matvecBatch(BlockFormat.Q8_0, w, 0, new float[64], 2, new float[7], 4, 32));
    }
}
