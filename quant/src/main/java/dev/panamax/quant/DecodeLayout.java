package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * The CPU's decode layouts: a matrix of a block format with groups of rows interleaved so the
 * Vector API kernels read one row per int lane ({@link Q8_0x16}, {@link Q4_0x64}, {@link Q4_Kx16},
 * {@link Q6_Kx16}, each with its byte table, scalar reference and kernels). Each layout owns its
 * operations — its size, the copy from the file's layout, the matrix × vector product, the prompt
 * GEMM, widening rows — and each block format names the layout it decodes through
 * ({@link #of}: Q5_0 and IQ4_NL through Q8_0x16, their values being Q8_0 codes under the same
 * scale). The runtime's tensors call the layout; a new layout touches {@code quant/} only.
 *
 * <pre>{@code
 * DecodeLayout l = DecodeLayout.of(BlockFormat.Q4_0);                 // Q4_0x64
 * MemorySegment copy = arena.allocate(l.bytes(rows, cols), 64);
 * if (l.copy(BlockFormat.Q4_0, file, off, rows, cols, copy)) l.matvec(copy, x, out, rows, cols);
 * }</pre>
 */
public enum DecodeLayout {
    /** Q8_0 codes, sixteen rows a group ({@link Q8_0x16}); also Q5_0's and IQ4_NL's values. */
    Q8_0x16(BlockFormat.Q8_0),
    /** Q4_0, sixty-four rows a group, four rows' nibbles in each short ({@link Q4_0x64}). */
    Q4_0x64(BlockFormat.Q4_0),
    /** Q4_K, sixteen rows a group, the scales unpacked (148 bytes per row and super-block; {@link Q4_Kx16}). */
    Q4_Kx16(BlockFormat.Q4_K),
    /** Q6_K, sixteen rows a group, codes as whole bytes (274 bytes per row and super-block; {@link Q6_Kx16}). */
    Q6_Kx16(BlockFormat.Q6_K);

    /** The block format whose codes the layout holds. */
    public final BlockFormat codes;

    DecodeLayout(BlockFormat codes) {
        this.codes = codes;
    }

    /** The layout a matrix of {@code format} decodes through on the CPU, or null when it has none. */
    public static DecodeLayout of(BlockFormat format) {
        return switch (QuantizedMatvec.interleavedAs(format)) {
            case Q8_0 -> Q8_0x16;
            case Q4_0 -> Q4_0x64;
            case Q4_K -> Q4_Kx16;
            case Q6_K -> Q6_Kx16;
            default -> null;
        };
    }

    /** Rows per interleaved group (a matrix's rows are padded to whole groups with zero rows). */
    public int groupRows() {
        return QuantizedMatvec.interleavedGroupRows(codes);
    }

    /** Bytes per row and block. */
    public int rowBytes() {
        return QuantizedMatvec.interleavedRowBytes(codes);
    }

    /** Bytes of a [rows, cols] matrix in this layout (rows rounded up to whole groups). */
    public long bytes(int rows, int cols) {
        return QuantizedMatvec.interleavedBytes(codes, rows, cols);
    }

    /** Whether the kernels of this layout run in this JVM for a [rows, cols] matrix of {@code from} (the Vector API path, whole blocks). */
    public boolean runs(BlockFormat from, int rows, int cols) {
        return of(from) == this && QuantizedMatvec.interleaves(from, rows, cols);
    }

    /**
     * Copies a [rows, cols] matrix of {@code from} blocks at byte {@code off} of {@code src} into
     * {@code dst} ({@link #bytes} long) in this layout; false, dst unspecified, where a block's scale
     * is infinite or NaN (the kernels widen scales with integer operations only finite halves survive).
     */
    public boolean copy(BlockFormat from, MemorySegment src, long off, int rows, int cols, MemorySegment dst) {
        if (of(from) != this) throw new IllegalArgumentException(from + " does not decode through " + this);
        return QuantizedMatvec.interleave(from, src, off, rows, cols, dst);
    }

    /** out = W·x for a matrix W [rows, cols] in this layout. */
    public void matvec(MemorySegment w, float[] x, float[] out, int rows, int cols) {
        QuantizedMatvec.matvecInterleaved(codes, w, x, out, rows, cols);
    }

    /** outs[i] = W_i·x for matrices in this layout over the same x, in one parallel pass with x quantized once. */
    public void matvec(MemorySegment[] ws, int[] rows, int cols, float[] x, float[][] outs) {
        QuantizedMatvec.matvecInterleaved(codes, ws, rows, cols, x, outs);
    }

    /**
     * One decoding step of B sequences: outs[i] [B, rows[i]] = W_i·x[b] for x [B, cols], each b's
     * result bit for bit {@link #matvec}'s of that vector alone, the weights read once for all B.
     */
    public void matvecBatch(MemorySegment[] ws, int[] rows, int cols, float[] x, int B, float[][] outs) {
        QuantizedMatvec.matvecInterleavedBatch(codes, ws, rows, cols, x, B, outs);
    }

    /** Whether a block of {@code tokens} is best multiplied by {@link #matmul} (else the rows are widened for the float GEMM). */
    public boolean multipliesPrompt(int tokens) {
        return QuantizedMatvec.multipliesPrompt(codes, tokens);
    }

    /** out[t] = W·x[t] for a prompt's tokens, each token's row bit for bit its {@link #matvec}. */
    public void matmul(MemorySegment w, int rows, int cols, float[] x, int tokens, float[] out) {
        QuantizedMatvec.matmulInterleaved(codes, w, rows, cols, x, tokens, out);
    }

    /** Rows [r0, r0 + count) as floats, row r0 + i at y[yOff + i·cols]: each value the file format's exactly. */
    public void dequantizeRows(MemorySegment w, int rows, int cols, int r0, int count, float[] y, int yOff) {
        QuantizedMatvec.dequantizeInterleavedRows(codes, w, rows, cols, r0, count, y, yOff);
    }
}
