package dev.panamax.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.panamax.quant.BlockFormat;
import dev.panamax.quant.DecodeLayout;
import dev.panamax.quant.QuantizedMatvec;
import dev.panamax.simd.Kernels;
import dev.panamax.simd.Simd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** {@link Tensor#interleaved}: the CPU's decode layout of Q8_0, Q4_0, Q4_K and Q6_K matrices reads, multiplies and slices as the file's layout does. */
class TensorInterleavedTest {
    final Kernels k = Simd.kernels();

    private static Tensor quantized(DType type, int rows, int cols) {
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) Math.sin(i * 0.37) * 3;
        MemorySegment seg = Arena.ofAuto().allocate(type.bytesFor(w.length), 16);
        type.format.quantize(w, 0, w.length, seg, 0);
        return new Tensor("w", type, new long[] {rows, cols}, seg);
    }

    /** Rows not in sixteens: padded in memory, invisible in reads and products; no views of them. */
    @Test
    void aPaddedMatrixReadsAndMultipliesItsOwnRows() {
        assumeTrue(QuantizedMatvec.interleaves(BlockFormat.Q8_0, 16, 32), "no interleaved layout on this JVM (scalar kernels)");
        Tensor t = quantized(DType.Q8_0, 21, 64), x16 = t.interleaved(Arena.ofAuto());
        assertEquals(DecodeLayout.Q8_0x16, x16.layout());
        assertEquals(DType.Q8_0, x16.type(), "the block format stays the file's");
        assertArrayEquals(t.toFloats(k), x16.toFloats(k), 0f);
        float[] x = new float[64], a = new float[21], b = new float[21];
        for (int i = 0; i < 64; i++) x[i] = i % 7 - 3;
        t.matvec(k, x, a);
        x16.matvec(k, x, b);
        for (int i = 0; i < 21; i++) assertEquals(a[i], b[i], 1e-5f * Math.max(1, Math.abs(a[i])));
        float[] ma = new float[3 * 21], mb = new float[3 * 21], in = new float[3 * 64];
        for (int i = 0; i < in.length; i++) in[i] = (float) Math.sin(i);
        t.matmul(k, in, 3, ma);
        x16.matmul(k, in, 3, mb);
        assertArrayEquals(ma, mb, 0f);
        assertThrows(IllegalArgumentException.class, () -> x16.rows(0, 16));
    }

    @Test
    void interleavedMatricesActAsTheFileLayout() {
        assumeTrue(QuantizedMatvec.interleaves(BlockFormat.Q8_0, 16, 32), "no interleaved layout on this JVM (scalar kernels)");
        int rows = 128, T = 5;
        for (DType type : new DType[] {DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K}) {
            int group = QuantizedMatvec.interleavedGroupRows(type.format);
            int cols = type.blockSize == 256 ? 512 : 96;
            Tensor t = quantized(type, rows, cols), x16 = t.interleaved(Arena.ofAuto());
            assertEquals(switch (type) {
                case Q8_0 -> DecodeLayout.Q8_0x16;
                case Q4_0 -> DecodeLayout.Q4_0x64;
                case Q4_K -> DecodeLayout.Q4_Kx16;
                default -> DecodeLayout.Q6_Kx16;
            }, x16.layout());
            assertEquals(t.data().byteSize() / type.blockBytes * x16.layout().rowBytes(), x16.data().byteSize(), "the same blocks, reordered");
            assertArrayEquals(t.toFloats(k), x16.toFloats(k), 0f, type + ": values (up to the sign of a zero)");
            assertArrayEquals(t.rows(group, group).toFloats(k), x16.rows(group, group).toFloats(k), 0f, type + ": a view of the second group");
            assertThrows(IllegalArgumentException.class, () -> x16.rows(group / 2, group), "rows of an interleaved matrix come in whole groups");
            float[] x = new float[cols], a = new float[rows], b = new float[rows];
            for (int i = 0; i < cols; i++) x[i] = (float) Math.cos(i * 0.11);
            t.matvec(k, x, a);
            x16.matvec(k, x, b);
            for (int i = 0; i < rows; i++) assertEquals(a[i], b[i], 1e-5f * Math.max(1, Math.abs(a[i])), type + ": matvec row " + i);
            float[] in = new float[T * cols], ma = new float[T * rows], mb = new float[T * rows];
            for (int i = 0; i < in.length; i++) in[i] = (float) Math.sin(i * 0.05);
            t.matmul(k, in, T, ma);
            x16.matmul(k, in, T, mb);
            assertArrayEquals(ma, mb, 0f, type + ": a prompt's matmul widens the same values");
        }
    }

    /** q, k and v in one pass: each output exactly as its own matvec gives it (the same quantized x, the same kernels), padded rows included. */
    @Test
    void matricesOverOneInputGoThroughOnePass() {
        assumeTrue(QuantizedMatvec.interleaves(BlockFormat.Q8_0, 16, 32), "no interleaved layout on this JVM (scalar kernels)");
        for (DType type : new DType[] {DType.Q4_0, DType.Q6_K}) {
            int cols = type.blockSize == 256 ? 512 : 96;
            Tensor[] ms = {quantized(type, 48, cols).interleaved(Arena.ofAuto()), quantized(type, 21, cols).interleaved(Arena.ofAuto()),
                    quantized(type, 16, cols).interleaved(Arena.ofAuto())};
            float[] x = new float[cols];
            for (int i = 0; i < cols; i++) x[i] = (float) Math.cos(i * 0.3);
            float[][] fused = {new float[48], new float[21], new float[16]};
            Tensor.matvec(k, x, ms, fused);
            for (int i = 0; i < ms.length; i++) {
                float[] alone = new float[ms[i].rows()];
                ms[i].matvec(k, x, alone);
                assertArrayEquals(alone, fused[i], 0f, type + ": matrix " + i);
            }
            float[][] mixed = {new float[48], new float[21]};
            Tensor plain = quantized(type, 21, cols);
            Tensor.matvec(k, x, new Tensor[] {ms[0], plain}, mixed); // types differ: one matvec each
            float[] want = new float[21];
            plain.matvec(k, x, want);
            assertArrayEquals(want, mixed[1], 0f, type + ": the file-layout matrix");
        }
    }

    @Test
    void othersStayAsTheyAre() {
        Tensor q5 = quantized(DType.Q5_K, 16, 256);
        assertSame(q5, q5.interleaved(Arena.ofAuto()));
    }
}
