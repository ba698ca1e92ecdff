package dev.panamax.quant;

import dev.panamax.simd.Parallel;
import dev.panamax.simd.Simd;
import java.lang.foreign.MemorySegment;

/**
 * Matrix × vector for quantized weights, without ever dequantizing the matrix: the vector is
 * quantized once to {@link Q8_0Block}s (as ggml does), and each row's dot product multiplies
 * 8-bit codes in integers block by block, scaling each block's integer sum in float.
 *
 * <p>The integer kernels run on the Vector API when the machine has 512-bit vectors and
 * {@code jdk.incubator.vector} is present ({@code VectorQuantDot}); otherwise the scalar
 * references of the block classes run, with the same integer sums.
 */
public final class QuantizedMatvec {
    private QuantizedMatvec() {}

    /** Row dot products of Q8_0 or Q4_0 weights against Q8_0 activations. */
    interface Dot {
        float dot(BlockFormat f, MemorySegment w, long wOff, MemorySegment x, int n);
    }

    static final Dot SCALAR = (f, w, wOff, x, n) -> f == BlockFormat.Q8_0
            ? Q8_0Block.dotReference(w, wOff, x, 0, n) : Q4_0Block.dotReference(w, wOff, x, 0, n);

    static final Dot ACTIVE = pick();

    private static Dot pick() {
        if (Simd.kernels().vectorBits() < 512) return SCALAR;
        try {
            return (Dot) Class.forName("dev.panamax.quant.VectorQuantDot").getDeclaredField("INSTANCE").get(null);
        } catch (ReflectiveOperationException | LinkageError e) {
            return SCALAR;
        }
    }

    /** "vector (512-bit integer dot products)" or "scalar". */
    public static String description() {
        return ACTIVE == SCALAR ? "scalar" : "vector (512-bit integer dot products)";
    }

    /**
     * out[r] = Σ_c W[r, c]·x[c] with W [rows, cols] in {@code format} blocks at byte {@code wOff}
     * of {@code w}; cols must be whole blocks. Q8_0 and Q4_0 multiply in integers against Q8_0
     * activations; the other formats widen one row at a time into a scratch row (never the matrix)
     * and take a float dot product.
     */
    public static void matvec(BlockFormat format, MemorySegment w, long wOff, float[] x, float[] out, int rows, int cols) {
        if (cols % format.size != 0) throw new IllegalArgumentException(format + " rows must be whole blocks of " + format.size + ", got " + cols);
        long rowBytes = (long) cols / format.size * format.bytes;
        if (wOff < 0 || wOff + rowBytes * rows > w.byteSize()) {
            throw new IllegalArgumentException("quantized matrix [" + rows + ", " + cols + "] does not fit in " + w.byteSize() + " bytes");
        }
        if (format == BlockFormat.Q8_0 || format == BlockFormat.Q4_0) {
            MemorySegment xq = MemorySegment.ofArray(new byte[cols / 32 * Q8_0Block.BYTES]);
            Q8_0Block.quantize(x, 0, cols, xq, 0);
            Dot dot = ACTIVE;
            Parallel.forRange(rows, 4, (r0, r1) -> {
                for (int r = r0; r < r1; r++) out[r] = dot.dot(format, w, wOff + r * rowBytes, xq, cols);
            });
            return;
        }
        if (format == BlockFormat.TQ2_0 || format == BlockFormat.TERNARY) {
            // Ternary: BitNet's per-token int8 activations, adds and subtracts only.
            byte[] xq = new byte[cols];
            float xs = BitNetTernary.quantizeActivations(x, cols, xq);
            VectorQuantDot v = ACTIVE instanceof VectorQuantDot vq ? vq : null;
            boolean tq2 = format == BlockFormat.TQ2_0;
            Parallel.forRange(rows, 4, (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    long o = wOff + r * rowBytes;
                    float dot = tq2 ? (v != null ? v.ternary(w, o, xq, cols) : BitNetTernary.dotReference(w, o, xq, cols))
                            : (v != null ? v.ternary16(w, o, xq, cols) : TernaryBlock.dotReference(w, o, xq, cols));
                    out[r] = xs * dot;
                }
            });
            return;
        }
        var k = Simd.kernels();
        Parallel.forRange(rows, 4, (r0, r1) -> {
            float[] row = new float[cols];
            for (int r = r0; r < r1; r++) {
                format.dequantize(w, wOff + r * rowBytes, row, 0, cols);
                out[r] = k.dot(row, 0, x, 0, cols);
            }
        });
    }
}
