package dev.panamax.quant;

import dev.panamax.simd.Parallel;
import dev.panamax.simd.Simd;
import java.lang.foreign.MemorySegment;

/**
 * Matrix × vector for quantized weights, without ever dequantizing the matrix: the vector is
 * quantized once to {@link Q8_0Block}s (as ggml does), and each row's dot product multiplies
 * 8-bit codes in integers block by block, scaling each block's integer sum in float.
 *
 * <p>The integer kernels run on the Vector API when the machine has 256- or 512-bit vectors and
 * {@code jdk.incubator.vector} is present ({@code VectorQuantDot}); otherwise the scalar
 * references of the block classes run, with the same integer sums.
 */
public final class QuantizedMatvec {
    private QuantizedMatvec() {}

    /** Row dot products of Q8_0 or Q4_0 weights against Q8_0 activations. */
    interface Dot {
        float dot(BlockFormat f, MemorySegment w, long wOff, Q8_KBlock x, int n);

        /** Σ_g s[g]·Σ_{i in group g of 16} c[i]·x.q[off + i] over {@code size} codes. */
        default int scaledDot(byte[] c, int[] s, Q8_KBlock x, int off, int size) {
            return scaledDotReference(c, s, x.q, off, size);
        }

        /** One row in integer form against x: {@link #dotIntegerForm} (vector kernels keep a float vector across blocks). */
        default float rowDot(BlockFormat f, MemorySegment w, long wOff, Q8_KBlock x, int n, byte[] c, int[] s, int[] m, float[] ab) {
            return dotIntegerForm(this, f, w, wOff, x, n, c, s, m, ab);
        }

        /** {@link BlockFormat#dequantize}; vector kernels widen Q8_0 and Q4_0 a vector at a time. */
        default void dequantize(BlockFormat f, MemorySegment w, long off, float[] y, int yOff, int n) {
            f.dequantize(w, off, y, yOff, n);
        }

        /** The block in integer form ({@link BlockFormat#unpack}); vector kernels unpack the common K-quants faster. */
        default void unpack(BlockFormat f, MemorySegment w, long off, byte[] c, int[] s, int[] m, float[] ab) {
            f.unpack(w, off, c, s, m, ab);
        }
    }

    static final Dot SCALAR = (f, w, wOff, x, n) -> f == BlockFormat.Q8_0
            ? Q8_0Block.dotReference(w, wOff, x, n) : Q4_0Block.dotReference(w, wOff, x, n);

    static int scaledDotReference(byte[] c, int[] s, byte[] q, int qOff, int size) {
        int sum = 0;
        for (int g = 0; g < size / 16; g++) {
            int gs = 0;
            for (int i = 16 * g; i < 16 * g + 16; i++) gs += c[i] * q[qOff + i];
            sum += s[g] * gs;
        }
        return sum;
    }

    /**
     * One row of a format in integer form ({@link BlockFormat#unpack}) against activations quantized
     * per block: Σ_blocks d_x·(a·Σ_g s_g·Σ c·q − b·Σ_g m_g·Σ q). Integer inside a block, float across.
     */
    static float dotIntegerForm(Dot dot, BlockFormat f, MemorySegment w, long wOff, Q8_KBlock x, int n,
                                byte[] c, int[] s, int[] m, float[] ab) {
        float sum = 0;
        int groups = f.size / 16;
        for (int b = 0; b < n / f.size; b++) {
            dot.unpack(f, w, wOff + (long) b * f.bytes, c, s, m, ab);
            int scaled = dot.scaledDot(c, s, x, b * f.size, f.size);
            int mins = 0;
            if (ab[1] != 0) for (int g = 0; g < groups; g++) mins += m[g] * x.sums[b * groups + g];
            sum += x.d[b] * (ab[0] * scaled - ab[1] * mins);
        }
        return sum;
    }

    static final Dot ACTIVE = pick();

    private static Dot pick() {
        if (Simd.kernels().vectorBits() < 256) return SCALAR;
        try {
            return (Dot) Class.forName("dev.panamax.quant.VectorQuantDot").getDeclaredField("INSTANCE").get(null);
        } catch (ReflectiveOperationException | LinkageError e) {
            return SCALAR;
        }
    }

    /** "vector (512-bit integer dot products)", "vector (256-bit …)" or "scalar". */
    public static String description() {
        return ACTIVE == SCALAR ? "scalar" : "vector (" + (VectorQuantDot.WIDE ? 512 : 256) + "-bit integer dot products)";
    }

    /**
     * n elements (whole blocks) of {@code format} at byte {@code off} of {@code w} as floats into
     * y[yOff..yOff + n): {@link BlockFormat#dequantize}, on the Vector API where it runs — the rows
     * a prompt's GEMM widens a few at a time.
     */
    public static void dequantize(BlockFormat format, MemorySegment w, long off, float[] y, int yOff, int n) {
        if (n % format.size != 0) throw new IllegalArgumentException(format + ": " + n + " is not whole blocks of " + format.size);
        if (off < 0 || off + (long) n / format.size * format.bytes > w.byteSize() || yOff < 0 || yOff + n > y.length) {
            throw new IndexOutOfBoundsException(format + ": " + n + " elements at byte " + off + " of " + w.byteSize() + " into " + y.length + " at " + yOff);
        }
        ACTIVE.dequantize(format, w, off, y, yOff, n);
    }

    /**
     * out[r] = Σ_c W[r, c]·x[c] with W [rows, cols] in {@code format} blocks at byte {@code wOff}
     * of {@code w}; cols must be whole blocks. Q8_0 and Q4_0 multiply in integers against Q8_0
     * activations; ternary formats add and subtract int8 activations; every other format unpacks a
     * block at a time into integer form and multiplies in integers against activations quantized
     * per block ({@link Q8_KBlock}). {@code -Dpanamax.quant.floatPath=true} widens one row at a
     * time into floats instead (the float twin, never the whole matrix).
     */
    public static void matvec(BlockFormat format, MemorySegment w, long wOff, float[] x, float[] out, int rows, int cols) {
        if (cols % format.size != 0) throw new IllegalArgumentException(format + " rows must be whole blocks of " + format.size + ", got " + cols);
        long rowBytes = (long) cols / format.size * format.bytes;
        if (wOff < 0 || wOff + rowBytes * rows > w.byteSize()) {
            throw new IllegalArgumentException("quantized matrix [" + rows + ", " + cols + "] does not fit in " + w.byteSize() + " bytes");
        }
        if (format == BlockFormat.Q8_0 || format == BlockFormat.Q4_0) {
            Q8_KBlock xq = Q8_KBlock.quantize(x, cols, 32);
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
        if (format.hasIntegerForm() && !Boolean.getBoolean("panamax.quant.floatPath")) {
            Q8_KBlock xq = Q8_KBlock.quantize(x, cols, format.size);
            Dot dot = ACTIVE;
            Parallel.forRange(rows, 4, (r0, r1) -> {
                byte[] c = new byte[format.size];
                int[] s = new int[format.size / 16], m = new int[format.size / 16];
                float[] ab = new float[2];
                for (int r = r0; r < r1; r++) out[r] = dot.rowDot(format, w, wOff + r * rowBytes, xq, cols, c, s, m, ab);
            });
            return;
        }
        // The float twin: widen a row at a time, float dot product.
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
