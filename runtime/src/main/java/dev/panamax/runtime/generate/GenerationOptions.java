package dev.panamax.runtime.generate;

import java.util.List;

/**
 * How to pick tokens. The defaults are llama.cpp's: temperature 0.8, top-k 40, top-p 0.95,
 * min-p 0.05, repetition penalty 1.0 (off) over the last 64 tokens. Temperature 0 is greedy.
 *
 * <pre>{@code
 * var options = GenerationOptions.defaults().withMaxTokens(64).withSeed(42);
 * var greedy  = GenerationOptions.greedy();
 * }</pre>
 *
 * @param seed random seed; the same seed, options and prompt give the same text
 * @param stop strings that end generation when they appear in the output (not included in it)
 */
public record GenerationOptions(int maxTokens, float temperature, int topK, float topP, float minP,
                                float repeatPenalty, int repeatLastN, long seed, List<String> stop) {

    public GenerationOptions {
        if (maxTokens < 0) throw new IllegalArgumentException("maxTokens must be >= 0, got " + maxTokens);
        if (!(temperature >= 0)) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("topK must be >= 0 (0 = off), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        if (!(minP >= 0 && minP < 1)) throw new IllegalArgumentException("minP must be in [0, 1), got " + minP);
        if (!(repeatPenalty > 0)) throw new IllegalArgumentException("repeatPenalty must be > 0, got " + repeatPenalty);
        stop = List.copyOf(stop);
    }

    public static GenerationOptions defaults() {
        return new GenerationOptions(256, 0.8f, 40, 0.95f, 0.05f, 1.0f, 64, System.nanoTime(), List.of());
    }

    public static GenerationOptions greedy() {
        return defaults().withTemperature(0);
    }

    public GenerationOptions withMaxTokens(int v) { return new GenerationOptions(v, temperature, topK, topP, minP, repeatPenalty, repeatLastN, seed, stop); }
    public GenerationOptions withTemperature(float v) { return new GenerationOptions(maxTokens, v, topK, topP, minP, repeatPenalty, repeatLastN, seed, stop); }
    public GenerationOptions withTopK(int v) { return new GenerationOptions(maxTokens, temperature, v, topP, minP, repeatPenalty, repeatLastN, seed, stop); }
    public GenerationOptions withTopP(float v) { return new GenerationOptions(maxTokens, temperature, topK, v, minP, repeatPenalty, repeatLastN, seed, stop); }
    public GenerationOptions withMinP(float v) { return new GenerationOptions(maxTokens, temperature, topK, topP, v, repeatPenalty, repeatLastN, seed, stop); }
    public GenerationOptions withRepeatPenalty(float v) { return new GenerationOptions(maxTokens, temperature, topK, topP, minP, v, repeatLastN, seed, stop); }
    public GenerationOptions withSeed(long v) { return new GenerationOptions(maxTokens, temperature, topK, topP, minP, repeatPenalty, repeatLastN, v, stop); }
    public GenerationOptions withStop(List<String> v) { return new GenerationOptions(maxTokens, temperature, topK, topP, minP, repeatPenalty, repeatLastN, seed, v); }
}
