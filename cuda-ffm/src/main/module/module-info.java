/**
 * CUDA offload through the Foreign Function &amp; Memory API (driver API, NVRTC, cuBLAS), found by the
 * runtime as a {@link dev.panamax.runtime.backend.Backend} service. Nothing is exported. On the
 * module path start the JVM with {@code --enable-native-access=dev.panamax.cuda}.
 */
module dev.panamax.cuda {
    requires dev.panamax.runtime;
    requires dev.panamax.simd;
    requires dev.panamax.quant;

    provides dev.panamax.runtime.backend.Backend with dev.panamax.cuda.CudaBackend;
}
