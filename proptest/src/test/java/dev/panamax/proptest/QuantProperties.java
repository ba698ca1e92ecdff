package dev.panamax.proptest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.panamax.quant.Q4_0Block;
import dev.panamax.quant.Q8_0Block;
import dev.panamax.quant.QuantizedMatvec;
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

/** Q8_0 and Q4_0: round-trip error within each format's bound; the fast matvec against the float path. */
class QuantProperties {

    record Rows(int rows, int cols, float[] w, float[] x) {
        @Override
        public String toString() {
            return "Rows[" + rows + "x" + cols + ", w=" + Gen.show(w) + ", x=" + Gen.show(x) + "]";
        }
    }

    @Provide
    Arbitrary<Rows> matrices() {
        return Combinators.combine(Arbitraries.integers().between(1, 20), Arbitraries.integers().between(1, 12))
                .flatAs((rows, blocks) -> Combinators.combine(Gen.floats(rows * blocks * 32), Gen.floats(blocks * 32))
                        .as((w, x) -> new Rows(rows, blocks * 32, w, x)));
    }

    static float scale(MemorySegment blocks, long offset) {
        return Float.float16ToFloat(blocks.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), offset));
    }

    @Property(tries = 300)
    void q8RoundTripIsWithinHalfAStepOfItsBlockScale(@ForAll("matrices") Rows m) {
        float[] w = m.w();
        MemorySegment q = MemorySegment.ofArray(new byte[w.length / 32 * Q8_0Block.BYTES]);
        Q8_0Block.quantize(w, 0, w.length, q, 0);
        float[] back = new float[w.length];
        Q8_0Block.dequantize(q, 0, back, 0, w.length);
        for (int b = 0; b < w.length / 32; b++) {
            double amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(w[b * 32 + i]));
            double d = scale(q, (long) b * Q8_0Block.BYTES);
            // Half a step, plus the scale's own rounding to a half float, multiplied by up to 127.
            double bound = d / 2 + 127 * Math.abs(d - amax / 127) + 1e-30;
            for (int i = 0; i < 32; i++) {
                assertThat(Math.abs((double) back[b * 32 + i] - w[b * 32 + i])).as("block %d value %d", b, i).isLessThanOrEqualTo(bound);
            }
        }
    }

    @Property(tries = 300)
    void q4RoundTripIsWithinOneStepOfItsBlockScale(@ForAll("matrices") Rows m) {
        float[] w = m.w();
        MemorySegment q = MemorySegment.ofArray(new byte[w.length / 32 * Q4_0Block.BYTES]);
        Q4_0Block.quantize(w, 0, w.length, q, 0);
        float[] back = new float[w.length];
        Q4_0Block.dequantize(q, 0, back, 0, w.length);
        for (int b = 0; b < w.length / 32; b++) {
            double amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(w[b * 32 + i]));
            double d = Math.abs(scale(q, (long) b * Q4_0Block.BYTES));
            // Half a step, except the one code (+8) that clamps to +7: a whole step. Plus the f16 scale.
            double bound = d + 8 * Math.abs(d - amax / 8) + 1e-30;
            for (int i = 0; i < 32; i++) {
                assertThat(Math.abs((double) back[b * 32 + i] - w[b * 32 + i])).as("block %d value %d", b, i).isLessThanOrEqualTo(bound);
            }
        }
    }

    @Property(tries = 200)
    void quantizedMatvecEqualsTheFloatPathOnDequantizedWeights(@ForAll("matrices") Rows m) {
        for (dev.panamax.quant.BlockFormat f : new dev.panamax.quant.BlockFormat[] {dev.panamax.quant.BlockFormat.Q8_0, dev.panamax.quant.BlockFormat.Q4_0}) {
            int rows = m.rows(), cols = m.cols();
            try (Arena arena = Arena.ofShared()) {
                MemorySegment w = arena.allocate((long) rows * cols / 32 * f.bytes);
                if (f == dev.panamax.quant.BlockFormat.Q8_0) Q8_0Block.quantize(m.w(), 0, rows * cols, w, 0);
                else Q4_0Block.quantize(m.w(), 0, rows * cols, w, 0);
                float[] out = new float[rows];
                QuantizedMatvec.matvec(f, w, 0, m.x(), out, rows, cols);
                // The float path: dequantized weights times the activations as the kernel quantized them.
                dev.panamax.quant.Q8_KBlock xq = dev.panamax.quant.Q8_KBlock.quantize(m.x(), cols, 32);
                float[] xd = new float[cols], wd = new float[rows * cols];
                for (int c = 0; c < cols; c++) xd[c] = xq.d[c / 32] * xq.q[c];
                if (f == dev.panamax.quant.BlockFormat.Q8_0) Q8_0Block.dequantize(w, 0, wd, 0, rows * cols);
                else Q4_0Block.dequantize(w, 0, wd, 0, rows * cols);
                for (int r = 0; r < rows; r++) {
                    double exact = 0, abs = 0;
                    for (int c = 0; c < cols; c++) {
                        exact += (double) wd[r * cols + c] * xd[c];
                        abs += Math.abs((double) wd[r * cols + c] * xd[c]);
                    }
                    // Integer sums are exact; only the per-block scaling and the float sum round.
                    double bound = (cols / 32 + 4) * 2 * Gen.U * abs + 1e-30;
                    assertThat(Math.abs(out[r] - exact)).as("%s row %d", f, r).isLessThanOrEqualTo(bound);
                }
            }
        }
    }

    record Ternary(int rows, int cols, float[] w, float[] x) {
        @Override
        public String toString() {
            return "Ternary[" + rows + "x" + cols + ", w=" + Gen.show(w) + ", x=" + Gen.show(x) + "]";
        }
    }

    @Provide
    Arbitrary<Ternary> ternaryMatrices() {
        return Combinators.combine(Arbitraries.integers().between(1, 12), Arbitraries.integers().between(1, 20))
                .flatAs((rows, blocks) -> Combinators.combine(Gen.floats(rows * blocks * 16), Gen.floats(blocks * 16))
                        .as((w, x) -> new Ternary(rows, blocks * 16, w, x)));
    }

    /**
     * BitNet ternary matvec (adds and subtracts of int8 activations) equals the reference exactly, and the
     * float product of the dequantized weights and activations within float rounding.
     */
    @Property(tries = 300)
    void ternaryMatvecIsExactInIntegers(@ForAll("ternaryMatrices") Ternary t) {
        int rows = t.rows(), cols = t.cols();
        MemorySegment w = MemorySegment.ofArray(new byte[rows * cols / 16 * dev.panamax.quant.TernaryBlock.BYTES]);
        dev.panamax.quant.TernaryBlock.quantize(t.w(), rows * cols, w, 0);
        float[] out = new float[rows];
        QuantizedMatvec.matvec(dev.panamax.quant.BlockFormat.TERNARY, w, 0, t.x(), out, rows, cols);
        byte[] xq = new byte[cols];
        float xs = dev.panamax.quant.BitNetTernary.quantizeActivations(t.x(), cols, xq);
        long rowBytes = (long) cols / 16 * dev.panamax.quant.TernaryBlock.BYTES;
        float[] wd = new float[rows * cols];
        dev.panamax.quant.TernaryBlock.dequantize(w, 0, wd, 0, rows * cols);
        for (int r = 0; r < rows; r++) {
            assertThat(out[r]).as("row %d", r).isEqualTo(xs * dev.panamax.quant.TernaryBlock.dotReference(w, r * rowBytes, xq, cols));
            double exact = 0, abs = 0;
            for (int c = 0; c < cols; c++) {
                exact += (double) wd[r * cols + c] * xq[c] * xs;
                abs += Math.abs((double) wd[r * cols + c] * xq[c] * xs);
            }
            assertThat(Math.abs(out[r] - exact)).isLessThanOrEqualTo((cols / 16 + 4) * 2 * Gen.U * abs + 1e-30);
        }
        // Every weight is −γ, 0 or +γ for the one tensor-wide γ.
        float gamma = 0;
        for (float v : wd) if (v != 0) gamma = Math.abs(v);
        for (float v : wd) assertThat(v == 0 || Math.abs(v) == gamma).as("ternary value %s vs γ %s", v, gamma).isTrue();
    }

    @Property(tries = 100)
    void tq2TernaryMatvecIsExactInIntegers(@ForAll("ternaryMatrices") Ternary t) {
        int rows = t.rows(), cols = 256;
        float[] w = new float[rows * cols], x = new float[cols];
        for (int i = 0; i < w.length; i++) w[i] = t.w()[i % t.w().length];
        for (int i = 0; i < cols; i++) x[i] = t.x()[i % t.x().length];
        MemorySegment seg = MemorySegment.ofArray(new byte[rows * dev.panamax.quant.TQ2_0Block.BYTES]);
        dev.panamax.quant.BitNetTernary.quantize(w, rows, cols, seg, 0);
        float[] out = new float[rows];
        QuantizedMatvec.matvec(dev.panamax.quant.BlockFormat.TQ2_0, seg, 0, x, out, rows, cols);
        byte[] xq = new byte[cols];
        float xs = dev.panamax.quant.BitNetTernary.quantizeActivations(x, cols, xq);
        for (int r = 0; r < rows; r++) {
            assertThat(out[r]).isEqualTo(xs * dev.panamax.quant.BitNetTernary.dotReference(seg, (long) r * dev.panamax.quant.TQ2_0Block.BYTES, xq, cols));
        }
    }

    @Provide
    Arbitrary<Rows> tallMatrices() {
        return Combinators.combine(Arbitraries.integers().between(1, 70), Arbitraries.integers().between(1, 3))
                .flatAs((rows, blocks) -> Combinators.combine(Gen.floats(rows * blocks * 256), Gen.floats(blocks * 256))
                        .as((w, x) -> new Rows(rows, blocks * 256, w, x)));
    }

    /**
     * The CPU's decode layouts (sixteen rows interleaved, the last group padded): the same values as
     * the file's blocks and the same products as the file-layout kernels, for any number of rows.
     */
    @Property(tries = 120)
    void interleavedMatricesEqualTheFileLayout(@ForAll("tallMatrices") Rows m) {
        for (dev.panamax.quant.BlockFormat f : new dev.panamax.quant.BlockFormat[] {
                dev.panamax.quant.BlockFormat.Q8_0, dev.panamax.quant.BlockFormat.Q4_0, dev.panamax.quant.BlockFormat.Q4_K,
                dev.panamax.quant.BlockFormat.Q6_K}) {
            if (!QuantizedMatvec.interleaves(f, m.rows(), m.cols())) continue; // the scalar path keeps the file layout
            MemorySegment file = Arena.ofAuto().allocate((long) m.rows() * m.cols() / f.size * f.bytes);
            f.quantize(m.w(), 0, m.w().length, file, 0);
            MemorySegment p = Arena.ofAuto().allocate(QuantizedMatvec.interleavedBytes(f, m.rows(), m.cols()), 64);
            assertThat(QuantizedMatvec.interleave(f, file, 0, m.rows(), m.cols(), p)).isTrue();
            float[] want = new float[m.w().length], got = new float[m.w().length];
            f.dequantize(file, 0, want, 0, want.length);
            QuantizedMatvec.dequantizeInterleavedRows(f, p, m.rows(), m.cols(), 0, m.rows(), got, 0);
            for (int i = 0; i < want.length; i++) assertThat(got[i]).as("%s value %d (up to the sign of a zero)", f, i).isCloseTo(want[i], org.assertj.core.data.Offset.offset(0f));
            float[] a = new float[m.rows()], b = new float[m.rows()];
            QuantizedMatvec.matvec(f, file, 0, m.x(), a, m.rows(), m.cols());
            QuantizedMatvec.matvecInterleaved(f, p, m.x(), b, m.rows(), m.cols());
            for (int r = 0; r < m.rows(); r++) {
                double mag = 0;
                for (int c = 0; c < m.cols(); c++) mag += Math.abs((double) want[r * m.cols() + c] * m.x()[c]);
                assertThat((double) b[r]).as("%s row %d", f, r).isCloseTo(a[r], org.assertj.core.data.Offset.offset(1e-5 * mag + 1e-30));
            }
        }
    }
}
