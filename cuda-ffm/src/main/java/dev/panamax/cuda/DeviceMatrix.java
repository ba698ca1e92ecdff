package dev.panamax.cuda;

import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.simd.Kernels;
import dev.panamax.simd.Simd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A weight matrix kept on the device, rows stacked from one or more tensors (W_q, W_k, W_v become
 * one matrix, so one launch computes all three). F32, F16, BF16, Q8_0 and Q4_0 stay as they are —
 * the quantized ones split into codes and scales (layouts in {@code kernels.cu}); a mix of F32 and
 * BF16 becomes F32; every other type, or mix, is converted to F16.
 */
public final class DeviceMatrix {
    public static final int F32 = 0, F16 = 1, BF16 = 2, Q8_0 = 3, Q4_0 = 4;
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    public final int format, rows, cols;
    public final long pointer, bytes;

    private DeviceMatrix(int format, int rows, int cols, long pointer, long bytes) {
        this.format = format;
        this.rows = rows;
        this.cols = cols;
        this.pointer = pointer;
        this.bytes = bytes;
    }

    /** The kernel-name suffix of the format: "f32", "f16", "q8_0", "q4_0". */
    public String suffix() {
        return switch (format) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            case Q8_0 -> "q8_0";
            case Q4_0 -> "q4_0";
            default -> throw new IllegalStateException();
        };
    }

    /** Whether a prompt's GEMM on this matrix reads the half-float copy of its input (F16 and the quantized formats). */
    public boolean halfInput() {
        return format != F32 && format != BF16;
    }

    /** The device format {@code parts} are kept in. */
    static int formatOf(Tensor... parts) {
        DType t = parts[0].type();
        boolean same = true, floats = true;
        for (Tensor p : parts) {
            same &= p.type() == t;
            floats &= p.type() == DType.F32 || p.type() == DType.BF16;
        }
        if (same && t == DType.F32) return F32;
        if (same && t == DType.F16) return F16;
        if (same && t == DType.BF16) return BF16;
        if (same && t == DType.Q8_0) return Q8_0;
        if (same && t == DType.Q4_0) return Q4_0;
        if (floats) return F32;
        return F16;
    }

    static long bytes(int format, long rows, long cols) {
        return switch (format) {
            case F32 -> 4 * rows * cols;
            case F16, BF16 -> 2 * rows * cols;
            case Q8_0 -> rows * cols + rows * cols / 32 * 2;
            case Q4_0 -> rows * cols / 2 + rows * cols / 32 * 2;
            default -> throw new IllegalArgumentException();
        };
    }

    /** {@code parts} stacked by rows (all with the same number of columns), uploaded; freed with {@code owner}. */
    public static DeviceMatrix upload(CudaContext cx, Arena owner, Tensor... parts) {
        int format = formatOf(parts);
        try (Arena staging = Arena.ofConfined()) {
            MemorySegment s = pack(staging, format, parts);
            int rows = rowsOf(parts);
            return new DeviceMatrix(format, rows, parts[0].cols(), cx.upload(owner, s), s.byteSize());
        }
    }

    /**
     * {@code a} and {@code b} (the same shape) with their rows alternating: a₀, b₀, a₁, b₁, … — gate and
     * up, so one block of the matvec has both halves of each pair and can apply the gate itself.
     */
    public static DeviceMatrix uploadInterleaved(CudaContext cx, Arena owner, Tensor a, Tensor b) {
        return uploadInterleaved(cx, owner, java.util.List.of(a), java.util.List.of(b));
    }

    /**
     * Pairs a[i], b[i] each interleaved as {@link #uploadInterleaved(CudaContext, Arena, Tensor, Tensor)} does, the pairs
     * stacked: a mixture's experts, expert i's gate/up rows from 2·(rows before it) on.
     */
    public static DeviceMatrix uploadInterleaved(CudaContext cx, Arena owner, java.util.List<Tensor> a, java.util.List<Tensor> b) {
        Tensor[] all = new Tensor[2 * a.size()];
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i).rows() != b.get(i).rows() || a.get(i).cols() != b.get(i).cols()) {
                throw new IllegalArgumentException(a.get(i).name() + " and " + b.get(i).name() + " differ in shape");
            }
            all[2 * i] = a.get(i);
            all[2 * i + 1] = b.get(i);
        }
        int format = formatOf(all), rows = rowsOf(all), cols = all[0].cols();
        try (Arena staging = Arena.ofConfined()) {
            MemorySegment s = staging.allocate(bytes(format, rows, cols), 16);
            Kernels k = Simd.kernels();
            long row0 = 0;
            for (int i = 0; i < a.size(); i++) {
                fill(k, format, a.get(i), s, row0, 2, rows, cols);
                fill(k, format, b.get(i), s, row0 + 1, 2, rows, cols);
                row0 += 2L * a.get(i).rows();
            }
            return new DeviceMatrix(format, rows, cols, cx.upload(owner, s), s.byteSize());
        }
    }

    private static int rowsOf(Tensor... parts) {
        long rows = 0;
        for (Tensor p : parts) {
            if (p.cols() != parts[0].cols()) throw new IllegalArgumentException(p.name() + " has " + p.cols() + " columns, expected " + parts[0].cols());
            rows += p.rows();
        }
        return Math.toIntExact(rows);
    }

    /** The device image of {@code parts} stacked by rows, in {@code format}, in host memory of {@code arena}. */
    static MemorySegment pack(Arena arena, int format, Tensor... parts) {
        int rows = rowsOf(parts), cols = parts[0].cols();
        MemorySegment s = arena.allocate(bytes(format, rows, cols), 16);
        Kernels k = Simd.kernels();
        long row0 = 0;
        for (Tensor p : parts) {
            fill(k, format, p, s, row0, 1, rows, cols);
            row0 += p.rows();
        }
        return s;
    }

    /** Tensor t's rows into the image s as rows row0, row0 + stride, row0 + 2·stride, … of a rows × cols matrix. */
    private static void fill(Kernels k, int format, Tensor t, MemorySegment s, long row0, int stride, int rows, int cols) {
        MemorySegment d = t.data();
        int r = t.rows();
        switch (format) {
            case F32 -> {
                float[] buf = new float[cols];
                for (int i = 0; i < r; i++) {
                    long at = 4 * (row0 + (long) i * stride) * cols;
                    if (t.type() == DType.F32) MemorySegment.copy(d, 4L * i * cols, s, at, 4L * cols);
                    else {
                        t.row(k, i, buf, 0);
                        MemorySegment.copy(buf, 0, s, ValueLayout.JAVA_FLOAT, at, cols);
                    }
                }
            }
            case F16 -> {
                float[] buf = new float[cols];
                for (int i = 0; i < r; i++) {
                    long at = 2 * (row0 + (long) i * stride) * cols;
                    if (t.type() == DType.F16) MemorySegment.copy(d, 2L * i * cols, s, at, 2L * cols);
                    else {
                        t.row(k, i, buf, 0);
                        k.f32ToF16(buf, 0, s, at, cols);
                    }
                }
            }
            case BF16 -> { // every part is BF16 (formatOf): the bits as they are
                for (int i = 0; i < r; i++) MemorySegment.copy(d, 2L * i * cols, s, 2 * (row0 + (long) i * stride) * cols, 2L * cols);
            }
            case Q8_0, Q4_0 -> {
                // GGUF blocks: a half scale, then 32 int8 codes (Q8_0) or 16 bytes of nibbles (Q4_0).
                int codeBytes = format == Q8_0 ? 32 : 16, blockBytes = 2 + codeBytes, perRow = cols / 32;
                long codes = (long) rows * perRow * codeBytes; // where the scales start
                for (int i = 0; i < r; i++) {
                    long first = (row0 + (long) i * stride) * perRow;
                    for (int b = 0; b < perRow; b++) {
                        long src = ((long) i * perRow + b) * blockBytes;
                        s.set(SHORT_LE, codes + 2 * (first + b), d.get(SHORT_LE, src));
                        MemorySegment.copy(d, src + 2, s, (first + b) * codeBytes, codeBytes);
                    }
                }
            }
            default -> throw new IllegalStateException();
        }
    }
}
