package dev.panamax.runtime.model;

import dev.panamax.runtime.format.Weights;
import dev.panamax.runtime.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Map;

/**
 * What a model file or directory holds, before an architecture interprets it: the weights, the
 * hyper-parameters (a Hugging Face {@code config.json} or GGUF metadata, as key-value pairs), and
 * the tokenizer when there is one.
 *
 * @param format "hf" for a Hugging Face directory, "gguf" for a GGUF file
 * @param config config.json's object, or GGUF metadata keyed as in the file
 * @param chatTemplate the Jinja chat template the model ships, or null
 * @param endIds token ids that end generation (generation_config.json's eos_token_id, GGUF's EOS and
 *               EOT); empty to use the tokenizer's EOS
 */
public record ModelSource(Path path, String format, String architecture, Map<String, Object> config, Weights weights, Tokenizer tokenizer,
                          String chatTemplate, int[] endIds) {
    public boolean isGguf() {
        return format.equals("gguf");
    }

    /** How the model is to be prepared: what the caller of the loader asked for. */
    public dev.panamax.runtime.LoadOptions options() {
        return weights.options();
    }
}
