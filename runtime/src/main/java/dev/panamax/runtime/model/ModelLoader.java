package dev.panamax.runtime.model;

import dev.panamax.runtime.LoadOptions;
import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.format.Safetensors;
import dev.panamax.runtime.format.Weights;
import dev.panamax.runtime.json.Json;
import dev.panamax.runtime.tokenizer.HfTokenizers;
import dev.panamax.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;

/** Finds the format of a path, reads it, and hands it to the architecture that claims it. */
public final class ModelLoader {
    private ModelLoader() {}

    public static List<Architecture> architectures() {
        List<Architecture> all = new ArrayList<>();
        ServiceLoader.load(Architecture.class, ModelLoader.class.getClassLoader()).forEach(all::add);
        return all;
    }

    /** Loads a causal language model with the default options; an encoder is an error saying so. */
    public static LanguageModel loadLanguageModel(Path path) {
        return loadLanguageModel(path, LoadOptions.defaults());
    }

    /** As {@link #loadLanguageModel(Path)}, prepared as {@code options} say (on the CPU: the device is the caller's to apply). */
    public static LanguageModel loadLanguageModel(Path path, LoadOptions options) {
        Model m = load(path, options);
        if (m instanceof LanguageModel lm) return lm;
        m.close();
        throw new ModelException(path + ": " + m.architecture() + " is an encoder, not a text generator (use panamax embed)");
    }

    private static Model build(Architecture a, ModelSource src, LoadOptions options) {
        src.weights().options(options);
        if (options.threads() > 0) dev.panamax.simd.Parallel.setThreads(options.threads());
        return a.load(src);
    }

    public static Model load(Path path) {
        return load(path, LoadOptions.defaults());
    }

    /**
     * Loads a model prepared as {@code options} say: quantized at load, its KV cache type, widened
     * or interleaved matrices. The model is on the CPU; {@link dev.panamax.runtime.backend.Backends#place}
     * moves it to {@link LoadOptions#device} ({@link dev.panamax.runtime.Panamax#load(Path, LoadOptions)} does both).
     */
    public static Model load(Path path, LoadOptions options) {
        initKernelsAside();
        return switch (formatOf(path)) {
            case HUGGING_FACE -> loadHuggingFace(path, options);
            case GGUF -> loadGguf(path, options);
            case LLAMA2C -> {
                ModelSource src = dev.panamax.runtime.format.Llama2c.read(path);
                try {
                    yield build(find("llama", false), src, options);
                } catch (RuntimeException e) {
                    src.weights().close();
                    throw e;
                }
            }
        };
    }

    private static final java.util.concurrent.atomic.AtomicBoolean KERNELS_ASIDE = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * Starts the kernels' class initialisation ({@link dev.panamax.simd.Simd}: the Vector API's
     * classes, its species, the smoke test — ~40–60 ms in a fresh JVM, interpreted) and the JDK's
     * first segment-to-array copy on a thread of its own, once per JVM, while this thread reads the
     * file; the model's first use of the kernels then finds them ready, or waits for the rest of that
     * initialisation (the JVM's class-init lock).
     */
    private static void initKernelsAside() {
        if (KERNELS_ASIDE.compareAndSet(false, true)) {
            Thread.ofPlatform().daemon().name("panamax-kernels-init").start(() -> {
                // The JDK links its copy from a segment into an array (a type switch over array
                // classes, ~5 ms interpreted) on the first such copy: the tensors' reads and the
                // kernels' twins make one before the first token, so it is linked here meanwhile.
                java.lang.foreign.MemorySegment.copy(java.lang.foreign.MemorySegment.ofArray(new float[1]), java.lang.foreign.ValueLayout.JAVA_FLOAT, 0,
                        new float[1], 0, 1);
                dev.panamax.simd.Simd.kernels();
            });
        }
    }

    /** The kinds of model source Panamax reads. */
    public enum Format { GGUF, HUGGING_FACE, LLAMA2C }

    /**
     * What {@code path} holds: a directory is a Hugging Face model; a file starting with the bytes
     * "GGUF" is a GGUF file whatever its name; a {@code .bin} file is a llama2.c checkpoint. Anything
     * else — a path that does not exist, a device or pipe, an unknown file — is an error saying which.
     */
    public static Format formatOf(Path path) {
        if (Files.isDirectory(path)) return Format.HUGGING_FACE;
        if (!Files.exists(path)) throw new ModelException(path + ": no such file or directory");
        if (!Files.isRegularFile(path)) throw new ModelException(path + ": not a regular file or a directory (a model is a .gguf file, a llama2.c .bin or a Hugging Face directory)");
        byte[] magic = new byte[4];
        int n;
        try (var in = Files.newInputStream(path)) {
            n = in.readNBytes(magic, 0, 4);
        } catch (IOException e) {
            throw new ModelException(path + ": cannot read (" + e.getMessage() + ")", e);
        }
        String name = path.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (n == 4 && magic[0] == 'G' && magic[1] == 'G' && magic[2] == 'U' && magic[3] == 'F') return Format.GGUF;
        if (name.endsWith(".gguf")) return Format.GGUF; // reported by the reader: not a GGUF file, or truncated
        if (name.endsWith(".bin")) return Format.LLAMA2C;
        throw new ModelException(path + ": not a model Panamax reads (a .gguf file, a llama2.c .bin checkpoint, or a Hugging Face directory with config.json)");
    }

    static Model loadGguf(Path path, LoadOptions options) {
        var gguf = dev.panamax.runtime.format.Gguf.read(path);
        try {
            if (!(gguf.metadata().get("general.architecture") instanceof String) && gguf.weights().all().isEmpty()) {
                throw new ModelException(path + ": a vocabulary-only GGUF (a tokenizer, no architecture or tensors): not a model to load");
            }
            String arch = gguf.architecture();
            Architecture a = find(arch, false);
            Tokenizer tok = gguf.tokenizer();
            Object template = gguf.metadata().get("tokenizer.chat_template");
            java.util.List<Integer> ends = new java.util.ArrayList<>();
            for (String key : new String[] {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
                if (gguf.metadata().get(key) instanceof Number n && !ends.contains(n.intValue())) ends.add(n.intValue());
            }
            return build(a, new ModelSource(path, "gguf", arch, gguf.metadata(), gguf.weights(), tok,
                    template instanceof String s ? s : null, ends.stream().mapToInt(Integer::intValue).toArray()), options);
        } catch (RuntimeException e) {
            gguf.weights().close();
            throw e instanceof ModelException me && !me.getMessage().startsWith(path.toString()) ? new ModelException(path + ": " + me.getMessage(), me) : e;
        }
    }

    static Model loadHuggingFace(Path dir, LoadOptions options) {
        ModelSource src = readHuggingFace(dir);
        try {
            return build(find(src.architecture(), true), src, options);
        } catch (RuntimeException e) {
            src.weights().close();
            throw e;
        }
    }

    /**
     * Reads a Hugging Face directory without building a model: config.json, the safetensors
     * weights (single file or sharded with an index) and the tokenizer. The caller owns the weights.
     */
    public static ModelSource readHuggingFace(Path dir) {
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) throw new ModelException(dir + ": no config.json (not a Hugging Face model directory)");
        Map<String, Object> config;
        try {
            config = Json.object(Json.parse(Files.readString(configFile)), "config.json");
        } catch (IOException e) {
            throw new ModelException(configFile + ": cannot read (" + e.getMessage() + ")", e);
        } catch (Json.JsonException e) {
            throw new ModelException(configFile + ": " + e.getMessage(), e);
        }
        if (!(config.get("model_type") instanceof String type)) throw new ModelException(configFile + ": no model_type");
        find(type, true); // an unknown architecture is reported before any weight is mapped
        Weights weights = new Weights();
        try {
            readSafetensors(dir, weights);
            Tokenizer tok = HfTokenizers.load(dir, config);
            return new ModelSource(dir, "hf", type, config, weights, tok, chatTemplate(dir), endIds(dir, config));
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    /** eos_token_id of generation_config.json (a number or a list), else of config.json. */
    private static int[] endIds(Path dir, Map<String, Object> config) {
        Object eos = config.get("eos_token_id");
        Path f = dir.resolve("generation_config.json");
        if (Files.isRegularFile(f)) {
            try {
                Object g = Json.object(Json.parse(Files.readString(f)), "generation_config.json").get("eos_token_id");
                if (g != null) eos = g;
            } catch (IOException | Json.JsonException e) {
                throw new ModelException(f + ": " + e.getMessage(), e);
            }
        }
        if (eos instanceof Number n) return new int[] {n.intValue()};
        if (eos instanceof List<?> l) return l.stream().filter(o -> o instanceof Number).mapToInt(o -> ((Number) o).intValue()).toArray();
        return new int[0];
    }

    /** tokenizer_config.json's chat_template (a string, or the "default" of a list of named ones). */
    private static String chatTemplate(Path dir) {
        Path f = dir.resolve("tokenizer_config.json");
        if (!Files.isRegularFile(f)) return null;
        try {
            Object t = Json.object(Json.parse(Files.readString(f)), "tokenizer_config.json").get("chat_template");
            if (t instanceof String s) return s;
            if (t instanceof List<?> l) {
                for (Object o : l) if (o instanceof Map<?, ?> m && "default".equals(m.get("name")) && m.get("template") instanceof String s) return s;
            }
            return null;
        } catch (IOException | Json.JsonException e) {
            throw new ModelException(f + ": " + e.getMessage(), e);
        }
    }

    private static void readSafetensors(Path dir, Weights weights) {
        Path single = dir.resolve("model.safetensors");
        if (Files.isRegularFile(single)) {
            Safetensors.read(single, weights);
            return;
        }
        Path index = dir.resolve("model.safetensors.index.json");
        if (!Files.isRegularFile(index)) throw new ModelException(dir + ": no model.safetensors or model.safetensors.index.json");
        Map<String, Object> map;
        try {
            map = Json.object(Json.object(Json.parse(Files.readString(index)), "index").get("weight_map"), "weight_map");
        } catch (IOException | Json.JsonException e) {
            throw new ModelException(index + ": " + e.getMessage(), e);
        }
        Set<String> shards = new LinkedHashSet<>();
        for (Object v : map.values()) shards.add(Json.string(v, "weight_map entry"));
        for (String shard : shards) {
            Path p = dir.resolve(shard).normalize();
            if (!p.startsWith(dir.normalize())) throw new ModelException(index + ": shard " + shard + " is outside the model directory");
            if (!Files.isRegularFile(p)) throw new ModelException(index + ": shard " + shard + " is missing");
            Safetensors.read(p, weights);
        }
        for (String name : map.keySet()) {
            if (weights.find(name) == null) throw new ModelException(index + ": tensor " + name + " is not in its shard " + map.get(name));
        }
    }

    static Architecture find(String type, boolean huggingFace) {
        Set<String> known = new TreeSet<>();
        for (Architecture a : architectures()) {
            Set<String> types = huggingFace ? a.huggingFaceTypes() : a.ggufArchitectures();
            if (types.contains(type)) return a;
            known.addAll(types);
        }
        if (known.isEmpty()) {
            throw new ModelException("no model architectures are on the class path (architecture '" + type
                    + "' asked for): add the dependency dev.panamax:panamax (or dev.panamax:panamax-models)");
        }
        throw new ModelException("architecture '" + type + "' is not supported; supported: " + String.join(", ", known));
    }
}
