package dev.panamax.spark;

import dev.panamax.runtime.LoadOptions;
import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.Panamax;
import dev.panamax.runtime.Vision;
import dev.panamax.runtime.generate.BatchedDecoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The models of this executor JVM: each loaded once, on first use by any task, and shared by every
 * task thread of the executor for the life of the JVM (the library is thread-safe; the weights are
 * memory-mapped, so they sit in the page cache, not on the heap). A text model also gets one
 * {@link BatchedDecoder}, so generations from all task threads share decoding steps.
 */
final class ExecutorModels {
    private ExecutorModels() {}

    /** The embedded default model's name (needs panamax-kjv on the executors' class path). */
    static final String DEFAULT = "kjv-llama";

    private static final ConcurrentHashMap<String, Loaded> MODELS = new ConcurrentHashMap<>();

    /** A loaded model: text (a generator's with its batched decoder, made on first use; or an encoder's) or image. */
    static final class Loaded {
        private final Panamax text;
        private final Vision vision;
        private BatchedDecoder batched;

        Loaded(Panamax text, Vision vision) {
            this.text = text;
            this.vision = vision;
        }

        Panamax text() {
            return text;
        }

        Vision vision() {
            return vision;
        }

        /** Up to 64 sequences a step; a step waits at most 2 ms for the previous step's sequences. */
        synchronized BatchedDecoder batched() {
            if (batched == null) batched = new BatchedDecoder(text.model(), 64, Duration.ofMillis(2), null); // an encoder says it does not generate
            return batched;
        }
    }

    static Loaded get(String path, int threads) {
        return MODELS.computeIfAbsent(path + "\u0000" + threads, k -> load(path, threads));
    }

    private static Loaded load(String path, int threads) {
        LoadOptions options = threads > 0 ? LoadOptions.defaults().withThreads(threads) : LoadOptions.defaults();
        try {
            if (path.equals(DEFAULT)) return text(Panamax.loadDefault(options));
            Path p = resolve(path);
            if (!Files.isReadable(p)) throw new ModelException("no such file or directory, or not readable");
            if (Files.isDirectory(p) && Files.isRegularFile(p.resolve("preprocessor_config.json"))) return new Loaded(null, Vision.load(p, options));
            return text(Panamax.load(p, options));
        } catch (RuntimeException | LinkageError e) {
            throw new ModelException(where() + " cannot load the model at " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * The path as given when it exists here; else, a file or directory distributed with the job
     * ({@code --files}, {@code SparkContext.addFile}) of that name, where Spark put it on this executor.
     */
    static Path resolve(String path) {
        Path p = Path.of(path);
        if (Files.exists(p) || p.getFileName() == null) return p;
        try {
            Path shipped = Path.of(org.apache.spark.SparkFiles.get(p.getFileName().toString()));
            if (Files.exists(shipped)) return shipped;
        } catch (RuntimeException | LinkageError e) {
            // not inside Spark, or no files distributed
        }
        return p;
    }

    private static Loaded text(Panamax p) {
        return new Loaded(p, null);
    }

    /** "executor ID on HOST", for errors a user reads on the driver. */
    static String where() {
        String id = "?";
        try {
            org.apache.spark.SparkEnv env = org.apache.spark.SparkEnv.get();
            if (env != null) id = env.executorId();
        } catch (RuntimeException | LinkageError e) {
            // not inside Spark
        }
        String host;
        try {
            host = java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            host = "?";
        }
        return "executor " + id + " on " + host;
    }
}
