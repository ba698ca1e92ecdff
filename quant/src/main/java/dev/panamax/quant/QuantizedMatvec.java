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

        /**
         * Groups [g0, g1) of an interleaved matrix ({@link Q8_0x16}, {@link Q4_0x64}, {@link Q4_Kx16}, {@link Q6_Kx16}
         * by {@code f}) × activations x, paired for the kernels ({@code pairs[i]}: codes 2i and 2i + 1
         * in one int; for Q8_0 their nibbles, {@link Q8_0x16#nibblePairs}), with 8·Σx per 32 ({@code xs8}, Q4_0) or Σx per 32 ({@code xsum32}, Q4_K): the
         * scalar references; vector kernels override.
         */
        default void matvecInterleaved(BlockFormat f, MemorySegment w, long off, Q8_KBlock x, int[] pairs, float[] xs8, int[] xsum32, int cols,
                                       float[] out, int g0, int g1) {
            switch (f) {
                case Q4_0 -> Q4_0x64.matvecReference(w, off, x.q, x.d, cols, out, g0, g1);
                case Q4_K -> Q4_Kx16.matvecReference(w, off, x.q, x.d, xsum32, cols, out, g0, g1);
                case Q6_K -> Q6_Kx16.matvecReference(w, off, x.q, x.d, cols, out, g0, g1);
                default -> Q8_0x16.matvecReference(w, off, x.q, x.d, cols, out, g0, g1);
            }
        }

        /**
         * Groups [g0, g1) of an interleaved matrix × several vectors of a batched step at once, each
         * vector's rows bit for bit {@link #matvecInterleaved}'s; false where this Dot has no such
         * kernel for {@code f} (the caller then passes the vectors one by one).
         */
        default boolean matvecInterleavedBatch(BlockFormat f, MemorySegment w, long off, Activations[] a, int cols, float[][] outs, int g0, int g1) {
            return false;
        }

        /** A batched step's vector x[xOff, xOff + cols) as {@link #matvecInterleavedBatch} takes it: {@link Activations#of}; vector kernels override (the same bits). */
        default Activations batchActivations(BlockFormat f, float[] x, int xOff, int cols) {
            return Activations.of(f, x, xOff, cols, true);
        }

        /** TQ2_0 weights × BitNet's int8 activations: the scalar reference; vector kernels override. */
        default float ternary(MemorySegment w, long off, byte[] xq, int n) {
            return BitNetTernary.dotReference(w, off, xq, n);
        }

        /** {@link TernaryBlock} weights × int8 activations: the scalar reference; vector kernels override. */
        default float ternary16(MemorySegment w, long off, byte[] xq, int n) {
            return TernaryBlock.dotReference(w, off, xq, n);
        }

        /** Differing bits of two binary codes ({@link BinaryCodes}): the scalar reference; vector kernels override. */
        default int hamming(long[] a, long[] b, int words) {
            return BinaryCodes.hammingReference(a, b, words);
        }

        /** Bits of the integer vectors the kernels run on: 0 for the scalar references, 256 or 512. */
        default int vectorBits() {
            return 0;
        }

        /**
         * out[t] = W·x[t] for a prompt's tokens against an interleaved Q4_0 matrix in one integer GEMM
         * ({@link Q4_0PromptGemm}), each row equal to the decode kernel's; false where this Dot has no
         * such GEMM (the caller then goes token by token).
         */
        default boolean q4_0PromptGemm(MemorySegment w, int rows, int cols, float[] x, int tokens, float[] out) {
            return false;
        }

        /** Rows [r0, r0 + count) of an interleaved matrix into y, row by row from the references; vector kernels take quads of rows. */
        default void dequantizeInterleavedRows(BlockFormat f, MemorySegment w, long off, int cols, int r0, int count, float[] y, int yOff) {
            for (int r = r0; r < r0 + count; r++) {
                switch (f) {
                    case Q4_0 -> Q4_0x64.dequantizeRow(w, off, cols, r, y, yOff + (r - r0) * cols);
                    case Q4_K -> Q4_Kx16.dequantizeRow(w, off, cols, r, y, yOff + (r - r0) * cols);
                    case Q6_K -> Q6_Kx16.dequantizeRow(w, off, cols, r, y, yOff + (r - r0) * cols);
                    default -> Q8_0x16.dequantizeRow(w, off, cols, r, y, yOff + (r - r0) * cols);
                }
            }
        }
    }

    static final Dot SCALAR = new ScalarDot();

    /**
     * The scalar path (no Vector API, or vectors narrower than 256 bits: ARM's NEON): the references,
     * except that Q8_0 (with Q5_0, IQ4_NL), Q4_0 and Q6_K decode through their interleaved layouts
     * on the start-up twins ({@link InterleavedTwins}: plain Java, two products a long multiply, the
     * references' bits) — 2.4–3.5× the file layout's row-by-row references (docs/kernels.md).
     */
    private static final class ScalarDot implements Dot {
        @Override
        public float dot(BlockFormat f, MemorySegment w, long wOff, Q8_KBlock x, int n) {
            return f == BlockFormat.Q8_0 ? Q8_0Block.dotReference(w, wOff, x, n) : Q4_0Block.dotReference(w, wOff, x, n);
        }

        @Override
        public void matvecInterleaved(BlockFormat f, MemorySegment w, long off, Q8_KBlock x, int[] pairs, float[] xs8, int[] xsum32, int cols,
                                      float[] out, int g0, int g1) {
            if (!twinned(f)) {
                Dot.super.matvecInterleaved(f, w, off, x, pairs, xs8, xsum32, cols, out, g0, g1);
                return;
            }
            InterleavedTwins.matvec(f, w, off, new Activations[] {new Activations(x, pairs, xs8, xsum32, null)}, cols, new float[][] {out}, g0, g1);
        }

        @Override
        public boolean matvecInterleavedBatch(BlockFormat f, MemorySegment w, long off, Activations[] a, int cols, float[][] outs, int g0, int g1) {
            if (!twinned(f)) return false;
            InterleavedTwins.matvec(f, w, off, a, cols, outs, g0, g1);
            return true;
        }
    }

    /**
     * Whether the interleaved layout of {@code f} (as {@link #interleavedAs} names it) has a start-up twin
     * that the scalar path decodes with ({@code -Dpanamax.experiments=true -Dpanamax.quant.scalarTwins=0}:
     * the file's layout and its references, as before — other sums, so an experiment).
     */
    static boolean twinned(BlockFormat f) {
        return SCALAR_TWINS && (f == BlockFormat.Q8_0 || f == BlockFormat.Q4_0 || f == BlockFormat.Q6_K);
    }

    private static final boolean SCALAR_TWINS = dev.panamax.simd.Tuning.experiment("quant.scalarTwins", 1) != 0;

    /**
     * Whether prompts go through the twins' batched form too: where the float kernels are scalar as well
     * (2.1–2.2× the scalar float GEMM on TinyLlama's 64-token prompts); with 128-bit vectors the
     * Vector API's float GEMM is faster (21.8 against 6.9 tokens/s), and the rows are widened for it.
     */
    private static boolean twinsMultiplyPrompts() {
        return Simd.kernels().vectorBits() == 0;
    }

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

    /**
     * The one seam between the kernels and their scalar twins: {@code VectorQuantDot} where the
     * simd module chose the Vector API (loaded by name, so this class links on a JVM without
     * {@code jdk.incubator.vector}), {@link #SCALAR} otherwise. Everything in this module that
     * could run on either calls through {@code ACTIVE} and never names a Vector API class.
     */
    static final Dot ACTIVE = pick();

    private static Dot pick() {
        if (Simd.kernels().vectorBits() < 256) return SCALAR;
        try {
            Dot vector = (Dot) Class.forName("dev.panamax.quant.VectorQuantDot").getDeclaredField("INSTANCE").get(null);
            return new InterleavedTwins.StartUpDot(vector); // the Q8_0, Q4_0 and Q6_K decode kernels on twins in a fresh JVM
        } catch (ReflectiveOperationException | LinkageError e) {
            return SCALAR;
        }
    }

    /** "vector (512-bit integer dot products)", "vector (256-bit …)" or "scalar". */
    public static String description() {
        return ACTIVE.vectorBits() == 0 ? "scalar" : "vector (" + ACTIVE.vectorBits() + "-bit integer dot products)";
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
     * Whether a [rows, cols] matrix of {@code format} has an interleaved decode layout here
     * ({@link Q8_0x16}, {@link Q4_0x64}, {@link Q4_Kx16}, {@link Q6_Kx16}): Q8_0, Q4_0, Q4_K or Q6_K (rows not in whole
     * groups are padded with zero rows: {@link #interleavedBytes}) and the Vector API kernels running (a model's
     * loader may still keep the file's layout: {@code LoadOptions.interleave}).
     * The scalar path keeps the file's layout: its references would gain nothing from it.
     */
    public static boolean interleaves(BlockFormat format, int rows, int cols) {
        return interleavedRowBytes(format) > 0 && rows > 0 && cols > 0 && cols % format.size == 0
                && (ACTIVE.vectorBits() > 0 || twinned(interleavedAs(format)) || INTERLEAVE_SCALAR);
    }

    /** Bytes per row and block of {@code format}'s interleaved layout (the file's, but 148 for Q4_K's unpacked scales and 274 for Q6_K's whole-byte codes), or 0 if it has none. */
    public static int interleavedRowBytes(BlockFormat format) {
        return switch (format) {
            case Q8_0, Q5_0, IQ4_NL -> Q8_0Block.BYTES;
            case Q4_0 -> Q4_0Block.BYTES;
            case Q4_K -> Q4_Kx16.ROW_BYTES;
            case Q6_K -> Q6_Kx16.ROW_BYTES;
            default -> 0;
        };
    }

    /**
     * The format whose interleaved layout {@code format}'s copy is in: Q5_0 and IQ4_NL become
     * {@link Q8_0x16} (their codes − 16, or table levels, are Q8_0 codes under the same scale,
     * exactly: 34 bytes per 32 values against the file's 22 or 18, for Q8_0's kernel, twice as fast
     * as Q5_0's own on one thread), the others keep their own. The copy's matrix × vector, rows and prompt products are then that format's.
     */
    public static BlockFormat interleavedAs(BlockFormat format) {
        return format == BlockFormat.Q5_0 || format == BlockFormat.IQ4_NL ? BlockFormat.Q8_0 : format;
    }

    /** Rows per interleaved group of {@code format}: 64 for Q4_0 ({@link Q4_0x64}), 16 for the others. */
    public static int interleavedGroupRows(BlockFormat format) {
        return format == BlockFormat.Q4_0 ? Q4_0x64.ROWS : 16;
    }

    /** Bytes of a [rows, cols] matrix of {@code format} interleaved: rows rounded up to whole groups (the padding rows are zeros). */
    public static long interleavedBytes(BlockFormat format, int rows, int cols) {
        int rowBytes = interleavedRowBytes(format);
        if (rowBytes == 0) throw new IllegalArgumentException(format + " has no interleaved layout");
        if (rows <= 0 || cols <= 0 || cols % format.size != 0) {
            throw new IllegalArgumentException("an interleaved " + format + " matrix needs columns in " + format.size + "s, got [" + rows + ", " + cols + "]");
        }
        int group = interleavedGroupRows(format);
        return (long) (rows + group - 1) / group * group * (cols / format.size) * rowBytes;
    }

    private static void checkInterleaved(BlockFormat format, MemorySegment w, int rows, int cols) {
        long bytes = interleavedBytes(format, rows, cols);
        if (w.byteSize() != bytes) throw new IllegalArgumentException("interleaved " + format + " [" + rows + ", " + cols + "] is " + bytes + " bytes, got " + w.byteSize());
    }

    /**
     * Reorders a [rows, cols] matrix of Q8_0, Q4_0, Q4_K or Q6_K blocks at byte {@code off} of {@code src}
     * into the interleaved layout ({@link Q8_0x16}, {@link Q4_0x64}, {@link Q4_Kx16}, {@link Q6_Kx16}) in {@code dst}
     * (Q5_0 and IQ4_NL into Q8_0's: {@link #interleavedAs}),
     * which must be exactly {@link #interleavedBytes} long. Returns false, leaving dst
     * unspecified, if a scale is infinite or NaN (the vector kernels widen scales with integer
     * operations that only finite halves survive): the caller keeps the file's layout, whose kernels
     * carry the non-finite value through.
     */
    public static boolean interleave(BlockFormat format, MemorySegment src, long off, int rows, int cols, MemorySegment dst) {
        long bytes = interleavedBytes(format, rows, cols), fileBytes = (long) rows * (cols / format.size) * format.bytes;
        if (off < 0 || off + fileBytes > src.byteSize()) throw new IndexOutOfBoundsException(format + " [" + rows + ", " + cols + "] at byte " + off + " of " + src.byteSize());
        if (dst.byteSize() != bytes) throw new IllegalArgumentException("interleaved " + format + " needs " + bytes + " bytes, got " + dst.byteSize());
        int scales = format == BlockFormat.Q4_K ? 2 : 1; // d (and Q4_K's dmin) at the start of each block, Q6_K's d at its end
        int scaleAt = format == BlockFormat.Q6_K ? 208 : 0;
        // Q8_0 and Q4_0 check their scales as they move them (from the heap copy of each group's rows);
        // the others here, first — a segment read per block, which at load runs cold.
        if (format != BlockFormat.Q8_0 && format != BlockFormat.Q4_0) {
            for (long b = 0; b < fileBytes / format.bytes; b++) {
                for (int i = 0; i < scales; i++) {
                    if ((src.get(Q8_0Block.F16, off + b * format.bytes + scaleAt + 2 * i) & 0x7c00) == 0x7c00) return false;
                }
            }
        }
        int group = interleavedGroupRows(format);
        java.util.concurrent.atomic.AtomicBoolean finite = new java.util.concurrent.atomic.AtomicBoolean(true);
        Parallel.forRange((rows + group - 1) / group * group, group, (r0, r1) -> {
            boolean ok = switch (format) {
                case Q4_0 -> Q4_0x64.interleave(src, off, rows, cols, dst, 0, r0, r1);
                case Q4_K -> { Q4_Kx16.interleave(src, off, rows, cols, dst, 0, r0, r1); yield true; }
                case Q6_K -> { Q6_Kx16.interleave(src, off, rows, cols, dst, 0, r0, r1); yield true; }
                case Q5_0, IQ4_NL -> { Q8_0x16.interleaveAsQ8_0(format, src, off, rows, cols, dst, 0, r0, r1); yield true; }
                default -> Q8_0x16.interleave(src, off, rows, cols, dst, 0, r0, r1);
            };
            if (!ok) finite.set(false);
        });
        return finite.get();
    }

    /** out = W·x for an interleaved Q8_0, Q4_0, Q4_K or Q6_K matrix W [rows, cols] (made by {@link #interleave}). */
    public static void matvecInterleaved(BlockFormat format, MemorySegment w, float[] x, float[] out, int rows, int cols) {
        matvecInterleaved(format, new MemorySegment[] {w}, new int[] {rows}, cols, x, new float[][] {out});
    }

    /**
     * outs[i] = W_i·x for several interleaved matrices of one format over the same x (a layer's
     * q, k and v; its gate and up): x is quantized once and all their groups of rows go
     * through one parallel pass — one hand-off to the threads instead of one per matrix, and the
     * threads balance over the larger range.
     */
    public static void matvecInterleaved(BlockFormat named, MemorySegment[] ws, int[] rows, int cols, float[] x, float[][] outs) {
        BlockFormat format = interleavedAs(named);
        int n = ws.length;
        if (rows.length != n || outs.length != n) throw new IllegalArgumentException(n + " matrices, " + rows.length + " row counts, " + outs.length + " outputs");
        int group = interleavedGroupRows(format);
        int[] firstGroup = new int[n + 1]; // matrix i's whole groups are [firstGroup[i], firstGroup[i + 1]) of the pass
        for (int i = 0; i < n; i++) {
            checkInterleaved(format, ws[i], rows[i], cols);
            if (x.length < cols || outs[i].length < rows[i]) throw new IllegalArgumentException("x has " + x.length + " of " + cols + ", out " + outs[i].length + " of " + rows[i]);
            firstGroup[i + 1] = firstGroup[i] + rows[i] / group;
        }
        Activations a = Activations.of(format, x, 0, cols, false);
        Dot dot = ACTIVE;
        Parallel.forRange(firstGroup[n], 1, (g0, g1) -> {
            for (int i = 0; i < n; i++) {
                int lo = Math.max(g0, firstGroup[i]), hi = Math.min(g1, firstGroup[i + 1]);
                if (lo < hi) a.groups(dot, format, ws[i], cols, outs[i], lo - firstGroup[i], hi - firstGroup[i]);
            }
        });
        for (int i = 0; i < n; i++) lastGroup(dot, format, ws[i], rows[i], cols, a, outs[i], 0);
    }

    /** The padded last group of an interleaved matrix (rows not a multiple of the group): its sums into scratch, the real rows to out at {@code outOff}. */
    private static void lastGroup(Dot dot, BlockFormat format, MemorySegment w, int r, int cols, Activations a, float[] out, int outOff) {
        int group = interleavedGroupRows(format);
        if (r % group == 0) return;
        float[] last = new float[group * (r / group + 1)];
        a.groups(dot, format, w, cols, last, r / group, r / group + 1);
        System.arraycopy(last, group * (r / group), out, outOff + group * (r / group), r % group);
    }

    /**
     * x as the interleaved kernels take it: quantized per block of 32 (Q4_K and Q6_K: 256), its
     * codes paired into ints, its sums per 32 (and, for Q8_0, its codes as floats). Made once per vector, by decoding and batched steps
     * alike, so both hand the kernel the same numbers.
     */
    record Activations(Q8_KBlock xq, int[] pairs, float[] xs8, int[] xsum32, float[] codes) {

        /** {@code batched}: also Q8_0's codes as floats, which only the batched kernel reads. */
        static Activations of(BlockFormat format, float[] x, int xOff, int cols, boolean batched) {
            float[] v = xOff == 0 ? x : java.util.Arrays.copyOfRange(x, xOff, xOff + cols);
            Q8_KBlock xq = Q8_KBlock.quantize(v, cols, format == BlockFormat.Q4_K || format == BlockFormat.Q6_K ? 256 : 32);
            int[] pairs;
            if (format == BlockFormat.Q8_0) {
                pairs = Q8_0x16.nibblePairs(xq.q, cols);
            } else {
                pairs = new int[cols / 2];
                for (int i = 0; i < pairs.length; i++) pairs[i] = (xq.q[2 * i] & 0xffff) | xq.q[2 * i + 1] << 16;
            }
            // Q8_0's codes as floats (exactly), for the batched kernel's float multiply-adds.
            float[] codes = null;
            if (batched && format == BlockFormat.Q8_0) {
                codes = new float[cols];
                for (int i = 0; i < cols; i++) codes[i] = xq.q[i];
            }
            return withSums(xq, pairs, codes);
        }

        /** The activations with their sums per 32 (Σ and 8·Σ) from the codes' sums per 16. */
        static Activations withSums(Q8_KBlock xq, int[] pairs, float[] codes) {
            float[] xs8 = new float[xq.q.length / 32];
            int[] xsum32 = new int[xq.q.length / 32];
            for (int b = 0; b < xs8.length; b++) {
                xsum32[b] = xq.sums[2 * b] + xq.sums[2 * b + 1];
                xs8[b] = 8 * xsum32[b];
            }
            return new Activations(xq, pairs, xs8, xsum32, codes);
        }

        /** Groups [g0, g1) of w against these activations into out (row g·group + j at out[g·group + j]). */
        void groups(Dot dot, BlockFormat format, MemorySegment w, int cols, float[] out, int g0, int g1) {
            dot.matvecInterleaved(format, w, 0, xq, pairs, xs8, xsum32, cols, out, g0, g1);
        }
    }

    /** Weight bytes a batched step's thread takes at a time, each vector of the batch passing over them while they are in cache. */
    private static final int BATCH_SPAN_BYTES = 96 * 1024;

    /**
     * One decoding step of B sequences against interleaved matrices over the same input: outs[i] =
     * [B, rows[i]], outs[i][b·rows[i] + r] = W_i[r]·x[b·cols..]. Each vector is prepared as
     * {@link #matvecInterleaved} prepares it and each group of rows goes through the same kernel
     * call, so each b's result is that call's bit for bit; the weights are read once for all B (a
     * span of groups at a time, {@value #BATCH_SPAN_BYTES} bytes, stays in cache while the B vectors pass).
     */
    public static void matvecInterleavedBatch(BlockFormat named, MemorySegment[] ws, int[] rows, int cols, float[] x, int B, float[][] outs) {
        BlockFormat format = interleavedAs(named);
        int n = ws.length;
        if (rows.length != n || outs.length != n) throw new IllegalArgumentException(n + " matrices, " + rows.length + " row counts, " + outs.length + " outputs");
        if (B < 0 || x.length < (long) B * cols) throw new IllegalArgumentException(B + " vectors of " + cols + ": x has " + x.length);
        int group = interleavedGroupRows(format);
        int[] firstGroup = new int[n + 1];
        for (int i = 0; i < n; i++) {
            checkInterleaved(format, ws[i], rows[i], cols);
            if (outs[i].length < (long) B * rows[i]) throw new IllegalArgumentException("out " + i + " has " + outs[i].length + " of " + (long) B * rows[i]);
            firstGroup[i + 1] = firstGroup[i] + rows[i] / group;
        }
        if (B == 0) return;
        Dot dot = ACTIVE;
        Activations[] a = new Activations[B];
        for (int b = 0; b < B; b++) a[b] = dot.batchActivations(format, x, b * cols, cols);
        // Each b's whole groups go to a scratch row of its own (the kernel writes rows from 0), copied out after.
        float[][][] scratch = new float[n][B][];
        for (int i = 0; i < n; i++) for (int b = 0; b < B; b++) scratch[i][b] = B == 1 ? outs[i] : new float[rows[i]];
        long groupBytes = (long) group * (cols / format.size) * interleavedRowBytes(format);
        int span = (int) Math.max(1, BATCH_SPAN_BYTES / groupBytes);
        Parallel.forRange(firstGroup[n], 1, (g0, g1) -> {
            for (int s0 = g0; s0 < g1; s0 += span) {
                int s1 = Math.min(g1, s0 + span);
                for (int i = 0; i < n; i++) {
                    int lo = Math.max(s0, firstGroup[i]), hi = Math.min(s1, firstGroup[i + 1]);
                    if (lo >= hi) continue;
                    if (dot.matvecInterleavedBatch(format, ws[i], 0, a, cols, scratch[i], lo - firstGroup[i], hi - firstGroup[i])) continue;
                    for (int b = 0; b < B; b++) a[b].groups(dot, format, ws[i], cols, scratch[i][b], lo - firstGroup[i], hi - firstGroup[i]);
                }
            }
        });
        for (int i = 0; i < n; i++) {
            int whole = rows[i] / group * group;
            for (int b = 0; b < B; b++) {
                if (B > 1) System.arraycopy(scratch[i][b], 0, outs[i], b * rows[i], whole);
                lastGroup(dot, format, ws[i], rows[i], cols, a[b], outs[i], b * rows[i]);
            }
        }
    }

    /**
     * {@link #matvec} for B vectors (a batched decoding step): x [B, cols] → out [B, rows], each
     * b's result bit for bit matvec's of that vector alone (quantized the same way, each row
     * reduced the same way), each row read once for all B.
     */
    public static void matvecBatch(BlockFormat format, MemorySegment w, long wOff, float[] x, int B, float[] out, int rows, int cols) {
        if (cols % format.size != 0) throw new IllegalArgumentException(format + " rows must be whole blocks of " + format.size + ", got " + cols);
        long rowBytes = (long) cols / format.size * format.bytes;
        if (wOff < 0 || wOff + rowBytes * rows > w.byteSize()) {
            throw new IllegalArgumentException("quantized matrix [" + rows + ", " + cols + "] does not fit in " + w.byteSize() + " bytes");
        }
        if (B < 0 || x.length < (long) B * cols || out.length < (long) B * rows) {
            throw new IllegalArgumentException(B + " vectors: x has " + x.length + " of " + (long) B * cols + ", out " + out.length + " of " + (long) B * rows);
        }
        Dot dot = ACTIVE;
        if (format == BlockFormat.Q8_0 || format == BlockFormat.Q4_0) {
            Q8_KBlock[] xq = new Q8_KBlock[B];
            for (int b = 0; b < B; b++) xq[b] = Q8_KBlock.quantize(java.util.Arrays.copyOfRange(x, b * cols, b * cols + cols), cols, 32);
            Parallel.forRange(rows, 4, (r0, r1) -> {
                for (int r = r0; r < r1; r++) for (int b = 0; b < B; b++) out[b * rows + r] = dot.dot(format, w, wOff + r * rowBytes, xq[b], cols);
            });
            return;
        }
        if (format == BlockFormat.TQ2_0 || format == BlockFormat.TERNARY) {
            byte[][] xq = new byte[B][cols];
            float[] xs = new float[B];
            for (int b = 0; b < B; b++) xs[b] = BitNetTernary.quantizeActivations(java.util.Arrays.copyOfRange(x, b * cols, b * cols + cols), cols, xq[b]);
            boolean tq2 = format == BlockFormat.TQ2_0;
            Parallel.forRange(rows, 4, (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    long o = wOff + r * rowBytes;
                    for (int b = 0; b < B; b++) out[b * rows + r] = xs[b] * (tq2 ? dot.ternary(w, o, xq[b], cols) : dot.ternary16(w, o, xq[b], cols));
                }
            });
            return;
        }
        if (format.hasIntegerForm() && !FLOAT_PATH) {
            Q8_KBlock[] xq = new Q8_KBlock[B];
            for (int b = 0; b < B; b++) xq[b] = Q8_KBlock.quantize(java.util.Arrays.copyOfRange(x, b * cols, b * cols + cols), cols, format.size);
            Parallel.forRange(rows, 4, (r0, r1) -> {
                byte[] c = new byte[format.size];
                int[] s = new int[format.size / 16], m = new int[format.size / 16];
                float[] ab = new float[2];
                for (int r = r0; r < r1; r++) {
                    for (int b = 0; b < B; b++) out[b * rows + r] = dot.rowDot(format, w, wOff + r * rowBytes, xq[b], cols, c, s, m, ab);
                }
            });
            return;
        }
        var k = Simd.kernels();
        Parallel.forRange(rows, 4, (r0, r1) -> {
            float[] row = new float[cols];
            for (int r = r0; r < r1; r++) {
                format.dequantize(w, wOff + r * rowBytes, row, 0, cols);
                for (int b = 0; b < B; b++) out[b * rows + r] = k.dot(row, 0, x, b * cols, cols);
            }
        });
    }

    /** Fewest tokens for which a prompt goes through {@link #matmulInterleaved} ({@code -Dpanamax.quant.promptGemmRows}, 0: never). */
    private static final int PROMPT_GEMM_ROWS = dev.panamax.simd.Tuning.experiment("quant.promptGemmRows", 32);

    /** Whether integer-form formats take the float path (dequantize, then a float dot) instead of quantizing x ({@code quant.floatPath}, an experiment). */
    private static final boolean FLOAT_PATH = dev.panamax.simd.Tuning.experimentFlag("quant.floatPath");

    /** Whether the scalar path interleaves too ({@code quant.interleaveScalar}, an experiment: the scalar references of the layouts). */
    private static final boolean INTERLEAVE_SCALAR = dev.panamax.simd.Tuning.experimentFlag("quant.interleaveScalar");

    /**
     * Whether a block of {@code tokens} against an interleaved matrix of {@code format} is best
     * multiplied by {@link #matmulInterleaved}: Q4_0, the 512-bit vector kernels running, and at
     * least 32 tokens; where every kernel is scalar, every format with a twin ({@link #twinned}). Otherwise a
     * prompt's GEMM widens the rows to float ({@link #dequantizeInterleavedRows}) and multiplies in float.
     */
    public static boolean multipliesPrompt(BlockFormat named, int tokens) {
        BlockFormat format = interleavedAs(named);
        if (ACTIVE == SCALAR) return twinsMultiplyPrompts() && twinned(format);
        return format == BlockFormat.Q4_0 && ACTIVE.vectorBits() >= 512 && PROMPT_GEMM_ROWS > 0 && tokens >= PROMPT_GEMM_ROWS;
    }

    /**
     * out[t·rows + r] = Σ_c W[r, c]·x[t·cols + c] for the tokens t < {@code tokens} of a prompt, W an
     * interleaved matrix [rows, cols]: each token's activations quantized as decoding quantizes them,
     * and each token's row of out equal to {@link #matvecInterleaved} of that token, bit for bit.
     * Q4_0 on 512-bit vectors multiplies the whole block in integers ({@link Q4_0PromptGemm}); where
     * every kernel is scalar, the twinned formats go through the twins' batched form (each block of
     * weights once for all tokens); anything else goes token by token through the decode kernels.
     */
    public static void matmulInterleaved(BlockFormat named, MemorySegment w, int rows, int cols, float[] x, int tokens, float[] out) {
        BlockFormat format = interleavedAs(named);
        checkInterleaved(format, w, rows, cols);
        if (tokens < 0 || x.length < (long) tokens * cols || out.length < (long) tokens * rows) {
            throw new IllegalArgumentException(tokens + " tokens: x has " + x.length + " of " + (long) tokens * cols + ", out " + out.length + " of " + (long) tokens * rows);
        }
        if (tokens == 0) return;
        if (format == BlockFormat.Q4_0 && ACTIVE.q4_0PromptGemm(w, rows, cols, x, tokens, out)) return;
        if (ACTIVE == SCALAR && twinsMultiplyPrompts() && twinned(format)) { // each block of weights once for all tokens
            matvecInterleavedBatch(format, new MemorySegment[] {w}, new int[] {rows}, cols, x, tokens, new float[][] {out});
            return;
        }
        float[] xt = new float[cols], ot = new float[rows];
        for (int t = 0; t < tokens; t++) {
            System.arraycopy(x, t * cols, xt, 0, cols);
            matvecInterleaved(format, w, xt, ot, rows, cols);
            System.arraycopy(ot, 0, out, t * rows, rows);
        }
    }

    /**
     * Rows [r0, r0 + count) of an interleaved matrix as floats, row r0 + i at y[yOff + i·cols]: the
     * rows a prompt's GEMM widens four at a time (aligned quads run on the Vector API), an
     * embedding lookup, a check. Each value is the file format's dequantized value exactly.
     */
    public static void dequantizeInterleavedRows(BlockFormat named, MemorySegment w, int rows, int cols, int r0, int count, float[] y, int yOff) {
        BlockFormat format = interleavedAs(named);
        checkInterleaved(format, w, rows, cols);
        if (r0 < 0 || count < 0 || r0 + count > rows || yOff < 0 || yOff + (long) count * cols > y.length) {
            throw new IndexOutOfBoundsException("rows " + r0 + "+" + count + " of " + rows + " into " + y.length + " at " + yOff);
        }
        ACTIVE.dequantizeInterleavedRows(format, w, 0, cols, r0, count, y, yOff);
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
            Dot dot = ACTIVE;
            boolean tq2 = format == BlockFormat.TQ2_0;
            Parallel.forRange(rows, 4, (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    long o = wOff + r * rowBytes;
                    out[r] = xs * (tq2 ? dot.ternary(w, o, xq, cols) : dot.ternary16(w, o, xq, cols));
                }
            });
            return;
        }
        if (format.hasIntegerForm() && !FLOAT_PATH) {
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
