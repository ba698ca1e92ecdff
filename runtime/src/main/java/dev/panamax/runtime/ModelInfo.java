package dev.panamax.runtime;

import java.util.Map;

/**
 * What a loaded model is, for a user interface or a log line.
 *
 * @param architecture    the architecture family ("llama", "gpt2", "bert", "mamba2", ...)
 * @param kind            "decoder" (generates text), "encoder" (embeds only) or "vision" (images: {@link dev.panamax.runtime.model.VisionModel})
 * @param parameters      the number of weights
 * @param parametersByType the weights of each type as the model computes with them ({"Q8_0": ..., "F32": ...})
 * @param contextLength   the longest sequence: a decoder's context, an encoder's positions ({@link Integer#MAX_VALUE} for state-space models; −1 for a vision model)
 * @param vocabularySize  token ids run from 0 to this − 1 (−1 when the model cannot tell: an encoder)
 * @param device          "cpu", or the GPU it runs on
 */
public record ModelInfo(String architecture, String kind, long parameters, Map<String, Long> parametersByType, int contextLength, int vocabularySize,
                        String device) {
    public ModelInfo {
        // Sorted by type name, so that the record prints the same in every run.
        parametersByType = java.util.Collections.unmodifiableSortedMap(new java.util.TreeMap<>(parametersByType));
    }
}
