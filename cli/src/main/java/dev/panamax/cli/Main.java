package dev.panamax.cli;

import dev.panamax.models.GgufExport;
import dev.panamax.models.QuantPlan;
import dev.panamax.runtime.LoadOptions;
import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.Panamax;
import dev.panamax.runtime.format.Gguf;
import dev.panamax.runtime.generate.ChatTemplate;
import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.generate.Generator;
import dev.panamax.runtime.json.Json;
import dev.panamax.runtime.model.EncoderModel;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.ModelSource;
import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.runtime.tokenizer.SentencePiece;
import dev.panamax.runtime.tokenizer.Tokenizer;
import dev.panamax.simd.Parallel;
import dev.panamax.simd.Simd;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * {@code panamax}: the command line. Errors are one line on stderr and a non-zero exit status
 * (2 for a wrong command line, 1 for a model or file problem); {@code --verbose} adds the stack trace.
 */
public final class Main {

    static final String USAGE = """
            Usage: panamax [--version] [--help] COMMAND [ARGS]

            Panamax runs small transformer and state-space language models on the JVM,
            in pure Java (Vector API kernels, memory-mapped weights, no native code).

            Commands:
              generate [MODEL] [PROMPT]   stream text from a prompt (no MODEL: the embedded kjv-llama)
              chat [MODEL]                talk to a chat model, one message per line of stdin
              embed MODEL TEXT...         sentence embeddings from an encoder model (BERT)
              search MODEL --corpus FILE --query TEXT   rank a corpus's lines (binary, int8 or float)
              bench [MODEL]               prefill and decode tokens/s (median of repeated runs)
              tokenize MODEL_OR_VOCAB     token ids of stdin's text
              forward MODEL --ids IDS --out FILE
                                          one forward pass; writes the logits as float32 [T, vocab]
              inspect FILE_OR_DIR         format, architecture, hyper-parameters, metadata, tensors
              convert HF_DIR OUT.gguf     write a Hugging Face Llama directory as a GGUF (f16, q8_0, …)
              quantize IN OUT.gguf --type T   quantize a GGUF file or Hugging Face directory (q8_0, q4_k_m, …)

            MODEL is a .gguf file or a Hugging Face directory (config.json, *.safetensors,
            tokenizer.model). Each command has --help.

            Options:
              --version      print the version, the Java runtime, the SIMD path in use
                             (Vector API width, or the scalar path and why) and the thread count
              --threads N    number of threads for the kernels (default: the number of cores)
              --verbose      print stack traces with errors
              -h, --help     this help

            Environment:
              PANAMAX_SIMD=scalar   run the plain-Java kernels instead of the Vector API
              JAVA_OPTS             extra JVM options for ./panamax
            """;

    static final String GENERATE_HELP = """
            Usage: panamax generate [MODEL] [PROMPT] [options]

            Streams generated text to stdout as tokens are chosen. Without MODEL, runs the
            embedded default model (kjv-llama, a 5.4M-parameter Llama trained on the King James
            Bible). Without PROMPT, starts from "In the beginning". Load time and prompt and
            generation speed (tokens/s) go to stderr.

            Options:
              --max-tokens N        tokens to generate (default 128)
              --temperature T       0 = greedy (default 0.8)
              --top-k K             keep the K most likely tokens, 0 = off (default 40)
              --top-p P             keep the smallest set with probability mass P (default 0.95)
              --min-p P             drop tokens below P × the top probability (default 0.05)
              --repeat-penalty R    penalise the last 64 tokens, 1 = off (default 1.0)
              --seed S              random seed, for reproducible sampling (default: random)
              --stop STR            stop when STR appears (repeatable; STR is not printed;
                                    \\n, \\t and \\\\ are a newline, a tab and a backslash)
              --ids A,B,C           the prompt as token ids instead of text
              --print-ids           end stdout with one line: the prompt's and generated ids, comma-separated
              --quantize q8_0|q4_0|q4_k|q5_k|q6_k|binary|ternary
                                    quantize the float weight matrices at load (integer kernels;
                                    ternary: BitNet b1.58's {-1, 0, +1} with an absmean scale;
                                    binary: signs with a mean |w| per 64, XNOR-Net style)
              --threads N           threads for the kernels
              --kv-type f32|f16     element type of the attention KV cache (default f32; f16
                                    halves its memory, as llama.cpp's default)
              --device cpu|cuda|auto
                                    where the model runs (default cpu): cuda keeps the weights on
                                    an NVIDIA GPU (every architecture here; needs the NVIDIA driver,
                                    NVRTC and cuBLAS on the machine), auto takes the GPU when it can
              --verbose             stack traces with errors
            """;

    static final String CHAT_HELP = """
            Usage: panamax chat [MODEL] [options]

            Reads one user message per line from stdin and streams the assistant's answers,
            formatted with the model's chat template (ChatML, Llama 2, Llama 3 and Mistral
            families are recognised from the template the model ships). A model without a
            template (like the embedded kjv-llama) just continues the text. An empty line or
            end of input ends the chat. The model's cache is kept from turn to turn, so a turn
            costs its own new tokens; when the conversation outgrows the context, its oldest
            turns are dropped (the system message stays) and the chat goes on.

            Options:
              --system TEXT         a system message
              --quantize TYPE       quantize the float weight matrices at load (as for generate)
              --max-tokens N        longest answer (default 256)
              --temperature, --top-k, --top-p, --min-p, --repeat-penalty, --seed, --threads,
              --kv-type, --device   as for generate
            """;

    static final String EMBED_HELP = """
            Usage: panamax embed MODEL TEXT... [--ids A,B,C] [--precision float|int8|binary] [--device cpu|cuda|auto]

            Prints one line per TEXT: its sentence embedding (mean of the last hidden states,
            unit length). float: the values; int8: "scale: c1 c2 ..." (absmax codes, value ≈
            code·scale); binary: the sign bits as 64-bit hex words (32x smaller than float).
            With several texts, their cosine similarities go to stderr.
            --device runs the encoder on a GPU (see generate --help; default cpu).
            """;

    static final String SEARCH_HELP = """
            Usage: panamax search MODEL --corpus FILE --query TEXT [--query TEXT ...] [options]

            Embeds every non-empty line of FILE and prints, for each query, the k closest lines
            with their scores. Binary search ranks by Hamming distance between sign bits and
            re-scores the best candidates with int8 codes (binary quantization with rescoring).
              --precision binary|int8|float   default binary
              --rescore N       binary candidates re-scored (default 40)
              -k N / --top N    results per query (default 10)
              --compare         also run float search and print recall@k of this precision on stderr
            """;

    static final String QUANTIZE_HELP = """
            Usage: panamax quantize IN OUT.gguf --type TYPE [--fallback f16|f32]

            Writes OUT.gguf, a file llama.cpp loads, from IN: a GGUF file (same metadata; every float
            matrix quantized, other tensors copied) or a Hugging Face directory (as convert).
            Progress on a terminal.
              --type q8_0 | q4_0        every matrix; blocks byte-identical to llama-quantize's
                     q4_k | q5_k | q6_k every matrix in one K-quant (super-blocks of 256)
                     q4_k_m | q5_k_m    llama.cpp's mixes: Q4_K (Q5_K), with Q6_K for the output
                                        head and attn_v/ffn_down of the first and last eighth of
                                        the layers and every third between
                     tq2_0              ternary {-1, 0, +1} per 256 (for BitNet b1.58 weights)
                     f16 | f32          no quantization
              --fallback f16|f32        type of matrices whose rows are not whole blocks (default
                                        f16, as llama.cpp; K-quants first try Q8_0)
            """;

    static final String BENCH_HELP = """
            Usage: panamax bench [MODEL] [options]

            Measures a model (default: the embedded kjv-llama; an encoder such as BERT is measured
            encoding the prompt, with no decode line): after warming up (whole runs, at least one,
            until S seconds have passed, then on until a whole run goes by without the JIT
            compiling, for at most max(10·S, 20) seconds), R runs each
            prefill P prompt tokens (in one matrix-matrix pass where the model allows) and then
            decode N tokens greedily; prints the median of each as
            "prefill P tokens: X tok/s" and "decode N tokens: Y tok/s".
              --prompt-tokens P   default 64
              --tokens N          default 128
              --repeats R         default 5
              --warmup S          seconds of warm-up runs at least (default 2; 0: one run)
              --threads N         threads for the kernels
              --kv-type f32|f16   element type of the attention KV cache (default f32)
              --device cpu|cuda|auto  where the model runs (default cpu; see generate --help)
            """;

    static final String TOKENIZE_HELP = """
            Usage: panamax tokenize MODEL_OR_VOCAB [--ids] [--no-special] < text

            Tokenizes standard input with the model's tokenizer (a vocabulary-only GGUF works).
            Prints one token per line as "id 'piece'", or with --ids the ids on one line.
              --ids          print only the ids, space-separated
              --no-special   add no BOS/EOS and treat special-token text as text (llama.cpp's test mode)
            """;

    static final String FORWARD_HELP = """
            Usage: panamax forward MODEL --ids A,B,C --out FILE

            Runs the tokens through the model and writes, as float32 little-endian, row-major:
            the logits of every position [T, vocab] for language models, the last hidden state
            [T, hidden] for encoders (BERT). For conformance checks.
              --kv-type f32|f16        element type of the attention KV cache (default f32)
              --device cpu|cuda|auto   where the model runs (default cpu; see generate --help)
            """;

    static final String INSPECT_HELP = """
            Usage: panamax inspect FILE_OR_DIR

            Prints the format, architecture, metadata or config (long arrays shortened) and
            every tensor with type and shape, then checks the model exactly as loading does
            (hyper-parameters, every tensor the architecture needs, their shapes): the last line
            is "valid: ..." and the exit status 0, or the first problem found and status 1.
            """;

    static final String CONVERT_HELP = """
            Usage: panamax convert HF_DIR OUT.gguf [--type TYPE]

            Writes a Hugging Face Llama, Mistral, Mamba or BERT directory as a GGUF file that
            llama.cpp loads (llama.cpp's tensor names, Q/K permuted for its RoPE layout).
            Default type f16; any type of panamax quantize --type is taken.
            """;

    private Main() {}

    public static void main(String[] args) {
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.err), true, StandardCharsets.UTF_8);
        int status = run(args, out, err, System.in);
        out.flush();
        System.exit(status);
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, out, err, InputStream.nullInputStream());
    }

    /** Runs the command line; returns the exit status. */
    static int run(String[] args, PrintStream out, PrintStream err, InputStream in) {
        boolean verbose = false;
        for (String a : args) if (a.equals("--verbose") || a.equals("-v")) verbose = true;
        try {
            int i = 0;
            for (; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--version", "-V" -> {
                        out.print(versionText());
                        return 0;
                    }
                    case "--help", "-h" -> {
                        out.print(USAGE);
                        return 0;
                    }
                    case "--verbose", "-v" -> { }
                    case "--threads", "-t" -> {
                        if (i + 1 >= args.length) throw new UsageException("--threads needs a number");
                        Parallel.setThreads(threadCount(args[++i]));
                    }
                    default -> {
                        if (a.startsWith("-")) throw new UsageException("unknown option '" + a + "' (see panamax --help)");
                        return command(a, args, i + 1, out, err, in);
                    }
                }
            }
            out.print(USAGE);
            return 0;
        } catch (UsageException e) {
            err.println("panamax: " + e.getMessage());
            return 2;
        } catch (OutputClosed e) {
            return 0; // the reader went away (| head): stop quietly, as a pipeline expects
        } catch (java.nio.charset.CharacterCodingException e) {
            err.println("panamax: the input is not valid UTF-8 (" + e.getMessage() + ")");
            return 1;
        } catch (IOException e) {
            err.println("panamax: " + describe(e));
            if (verbose) e.printStackTrace(err);
            return 1;
        } catch (java.io.UncheckedIOException e) {
            err.println("panamax: " + describe(e.getCause()));
            if (verbose) e.printStackTrace(err);
            return 1;
        } catch (ModelException | IllegalArgumentException e) {
            err.println("panamax: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            if (verbose) e.printStackTrace(err);
            return 1;
        } catch (OutOfMemoryError e) {
            err.println("panamax: out of memory (" + e.getMessage() + "); give the JVM more with JAVA_OPTS=-Xmx8g");
            return 1;
        } catch (RuntimeException e) {
            err.println("panamax: internal error: " + e + (verbose ? "" : " (run with --verbose for the stack trace)"));
            if (verbose) e.printStackTrace(err);
            return 1;
        }
    }

    private static final Set<String> COMMON = Set.of("--verbose", "--help");

    private static Set<String> switches(String... more) {
        Set<String> s = new java.util.HashSet<>(COMMON);
        s.addAll(List.of(more));
        return s;
    }

    private static int command(String name, String[] argv, int from, PrintStream out, PrintStream err, InputStream in) throws IOException {
        switch (name) {
            case "generate": {
                Args a = Args.parse(name, argv, from, Set.of("--max-tokens", "--temperature", "--top-k", "--top-p", "--min-p",
                        "--repeat-penalty", "--seed", "--stop", "--ids", "--threads", "--quantize", "--kv-type", "--device"), switches("--print-ids"));
                if (a.has("--help")) return help(out, GENERATE_HELP);
                threads(a);
                return generate(a, out, err);
            }
            case "chat": {
                Args a = Args.parse(name, argv, from, Set.of("--system", "--max-tokens", "--temperature", "--top-k", "--top-p", "--min-p",
                        "--repeat-penalty", "--seed", "--threads", "--quantize", "--kv-type", "--device"), switches());
                if (a.has("--help")) return help(out, CHAT_HELP);
                threads(a);
                return chat(a, out, err, in);
            }
            case "search": {
                Args a = Args.parse(name, argv, from, Set.of("--corpus", "--query", "--precision", "--rescore", "--top", "--threads"), switches("--compare"));
                if (a.has("--help")) return help(out, SEARCH_HELP);
                threads(a);
                return search(a, out, err);
            }
            case "embed": {
                Args a = Args.parse(name, argv, from, Set.of("--ids", "--threads", "--precision", "--device"), switches());
                if (a.has("--help")) return help(out, EMBED_HELP);
                threads(a);
                return embed(a, out, err);
            }
            case "quantize": {
                Args a = Args.parse(name, argv, from, Set.of("--type", "--fallback", "--threads"), switches());
                if (a.has("--help")) return help(out, QUANTIZE_HELP);
                return quantize(a, err);
            }
            case "bench": {
                Args a = Args.parse(name, argv, from, Set.of("--prompt-tokens", "--tokens", "--repeats", "--warmup", "--threads", "--kv-type", "--device"), switches());
                if (a.has("--help")) return help(out, BENCH_HELP);
                threads(a);
                return bench(a, out, err);
            }
            case "tokenize": {
                Args a = Args.parse(name, argv, from, Set.of("--threads"), switches("--ids", "--no-special"));
                if (a.has("--help")) return help(out, TOKENIZE_HELP);
                return tokenize(a, out, in);
            }
            case "forward": {
                Args a = Args.parse(name, argv, from, Set.of("--ids", "--out", "--threads", "--kv-type", "--device"), switches());
                if (a.has("--help")) return help(out, FORWARD_HELP);
                threads(a);
                return forward(a, out, err);
            }
            case "inspect": {
                Args a = Args.parse(name, argv, from, Set.of(), switches());
                if (a.has("--help")) return help(out, INSPECT_HELP);
                return inspect(a, out);
            }
            case "convert": {
                Args a = Args.parse(name, argv, from, Set.of("--type", "--threads"), switches());
                if (a.has("--help")) return help(out, CONVERT_HELP);
                return convert(a, out, err);
            }
            default:
                throw new UsageException("unknown command '" + name + "' (see panamax --help)");
        }
    }

    private static int help(PrintStream out, String text) {
        out.print(text);
        return 0;
    }

    /** --device cpu|cuda|auto (default cpu). */
    private static String deviceOption(Args a) {
        String d = a.value("--device", "cpu").toLowerCase(java.util.Locale.ROOT);
        if (!d.equals("cpu") && !d.equals("auto") && dev.panamax.runtime.backend.Backends.find(d) == null) {
            throw new UsageException("--device must be cpu, cuda or auto, got '" + a.value("--device", null) + "'");
        }
        return d;
    }

    /**
     * The load options the command line asks for: --quantize, --kv-type, and for a GPU 16-bit weights
     * kept 16-bit (the CPU widens those of small models to F32, which only the CPU profits from). The
     * model loads on the CPU; {@link #place} moves it to --device.
     */
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
        String d = a.value("--device", "cpu").toLowerCase(java.util.Locale.ROOT);
        var gpu = dev.panamax.runtime.backend.Backends.find("cuda");
        if (d.equals("cuda") || (d.equals("auto") && gpu != null && gpu.unavailableReason() == null)) o = o.withWidenHalfFloatsUpTo(0);
        return o;
    }

    /** The device a placed model reports in bench ("cuda: NVIDIA H100 ..."), set by {@link #placeModel}. */
    private static String deviceName = "cpu";

    private static Panamax place(Panamax model, String device, PrintStream err) {
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

    /** A model (language model or encoder) placed on the device. */
    private static Model placeModel(Model model, String device, PrintStream err) {
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

    private static void threads(Args a) {
        String t = a.value("--threads", null);
        if (t != null) Parallel.setThreads(threadCount(t));
    }

    // ---- generate --------------------------------------------------------------------------------

    private static int generate(Args a, PrintStream out, PrintStream err) {
        List<String> pos = a.positional;
        if (pos.size() > 2) throw new UsageException("generate takes at most MODEL and PROMPT; quote the prompt (see panamax generate --help)");
        Path modelPath = null;
        String prompt = null;
        if (pos.size() == 2) {
            if (pos.get(0).isBlank()) throw new UsageException("MODEL is empty (see panamax generate --help)");
            modelPath = Path.of(pos.get(0));
            prompt = pos.get(1);
        } else if (pos.size() == 1) {
            // One argument is the model when it names one, else the prompt ("" included: start from BOS).
            String arg = pos.get(0);
            if (!arg.isEmpty() && (Files.exists(Path.of(arg)) || arg.endsWith(".gguf"))) modelPath = Path.of(arg);
            else prompt = arg;
        }
        String idList = a.value("--ids", null);
        if (prompt == null && idList == null) prompt = "In the beginning";
        GenerationOptions o = sampling(a, 128);

        long t0 = System.nanoTime();
        String device = deviceOption(a);
        try (Panamax model = place(load(modelPath, loadOptions(a), err), device, err)) {
            model.model().prepare(); // the CPU's interleaved copy of Q8_0/Q4_0 matrices belongs to the load's time
            long t1 = System.nanoTime();
            err.printf("panamax: loaded %s (%s, context %d) in %.0f ms%n",
                    modelPath == null ? "kjv-llama (embedded)" : modelPath, model.model().architecture(), model.model().contextLength(), (t1 - t0) / 1e6);
            Tokenizer tok = model.tokenizer();
            int[] ids;
            if (idList != null) {
                ids = Args.ids("--ids", idList);
            } else {
                if (tok == null) throw new ModelException("this model has no tokenizer: give the prompt with --ids");
                ids = tok.encode(prompt, true);
            }
            if (prompt != null) out.print(prompt);
            else if (tok != null) out.print(decode(tok, ids));
            out.flush();
            Generator.Result r = model.generate(ids, o, text -> {
                out.print(text);
                out.flush();
                if (out.checkError()) throw new OutputClosed();
            });
            out.println();
            if (a.has("--print-ids")) {
                StringBuilder sb = new StringBuilder();
                for (int id : r.promptIds()) sb.append(sb.length() > 0 ? "," : "").append(id);
                for (int id : r.generatedIds()) sb.append(',').append(id);
                out.println(sb);
            }
            err.printf("panamax: prompt %d tokens at %.1f tok/s; generated %d tokens at %.1f tok/s (%s, stopped by %s)%n",
                    r.promptIds().length, r.promptTokensPerSecond(), r.generatedIds().length, r.generatedTokensPerSecond(),
                    deviceName.equals("cpu") ? Parallel.threads() + " threads" : deviceName.split(",")[0], r.stoppedBy());
        }
        return 0;
    }

    /**
     * Loads a model (the embedded one when {@code path} is null). On a terminal, a load that takes
     * more than a second shows a ticking status line on stderr until it is done.
     */
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

    /** The sampling flags shared by generate and chat. */
    /** The sampling options, each checked here so that a bad one is a command-line error naming the option. */
    private static GenerationOptions sampling(Args a, int maxTokens) {
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
                .withStop(a.all("--stop").stream().map(Main::unescape).toList());
    }

    /** {@code --stop "\n\n"}: the escapes a shell user types for a newline, tab, backslash. */
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

    // ---- chat ------------------------------------------------------------------------------------------

    private static int chat(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        if (a.positional.size() > 1) throw new UsageException("chat takes at most MODEL (see panamax chat --help)");
        GenerationOptions base = sampling(a, 256);
        Path modelPath = a.positional.isEmpty() ? null : Path.of(a.positional.get(0));
        String device = deviceOption(a);
        try (Panamax model = place(load(modelPath, loadOptions(a), err), device, err)) {
            model.model().prepare();
            String system = a.value("--system", null);
            dev.panamax.runtime.generate.Chat chat = new dev.panamax.runtime.generate.Chat(model.model(), system, note -> err.println("panamax: " + note));
            ChatTemplate template = chat.template();
            err.println("panamax: chatting with " + (modelPath == null ? "kjv-llama (embedded)" : modelPath) + ", template "
                    + template.name().toLowerCase(java.util.Locale.ROOT) + (template == ChatTemplate.NONE ? " (each line continues the text)" : "")
                    + "; an empty line or end of input ends the chat");
            // Strict: a byte that is not UTF-8 is an error naming it, not a silent U+FFFD.
            java.io.BufferedReader reader = new java.io.BufferedReader(new java.io.InputStreamReader(in,
                    StandardCharsets.UTF_8.newDecoder().onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                            .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)));
            while (true) {
                err.print("> ");
                err.flush();
                String line = reader.readLine();
                if (line == null || line.isBlank()) break;
                if (template == ChatTemplate.NONE) out.print(line);
                Generator.Result r = chat.send(line, base, text -> {
                    out.print(text);
                    out.flush();
                    if (out.checkError()) throw new OutputClosed();
                }, () -> model.isClosed() ? "the model was closed" : null);
                out.println();
                err.printf("panamax: %d new prompt tokens, %d generated at %.1f tok/s%n", r.promptTokensFed(), r.generatedIds().length, r.generatedTokensPerSecond());
            }
        }
        return 0;
    }

    // ---- bench -----------------------------------------------------------------------------------------

    private static int bench(Args a, PrintStream out, PrintStream err) {
        if (a.positional.size() > 1) throw new UsageException("bench takes at most MODEL (see panamax bench --help)");
        int p = a.integer("--prompt-tokens", 64), n = a.integer("--tokens", 128), repeats = a.integer("--repeats", 5);
        if (p < 1 || n < 1 || repeats < 1) throw new UsageException("--prompt-tokens, --tokens and --repeats must be at least 1");
        float warmup = a.number("--warmup", 2f);
        if (!(warmup >= 0 && warmup <= 3600)) throw new UsageException("--warmup must be between 0 and 3600 seconds, got " + warmup);
        Path modelPath = a.positional.isEmpty() ? null : Path.of(a.positional.get(0));
        String device = deviceOption(a);
        try (Model loaded = placeModel(modelPath == null ? load(null, loadOptions(a), err).model() : ModelLoader.load(modelPath, loadOptions(a)), device, err)) {
            if (loaded instanceof EncoderModel enc) return benchEncoder(enc, modelPath, p, repeats, warmup, out);
            if (!(loaded instanceof LanguageModel m)) throw new ModelException(loaded.architecture() + " is neither a text generator nor an encoder");
            if (p + n > m.contextLength()) throw new UsageException((p + n) + " tokens do not fit the model's context of " + m.contextLength());
            // A fixed pseudo-random prompt: speed does not depend on the ids.
            int[] prompt = new java.util.Random(42).ints(p, 0, m.vocabSize()).toArray();
            double[] prefill = new double[repeats], decode = new double[repeats];
            // Warm-up: whole runs until the JIT has compiled the kernels (see WarmUp); a small
            // model's single run is over before it has.
            WarmUp warm = new WarmUp(warmup);
            for (int r = -1; r < repeats; r++) { // r = -1: the warm-up runs
                if (r == 0 && warm.another()) r = -1;
                LanguageModel.Session s = m.newSession();
                long t0 = System.nanoTime();
                float[] logits = s.prefill(prompt, false);
                long t1 = System.nanoTime();
                for (int i = 0; i < n; i++) logits = s.forward(Simd.kernels().argmax(logits, 0, logits.length));
                long t2 = System.nanoTime();
                if (r >= 0) {
                    prefill[r] = p / ((t1 - t0) / 1e9);
                    decode[r] = n / ((t2 - t1) / 1e9);
                }
            }
            java.util.Arrays.sort(prefill);
            java.util.Arrays.sort(decode);
            out.printf("model: %s (%s), %s%n", modelPath == null ? "kjv-llama (embedded)" : modelPath, m.architecture(),
                    deviceName.equals("cpu") ? Parallel.threads() + " threads, SIMD " + Simd.description() : "device " + deviceName);
            out.println("warm-up: " + warm.summary());
            out.printf(java.util.Locale.ROOT, "prefill %d tokens: %.1f tok/s%n", p, prefill[repeats / 2]);
            out.printf(java.util.Locale.ROOT, "decode %d tokens: %.1f tok/s%n", n, decode[repeats / 2]);
        }
        return 0;
    }

    /** An encoder (BERT) has no decoding: the prompt's encoding is its prefill. */
    private static int benchEncoder(EncoderModel enc, Path path, int p, int repeats, float warmup, PrintStream out) {
        if (p > enc.maxPositions()) throw new UsageException(p + " tokens do not fit the model's " + enc.maxPositions() + " positions");
        // Speed does not depend on the ids; without a tokenizer to bound them, id 0 ([PAD]) throughout.
        int[] ids = enc.tokenizer() != null ? new java.util.Random(42).ints(p, 0, enc.tokenizer().vocabSize()).toArray() : new int[p];
        double[] rate = new double[repeats];
        WarmUp warm = new WarmUp(warmup);
        for (int r = -1; r < repeats; r++) { // r = -1: the warm-up runs, as in bench
            if (r == 0 && warm.another()) r = -1;
            long t0 = System.nanoTime();
            enc.encode(ids);
            if (r >= 0) rate[r] = p / ((System.nanoTime() - t0) / 1e9);
        }
        java.util.Arrays.sort(rate);
        out.printf("model: %s (%s, an encoder), %s%n", path, enc.architecture(),
                deviceName.equals("cpu") ? Parallel.threads() + " threads, SIMD " + Simd.description() : "device " + deviceName);
        out.println("warm-up: " + warm.summary());
        out.printf(java.util.Locale.ROOT, "prefill %d tokens: %.1f tok/s%n", p, rate[repeats / 2]);
        out.println("decode: none (an encoder generates no tokens)");
        return 0;
    }

    // ---- search ----------------------------------------------------------------------------------------

    private static int search(Args a, PrintStream out, PrintStream err) throws IOException {
        if (a.positional.size() != 1) throw new UsageException("search needs MODEL (see panamax search --help)");
        String corpusFile = a.value("--corpus", null);
        if (corpusFile == null || a.all("--query").isEmpty()) throw new UsageException("search needs --corpus FILE and at least one --query TEXT");
        var precision = switch (a.value("--precision", "binary")) {
            case "binary" -> dev.panamax.runtime.search.EmbeddingIndex.Precision.BINARY;
            case "int8" -> dev.panamax.runtime.search.EmbeddingIndex.Precision.INT8;
            case "float" -> dev.panamax.runtime.search.EmbeddingIndex.Precision.FLOAT;
            default -> throw new UsageException("--precision must be binary, int8 or float");
        };
        int k = a.integer("--top", 10), rescore = a.integer("--rescore", 40);
        List<String> lines = Files.readAllLines(Path.of(corpusFile)).stream().filter(l -> !l.isBlank()).toList();
        try (Model m = ModelLoader.load(Path.of(a.positional.get(0)))) {
            if (!(m instanceof EncoderModel enc)) throw new ModelException(a.positional.get(0) + ": " + m.architecture() + " is not an encoder; search needs one such as BERT");
            if (enc.tokenizer() == null) throw new ModelException("this model has no tokenizer (vocab.txt or tokenizer.json)");
            var index = new dev.panamax.runtime.search.EmbeddingIndex(enc.hiddenSize());
            long t0 = System.nanoTime();
            for (String line : lines) index.add(enc.embed(truncate(enc.tokenizer().encode(line, true), enc.maxPositions())));
            err.printf("panamax: embedded %d lines in %.1f s%n", lines.size(), (System.nanoTime() - t0) / 1e9);
            double recall = 0;
            for (String query : a.all("--query")) {
                float[] q = enc.embed(truncate(enc.tokenizer().encode(query, true), enc.maxPositions()));
                var hits = index.search(q, k, precision, rescore);
                out.println("query: " + query);
                int rank = 1;
                for (var h : hits) out.printf(java.util.Locale.ROOT, "%3d  %.4f  %s%n", rank++, h.score(), lines.get(h.doc()));
                if (a.has("--compare")) recall += dev.panamax.runtime.search.EmbeddingIndex.recall(hits, index.search(q, k, dev.panamax.runtime.search.EmbeddingIndex.Precision.FLOAT, 0));
            }
            if (a.has("--compare")) {
                err.printf(java.util.Locale.ROOT, "panamax: recall@%d of %s search against float: %.3f over %d queries%n", k,
                        precision.name().toLowerCase(java.util.Locale.ROOT), recall / a.all("--query").size(), a.all("--query").size());
            }
        }
        return 0;
    }

    private static int[] truncate(int[] ids, int max) {
        return ids.length <= max ? ids : java.util.Arrays.copyOf(ids, max);
    }

    // ---- embed -----------------------------------------------------------------------------------------

    private static int embed(Args a, PrintStream out, PrintStream err) {
        if (a.positional.isEmpty()) throw new UsageException("embed needs MODEL and at least one TEXT (see panamax embed --help)");
        String ids = a.value("--ids", null);
        if (a.positional.size() < 2 && ids == null) throw new UsageException("embed needs at least one TEXT or --ids");
        String device = deviceOption(a);
        try (Model m = placeModel(ModelLoader.load(Path.of(a.positional.get(0)), loadOptions(a)), device, err)) {
            if (!(m instanceof EncoderModel enc)) throw new ModelException(a.positional.get(0) + ": " + m.architecture() + " is not an encoder; embed needs one such as BERT");
            java.util.List<float[]> vectors = new java.util.ArrayList<>();
            if (ids != null) vectors.add(enc.embed(Args.ids("--ids", ids)));
            for (String text : a.positional.subList(1, a.positional.size())) {
                if (enc.tokenizer() == null) throw new ModelException("this model has no tokenizer (vocab.txt or tokenizer.json): use --ids");
                vectors.add(enc.embed(enc.tokenizer().encode(text, true)));
            }
            String precision = a.value("--precision", "float");
            for (float[] v : vectors) {
                StringBuilder sb = new StringBuilder();
                switch (precision) {
                    case "float" -> {
                        for (float f : v) sb.append(sb.length() > 0 ? " " : "").append(String.format(java.util.Locale.ROOT, "%.6f", f));
                    }
                    case "int8" -> {
                        byte[] q = new byte[v.length];
                        float scale = dev.panamax.quant.BinaryCodes.int8(v, q);
                        sb.append(String.format(java.util.Locale.ROOT, "%.6g:", scale));
                        for (byte c : q) sb.append(' ').append(c);
                    }
                    case "binary" -> {
                        for (long word : dev.panamax.quant.BinaryCodes.pack(v)) sb.append(sb.length() > 0 ? " " : "").append(String.format("%016x", word));
                    }
                    default -> throw new UsageException("--precision must be float, int8 or binary");
                }
                out.println(sb);
            }
            if (vectors.size() > 1) {
                err.println("cosine similarity:");
                for (float[] x : vectors) {
                    StringBuilder sb = new StringBuilder();
                    for (float[] y : vectors) {
                        double dot = 0;
                        for (int i = 0; i < x.length; i++) dot += x[i] * y[i];
                        sb.append(String.format(java.util.Locale.ROOT, " %6.3f", dot));
                    }
                    err.println(sb);
                }
            }
        }
        return 0;
    }

    /** Decodes UTF-8 strictly: invalid input is a {@link ModelException} giving the byte offset. */
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

    private static String decode(Tokenizer tok, int[] ids) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        for (int id : ids) b.writeBytes(tok.decode(id));
        return b.toString(StandardCharsets.UTF_8);
    }

    // ---- tokenize ------------------------------------------------------------------------------------

    private static int tokenize(Args a, PrintStream out, InputStream in) throws IOException {
        if (a.positional.size() != 1) throw new UsageException("tokenize needs MODEL_OR_VOCAB (see panamax tokenize --help)");
        Path p = Path.of(a.positional.get(0));
        String text = utf8(in.readAllBytes(), "standard input");
        Tokenizer tok;
        Gguf gguf = null;
        ModelSource hf = null;
        if (Files.isDirectory(p)) {
            hf = ModelLoader.readHuggingFace(p);
            tok = hf.tokenizer();
        } else {
            gguf = Gguf.read(p);
            tok = gguf.tokenizer();
        }
        try {
            if (tok == null) throw new ModelException(p + ": has no tokenizer");
            boolean special = !a.has("--no-special");
            int[] ids = tok instanceof SentencePiece sp ? sp.encode(text, special, special) : tok.encode(text, special);
            if (a.has("--ids")) {
                out.println(java.util.Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
            } else {
                for (int id : ids) out.println(id + " '" + tok.piece(id) + "'");
            }
        } finally {
            if (gguf != null) gguf.weights().close();
            if (hf != null) hf.weights().close();
        }
        return 0;
    }

    // ---- forward -------------------------------------------------------------------------------------

    private static int forward(Args a, PrintStream out, PrintStream err) throws IOException {
        if (a.positional.size() != 1) throw new UsageException("forward needs MODEL (see panamax forward --help)");
        String idList = a.value("--ids", null), file = a.value("--out", null);
        if (idList == null || file == null) throw new UsageException("forward needs --ids A,B,C and --out FILE");
        int[] ids = Args.ids("--ids", idList);
        if (ids.length == 0) throw new UsageException("--ids is empty");
        String device = deviceOption(a);
        try (Model model = placeModel(ModelLoader.load(Path.of(a.positional.get(0)), loadOptions(a)), device, err);
             OutputStream os = new BufferedOutputStream(openForWriting("--out", Path.of(file)))) {
            int width;
            if (model instanceof EncoderModel enc) {
                // Encoders: the last hidden state [T, hidden].
                if (ids.length > enc.maxPositions()) throw new ModelException(ids.length + " ids do not fit the " + enc.maxPositions() + " positions of the model");
                float[] states = enc.encode(ids);
                width = enc.hiddenSize();
                ByteBuffer all = ByteBuffer.allocate(4 * states.length).order(ByteOrder.LITTLE_ENDIAN);
                all.asFloatBuffer().put(states);
                os.write(all.array());
            } else {
                LanguageModel m = (LanguageModel) model;
                if (ids.length > m.contextLength()) throw new ModelException(ids.length + " ids do not fit the context of " + m.contextLength());
                LanguageModel.Session s = m.newSession();
                width = m.vocabSize();
                ByteBuffer row = ByteBuffer.allocate(4 * width).order(ByteOrder.LITTLE_ENDIAN);
                for (int id : ids) {
                    float[] logits = s.forward(id);
                    row.clear();
                    row.asFloatBuffer().put(logits);
                    os.write(row.array());
                }
            }
            err.printf("panamax: wrote [%d, %d] float32 %s to %s%n", ids.length, width, model instanceof EncoderModel ? "hidden states" : "logits", file);
        }
        return 0;
    }

    // ---- inspect -----------------------------------------------------------------------------------

    private static int inspect(Args a, PrintStream out) throws IOException {
        if (a.positional.size() != 1) throw new UsageException("inspect needs FILE_OR_DIR (see panamax inspect --help)");
        Path p = Path.of(a.positional.get(0));
        switch (ModelLoader.formatOf(p)) {
            case HUGGING_FACE -> {
                ModelSource src = ModelLoader.readHuggingFace(p);
                try (var w = src.weights()) {
                    out.println("format: Hugging Face directory (safetensors)");
                    out.println("architecture: " + src.architecture());
                    out.println("tokenizer: " + (src.tokenizer() == null ? "none" : src.tokenizer().getClass().getSimpleName() + ", " + src.tokenizer().vocabSize() + " tokens"));
                    out.println("config:");
                    for (Map.Entry<String, Object> e : src.config().entrySet()) out.println("  " + e.getKey() + " = " + shortValue(e.getValue()));
                    printTensors(out, w.all().values());
                }
            }
            case GGUF -> {
                Gguf g = Gguf.read(p);
                try (var w = g.weights()) {
                    out.println("format: GGUF v" + g.version() + ", data at byte " + g.dataOffset());
                    Object arch = g.metadata().get("general.architecture");
                    out.println("architecture: " + (arch == null ? "(none: vocabulary only?)" : arch));
                    out.println("metadata (" + g.metadata().size() + " keys):");
                    for (Map.Entry<String, Object> e : g.metadata().entrySet()) out.println("  " + e.getKey() + " = " + shortValue(e.getValue()));
                    printTensors(out, w.all().values());
                }
            }
            case LLAMA2C -> {
                ModelSource src = dev.panamax.runtime.format.Llama2c.read(p);
                try (var w = src.weights()) {
                    out.println("format: llama2.c checkpoint");
                    out.println("architecture: " + src.architecture());
                    out.println("tokenizer: " + (src.tokenizer() == null ? "none (no tokenizer.bin beside it)" : src.tokenizer().vocabSize() + " tokens"));
                    out.println("config:");
                    for (Map.Entry<String, Object> e : src.config().entrySet()) out.println("  " + e.getKey() + " = " + shortValue(e.getValue()));
                    printTensors(out, w.all().values());
                }
            }
        }
        // The same checks as loading: hyper-parameters, every tensor the architecture needs, shapes.
        out.flush();
        try (Model m = ModelLoader.load(p)) {
            out.println("valid: loads as " + m.architecture() + (m instanceof LanguageModel lm
                    ? " (context " + lm.contextLength() + ", vocabulary " + lm.vocabSize() + ")" : " (encoder)"));
        }
        return 0;
    }

    private static void printTensors(PrintStream out, java.util.Collection<Tensor> tensors) {
        long total = 0;
        out.println("tensors (" + tensors.size() + "):");
        for (Tensor t : tensors) {
            out.println("  " + t.name() + "  " + t.type() + " " + java.util.Arrays.toString(t.shape()));
            total += t.elements();
        }
        out.println("parameters: " + total);
    }

    private static String shortValue(Object v) {
        if (v instanceof List<?> l) {
            String head = l.stream().limit(8).map(Main::shortValue).collect(Collectors.joining(", "));
            return "[" + head + (l.size() > 8 ? ", … (" + l.size() + " values)" : "") + "]";
        }
        if (v instanceof String s) return '"' + (s.length() > 80 ? s.substring(0, 80) + "…" : s) + '"';
        if (v instanceof Map<?, ?> m) return Json.object(v, "value").toString();
        return String.valueOf(v);
    }

    // ---- convert -------------------------------------------------------------------------------------

    private static int convert(Args a, PrintStream out, PrintStream err) throws IOException {
        if (a.positional.size() != 2) throw new UsageException("convert needs HF_DIR and OUT.gguf (see panamax convert --help)");
        QuantPlan plan = quantPlan(a.value("--type", "f16"), null);
        Path dst = Path.of(a.positional.get(1));
        GgufExport.convert(Path.of(a.positional.get(0)), dst, plan);
        err.println("panamax: wrote " + dst + " (" + Files.size(dst) + " bytes)");
        return 0;
    }

    // ---- quantize ------------------------------------------------------------------------------------

    private static int quantize(Args a, PrintStream err) throws IOException {
        if (a.positional.size() != 2) throw new UsageException("quantize needs IN and OUT.gguf (see panamax quantize --help)");
        String t = a.value("--type", null);
        if (t == null) throw new UsageException("quantize needs --type (" + QuantPlan.NAMES + ")");
        QuantPlan plan = quantPlan(t, a.value("--fallback", null));
        Path dst = Path.of(a.positional.get(1));
        boolean terminal = System.console() != null;
        GgufExport.quantize(Path.of(a.positional.get(0)), dst, plan, (done, all) -> {
            if (terminal) err.printf("\rpanamax: quantizing tensor %d of %d", done, all);
        });
        if (terminal) err.print("\r\033[K");
        err.println("panamax: wrote " + dst + " (" + Files.size(dst) + " bytes)");
        return 0;
    }

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

    // ---- version -------------------------------------------------------------------------------------

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

    /** What went wrong with a file, in words: the JDK's exceptions often carry only the path. */
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

    /** A file to write, or an error that says which option named it and why it cannot be written. */
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

    /** --threads N: at least 1, at most {@link Parallel#maxThreads}. */
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
