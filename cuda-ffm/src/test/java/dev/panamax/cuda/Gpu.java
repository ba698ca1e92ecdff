package dev.panamax.cuda;

import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.simd.Kernels;
import dev.panamax.simd.Simd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;

/** Test helpers: the GPU or a visible skip, random tensors, device round trips. */
final class Gpu {
    private Gpu() {}

    private static volatile boolean told;

    /** The GPU; without one the calling test is skipped, and the reason printed once. */
    static CudaContext context() {
        String why = new CudaBackend().unavailableReason();
        if (why != null && !told) {
            told = true;
            System.err.println("[cuda-ffm] GPU tests skipped: " + why);
        }
        Assumptions.assumeTrue(why == null, () -> "no usable GPU: " + why);
        return CudaContext.get();
    }

    static float[] random(Random r, int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * scale);
        return x;
    }

    /** A [rows × cols] tensor of {@code type} holding w (rounded or quantized as the type does). */
    static Tensor tensor(DType type, int rows, int cols, float[] w) {
        long n = (long) rows * cols;
        MemorySegment seg = Arena.ofAuto().allocate(type.bytesFor(n), 16);
        Kernels k = Simd.kernels();
        switch (type) {
            case F32 -> MemorySegment.copy(w, 0, seg, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, (int) n);
            case F16 -> k.f32ToF16(w, 0, seg, 0, (int) n);
            case BF16 -> {
                for (int i = 0; i < n; i++) seg.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i, (short) (Float.floatToRawIntBits(w[i]) >>> 16));
            }
            default -> type.format.quantize(w, 0, (int) n, seg, 0);
        }
        return new Tensor("w", type, new long[] {rows, cols}, seg);
    }
}
