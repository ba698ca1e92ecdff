package dev.panamax.simd;

import java.lang.foreign.MemorySegment;

/**
 * The numerical kernels every model is built from. Two implementations share this contract:
 * {@link ScalarKernels} (plain Java, runs on any JVM) and {@code VectorKernels} (the incubating
 * Vector API). {@link Simd#kernels()} picks one at start-up.
 *
 * <p>Conventions: arrays come with an offset and a length, like C pointers into one flat buffer
 * (so a model can keep all heads of a layer in one {@code float[]}). Matrices are row-major.
 * Weight matrices may live in a {@link MemorySegment} (a memory-mapped model file); those hold
 * little-endian float32 and their offsets are in <em>bytes</em>; multi-threaded kernels read them
 * from pool threads, so they must come from a shared or global arena (as mapped files do). Results of the two implementations
 * agree within float rounding (summation order differs); the properties in {@code proptest/}
 * state the bounds.
 *
 * <pre>{@code
 * Kernels k = Simd.kernels();
 * float[] x = {1, 2, 3}, y = {4, 5, 6};
 * float d = k.dot(x, 0, y, 0, 3);          // 32
 * }</pre>
 */
public interface Kernels {

    /** "vector" or "scalar". */
    String name();

    /** Bits per vector register the kernels use; 0 for the scalar path. */
    int vectorBits();

    // ---- BLAS level 1 -------------------------------------------------------------------------

    /** Σ a[aOff+i]·b[bOff+i] for i &lt; n. */
    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /**
     * All dot products of m rows of {@code a} with n rows of {@code b}, each {@code len} long:
     * c[cOff + i·cStride + j] = Σ_p a[aOff + i·aStride + p]·b[bOff + j·bStride + p] — attention's
     * score tiles (query rows × key rows, strided through [T, heads·d] and the KV cache).
     */
    default void dotTile(float[] a, int aOff, int aStride, int m, float[] b, int bOff, int bStride, int n, int len, float[] c, int cOff, int cStride) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[cOff + i * cStride + j] = dot(a, aOff + i * aStride, b, bOff + j * bStride, len);
    }

    /**
     * c[cOff + i·cStride + d] += Σ_j p[pOff + i·pStride + j]·b[bOff + j·bStride + d] for i &lt; m,
     * j &lt; n, d &lt; len — attention's weights × values for a tile of query rows.
     */
    default void mulAddTile(float[] p, int pOff, int pStride, int m, float[] b, int bOff, int bStride, int n, int len, float[] c, int cOff, int cStride) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) axpy(p[pOff + i * pStride + j], b, bOff + j * bStride, c, cOff + i * cStride, len);
    }

    /** Σ w[wByteOff + 4i]·x[xOff+i] for i &lt; n, where {@code w} holds little-endian float32. */
    float dot(MemorySegment w, long wByteOff, float[] x, int xOff, int n);

    /** y[yOff+i] += alpha·x[xOff+i]. */
    void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n);

    /** x[off+i] *= alpha. */
    void scale(float[] x, int off, int n, float alpha);

    /** out[oOff+i] = a[aOff+i] + b[bOff+i]. {@code out} may alias either input exactly. */
    void add(float[] a, int aOff, float[] b, int bOff, float[] out, int oOff, int n);

    /** out[oOff+i] = a[aOff+i] · b[bOff+i]. {@code out} may alias either input exactly. */
    void mul(float[] a, int aOff, float[] b, int bOff, float[] out, int oOff, int n);

    /**
     * Index of the first element equal to the largest non-NaN value among x[off..off+n);
     * 0 when all are NaN, -1 when n is 0.
     */
    int argmax(float[] x, int off, int n);

    // ---- matrix × vector, matrix × matrix -----------------------------------------------------

    /**
     * out[r] = Σ_c W[r, c]·x[c] for r &lt; rows, with W row-major float32 [rows, cols] starting at
     * byte {@code wByteOff} of {@code w}. Split by rows over {@link Parallel}'s threads.
     */
    void matvec(MemorySegment w, long wByteOff, float[] x, float[] out, int rows, int cols);

    /**
     * As {@link #matvec(MemorySegment, long, float[], float[], int, int)} with W stored as 16-bit
     * floats: IEEE half ({@code bf16 = false}) or bfloat16 ({@code bf16 = true}), little-endian,
     * 2 bytes per element. Widened in registers; W is never converted as a whole.
     */
    void matvec16(MemorySegment w, long wByteOff, boolean bf16, float[] x, float[] out, int rows, int cols);

    /**
     * One decoding step of B sequences against one matrix: out[b·rows + r] = Σ_c W[r, c]·x[b·cols + c]
     * for the B rows of x ([B, cols] → [B, rows]). Each b's result is bit for bit what
     * {@link #matvec(MemorySegment, long, float[], float[], int, int)} gives for that vector alone —
     * every row reduced in the same order — so a sequence's logits do not depend on its batch mates;
     * W is read once for all B (a few rows at a time, kept in cache while each vector passes).
     */
    void matvecBatch(MemorySegment w, long wByteOff, float[] x, int B, float[] out, int rows, int cols);

    /** {@link #matvecBatch} for 16-bit W, each result bit for bit {@link #matvec16}'s. */
    void matvec16Batch(MemorySegment w, long wByteOff, boolean bf16, float[] x, int B, float[] out, int rows, int cols);

    /** As {@link #matvec(MemorySegment, long, float[], float[], int, int)} for a heap matrix. */
    default void matvec(float[] w, float[] x, float[] out, int rows, int cols) {
        matvec(MemorySegment.ofArray(w), 0, x, out, rows, cols);
    }

    /**
     * C = A·Bᵀ: A [m, k] and C [m, n] row-major on the heap; B [n, k] row-major float32 in a
     * segment starting at byte {@code bByteOff} (the layout of a linear layer's weight: one row per
     * output). C is overwritten. Cache-blocked and multi-threaded.
     */
    void matmulTransposedB(float[] a, MemorySegment b, long bByteOff, float[] c, int m, int n, int k);

    /** As above with B [n, k] on the heap. */
    default void matmulTransposedB(float[] a, float[] b, float[] c, int m, int n, int k) {
        matmulTransposedB(a, MemorySegment.ofArray(b), 0, c, m, n, k);
    }

    /**
     * Rows of a weight matrix [n, k] produced on demand as float32: a quantized or 16-bit matrix
     * dequantizes rows [row, row + count) into dst[dOff..dOff + count·k). Called from pool threads,
     * each with its own dst.
     */
    @FunctionalInterface
    interface RowSource {
        void rows(int row, int count, float[] dst, int dOff);
    }

    /**
     * C = A·Bᵀ with B [n, k] given by a {@link RowSource}: every row of B is produced once and
     * multiplied by all m rows of A while it is in cache, so a quantized weight is read once, widened
     * a few rows at a time, and never held whole in float. This default widens panels of up to 1 Mi
     * floats ({@code -Dpanamax.panelFloats}) and multiplies each with {@link #matmulTransposedB(float[],
     * float[], float[], int, int, int)}.
     */
    default void matmulTransposedB(float[] a, RowSource b, float[] c, int m, int n, int k) {
        Checks.gemm(a.length, c.length, m, n, k);
        int panel = Math.max(48, Math.min(n, (Tuning.speed("panelFloats", 1 << 20) / Math.max(1, k)) / 48 * 48));
        float[] w = new float[panel * k], tmp = new float[m * panel];
        for (int r0 = 0; r0 < n; r0 += panel) {
            int rows = Math.min(panel, n - r0), base = r0;
            Parallel.forRange(rows, 8, (s, e) -> b.rows(base + s, e - s, w, s * k));
            matmulTransposedB(a, w, tmp, m, rows, k);
            for (int t = 0; t < m; t++) System.arraycopy(tmp, t * rows, c, t * n + r0, rows);
        }
    }

    /**
     * C = A·Bᵀ as {@link #matmulTransposedB(float[], MemorySegment, long, float[], int, int, int)} for
     * an A stacked from m / {@code itemRows} items of {@code itemRows} rows each (the images of a
     * batch): every item's rows of C are bit for bit what a call with that item alone
     * (m = itemRows) gives them — the kernel is the one itemRows chooses, not m — while B is read
     * once for several items. This default multiplies item by item.
     */
    default void matmulTransposedB(float[] a, MemorySegment b, long bByteOff, float[] c, int m, int n, int k, int itemRows) {
        Checks.gemm(a.length, c.length, m, n, k);
        Checks.stack(m, itemRows);
        inChunks(a, c, m, n, k, itemRows, (as, cs, rows) -> matmulTransposedB(as, b, bByteOff, cs, rows, n, k));
    }

    /** {@link #matmulTransposedB(float[], MemorySegment, long, float[], int, int, int, int)} with B from a {@link RowSource}. */
    default void matmulTransposedB(float[] a, RowSource b, float[] c, int m, int n, int k, int itemRows) {
        Checks.gemm(a.length, c.length, m, n, k);
        Checks.stack(m, itemRows);
        inChunks(a, c, m, n, k, itemRows, (as, cs, rows) -> matmulTransposedB(as, b, cs, rows, n, k));
    }

    /** One multiply of a chunk of A's rows: {@code a} [rows, k] into {@code c} [rows, n]. */
    @FunctionalInterface
    interface Chunk {
        void multiply(float[] a, float[] c, int rows);
    }

    /**
     * C = A·Bᵀ in chunks of {@code chunkRows} rows (whole items when the caller says so): each
     * chunk's rows of A copied out, multiplied by {@code chunk}, its rows of C copied back.
     */
    static void inChunks(float[] a, float[] c, int m, int n, int k, int chunkRows, Chunk chunk) {
        if (chunkRows >= m) {
            chunk.multiply(a, c, m);
            return;
        }
        float[] as = new float[chunkRows * k], cs = new float[chunkRows * n];
        for (int r0 = 0; r0 < m; r0 += chunkRows) {
            int rows = Math.min(chunkRows, m - r0);
            System.arraycopy(a, r0 * k, as, 0, rows * k);
            chunk.multiply(as, cs, rows);
            System.arraycopy(cs, 0, c, r0 * n, rows * n);
        }
    }

    /** C = A·B: A [m, k], B [k, n], C [m, n], all row-major. C is overwritten. */
    void matmul(float[] a, float[] b, float[] c, int m, int n, int k);

    // ---- normalisation, softmax, activations ---------------------------------------------------

    /** Numerically stable softmax of x[off..off+n) in place (max subtracted before exp). */
    void softmax(float[] x, int off, int n);

    /**
     * x[i] ← exp(x[i] − shift) in place for x[off..off+n), returning their sum — softmax's middle
     * step, and the online softmax's in attention (shift = the running max).
     */
    float expShift(float[] x, int off, int n, float shift);

    /** out[oOff+i] = x[xOff+i] / sqrt(mean(x²) + eps) · weight[i]. {@code out} may be {@code x}. */
    void rmsnorm(float[] out, int oOff, float[] x, int xOff, float[] weight, int n, float eps);

    /**
     * out[oOff+i] = (x[xOff+i] − mean) / sqrt(var + eps) · gamma[i] + beta[i] with the biased
     * variance, as LayerNorm defines it. {@code out} may be {@code x}; {@code beta} may be null.
     */
    void layernorm(float[] out, int oOff, float[] x, int xOff, float[] gamma, float[] beta, int n, float eps);

    /**
     * Rotary position embedding of {@code heads} consecutive heads of {@code headDim} floats at
     * x[off..], in place. Only the first {@code rotaryDim} values of each head rotate (partial
     * rotary); {@code cos[j]}, {@code sin[j]} for j &lt; rotaryDim/2 are the angles of pair j at this
     * position.
     * <ul>
     * <li>{@code interleaved = true}: pair j is (x[2j], x[2j+1]) — llama2.c and GGUF's layout.</li>
     * <li>{@code interleaved = false}: pair j is (x[j], x[j + rotaryDim/2]) — Hugging Face's
     *     rotate-half layout.</li>
     * </ul>
     */
    void rope(float[] x, int off, int heads, int headDim, int rotaryDim, float[] cos, float[] sin, boolean interleaved);

    /** x ← x·σ(x) (SiLU, a.k.a. swish), in place. */
    void silu(float[] x, int off, int n);

    /** x ← x·Φ(x) = ½x(1 + erf(x/√2)) (exact GELU), in place. */
    void geluErf(float[] x, int off, int n);

    /** x ← ½x(1 + tanh(√(2/π)(x + 0.044715x³))) (GPT-2's gelu_new), in place. */
    void geluTanh(float[] x, int off, int n);

    /** x ← max(x, 0)² (BitNet's squared ReLU), in place. */
    void reluSquared(float[] x, int off, int n);

    // ---- 16-bit floats ---------------------------------------------------------------------------

    /** Reads n little-endian IEEE half floats at byte {@code srcByteOff} into dst[dOff..]. Exact. */
    void f16ToF32(MemorySegment src, long srcByteOff, float[] dst, int dOff, int n);

    /**
     * Writes n floats as little-endian IEEE half floats, rounding to nearest even (overflow to
     * ±infinity, NaN stays NaN), equal to {@link Float#floatToFloat16} for every non-NaN input.
     */
    void f32ToF16(float[] src, int sOff, MemorySegment dst, long dstByteOff, int n);

    /** Reads n little-endian bfloat16 values into dst. Exact. */
    void bf16ToF32(MemorySegment src, long srcByteOff, float[] dst, int dOff, int n);

    /** Writes n floats as little-endian bfloat16, rounding to nearest even; NaN stays a (quiet) NaN. */
    void f32ToBf16(float[] src, int sOff, MemorySegment dst, long dstByteOff, int n);
}
