package dev.panamax.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panamax.simd.Kernels;
import dev.panamax.simd.Simd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** {@link Tensor#rows}: a view of whole rows, in float and block formats alike. */
class TensorRowsTest {
    final Kernels k = Simd.kernels();

    @Test
    void rowViewsReadTheSameValuesAsTheWholeMatrix() {
        int rows = 6, cols = 64;
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) Math.sin(i * 0.37) * 3;
        for (DType type : new DType[] {DType.F32, DType.F16, DType.Q8_0, DType.Q4_0}) {
            MemorySegment seg = Arena.ofAuto().allocate(type.bytesFor(w.length), 16);
            if (type == DType.F32) MemorySegment.copy(w, 0, seg, java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 0, w.length);
            else if (type == DType.F16) k.f32ToF16(w, 0, seg, 0, w.length);
            else type.format.quantize(w, 0, w.length, seg, 0);
            Tensor t = new Tensor("w", type, new long[] {rows, cols}, seg);
            float[] all = t.toFloats(k);
            Tensor mid = t.rows(2, 3);
            assertEquals(3, mid.rows());
            assertEquals(cols, mid.cols());
            assertArrayEquals(Arrays.copyOfRange(all, 2 * cols, 5 * cols), mid.toFloats(k), type.toString());
            assertThrows(IllegalArgumentException.class, () -> t.rows(4, 3));
            assertThrows(IllegalArgumentException.class, () -> t.rows(-1, 1));
        }
    }
}
