package dev.panamax.cli;

import dev.panamax.models.QuantPlan;
import dev.panamax.runtime.LoadOptions;
import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.Panamax;
import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tokenizer.Tokenizer;
import dev.panamax.simd.Parallel;
import dev.panamax.simd.Simd;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/** What the commands share: the options that load and place a model, sampling, files, errors. */
final class Cli {
    private Cli() {}

    /** The device a placed model reports in bench ("cuda: NVIDIA H100 ..."), set by {@link #place} and {@link #placeModel}. */
    static String deviceName = "cpu";

    /** --device cpu|cuda|auto (default cpu), checked. */
    static String deviceOption(Args a) {
        String d = a.value("--device", "cpu").toLowerCase(java.util.Locale.ROOT);
        if (!d.equals("cpu") && !d.equals("auto") && dev.panamax.runtime.backend.Backends.find(d) == null) {
            throw new UsageException("--device must be cpu, cuda or auto, got '" + a.value("--device", null) + "'");
        }
        dev.panamax.runtime.backend.Backends.probeInBackground(d); // while the model loads
        return d;
    }

    static LoadOptions loadOptions(Args a) {
        LoadOptions o = LoadOptions.defaults().withQuantize(quantizeOption(a));
        String kv = a.value("--kv-type", null);
        if (kv != null) {
            o = switch (kv.toLowerCase(java.util.Locale.ROOT)) {
                case "f32" -> o.withKvCache(LoadOptions.KvCache.F32);
                case "f16" -> o.withKvCache(LoadOptions.KvCache.F16);
                default -> throw new UsageException("--kv-type must be f32 or f16, got '" + kv + "'");
            };
        }
        if (a.value("--prompt-chunk", null) != null) {
            int chunk = a.integer("--prompt-chunk", LoadOptions.DEFAULT_PROMPT_CHUNK);
            if (chunk < 0) throw new UsageException("--prompt-chunk must be 0 (whole prompts) or more, got " + chunk);
            o = o.withPromptChunk(chunk);
        }
        String cache = a.value("--layout-cache", System.getenv("PANAMAX_LAYOUT_CACHE"));
        if (cache == null || cache.isBlank()) o = o.withLayoutCache(LoadOptions.defaultLayoutCache());
        else if (!cache.equals("off")) o = o.withLayoutCache(java.nio.file.Path.of(cache));
        String d = a.value("--device", "cpu").toLowerCase(java.util.Locale.ROOT);
        // Backends are looked up only when asked for: the service scan costs a CPU start ~8 ms.
        var gpu = d.equals("auto") ? dev.panamax.runtime.backend.Backends.find("cuda") : null;
        if (d.equals("cuda") || (gpu != null && gpu.unavailableReason() == null)) o = o.withWidenHalfFloatsUpTo(0);
        return o;
    }

    /** The model on --device; what went where, and why, is said on stderr (and remembered for bench). */
    static Panamax place(Panamax model, String device, PrintStream err) {
        try {
            return model.on(device, note -> {
                err.println("panamax: " + note);
                deviceName = note.startsWith("device: ") && !note.startsWith("device: cpu") ? note.substring(8) : "cpu";
            });
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** A model of any kind (language model or encoder) on --device. */
    static Model placeModel(Model model, String device, PrintStream err) {
        if (device.equals("cpu")) return model;
        try {
            return dev.panamax.runtime.backend.Backends.place(device, model, note -> {
                err.println("panamax: " + note);
                deviceName = note.startsWith("device: ") ? note.substring(8) : note;
                if (deviceName.startsWith("cpu")) deviceName = "cpu";
            });
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** --threads N, applied to the kernels' pool. */
    static void threads(Args a) {
        String t = a.value("--threads", null);
        if (t != null) Parallel.setThreads(threadCount(t));
    }

    /** --quantize TYPE: float matrices quantized at load. */
    static DType quantizeOption(Args a) {
        String q = a.value("--quantize", null);
        if (q == null) return null;
        return switch (q.toLowerCase(java.util.Locale.ROOT)) {
            case "q8_0" -> DType.Q8_0;
            case "q4_0" -> DType.Q4_0;
            case "q4_k" -> DType.Q4_K;
            case "q5_k" -> DType.Q5_K;
            case "q6_k" -> DType.Q6_K;
            case "binary" -> DType.BINARY;
            case "ternary" -> DType.TERNARY;
            default -> throw new UsageException("--quantize must be q8_0, q4_0, q4_k, q5_k, q6_k, binary or ternary, got '" + q + "'");
        };
    }

    /** Loads a model (the embedded one when {@code path} is null); on a terminal, a load that takes more than a second shows a ticking status line. */
    static Panamax load(Path path, LoadOptions options, PrintStream err) {
        if (path == null) path = Panamax.defaultModelPath();
        final Path p = path;
        if (System.console() == null) return Panamax.load(p, options);
        String what = path == null ? "kjv-llama" : path.getFileName().toString();
        long size = 0;
        try {
            if (path != null && Files.isRegularFile(path)) size = Files.size(path);
        } catch (IOException ignored) {
            // the loader will report it
        }
        String label = size > 0 ? String.format(java.util.Locale.ROOT, "%s (%.1f GB)", what, size / 1e9) : what;
        long start = System.nanoTime();
        Thread ticker = Thread.ofPlatform().daemon().start(() -> {
            try {
                Thread.sleep(1000);
                while (!Thread.currentThread().isInterrupted()) {
                    err.printf("\rpanamax: loading %s ... %d s", label, (System.nanoTime() - start) / 1_000_000_000L);
                    err.flush();
                    Thread.sleep(250);
                }
            } catch (InterruptedException e) {
                // loading finished
            }
        });
        try {
            return Panamax.load(p, options);
        } finally {
            ticker.interrupt();
            try {
                ticker.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (System.nanoTime() - start > 1_000_000_000L) err.print("\r\033[K");
        }
    }

    static GenerationOptions sampling(Args a, int maxTokens) {
        int max = a.integer("--max-tokens", maxTokens), topK = a.integer("--top-k", 40);
        float temperature = a.number("--temperature", 0.8f), topP = a.number("--top-p", 0.95f), minP = a.number("--min-p", 0.05f),
                penalty = a.number("--repeat-penalty", 1.0f);
        if (max < 0) throw new UsageException("--max-tokens must be 0 or more, got " + a.value("--max-tokens", null));
        if (topK < 0) throw new UsageException("--top-k must be 0 (off) or more, got " + a.value("--top-k", null));
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new UsageException("--temperature must be 0 (greedy) or more, got " + a.value("--temperature", null));
        if (!(topP > 0 && topP <= 1)) throw new UsageException("--top-p must be above 0 and at most 1, got " + a.value("--top-p", null));
        if (!(minP >= 0 && minP < 1)) throw new UsageException("--min-p must be at least 0 and below 1, got " + a.value("--min-p", null));
        if (!(penalty > 0) || Float.isInfinite(penalty)) throw new UsageException("--repeat-penalty must be above 0 (1 = off), got " + a.value("--repeat-penalty", null));
        return GenerationOptions.defaults()
                .withMaxTokens(max)
                .withTemperature(temperature)
                .withTopK(topK)
                .withTopP(topP)
                .withMinP(minP)
                .withRepeatPenalty(penalty)
                .withSeed(a.longValue("--seed", System.nanoTime()))
                .withStop(a.all("--stop").stream().map(Cli::unescape).toList());
    }

    static String unescape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                switch (n) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case '\\' -> b.append('\\');
                    default -> b.append(c).append(n);
                }
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    static String utf8(byte[] bytes, String what) {
        var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT);
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(bytes);
        java.nio.CharBuffer out = java.nio.CharBuffer.allocate(bytes.length + 1);
        var result = decoder.decode(in, out, true);
        if (result.isError()) {
            throw new ModelException(what + " is not valid UTF-8: byte 0x" + String.format("%02x", bytes[in.position()] & 0xff) + " at offset " + in.position());
        }
        decoder.flush(out);
        return out.flip().toString();
    }

    /** The text of token ids. */
    static String decode(Tokenizer tok, int[] ids) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        for (int id : ids) b.writeBytes(tok.decode(id));
        return b.toString(StandardCharsets.UTF_8);
    }

    /** --type (and --fallback) of convert and quantize. */
    static QuantPlan quantPlan(String type, String fallback) {
        QuantPlan plan;
        try {
            plan = QuantPlan.parse(type);
        } catch (dev.panamax.runtime.ModelException e) {
            throw new UsageException("--type must be one of " + QuantPlan.NAMES + ", got '" + type + "'");
        }
        if (fallback == null) return plan;
        return switch (fallback.toLowerCase(java.util.Locale.ROOT)) {
            case "f16" -> plan.withFallback(DType.F16);
            case "f32" -> plan.withFallback(DType.F32);
            default -> throw new UsageException("--fallback must be f16 or f32, got '" + fallback + "'");
        };
    }

    /** What --version prints: Panamax, Java, the OS, the SIMD path and the thread count. */
    static String versionText() {
        return "Panamax " + version() + "\n"
                + "Java " + System.getProperty("java.runtime.version") + " (" + System.getProperty("java.vendor") + "), "
                + System.getProperty("os.name") + " " + System.getProperty("os.arch") + "\n"
                + "SIMD: " + Simd.description() + "\n"
                + "Threads: " + Parallel.threads() + "\n";
    }

    static String version() {
        try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
            if (in == null) return "unknown";
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    static String describe(IOException e) {
        String file = e instanceof java.nio.file.FileSystemException f && f.getFile() != null ? f.getFile() : null;
        String why = switch (e) {
            case java.nio.file.NoSuchFileException x -> "no such file or directory";
            case java.nio.file.AccessDeniedException x -> "permission denied";
            case java.nio.file.FileAlreadyExistsException x -> "it already exists";
            case java.nio.file.NotDirectoryException x -> "not a directory";
            case java.nio.file.FileSystemException x -> x.getReason() != null ? x.getReason() : x.getClass().getSimpleName();
            default -> e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        };
        return file != null ? file + ": " + why : why;
    }

    static OutputStream openForWriting(String option, Path file) {
        try {
            if (Files.isDirectory(file)) throw new ModelException("cannot write " + option + " " + file + ": it is a directory");
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null && !Files.isDirectory(parent)) throw new ModelException("cannot write " + option + " " + file + ": the directory " + parent + " does not exist");
            return Files.newOutputStream(file);
        } catch (IOException e) {
            throw new ModelException("cannot write " + option + " " + file + ": " + describe(e).replace(file + ": ", ""), e);
        }
    }

    static int threadCount(String value) {
        int n = positiveInt("--threads", value);
        if (n > Parallel.maxThreads()) {
            throw new UsageException("--threads " + value.trim() + " is more than " + Parallel.maxThreads() + " (4 × the "
                    + Runtime.getRuntime().availableProcessors() + " processors this machine gives Java)");
        }
        return n;
    }

    static int positiveInt(String flag, String value) {
        try {
            int v = Integer.parseInt(value.trim());
            if (v < 1) throw new UsageException(flag + " must be at least 1, got " + value);
            return v;
        } catch (NumberFormatException e) {
            throw new UsageException(flag + " needs a whole number, got '" + value + "'");
        }
    }

    /** The first {@code max} ids. */
    static int[] truncate(int[] ids, int max) {
        return ids.length <= max ? ids : java.util.Arrays.copyOf(ids, max);
    }

    /** Standard output was closed by its reader (a pipe into {@code head}): generation stops. */
    static final class OutputClosed extends RuntimeException {
        OutputClosed() {
            super("standard output is closed", null, false, false);
        }
    }

    /** A mistake in the command line: reported as one line, exit status 2. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }
}
