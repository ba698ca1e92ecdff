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

    /** The weight formats multiplied here. */
    public enum Format {
        Q8_0(Q8_0Block.BYTES), Q4_0(Q4_0Block.BYTES);

        public final int blockBytes;

        Format(int blockBytes) {
            this.blockBytes = blockBytes;
        }
    }

    /** Row dot products of one format against Q8_0 activations. */
    interface Dot {
        float dot(Format f, MemorySegment w, long wOff, MemorySegment x, int n);
    }

    static final Dot SCALAR = (f, w, wOff, x, n) -> f == Format.Q8_0
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
     * of {@code w}; cols must be a multiple of 32.
     */
    public static void matvec(Format format, MemorySegment w, long wOff, float[] x, float[] out, int rows, int cols) {
        if (cols % 32 != 0) throw new IllegalArgumentException("quantized rows must be a multiple of 32 long, got " + cols);
        long rowBytes = (long) cols / 32 * format.blockBytes;
        if (wOff < 0 || wOff + rowBytes * rows > w.byteSize()) {
            throw new IllegalArgumentException("quantized matrix [" + rows + ", " + cols + "] does not fit in " + w.byteSize() + " bytes");
        }
        MemorySegment xq = MemorySegment.ofArray(new byte[cols / 32 * Q8_0Block.BYTES]);
        Q8_0Block.quantize(x, 0, cols, xq, 0);
        Dot dot = ACTIVE;
        Parallel.forRange(rows, 4, (r0, r1) -> {
            for (int r = r0; r < r1; r++) out[r] = dot.dot(format, w, wOff + r * rowBytes, xq, cols);
        });
    }
}
