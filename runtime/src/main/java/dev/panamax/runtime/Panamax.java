package dev.panamax.runtime;

import dev.panamax.runtime.generate.Cancellation;
import dev.panamax.runtime.generate.Chat;
import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.generate.Generator;
import dev.panamax.runtime.model.EncoderModel;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Panamax's public API: load a model; generate text, chat, embed, count tokens.
 *
 * <pre>{@code
 * try (var model = Panamax.load(Path.of("model.gguf"))) {          // or a Hugging Face directory
 *     model.generate("In the beginning", GenerationOptions.defaults().withMaxTokens(32),
 *                    text -> System.out.print(text));
 *     Chat chat = model.chat("Be brief.");                          // keeps its KV cache between turns
 *     chat.send("Who was Moses?", GenerationOptions.defaults(), System.out::print);
 *     List<float[]> vectors = model.embed(List.of("first text", "second text"));
 * }
 * }</pre>
 *
 * A decoder (Llama family, GPT-2, Mamba, Qwen3-Next) generates, chats and — the Llama family and
 * GPT-2 — embeds; an encoder (BERT) embeds only, and says so if asked to generate.
 *
 * <p>A loaded model is thread-safe: concurrent {@code generate}, {@code embed} and chat turns each
 * get their own session (KV cache) and share the read-only weights, and give the same results as
 * one call alone. A {@link Chat} is one conversation: one thread at a time.
 *
 * <p>Lifetime: {@link #close} may be called from any thread, any number of times. A generation
 * running when it is called ends before its next token with a {@link ModelException} saying the
 * model was closed, and the weights are unmapped when the last such generation has ended; a
 * generation started after {@code close} fails the same way. Sessions taken from {@link #model()}
 * directly are outside this guard: close the model only after they are done.
 */
public final class Panamax implements AutoCloseable {

    /**
     * The default model (kjv-llama, a 5.4M-parameter Llama trained on the King James Bible) as a
     * class path resource: the {@code dev.panamax:panamax-kjv} artifact holds it.
     */
    public static final String DEFAULT_MODEL_RESOURCE = "dev/panamax/kjv/kjv-llama-f16.gguf";

    private final Model model;
    private final Object lifetime = new Object();
    /** Generations running now; the weights are released when this is 0 and {@link #closed} is set. */
    private int active;
    private volatile boolean closed;
    private boolean released;

    private Panamax(Model model) {
        this.model = model;
    }

    /** Loads a GGUF file, a llama2.c checkpoint or a Hugging Face directory (config.json + safetensors + tokenizer): a decoder or an encoder. */
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
        Panamax cpu = new Panamax(ModelLoader.load(path, options));
        if (options.device().equals("cpu")) return cpu;
        System.Logger log = System.getLogger("dev.panamax");
        return cpu.on(options.device(), note -> log.log(System.Logger.Level.INFO, note));
    }

    /**
     * Loads the default model, kjv-llama, from the class path (the {@code dev.panamax:panamax-kjv}
     * artifact; extracted once to a cache file so it can be memory-mapped).
     */
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
        if (url == null) {
            throw new ModelException("the default model is not on the class path (" + DEFAULT_MODEL_RESOURCE + "): add the dependency dev.panamax:panamax-kjv");
        }
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
        return generate(prompt, options, onText, null);
    }

    /**
     * As above; {@code cancel} (may be null) ends the generation from another thread before its
     * next token, returning what was generated with {@link dev.panamax.runtime.generate.StopReason#CANCELLED}.
     */
    public Generator.Result generate(String prompt, GenerationOptions options, Consumer<String> onText, Cancellation cancel) {
        return generate(encode(prompt), options, onText, cancel);
    }

    /** Generates from token ids; an empty array starts from the model's BOS token. */
    public Generator.Result generate(int[] promptIds, GenerationOptions options, Consumer<String> onText) {
        return generate(promptIds, options, onText, null);
    }

    /** As above, with a {@link Cancellation} (may be null). */
    public Generator.Result generate(int[] promptIds, GenerationOptions options, Consumer<String> onText, Cancellation cancel) {
        LanguageModel lm = model();
        enter();
        try {
            return Generator.generate(lm, promptIds, options, onText, null, this::closedReason, cancel);
        } finally {
            exit();
        }
    }

    /**
     * A conversation: messages formatted with the model's chat template, its KV cache kept between
     * turns so a turn costs its own tokens; when it outgrows the context the oldest turns go (the
     * system message stays) and {@code System.Logger "dev.panamax"} says so once.
     *
     * @param system the system message, or null
     */
    public Chat chat(String system) {
        LanguageModel lm = model();
        System.Logger log = System.getLogger("dev.panamax");
        return new Chat(lm, system, note -> log.log(System.Logger.Level.INFO, note), new Chat.Guard() {
            public void enter() {
                Panamax.this.enter();
            }

            public void exit() {
                Panamax.this.exit();
            }

            public String stopReason() {
                return closedReason();
            }
        });
    }

    /** One vector per text, unit length: {@link #embed(List, EmbeddingOptions)} with the defaults. */
    public List<float[]> embed(List<String> texts) {
        return embed(texts, EmbeddingOptions.defaults());
    }

    /**
     * One vector per text: the mean of the model's last hidden states over the text's tokens —
     * an encoder's (BERT) or a decoder's after its final norm (the Llama family, GPT-2; llama.cpp's
     * mean pooling) — scaled to unit length unless {@code options} say not. A text longer than
     * the model takes is an error naming both lengths, or is cut with {@link EmbeddingOptions#truncate}.
     */
    public List<float[]> embed(List<String> texts, EmbeddingOptions options) {
        List<int[]> ids = new ArrayList<>(texts.size());
        for (String t : texts) ids.add(encode(t));
        return embedIds(ids, options);
    }

    /** As {@link #embed(List, EmbeddingOptions)} for texts given as token ids (a model without a tokenizer, ids of one's own). */
    public List<float[]> embedIds(List<int[]> texts, EmbeddingOptions options) {
        if (model instanceof dev.panamax.runtime.model.VisionModel) throw notText();
        if (model instanceof LanguageModel lm && lm.hiddenSize() < 0) lm.hiddenStates(new int[] {0}); // says which architectures can
        enter();
        try {
            List<float[]> out = new ArrayList<>(texts.size());
            for (int i = 0; i < texts.size(); i++) {
                int[] ids = fit(texts.get(i), i, texts.size(), options.truncate());
                int h;
                float[] states;
                if (model instanceof EncoderModel enc) {
                    h = enc.hiddenSize();
                    states = enc.encode(ids);
                } else {
                    LanguageModel lm = (LanguageModel) model;
                    h = lm.hiddenSize();
                    states = lm.hiddenStates(ids);
                }
                out.add(options.pool(states, ids.length, h));
                String why = closedReason();
                if (why != null) throw new ModelException(why);
            }
            return out;
        } finally {
            exit();
        }
    }

    /** The longest input: an encoder's positions, a decoder's context. */
    private int inputLimit() {
        if (model instanceof EncoderModel enc) return enc.maxPositions();
        if (model instanceof LanguageModel lm) return lm.contextLength();
        throw notText();
    }

    /** What a vision model answers to a text call. */
    private ModelException notText() {
        return new ModelException("this " + model.architecture() + " model takes images, not text: use it as a "
                + dev.panamax.runtime.model.VisionModel.class.getSimpleName() + " (ModelLoader.load(path))");
    }

    private int[] fit(int[] ids, int index, int count, boolean truncate) {
        int limit = inputLimit();
        if (ids.length == 0) throw new ModelException("text " + (index + 1) + " of " + count + " has no tokens");
        if (ids.length <= limit) return ids;
        if (!truncate) {
            throw new ModelException("text " + (index + 1) + " of " + count + " is " + ids.length + " tokens; this model takes at most " + limit
                    + " (EmbeddingOptions.withTruncate(true) keeps the first " + limit + ")");
        }
        int[] cut = java.util.Arrays.copyOf(ids, limit);
        if (model instanceof EncoderModel) cut[limit - 1] = ids[ids.length - 1]; // keep the closing [SEP]
        return cut;
    }

    /** {@code text} as the model's token ids, BOS (or CLS and SEP) added as the model asks. */
    public int[] encode(String text) {
        if (model instanceof dev.panamax.runtime.model.VisionModel) throw notText();
        Tokenizer tok = tokenizer();
        if (tok == null) throw new ModelException("this model has no tokenizer: pass token ids instead");
        return tok.encode(text, true);
    }

    /** The text of token ids (bytes that are not UTF-8 become U+FFFD). */
    public String decode(int[] ids) {
        Tokenizer tok = tokenizer();
        if (tok == null) throw new ModelException("this model has no tokenizer");
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        for (int id : ids) bytes.writeBytes(tok.decode(id));
        return bytes.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** How many tokens {@code text} is for this model, BOS (or CLS and SEP) included: what a prompt of it costs. */
    public int countTokens(String text) {
        return encode(text).length;
    }

    /** What the model is: architecture, parameters by type, context, vocabulary, device. */
    public ModelInfo info() {
        java.util.Map<String, Long> byType = model.parametersByType();
        long params = byType.values().stream().mapToLong(Long::longValue).sum();
        if (model instanceof dev.panamax.runtime.model.VisionModel v) {
            return new ModelInfo(model.architecture(), "vision", params, byType, -1, -1, model.device());
        }
        return model instanceof LanguageModel lm
                ? new ModelInfo(model.architecture(), "decoder", params, byType, lm.contextLength(), lm.vocabSize(), model.device())
                : new ModelInfo(model.architecture(), "encoder", params, byType, inputLimit(), -1, model.device());
    }

    private String closedReason() {
        return closed ? "the model was closed during generation" : null;
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
        Model placed = dev.panamax.runtime.backend.Backends.place(device, model, notes);
        return placed == model ? this : new Panamax(placed);
    }

    /** The model's tokenizer; null when the model came without one (then only token ids work). */
    public Tokenizer tokenizer() {
        return model.tokenizer();
    }

    /** The language model underneath, for sessions of one's own ({@code prepare()}, {@code newSession()}); an encoder has none. */
    public LanguageModel model() {
        if (model instanceof LanguageModel lm) return lm;
        if (model instanceof dev.panamax.runtime.model.VisionModel) throw notText();
        throw new ModelException("this " + model.architecture() + " model is an encoder: it embeds text (embed), it does not generate");
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
