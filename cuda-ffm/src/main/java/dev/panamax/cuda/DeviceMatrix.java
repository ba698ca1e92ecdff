package dev.panamax.cuda;

import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.simd.Kernels;
import dev.panamax.simd.Parallel;
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
        return place(cx, owner, formatOf(parts), rowsOf(parts), parts[0].cols(), stacked(parts));
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
        Part[] parts = new Part[all.length];
        long row0 = 0;
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i).rows() != b.get(i).rows() || a.get(i).cols() != b.get(i).cols()) {
                throw new IllegalArgumentException(a.get(i).name() + " and " + b.get(i).name() + " differ in shape");
            }
            all[2 * i] = a.get(i);
            all[2 * i + 1] = b.get(i);
            parts[2 * i] = new Part(a.get(i), row0, 2);
            parts[2 * i + 1] = new Part(b.get(i), row0 + 1, 2);
            row0 += 2L * a.get(i).rows();
        }
        return place(cx, owner, formatOf(all), rowsOf(all), all[0].cols(), parts);
    }

    /** Tensor t's rows in a matrix image: its row i is the image's row first + i·stride. */
    private record Part(Tensor t, long first, int stride) {}

    private static Part[] stacked(Tensor... parts) {
        Part[] ps = new Part[parts.length];
        long row0 = 0;
        for (int i = 0; i < parts.length; i++) {
            ps[i] = new Part(parts[i], row0, 1);
            row0 += parts[i].rows();
        }
        return ps;
    }

    /**
     * The image on the device: through this thread's staging buffers when {@link CudaContext#beginUploads}
     * has them open (rows packed a buffer at a time on the kernel threads while the previous buffer is
     * copied; Q8_0 and Q4_0 rows go as the file has them and are split into codes and scales on the
     * device), else packed whole and copied before this returns.
     */
    private static DeviceMatrix place(CudaContext cx, Arena owner, int format, int rows, int cols, Part[] parts) {
        long total = bytes(format, rows, cols);
        long p = cx.allocate(owner, total);
        long rowBytes = bytes(format, 1, cols), codeRow = codeBytes(format, 1, cols), scaleRow = rowBytes - codeRow;
        Uploads up = cx.openUploads();
        if (up != null && up.staged() && rowBytes <= up.buffer) {
            boolean quantized = format == Q8_0 || format == Q4_0;
            int chunk = (int) Math.min(rows, up.buffer / rowBytes), perRow = cols / 32;
            for (int g0 = 0; g0 < rows; g0 += chunk) {
                int n = Math.min(chunk, rows - g0);
                MemorySegment s = up.reserve(n * rowBytes);
                if (quantized) {
                    fillRows(-1, parts, cols, g0, g0 + n, s, 0, true); // GGUF's blocks, a row of them is rowBytes
                    up.sendBlocks(s, (long) n * perRow, (int) (codeRow / perRow), p + g0 * codeRow, p + rows * codeRow + g0 * scaleRow);
                } else {
                    fillRows(format, parts, cols, g0, g0 + n, s, 0, true);
                    up.send(p + g0 * rowBytes, s);
                }
            }
        } else {
            try (Arena staging = Arena.ofShared()) {
                MemorySegment s = staging.allocate(total, 16);
                fillRows(format, parts, cols, 0, rows, s, rows * codeRow, true);
                cx.copyIn(p, s);
            }
            if (up != null) up.count(total);
        }
        return new DeviceMatrix(format, rows, cols, p, total);
    }

    private static int rowsOf(Tensor... parts) {
        long rows = 0;
        for (Tensor p : parts) {
            if (p.cols() != parts[0].cols()) throw new IllegalArgumentException(p.name() + " has " + p.cols() + " columns, expected " + parts[0].cols());
            rows += p.rows();
        }
        return Math.toIntExact(rows);
    }

    /** Bytes of the rows' codes (quantized formats: the part before the scales; otherwise the whole rows). */
    private static long codeBytes(int format, long rows, long cols) {
        return switch (format) {
            case Q8_0 -> rows * cols;
            case Q4_0 -> rows * cols / 2;
            default -> bytes(format, rows, cols);
        };
    }

    /** The device image of {@code parts} stacked by rows, in {@code format}, in host memory of {@code arena}. */
    static MemorySegment pack(Arena arena, int format, Tensor... parts) {
        int rows = rowsOf(parts), cols = parts[0].cols();
        MemorySegment s = arena.allocate(bytes(format, rows, cols), 16);
        fillRows(format, stacked(parts), cols, 0, rows, s, codeBytes(format, rows, cols), false);
        return s;
    }

    /**
     * Rows [g0, g1) of the image into {@code dst}: row g at its offset from row g0 — for Q8_0 and Q4_0 the
     * rows' codes from 0 and their scales from {@code scalesAt} (GGUF's blocks split: a half scale,
     * then 32 int8 codes or 16 bytes of nibbles). Format -1: the rows' bytes as the file has them
     * (quantized parts, to be split on the device). With {@code parallel}, rows are filled on the kernel
     * threads ({@code dst} must then be a shared segment).
     */
    private static void fillRows(int format, Part[] parts, int cols, long g0, long g1, MemorySegment dst, long scalesAt, boolean parallel) {
        Kernels k = Simd.kernels();
        int perRow = cols / 32;
        for (Part part : parts) {
            Tensor t = part.t();
            // this part's rows i with g0 <= first + i·stride < g1
            long from = Math.max(0, Math.ceilDiv(g0 - part.first(), part.stride()));
            long to = Math.min(t.rows(), Math.ceilDiv(g1 - part.first(), part.stride()));
            if (from >= to) continue;
            MemorySegment d = t.data();
            long fileRow = t.type().bytesFor(cols); // a row's bytes in the tensor
            boolean asIs = format == -1 || format == F32 && t.type() == DType.F32 || format == F16 && t.type() == DType.F16 || format == BF16;
            long rowBytes = asIs ? fileRow : bytes(format, 1, cols);
            Parallel.RangeBody body = (a, b) -> {
                if (asIs && part.stride() == 1) { // consecutive rows, one copy
                    MemorySegment.copy(d, (from + a) * fileRow, dst, (part.first() + from + a - g0) * fileRow, (long) (b - a) * fileRow);
                    return;
                }
                float[] buf = asIs ? null : new float[cols];
                for (long i = from + a; i < from + b; i++) {
                    long local = part.first() + i * part.stride() - g0;
                    if (asIs) {
                        MemorySegment.copy(d, i * fileRow, dst, local * fileRow, fileRow);
                        continue;
                    }
                    switch (format) {
                        case F32 -> {
                            t.row(k, (int) i, buf, 0);
                            MemorySegment.copy(buf, 0, dst, ValueLayout.JAVA_FLOAT, 4 * local * cols, cols);
                        }
                        case F16 -> {
                            t.row(k, (int) i, buf, 0);
                            k.f32ToF16(buf, 0, dst, 2 * local * cols, cols);
                        }
                        case Q8_0, Q4_0 -> {
                            int codeBytes = format == Q8_0 ? 32 : 16, blockBytes = 2 + codeBytes;
                            for (int blk = 0; blk < perRow; blk++) {
                                long src = (i * perRow + blk) * blockBytes;
                                dst.set(SHORT_LE, scalesAt + 2 * (local * perRow + blk), d.get(SHORT_LE, src));
                                MemorySegment.copy(d, src + 2, dst, (local * perRow + blk) * codeBytes, codeBytes);
                            }
                        }
                        default -> throw new IllegalStateException();
                    }
                }
            };
            int n = (int) (to - from);
            if (parallel) Parallel.forRange(n, (int) Math.max(1, (256 << 10) / Math.max(1, rowBytes)), body);
            else body.run(0, n);
        }
    }
}
