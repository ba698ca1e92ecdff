package dev.panamax.models;

import dev.panamax.runtime.format.Weights;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.tokenizer.Tokenizer;
import dev.panamax.simd.Kernels;
import dev.panamax.simd.Simd;

/**
 * What every language model here holds beside its layers — the prepared weights, the tokenizer,
 * the vocabulary and context sizes, the end ids and chat template the file names — and the
 * answers that follow from them. An architecture's model adds its layers and {@link #newSession}.
 */
abstract class LoadedLanguageModel implements LanguageModel {
    /** The weights, prepared for the chosen device ({@link Weights#matrix}, {@link Weights#cpu}). */
    final Weights weights;
    final Tokenizer tokenizer;
    final Kernels k = Simd.kernels();
    private final String architecture;
    private final int vocab, context;
    private final String chatTemplate;
    private final int[] endIds;

    /**
     * @param context the longest sequence a session holds; {@link Integer#MAX_VALUE} for the state
     *                space models, whose state does not grow
     * @param endIds  the file's end-of-generation ids; empty for the tokenizer's end of sequence
     */
    LoadedLanguageModel(String architecture, Weights weights, Tokenizer tokenizer, int vocab, int context, String chatTemplate, int[] endIds) {
        this.architecture = architecture;
        this.weights = weights;
        this.tokenizer = tokenizer;
        this.vocab = vocab;
        this.context = context;
        this.chatTemplate = chatTemplate;
        this.endIds = endIds;
    }

    @Override public final String architecture() { return architecture; }
    @Override public final int vocabSize() { return vocab; }
    @Override public final int contextLength() { return context; }
    @Override public final Tokenizer tokenizer() { return tokenizer; }
    @Override public final String chatTemplate() { return chatTemplate; }
    @Override public final int[] endIds() { return endIds.length > 0 ? endIds.clone() : LanguageModel.super.endIds(); }
    /** The CPU's interleaved copies of the quantized matrices, made now rather than by the first session. */
    @Override public final void prepare() { weights.prepare(); }
    @Override public final String preparedNote() { return weights.layoutCacheNote(); }
    @Override public final void close() { weights.close(); }
    @Override public final java.util.Map<String, Long> parametersByType() { return weights.parametersByType(); }
}
