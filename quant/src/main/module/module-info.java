/**
 * Block-quantized formats (GGUF Q8_0, Q4_0, K-quants, ternary, binary) and their dot products.
 *
 * <p>Not public API: exported only to the Panamax modules built on it. {@code jdk.incubator.vector}
 * is optional, as in {@code dev.panamax.simd}.
 */
module dev.panamax.quant {
    requires static jdk.incubator.vector;
    requires dev.panamax.simd;

    exports dev.panamax.quant to dev.panamax.runtime, dev.panamax.models, dev.panamax.cuda;
}
