package dev.panamax.runtime.backend;

import dev.panamax.runtime.model.Model;

/**
 * Somewhere other than the JVM's own kernels to run a model: the CUDA backend of {@code cuda-ffm}
 * plugs in here, found with {@link java.util.ServiceLoader}. The CPU path never needs one, and no
 * module depends on a backend being present.
 *
 * <pre>{@code
 * LanguageModel cpu = ModelLoader.loadLanguageModel(Path.of("model.gguf"));
 * LanguageModel gpu = Backends.place("cuda", cpu, System.err::println);   // or "auto", "cpu"
 * EncoderModel bert = Backends.place("auto", (EncoderModel) ModelLoader.load(Path.of("bert")), System.err::println);
 * }</pre>
 */
public interface Backend {

    /** The name {@code --device} takes, e.g. "cuda". */
    String name();

    /**
     * Null when the backend can run here; otherwise one line saying why not (no driver, no device, ...).
     * May be called from any thread, and more than once ({@link Backends#probeInBackground} calls it early).
     */
    String unavailableReason();

    /** The device in words, e.g. "NVIDIA H100 80GB HBM3 (sm_90, 79 GiB)"; only when available. */
    String describe();

    /** Null when this backend can run {@code model}; otherwise one line saying what it lacks. */
    String cannotRun(Model model);

    /**
     * The same model running on this backend, of the same kind (a language model for a language
     * model, an encoder for an encoder). The returned model owns {@code model}: closing it closes both
     * (the backend may keep using the CPU model's tokenizer and metadata).
     */
    Model place(Model model);
}
