/**
 * The float kernels beneath every model: dot, matvec, tiled matmul, softmax, norms, RoPE,
 * activations, f16/bf16 conversion — each a Vector API kernel with a plain-Java scalar twin.
 *
 * <p>Nothing here is public API: the package is exported only to the Panamax modules built on it.
 * {@code jdk.incubator.vector} is an optional ({@code static}) requirement: without
 * {@code --add-modules jdk.incubator.vector} the scalar twins run, with the same results.
 */
module dev.panamax.simd {
    requires static jdk.incubator.vector;

    exports dev.panamax.simd to dev.panamax.quant, dev.panamax.runtime, dev.panamax.models, dev.panamax.cuda;
}
