package dev.panamax.kjv;

/**
 * Where the embedded default model lives: a GGUF file (F16, 5.4M parameters) trained on
 * the King James Bible. {@code Panamax.loadDefault()} reads it by this name.
 */
public final class KjvLlama {

    /** The class-path (and module-path) resource name of the model file. */
    public static final String RESOURCE = "dev/panamax/kjv/kjv-llama-f16.gguf";

    private KjvLlama() {}
}
