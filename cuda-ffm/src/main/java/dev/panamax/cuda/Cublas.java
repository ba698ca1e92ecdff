package dev.panamax.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * cuBLAS, for the matrix-matrix work of a prompt: SGEMM, GemmEx (F16/BF16 inputs, F32 accumulate
 * and output) and strided-batched SGEMM. cuBLAS is column-major; {@link #gemmRowMajorNT} states the
 * one product Panamax needs in its own row-major terms. One handle per model, bound to a stream;
 * calls on one handle must not overlap (the callers synchronise).
 */
public final class Cublas implements AutoCloseable {
    public static final int OP_N = 0, OP_T = 1;
    /** cudaDataType values. */
    public static final int R_32F = 0, R_16F = 2, R_16BF = 14;
    /** cublasComputeType_t CUBLAS_COMPUTE_32F. */
    public static final int COMPUTE_32F = 68;
    static final int GEMM_DEFAULT = -1;

    private static volatile Library library;

    /** The bound library, loaded once per process. */
    static final class Library {
        final CudaLibraries.Library lib;
        final MethodHandle create, destroy, setStream, sgemm, gemmEx, sgemmStridedBatched, setWorkspace, getVersion;

        Library(CudaLibraries.Library lib) {
            this.lib = lib;
            create = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS), "cublasCreate_v2");
            destroy = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG), "cublasDestroy_v2");
            setStream = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), "cublasSetStream_v2");
            setWorkspace = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG), "cublasSetWorkspace_v2");
            getVersion = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS), "cublasGetVersion_v2");
            sgemm = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                    ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), "cublasSgemm_v2");
            gemmEx = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                    ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT,
                    JAVA_INT, JAVA_INT), "cublasGemmEx");
            sgemmStridedBatched = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                    ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG,
                    JAVA_INT), "cublasSgemmStridedBatched");
        }
    }

    static Library library() {
        Library l = library;
        if (l != null) return l;
        synchronized (Cublas.class) {
            if (library == null) library = new Library(CudaLibraries.toolkit("cublas", new int[] {13, 12}, Arena.global()));
            return library;
        }
    }

    private final Library L;
    private final long handle;
    private final Arena scalars = Arena.ofShared();
    private final MemorySegment one, zero, alphaBeta;
    private long workspace;
    private final CudaContext cx;

    /** A handle on {@code cx}'s device, working on {@code stream}, with a workspace of its own. */
    public Cublas(CudaContext cx, long stream) {
        this.cx = cx;
        cx.makeCurrent();
        L = library();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ADDRESS);
            check(Driver.call(() -> (int) L.create.invokeExact(h)), "cublasCreate_v2");
            handle = h.get(JAVA_LONG, 0);
        }
        long h = handle;
        check(Driver.call(() -> (int) L.setStream.invokeExact(h, stream)), "cublasSetStream_v2");
        // A workspace of our own: cuBLAS then never allocates inside a call (nor inside a captured graph).
        long bytes = 32L << 20;
        workspace = cx.driver.malloc(bytes);
        long ws = workspace;
        check(Driver.call(() -> (int) L.setWorkspace.invokeExact(h, ws, bytes)), "cublasSetWorkspace_v2");
        one = scalars.allocateFrom(JAVA_FLOAT, 1f);
        zero = scalars.allocateFrom(JAVA_FLOAT, 0f);
        alphaBeta = scalars.allocate(JAVA_FLOAT, 2);
    }

    public int version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check(Driver.call(() -> (int) L.getVersion.invokeExact(handle, v)), "cublasGetVersion_v2");
            return v.get(JAVA_INT, 0);
        }
    }

    private static void check(int status, String call) {
        if (status != 0) throw new CudaException(call + ": " + statusName(status));
    }

    static String statusName(int s) {
        return switch (s) {
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "cublasStatus " + s;
        };
    }

    /** Column-major C[m×n] = alpha·op(A)·op(B) + beta·C, all float32. */
    public void sgemm(int opA, int opB, int m, int n, int k, float alpha, long A, int lda, long B, int ldb, float beta, long C, int ldc) {
        MemorySegment al = scalar(alpha, 0), be = scalar(beta, 1);
        check(Driver.call(() -> (int) L.sgemm.invokeExact(handle, opA, opB, m, n, k, al, A, lda, B, ldb, be, C, ldc)), "cublasSgemm_v2");
    }

    /** Column-major GEMM with typed inputs (R_16F, R_16BF, R_32F), float32 accumulation, C of {@code typeC}. */
    public void gemmEx(int opA, int opB, int m, int n, int k, float alpha, long A, int typeA, int lda, long B, int typeB, int ldb,
                       float beta, long C, int typeC, int ldc) {
        MemorySegment al = scalar(alpha, 0), be = scalar(beta, 1);
        check(Driver.call(() -> (int) L.gemmEx.invokeExact(handle, opA, opB, m, n, k, al, A, typeA, lda, B, typeB, ldb, be, C, typeC, ldc,
                COMPUTE_32F, GEMM_DEFAULT)), "cublasGemmEx");
    }

    /** {@code batch} independent column-major SGEMMs, the i-th at A + i·strideA, ... (strides in elements). */
    public void sgemmStridedBatched(int opA, int opB, int m, int n, int k, float alpha, long A, int lda, long strideA, long B, int ldb,
                                    long strideB, float beta, long C, int ldc, long strideC, int batch) {
        MemorySegment al = scalar(alpha, 0), be = scalar(beta, 1);
        check(Driver.call(() -> (int) L.sgemmStridedBatched.invokeExact(handle, opA, opB, m, n, k, al, A, lda, strideA, B, ldb, strideB,
                be, C, ldc, strideC, batch)), "cublasSgemmStridedBatched");
    }

    /**
     * Row-major {@code Y[T×n] (+)= X[T×k] · W[n×k]ᵀ}: the layer product of a prompt, with W as stored
     * (one row per output). In column-major terms Yᵀ = W·Xᵀ with W read transposed. {@code type} is
     * the element type of W and X (R_32F: SGEMM; R_16F/R_16BF: GemmEx); Y is float32.
     */
    public void gemmRowMajorNT(int T, int n, int k, long W, long X, int type, long Y, boolean accumulate) {
        float beta = accumulate ? 1f : 0f;
        if (type == R_32F) sgemm(OP_T, OP_N, n, T, k, 1f, W, k, X, k, beta, Y, n);
        else gemmEx(OP_T, OP_N, n, T, k, 1f, W, type, k, X, type, k, beta, Y, R_32F, n);
    }

    private MemorySegment scalar(float v, int slot) {
        if (v == 1f) return one;
        if (v == 0f) return zero;
        MemorySegment s = alphaBeta.asSlice(slot * 4L, 4);
        s.set(JAVA_FLOAT, 0, v);
        return s;
    }

    @Override
    public void close() {
        cx.makeCurrent();
        check(Driver.call(() -> (int) L.destroy.invokeExact(handle)), "cublasDestroy_v2");
        if (workspace != 0) cx.driver.free(workspace);
        workspace = 0;
        scalars.close();
    }
}
