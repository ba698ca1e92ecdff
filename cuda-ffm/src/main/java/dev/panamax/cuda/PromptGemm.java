package dev.panamax.cuda;

import java.lang.foreign.Arena;

/**
 * A model's matrix-matrix work for prompts: one cuBLAS handle on its own stream, and a scratch matrix
 * for quantized weights dequantized to half floats. Callers hold the model's lock (one handle, one
 * stream per model).
 */
final class PromptGemm implements AutoCloseable {
    final CudaContext cx;
    final CudaOps ops;
    final long stream;
    final Cublas cublas;
    private final Arena owner;
    private long scratchPointer, scratchBytes; // dequantized (half) or widened (float) weights

    /** Scratch memory is tied to {@code owner} (the model's weights arena). */
    PromptGemm(CudaContext cx, CudaOps ops, Arena owner) {
        this.cx = cx;
        this.ops = ops;
        this.owner = owner;
        stream = cx.driver.createStream();
        cublas = new Cublas(cx, stream);
    }

    /**
     * Y[T × W.rows] (+)= in · Wᵀ: F32 weights by SGEMM on the float rows in32 (BF16 ones widened to F32
     * in the scratch matrix first), others by GemmEx on the half rows in16 (quantized ones dequantized
     * to the scratch matrix first — or, for a short prompt, Q8_0 and Q4_0 by the tensor-core matvec on
     * the float rows: {@link CudaOps#promptRows}).
     */
    void gemm(DeviceMatrix W, long in32, long in16, int T, long Y, boolean accumulate) {
        switch (W.format) {
            case DeviceMatrix.F32 -> cublas.gemmRowMajorNT(T, W.rows, W.cols, W.pointer, in32, Cublas.R_32F, Y, accumulate);
            case DeviceMatrix.F16 -> cublas.gemmRowMajorNT(T, W.rows, W.cols, W.pointer, in16, Cublas.R_16F, Y, accumulate);
            case DeviceMatrix.BF16 -> { // widened to F32 (exact), then SGEMM on the float rows
                long tmp = scratch(4L * W.rows * W.cols);
                ops.widenBf16(stream, W, tmp);
                cublas.gemmRowMajorNT(T, W.rows, W.cols, tmp, in32, Cublas.R_32F, Y, accumulate);
            }
            default -> {
                if (in32 != 0 && ops.promptRows(W, T)) { // a short prompt: no dequantized copy, the weights read once
                    ops.rowsMatvec(stream, W, T, in32, Y, accumulate);
                    return;
                }
                long tmp = scratch(2L * W.rows * W.cols);
                ops.dequantF16(stream, W, tmp);
                cublas.gemmRowMajorNT(T, W.rows, W.cols, tmp, in16, Cublas.R_16F, Y, accumulate);
            }
        }
    }

    /** The scratch matrix, grown to at least {@code bytes} (kept for the model's life, freed with its weights). */
    private long scratch(long bytes) {
        if (bytes > scratchBytes) {
            scratchPointer = cx.allocate(owner, bytes);
            scratchBytes = bytes;
        }
        return scratchPointer;
    }

    @Override
    public void close() {
        cublas.close();
        cx.driver.destroyStream(stream);
    }
}
