package dev.panamax.runtime.tensor;

import dev.panamax.quant.DecodeLayout;
import dev.panamax.quant.QuantizedMatvec;
import dev.panamax.simd.Kernels;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A named weight tensor: a view of (usually memory-mapped) bytes with a type and a shape.
 * The shape is row-major, outermost dimension first, as PyTorch and safetensors write it (GGUF's
 * innermost-first dimensions are reversed on reading). Weights are never copied to the heap;
 * {@link #matvec} works on the mapped bytes.
 */
public record Tensor(String name, DType type, long[] shape, MemorySegment data, DecodeLayout layout) {

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * @param type   the values' type, as the file stores them
     * @param layout null for the file's layout; else the CPU decode layout the bytes are in
     *               ({@link #interleaved}), whose rows are padded to whole groups
     */
    public Tensor {
        shape = shape.clone();
        long n = elements(shape);
        if (layout != null && (shape.length != 2 || type.format == null || DecodeLayout.of(type.format) != layout)) {
            throw new IllegalArgumentException("tensor " + name + ": a " + type + " " + Arrays.toString(shape) + " matrix is not in the " + layout + " layout");
        }
        long bytes = layout == null || n <= 0 ? type.bytesFor(n) : layout.bytes((int) shape[0], (int) shape[1]);
        if (n < 0 || bytes != data.byteSize()) {
            throw new IllegalArgumentException("tensor " + name + ": shape " + Arrays.toString(shape) + " of " + type
                    + (layout == null ? "" : " in " + layout) + " needs " + bytes + " bytes, has " + data.byteSize());
        }
    }

    /** A tensor in the file's layout. */
    public Tensor(String name, DType type, long[] shape, MemorySegment data) {
        this(name, type, shape, data, null);
    }

    static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0 || (d != 0 && n > Long.MAX_VALUE / d)) return -1;
            n *= d;
        }
        return n;
    }

    public long elements() {
        return elements(shape);
    }

    public int rank() {
        return shape.length;
    }

    /** Size of the outermost dimension (rows of a matrix). */
    public int rows() {
        return shape.length == 0 ? 1 : Math.toIntExact(shape[0]);
    }

    /** Elements per row (product of all but the outermost dimension). */
    public int cols() {
        long n = 1;
        for (int i = 1; i < shape.length; i++) n *= shape[i];
        return Math.toIntExact(n);
    }

    /** Checks the shape against the one the hyper-parameters give, naming the tensor and both. */
    public Tensor expect(long... dims) {
        if (!Arrays.equals(shape, dims)) {
            throw new dev.panamax.runtime.ModelException("tensor " + name + " has shape " + Arrays.toString(shape)
                    + ", the model's hyper-parameters say " + Arrays.toString(dims));
        }
        return this;
    }

    /** Rows [from, from + count) of a matrix, as a view of the same bytes (rows are whole blocks in every format). */
    public Tensor rows(int from, int count) {
        int r = rows(), c = cols();
        if (from < 0 || count < 0 || from + count > r) throw new IllegalArgumentException(name + ": rows " + from + ".." + (from + count) + " of " + r);
        String part = name + "[" + from + ":" + (from + count) + "]";
        if (layout != null) {
            int group = layout.groupRows();
            if (from % group != 0 || count % group != 0 || r % group != 0) {
                throw new IllegalArgumentException(name + ": rows of a " + layout + " matrix come in groups of " + group + ", asked for " + from + ".." + (from + count));
            }
            return new Tensor(part, type, new long[] {count, c}, data.asSlice(from == 0 ? 0 : layout.bytes(from, c), layout.bytes(count, c)), layout);
        }
        return new Tensor(part, type, new long[] {count, c}, data.asSlice(type.bytesFor((long) from * c), type.bytesFor((long) count * c)));
    }

    /** Converts elements [start, start+n) to float; for block formats both must be whole blocks. */
    public void read(Kernels k, long start, float[] dst, int dOff, int n) {
        if (layout != null) {
            int cols = cols();
            if (start % cols != 0 || n % cols != 0) throw new IllegalArgumentException(name + ": reads of a " + layout + " matrix must be whole rows");
            layout.dequantizeRows(data, rows(), cols, (int) (start / cols), n / cols, dst, dOff);
            return;
        }
        switch (type) {
            case F32 -> MemorySegment.copy(data, F32_LE, 4 * start, dst, dOff, n);
            case F16 -> k.f16ToF32(data, 2 * start, dst, dOff, n);
            case BF16 -> k.bf16ToF32(data, 2 * start, dst, dOff, n);
            default -> {
                if (start % type.blockSize != 0 || n % type.blockSize != 0) {
                    throw new IllegalArgumentException(name + ": reads of " + type + " must be whole blocks of " + type.blockSize);
                }
                QuantizedMatvec.dequantize(type.format, data, start / type.blockSize * type.blockBytes, dst, dOff, n);
            }
        }
    }

    /** Row {@code r} as floats. */
    public void row(Kernels k, int r, float[] dst, int dOff) {
        read(k, (long) r * cols(), dst, dOff, cols());
    }

    /** All elements as floats on the heap (for small tensors: norms, biases). */
    public float[] toFloats(Kernels k) {
        float[] out = new float[Math.toIntExact(elements())];
        read(k, 0, out, 0, out.length);
        return out;
    }

    /** out[r] = Σ_c this[r, c]·x[c]: a linear layer without bias, on the mapped weights. */
    public void matvec(Kernels k, float[] x, float[] out) {
        if (layout != null) {
            layout.matvec(data, x, out, rows(), cols());
            return;
        }
        switch (type) {
            case F32 -> k.matvec(data, 0, x, out, rows(), cols());
            case F16 -> k.matvec16(data, 0, false, x, out, rows(), cols());
            case BF16 -> k.matvec16(data, 0, true, x, out, rows(), cols());
            default -> QuantizedMatvec.matvec(type.format, data, 0, x, out, rows(), cols());
        }
    }

    /**
     * outs[i][r] = Σ_c ms[i][r, c]·x[c] for matrices over the same input (a layer's q, k and v; its
     * gate and up): in one parallel pass with x quantized once when they share an interleaved
     * type and width, otherwise one {@link #matvec} each.
     */
    public static void matvec(Kernels k, float[] x, Tensor[] ms, float[][] outs) {
        DecodeLayout l = ms[0].layout;
        boolean fused = l != null && ms.length > 1;
        for (Tensor m : ms) fused &= m.layout == l && m.cols() == ms[0].cols();
        if (!fused) {
            for (int i = 0; i < ms.length; i++) ms[i].matvec(k, x, outs[i]);
            return;
        }
        MemorySegment[] ws = new MemorySegment[ms.length];
        int[] rows = new int[ms.length];
        for (int i = 0; i < ms.length; i++) {
            ws[i] = ms[i].data;
            rows[i] = ms[i].rows();
        }
        l.matvec(ws, rows, ms[0].cols(), x, outs);
    }

    /**
     * One decoding step of B sequences: out[b·rows + r] = Σ_c this[r, c]·x[b·cols + c] for the B
     * rows of x ([B, cols] → [B, rows]). Each b's result is bit for bit {@link #matvec}'s of that
     * vector alone — a sequence's logits do not depend on its batch mates or the batch size — and
     * the weights are read once for all B, which is what makes a batched step cheaper than B decodes.
     */
    public void matvecBatch(Kernels k, float[] x, int B, float[] out) {
        matvecBatch(k, x, B, new Tensor[] {this}, new float[][] {out});
    }

    /**
     * {@link #matvecBatch} for matrices over the same input (q, k and v; gate and up): interleaved
     * ones of one layout and width in one parallel pass, as {@link #matvec(Kernels, float[], Tensor[], float[][])}.
     */
    public static void matvecBatch(Kernels k, float[] x, int B, Tensor[] ms, float[][] outs) {
        if (B == 1) { // the decode path itself
            matvec(k, x, ms, outs);
            return;
        }
        DecodeLayout l = ms[0].layout;
        boolean fused = l != null;
        for (Tensor m : ms) fused &= m.layout == l && m.cols() == ms[0].cols();
        if (fused) {
            MemorySegment[] ws = new MemorySegment[ms.length];
            int[] rows = new int[ms.length];
            for (int i = 0; i < ms.length; i++) {
                ws[i] = ms[i].data;
                rows[i] = ms[i].rows();
            }
            l.matvecBatch(ws, rows, ms[0].cols(), x, B, outs);
            return;
        }
        for (int i = 0; i < ms.length; i++) {
            Tensor m = ms[i];
            if (m.layout != null) {
                m.layout.matvecBatch(new MemorySegment[] {m.data}, new int[] {m.rows()}, m.cols(), x, B, new float[][] {outs[i]});
                continue;
            }
            switch (m.type) {
                case F32 -> k.matvecBatch(m.data, 0, x, B, outs[i], m.rows(), m.cols());
                case F16 -> k.matvec16Batch(m.data, 0, false, x, B, outs[i], m.rows(), m.cols());
                case BF16 -> k.matvec16Batch(m.data, 0, true, x, B, outs[i], m.rows(), m.cols());
                default -> QuantizedMatvec.matvecBatch(m.type.format, m.data, 0, x, B, outs[i], m.rows(), m.cols());
            }
        }
    }

    /**
     * This matrix in the decode layout its format has ({@link DecodeLayout#of}) — Q8_0 (and Q5_0 and IQ4_NL, as Q8_0), Q4_0, Q4_K and Q6_K
     * on the Vector API kernels: groups of rows interleaved, 64 for Q4_0 and 16 for the others (the last group padded with zero rows) —
     * copied into {@code arena};
     * otherwise this. The copy is the file's size (Q4_K: 148/144 of it, Q6_K: 274/210, Q5_0 and IQ4_NL: 34/22 and 34/18); prompts widen
     * its rows four at a time.
     * Where the memory for it cannot be had, this.
     */
    public Tensor interleaved(java.lang.foreign.Arena arena) {
        if (!interleavesHere()) return this;
        DecodeLayout to = DecodeLayout.of(type.format);
        MemorySegment dst;
        try {
            dst = LargeMemory.allocate(arena, to.bytes(rows(), cols()));
        } catch (OutOfMemoryError e) { // no room for the copy: the file's layout still works
            return this;
        }
        if (!to.copy(type.format, data, 0, rows(), cols(), dst)) return this;
        return new Tensor(name, type, shape, dst, to);
    }

    /** Whether {@link #interleaved} would copy this matrix into a decode layout in this JVM. */
    public boolean interleavesHere() {
        DecodeLayout to = type.format == null || layout != null ? null : DecodeLayout.of(type.format);
        return rank() == 2 && to != null && to.runs(type.format, rows(), cols());
    }

    /**
     * {@link #interleaved} for each of {@code matrices}, as a map from each to its decode copy (or
     * itself), one matrix per thread: most of the time is the kernel handing out (and the JDK
     * zeroing) fresh pages, which parallelizes by matrix, not within one allocation.
     */
    public static java.util.Map<Tensor, Tensor> interleaved(java.util.Collection<Tensor> matrices, java.lang.foreign.Arena arena) {
        java.util.List<Tensor> all = java.util.List.copyOf(new java.util.LinkedHashSet<>(matrices));
        java.util.Map<Tensor, Tensor> copies = new java.util.concurrent.ConcurrentHashMap<>();
        dev.panamax.simd.Parallel.forEach(all.size(), i -> copies.put(all.get(i), all.get(i).interleaved(arena)));
        return copies;
    }

    /**
     * out[t, r] = Σ_c this[r, c]·in[t, c] for T rows of input: a linear layer over a block of tokens.
     * F32 weights go straight to the tiled GEMM; interleaved Q4_0 multiplies in integers where
     * {@link QuantizedMatvec#multipliesPrompt} says so; every other type is widened a few rows at a time as
     * the GEMM reaches them ({@link Kernels#matmulTransposedB(float[], Kernels.RowSource, float[], int,
     * int, int)}), so a quantized or 16-bit model's prompt is matrix-matrix work too, reading each
     * weight once and never holding the matrix in float.
     */
    public void matmul(Kernels k, float[] in, int T, float[] out) {
        int rows = rows(), cols = cols();
        if (type == DType.F32) {
            k.matmulTransposedB(in, data, 0, out, T, rows, cols);
            return;
        }
        if (layout != null && layout.multipliesPrompt(T)) {
            layout.matmul(data, rows, cols, in, T, out);
            return;
        }
        k.matmulTransposedB(in, (r, count, dst, dOff) -> read(k, (long) r * cols, dst, dOff, count * cols), out, T, rows, cols);
    }

    /**
     * {@link #matmul(Kernels, float[], int, float[])} for T rows stacked from T / itemRows items
     * (the images of a batch): each item's rows of {@code out} bit for bit what a call with that
     * item alone gives ({@link Kernels#matmulTransposedB(float[], java.lang.foreign.MemorySegment,
     * long, float[], int, int, int, int)}), the weights read once for several items.
     */
    public void matmul(Kernels k, float[] in, int T, int itemRows, float[] out) {
        int rows = rows(), cols = cols();
        if (itemRows == T) {
            matmul(k, in, T, out);
        } else if (type == DType.F32) {
            k.matmulTransposedB(in, data, 0, out, T, rows, cols, itemRows);
        } else if (layout != null && layout.multipliesPrompt(itemRows)) { // its own integer GEMM: item by item
            if (itemRows <= 0 || T % itemRows != 0) throw new IllegalArgumentException(T + " rows are not whole items of " + itemRows + " rows");
            Kernels.inChunks(in, out, T, rows, cols, itemRows, (x, y, n) -> layout.matmul(data, rows, cols, x, n, y));
        } else {
            k.matmulTransposedB(in, (r, count, dst, dOff) -> read(k, (long) r * cols, dst, dOff, count * cols), out, T, rows, cols, itemRows);
        }
    }

    @Override
    public String toString() {
        return name + " " + type + Arrays.toString(shape) + (layout == null ? "" : " in " + layout);
    }

    @Override
    public boolean equals(Object o) {
        return this == o;
    }

    @Override
    public int hashCode() {
        return System.identityHashCode(this);
    }
}
