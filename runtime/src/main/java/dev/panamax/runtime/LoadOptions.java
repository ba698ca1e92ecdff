package dev.panamax.runtime;

import dev.panamax.runtime.tensor.DType;
import java.util.Locale;

/**
 * Everything that changes what a loaded model computes, or where: passed to
 * {@link Panamax#load(java.nio.file.Path, LoadOptions)} and on to the architecture, so two models in
 * one JVM can differ (one with an F16 KV cache on the GPU, one quantized at load on the CPU). No
 * library code reads a system property for any of these.
 *
 * <pre>{@code
 * var options = LoadOptions.defaults().withQuantize(DType.Q8_0).withKvCache(LoadOptions.KvCache.F16);
 * try (var model = Panamax.load(Path.of("model.gguf"), options)) { ... }
 * }</pre>
 *
 * @param quantize            quantize float matrices at load to this block type (Q8_0, Q4_0, Q4_K, Q5_K,
 *                            Q6_K, BINARY, TERNARY); null keeps them as stored
 * @param kvCache             the attention KV cache's element type
 * @param widenHalfFloatsUpTo 16-bit weight matrices are widened to F32 at load when they total at most
 *                            this many bytes (small models run faster so on CPUs without a half-float
 *                            vector instruction); 0 never widens. A GPU wants them as stored: 0.
 * @param interleave          give Q8_0, Q4_0, Q4_K, Q6_K (and Q5_0, IQ4_NL) matrices the CPU's
 *                            interleaved decode layout when the first session starts (false: decode from
 *                            the file's layout, about half the speed; for comparisons)
 * @param device              "cpu", "cuda" (an error when no GPU can run the model) or "auto"
 * @param threads             the kernels' shared thread pool size (0: leave it as it is, the cores by
 *                            default); the pool is one per JVM, and results do not depend on it
 * @param promptBatchFrom     prompts of at least this many tokens run through each layer as one matrix
 *                            (shorter ones token by token): a speed choice whose results differ in the last
 *                            bits (the GEMM sums in another order than the decode matvec); 0 (the default):
 *                            by the weights, {@link #promptBatchFrom(boolean)}
 * @param promptChunk         a longer prompt is computed as consecutive blocks of at most this many tokens,
 *                            of nearly equal length, from its first (0: as one block). The blocks are part of what is computed — a row's
 *                            kernels depend on its block's size — so a batched decoder
 *                            ({@code BatchedDecoder}, {@code panamax serve}) can feed a long prompt a block
 *                            between its decoding steps and still give the bits of the prompt fed alone
 * @param deltaRuleChunk      chunk length of the chunkwise delta rule (Qwen3-Next's linear attention)
 * @param sigmoidAttention    sigmoid attention weights with the −log n bias instead of softmax, for
 *                            checkpoints trained that way (Apple's sigmoid self-attention)
 * @param layoutCache         a folder where the interleaved decode copies are kept in a file per model
 *                            ({@code dev.panamax.runtime.format.LayoutCache}), so a later start maps them
 *                            instead of copying again (a 1.1 GB Q8_0 file: ~2 s); null (the default) never
 *                            writes one. {@link #defaultLayoutCache()} is the user's cache folder
 */
public record LoadOptions(DType quantize, KvCache kvCache, long widenHalfFloatsUpTo, boolean interleave, String device, int threads,
                          int promptBatchFrom, int promptChunk, int deltaRuleChunk, boolean sigmoidAttention, java.nio.file.Path layoutCache) {

    /** The attention KV cache's element type: F16 halves its memory (llama.cpp's default). */
    public enum KvCache { F32, F16 }

    /** 256 MiB: the 16-bit matrices of models up to ~130M parameters are widened on the CPU. */
    public static final long DEFAULT_WIDEN_BYTES = 256L << 20;

    public LoadOptions {
        if (kvCache == null) throw new IllegalArgumentException("kvCache must not be null");
        if (widenHalfFloatsUpTo < 0) throw new IllegalArgumentException("widenHalfFloatsUpTo must be >= 0, got " + widenHalfFloatsUpTo);
        device = device == null ? "cpu" : device.toLowerCase(Locale.ROOT);
        if (!device.equals("cpu") && !device.equals("cuda") && !device.equals("auto")) {
            throw new IllegalArgumentException("device must be cpu, cuda or auto, got '" + device + "'");
        }
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0 (0: as it is), got " + threads);
        if (promptBatchFrom < 0) throw new IllegalArgumentException("promptBatchFrom must be >= 0 (0: by the weights), got " + promptBatchFrom);
        if (promptChunk < 0) throw new IllegalArgumentException("promptChunk must be >= 0 (0: whole prompts), got " + promptChunk);
        if (deltaRuleChunk < 1) throw new IllegalArgumentException("deltaRuleChunk must be >= 1, got " + deltaRuleChunk);
        if (quantize != null && quantize != DType.TERNARY && quantize != DType.BINARY && (quantize.format == null || !quantize.format.canQuantize())) {
            throw new IllegalArgumentException("quantize supports q8_0, q4_0, q4_k, q5_k, q6_k, binary and ternary, not " + quantize);
        }
    }

    /**
     * Tokens a block of a long prompt: each block reads every weight matrix once, so blocks much
     * shorter than this cost prompt speed; and a batched decoder feeds a long prompt a block between
     * its decoding steps, so longer blocks hold the other sequences' next tokens up longer (see
     * docs/server.md for both, measured).
     */
    public static final int DEFAULT_PROMPT_CHUNK = 64;

    /** {@link #promptBatchFrom(boolean)} where {@link #promptBatchFrom} is 0 (the default) and the layer weights are not mostly in quantized decode layouts. */
    public static final int DEFAULT_PROMPT_BATCH_FROM = 16;

    /**
     * {@link #promptBatchFrom(boolean)} where {@link #promptBatchFrom} is 0 (the default) and most of a
     * Llama-family model's layer weights are in quantized decode layouts (Q8_0, Q4_0, Q4_K, Q6_K …;
     * {@code -Dpanamax.quantizedPromptBatchFrom}): prompts of fewer tokens go through the decoding
     * arithmetic as the rows of one batched step, whose kernels read each weight once for all the rows,
     * while the GEMM widens every row to floats. On an Intel Xeon (2 threads, TinyLlama's shapes), 16
     * tokens ran 1.3–1.9× faster that way, 32 tokens 1.1–1.2×, 48 tokens 1.0–1.1×, 64 tokens 0.8–0.9×
     * (docs/benchmarks.md, twenty-fifth session).
     */
    public static final int QUANTIZED_PROMPT_BATCH_FROM = dev.panamax.simd.Tuning.speed("quantizedPromptBatchFrom", 48);

    /** As stored, F32 KV cache, small 16-bit models widened, interleaved layouts, CPU, prompts batched by the weights ({@link #promptBatchFrom(boolean)}) in blocks of 64. */
    public static LoadOptions defaults() {
        return new LoadOptions(null, KvCache.F32, DEFAULT_WIDEN_BYTES, true, "cpu", 0, 0, DEFAULT_PROMPT_CHUNK, 64, false, null);
    }

    /**
     * The fewest tokens a prompt (or a block of one) needs to run through each layer as one matrix:
     * {@link #promptBatchFrom} when set, otherwise {@link #QUANTIZED_PROMPT_BATCH_FROM} for a model whose
     * layer weights are mostly in quantized decode layouts ({@code decodeLayouts}) and
     * {@link #DEFAULT_PROMPT_BATCH_FROM} for any other.
     */
    public int promptBatchFrom(boolean decodeLayouts) {
        return promptBatchFrom > 0 ? promptBatchFrom : decodeLayouts ? QUANTIZED_PROMPT_BATCH_FROM : DEFAULT_PROMPT_BATCH_FROM;
    }

    public LoadOptions withQuantize(DType v) { return new LoadOptions(v, kvCache, widenHalfFloatsUpTo, interleave, device, threads, promptBatchFrom, promptChunk, deltaRuleChunk, sigmoidAttention, layoutCache); }
    public LoadOptions withKvCache(KvCache v) { return new LoadOptions(quantize, v, widenHalfFloatsUpTo, interleave, device, threads, promptBatchFrom, promptChunk, deltaRuleChunk, sigmoidAttention, layoutCache); }
    public LoadOptions withWidenHalfFloatsUpTo(long v) { return new LoadOptions(quantize, kvCache, v, interleave, device, threads, promptBatchFrom, promptChunk, deltaRuleChunk, sigmoidAttention, layoutCache); }
    public LoadOptions withInterleave(boolean v) { return new LoadOptions(quantize, kvCache, widenHalfFloatsUpTo, v, device, threads, promptBatchFrom, promptChunk, deltaRuleChunk, sigmoidAttention, layoutCache); }
    public LoadOptions withDevice(String v) { return new LoadOptions(quantize, kvCache, widenHalfFloatsUpTo, interleave, v, threads, promptBatchFrom, promptChunk, deltaRuleChunk, sigmoidAttention, layoutCache); }
    public LoadOptions withThreads(int v) { return new LoadOptions(quantize, kvCache, widenHalfFloatsUpTo, interleave, device, v, promptBatchFrom, promptChunk, deltaRuleChunk, sigmoidAttention, layoutCache); }
    public LoadOptions withPromptBatchFrom(int v) { return new LoadOptions(quantize, kvCache, widenHalfFloatsUpTo, interleave, device, threads, v, promptChunk, deltaRuleChunk, sigmoidAttention, layoutCache); }
    public LoadOptions withPromptChunk(int v) { return new LoadOptions(quantize, kvCache, widenHalfFloatsUpTo, interleave, device, threads, promptBatchFrom, v, deltaRuleChunk, sigmoidAttention, layoutCache); }
    public LoadOptions withDeltaRuleChunk(int v) { return new LoadOptions(quantize, kvCache, widenHalfFloatsUpTo, interleave, device, threads, promptBatchFrom, promptChunk, v, sigmoidAttention, layoutCache); }
    public LoadOptions withSigmoidAttention(boolean v) { return new LoadOptions(quantize, kvCache, widenHalfFloatsUpTo, interleave, device, threads, promptBatchFrom, promptChunk, deltaRuleChunk, v, layoutCache); }
    public LoadOptions withLayoutCache(java.nio.file.Path v) { return new LoadOptions(quantize, kvCache, widenHalfFloatsUpTo, interleave, device, threads, promptBatchFrom, promptChunk, deltaRuleChunk, sigmoidAttention, v); }

    /**
     * The user's cache folder for decode layouts: {@code $XDG_CACHE_HOME/panamax/layouts}, else
     * {@code ~/.cache/panamax/layouts} (where the embedded model and the CUDA kernels are cached too).
     */
    public static java.nio.file.Path defaultLayoutCache() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        java.nio.file.Path base = xdg != null && !xdg.isBlank() ? java.nio.file.Path.of(xdg) : java.nio.file.Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("panamax").resolve("layouts");
    }
}
