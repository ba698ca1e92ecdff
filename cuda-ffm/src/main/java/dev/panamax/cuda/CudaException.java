package dev.panamax.cuda;

/** A CUDA, NVRTC or cuBLAS call that failed, named with its status, or a CUDA library that cannot be used. */
public final class CudaException extends RuntimeException {
    public CudaException(String message) {
        super(message);
    }

    public CudaException(String message, Throwable cause) {
        super(message, cause);
    }
}
