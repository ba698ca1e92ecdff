package dev.panamax.runtime.model;

import dev.panamax.runtime.tokenizer.Tokenizer;

/** A loaded model of any kind: a causal {@link LanguageModel} or an {@link EncoderModel}. */
public interface Model extends AutoCloseable {

    /** The architecture family, e.g. "llama". */
    String architecture();

    /** The model's tokenizer; null when the source had none (then only token ids work). */
    Tokenizer tokenizer();

    /** The Jinja chat template the model ships (GGUF tokenizer.chat_template, tokenizer_config.json), or null. */
    default String chatTemplate() {
        return null;
    }

    /** Token ids that end generation: the model's own list, or the tokenizer's EOS. */
    default int[] endIds() {
        return tokenizer() == null || tokenizer().eos() < 0 ? new int[0] : new int[] {tokenizer().eos()};
    }

    /**
     * Parameters of each weight type as the model computes with them ({"Q8_0": 5_100_000, "F32":
     * 9_000}); empty when the model cannot tell.
     */
    default java.util.Map<String, Long> parametersByType() {
        return java.util.Map.of();
    }

    /** Where the model computes: "cpu", or a backend's name for its device ("cuda"). */
    default String device() {
        return "cpu";
    }

    /** Unmaps the weights. */
    @Override
    void close();
}
