package dev.panamax.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Kernels#matvecBatch} and {@link Kernels#matvec16Batch} (B sequences' decoding step against
 * one matrix): each vector's result bit for bit what {@code matvec} gives it alone, on both paths,
 * across the widths where matvec changes its row loop (below 1024 columns, two rows apart, four
 * rows apart) and with tails shorter than a vector.
 */
class BatchedMatvecTest {

    static Stream<Kernels> paths() {
        List<Kernels> all = new ArrayList<>();
        all.add(Simd.scalar());
        Simd.vector().ifPresent(all::add);
        return all.stream();
    }

    private static final int[] COLS = {40, 301, 1030, 4100};

    private static MemorySegment random(Random r, long bytes) {
        MemorySegment m = Arena.ofAuto().allocate(bytes, 64);
        for (long i = 0; i < bytes; i += 4) m.set(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) r.nextGaussian());
        return m;
    }

    private static MemorySegment halves(Random r, long count, boolean bf16) {
        MemorySegment m = Arena.ofAuto().allocate(2 * count, 64);
        for (long i = 0; i < count; i++) {
            float v = (float) r.nextGaussian();
            m.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2 * i, bf16 ? (short) (Float.floatToRawIntBits(v) >>> 16) : Float.floatToFloat16(v));
        }
        return m;
    }

    private static float[] vectors(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    private static void assertBits(float[] alone, float[] batch, int off, String what) {
        for (int i = 0; i < alone.length; i++) {
            int index = i;
            assertEquals(Float.floatToRawIntBits(alone[i]), Float.floatToRawIntBits(batch[off + i]),
                    () -> what + ", row " + index + ": batched " + batch[off + index] + " against alone " + alone[index]);
        }
    }

    @ParameterizedTest
    @MethodSource("paths")
    void float32RowsEqualTheirMatvec(Kernels k) {
        Random r = new Random(1);
        int rows = 37;
        for (int cols : COLS) {
            MemorySegment w = random(r, 4L * (rows * cols + 3));
            for (int B : new int[] {2, 7}) {
                float[] x = vectors(r, B * cols), out = new float[B * rows];
                k.matvecBatch(w, 12, x, B, out, rows, cols);
                for (int b = 0; b < B; b++) {
                    float[] alone = new float[rows];
                    k.matvec(w, 12, Arrays.copyOfRange(x, b * cols, (b + 1) * cols), alone, rows, cols);
                    assertBits(alone, out, b * rows, k.name() + " F32 [" + rows + ", " + cols + "], B = " + B + ", vector " + b);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("paths")
    void sixteenBitRowsEqualTheirMatvec(Kernels k) {
        Random r = new Random(2);
        int rows = 29;
        for (boolean bf16 : new boolean[] {false, true}) {
            for (int cols : COLS) {
                MemorySegment w = halves(r, (long) rows * cols, bf16);
                int B = 3;
                float[] x = vectors(r, B * cols), out = new float[B * rows];
                k.matvec16Batch(w, 0, bf16, x, B, out, rows, cols);
                for (int b = 0; b < B; b++) {
                    float[] alone = new float[rows];
                    k.matvec16(w, 0, bf16, Arrays.copyOfRange(x, b * cols, (b + 1) * cols), alone, rows, cols);
                    assertBits(alone, out, b * rows, k.name() + (bf16 ? " BF16" : " F16") + " [" + rows + ", " + cols + "], vector " + b);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("paths")
    void shapesAreChecked(Kernels k) {
        MemorySegment w = Arena.ofAuto().allocate(4L * 4 * 8);
        assertThrows(IllegalArgumentException.class, () -> k.matvecBatch(w, 0, new float[15], 2, new float[8], 4, 8));
        assertThrows(IllegalArgumentException.class, () -> k.matvecBatch(w, 0, new float[16], 2, new float[7], 4, 8));
        assertThrows(IllegalArgumentException.class, () -> k.matvecBatch(w, 4, new float[16], 2, new float[8], 4, 8));
    }
}
