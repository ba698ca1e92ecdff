package dev.panamax.runtime;

import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.generate.Generator;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.function.Consumer;

/**
 * Panamax's public API: load a model, generate text.
 *
 * <pre>{@code
 * try (var model = Panamax.load(Path.of("model.gguf"))) {          // or a Hugging Face directory
 *     model.generate("In the beginning", GenerationOptions.defaults().withMaxTokens(32),
 *                    text -> System.out.print(text));
 * }
 * }</pre>
 *
 * A loaded model is thread-safe: concurrent {@code generate} calls each get their own session
 * (KV cache) and share the read-only weights, and give the same results as one call alone.
 *
 * <p>Lifetime: {@link #close} may be called from any thread, any number of times. A generation
 * running when it is called ends before its next token with a {@link ModelException} saying the
 * model was closed, and the weights are unmapped when the last such generation has ended; a
 * generation started after {@code close} fails the same way. Sessions taken from {@link #model()}
 * directly are outside this guard: close the model only after they are done.
 */
public final class Panamax implements AutoCloseable {

    /** The embedded default model (a 5.4M-parameter Llama trained on the King James Bible), inside the jar. */
    public static final String DEFAULT_MODEL_RESOURCE = "dev/panamax/models/kjv-llama-f16.gguf";

    private final LanguageModel model;
    private final Object lifetime = new Object();
    /** Generations running now; the weights are released when this is 0 and {@link #closed} is set. */
    private int active;
    private volatile boolean closed;
    private boolean released;

    private Panamax(LanguageModel model) {
        this.model = model;
    }

    /** Loads a GGUF file, a llama2.c checkpoint or a Hugging Face directory (config.json + safetensors + tokenizer). */
    public static Panamax load(Path path) {
        return load(path, LoadOptions.defaults());
    }

    /**
     * Loads a model prepared as {@code options} say (quantized at load, KV cache type, …) and puts it
     * on {@link LoadOptions#device}; which device it went to, and why, is logged (System.Logger
     * "dev.panamax", INFO).
     */
    public static Panamax load(Path path, LoadOptions options) {
        if (!options.device().equals("cpu")) {
            // Widening 16-bit matrices is a CPU speed trick; a GPU takes them as stored.
            var gpu = dev.panamax.runtime.backend.Backends.find("cuda");
            if (options.device().equals("cuda") || (gpu != null && gpu.unavailableReason() == null)) options = options.withWidenHalfFloatsUpTo(0);
        }
        Panamax cpu = new Panamax(ModelLoader.loadLanguageModel(path, options));
        if (options.device().equals("cpu")) return cpu;
        System.Logger log = System.getLogger("dev.panamax");
        return cpu.on(options.device(), note -> log.log(System.Logger.Level.INFO, note));
    }

    /** Loads the embedded default model (extracted once to a cache file so it can be memory-mapped). */
    public static Panamax loadDefault() {
        return load(defaultModelPath());
    }

    /** As {@link #loadDefault()}, prepared as {@code options} say. */
    public static Panamax loadDefault(LoadOptions options) {
        return load(defaultModelPath(), options);
    }

    /** Where the embedded model lives on disk, extracting it from the jar the first time. */
    public static Path defaultModelPath() {
        URL url = Panamax.class.getClassLoader().getResource(DEFAULT_MODEL_RESOURCE);
        if (url == null) throw new ModelException("the embedded default model is not in this jar (" + DEFAULT_MODEL_RESOURCE + ")");
        try {
            long size = url.openConnection().getContentLengthLong();
            String base = System.getenv("XDG_CACHE_HOME");
            Path cache = (base != null && !base.isBlank() ? Path.of(base) : Path.of(System.getProperty("user.home"), ".cache")).resolve("panamax");
            Path file = cache.resolve("kjv-llama-f16-" + size + ".gguf");
            if (Files.isRegularFile(file) && Files.size(file) == size) return file;
            try {
                Files.createDirectories(cache);
            } catch (IOException e) {
                cache = Files.createTempDirectory("panamax");
                file = cache.resolve("kjv-llama-f16.gguf");
                file.toFile().deleteOnExit();
            }
            Path tmp = Files.createTempFile(cache, "kjv-llama", ".part");
            try (InputStream in = url.openStream()) {
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return file;
        } catch (IOException e) {
            throw new ModelException("cannot extract the embedded default model: " + e.getMessage(), e);
        }
    }

    /**
     * Generates from {@code prompt} (BOS added as the model asks), streaming text to {@code onText}
     * in whole characters as tokens are chosen.
     */
    public Generator.Result generate(String prompt, GenerationOptions options, Consumer<String> onText) {
        Tokenizer tok = tokenizer();
        if (tok == null) throw new ModelException("this model has no tokenizer: pass token ids instead");
        return generate(tok.encode(prompt, true), options, onText);
    }

    /** Generates from token ids; an empty array starts from the model's BOS token. */
    public Generator.Result generate(int[] promptIds, GenerationOptions options, Consumer<String> onText) {
        enter();
        try {
            return Generator.generate(model, promptIds, options, onText, null, () -> closed ? "the model was closed during generation" : null);
        } finally {
            exit();
        }
    }

    private void enter() {
        synchronized (lifetime) {
            if (closed) throw new ModelException("this model is closed");
            active++;
        }
    }

    private void exit() {
        synchronized (lifetime) {
            active--;
            releaseIfDone();
        }
    }

    private void releaseIfDone() {
        if (closed && active == 0 && !released) {
            released = true;
            model.close();
        }
    }

    /**
     * This model on {@code device}: "cpu" (this object), "cuda" (the GPU, or an error saying why
     * not), "auto" (the GPU when one can run it, else the CPU); {@code notes} hears which and why.
     * The returned object owns this one: close that.
     *
     * <pre>{@code
     * try (var model = Panamax.load(Path.of("model.gguf")).on("auto", System.err::println)) { ... }
     * }</pre>
     */
    public Panamax on(String device, Consumer<String> notes) {
        if (closed) throw new ModelException("this model is closed");
        LanguageModel placed = dev.panamax.runtime.backend.Backends.place(device, model, notes);
        return placed == model ? this : new Panamax(placed);
    }

    public Tokenizer tokenizer() {
        return model.tokenizer();
    }

    public LanguageModel model() {
        return model;
    }

    /** Whether {@link #close} has been called. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Releases the weights (unmaps the file) once no generation is running; idempotent. Running
     * generations end with a {@link ModelException} before their next token.
     */
    @Override
    public void close() {
        synchronized (lifetime) {
            closed = true;
            releaseIfDone();
        }
    }
}
