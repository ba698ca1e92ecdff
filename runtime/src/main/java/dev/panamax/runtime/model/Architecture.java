package dev.panamax.runtime.model;

import java.util.Set;

/**
 * An architecture family (one class in {@code models/}), found with {@link java.util.ServiceLoader}.
 * It says which Hugging Face {@code model_type}s and GGUF {@code general.architecture}s it reads,
 * and builds the model from their weights.
 */
public interface Architecture {

    /** Short name shown to people, e.g. "llama". */
    String name();

    /** Hugging Face {@code config.json} {@code model_type} values this family reads. */
    Set<String> huggingFaceTypes();

    /** GGUF {@code general.architecture} values this family reads. */
    Set<String> ggufArchitectures();

    Model load(ModelSource source);
}
