package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.Panamax;
import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.generate.Generator;
import dev.panamax.runtime.tokenizer.Tokenizer;
import dev.panamax.simd.Parallel;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code panamax generate}: stream text from a prompt (no MODEL: the embedded kjv-llama). */
final class GenerateCommand extends Command {
    /**
     * Tokens from which generate skips the start-up twins on two cores or fewer (docs/kernels.md,
     * "Start-up: lane-order twins"; {@code -Dpanamax.twinsBelowTokens}).
     */
    static final int LONG_GENERATION = dev.panamax.simd.Tuning.speed("twinsBelowTokens", 300);

    GenerateCommand() {
        super("generate", "[MODEL] [PROMPT] [options]", "stream text from a prompt (no MODEL: the embedded kjv-llama)", """
                Streams generated text to stdout as tokens are chosen. Without MODEL, runs the
                embedded default model (kjv-llama, a 5.4M-parameter Llama trained on the King James
                Bible). Without PROMPT, starts from "In the beginning"; an empty PROMPT ("") starts
                from the model's BOS token. Load time and prompt and generation speed (tokens/s) go to
                stderr. Generation stops when the reader of stdout goes away (| head).
                """, Option.of(Option.sampling(128), List.of(
                Option.valued("--stop", "STR", """
                        stop when STR appears (repeatable; STR is not printed;
                        \\n, \\t and \\\\ are a newline, a tab and a backslash)"""),
                Option.valued("--ids", "A,B,C", "the prompt as token ids instead of text"),
                Option.flag("--print-ids", "end stdout with one line: the prompt's and generated ids, comma-separated"),
                Option.QUANTIZE, Option.THREADS, Option.KV_TYPE, Option.PROMPT_CHUNK, Option.LAYOUT_CACHE, Option.DEVICE)));
    }

    @Override
    int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        threads(a);
        return generate(a, out, err);
    }

    private int generate(Args a, PrintStream out, PrintStream err) {
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
        // A long generation runs the vector kernels from the start: on two cores the start-up twins'
        // warm-up shares the machine with the model, and past ~250 tokens it costs more than it gave.
        if (o.maxTokens() >= LONG_GENERATION && Runtime.getRuntime().availableProcessors() <= 2) dev.panamax.simd.Simd.endWarmUp();

        long t0 = System.nanoTime();
        String device = deviceOption(a);
        try (Panamax model = place(load(modelPath, loadOptions(a), err), device, err)) {
            model.model().prepare(); // the CPU's interleaved copy of Q8_0/Q4_0 matrices belongs to the load's time
            long t1 = System.nanoTime();
            if (model.model().preparedNote() != null) err.println("panamax: " + model.model().preparedNote());
            // Concatenated, not printf: a fresh JVM's first Formatter costs milliseconds before the first token.
            err.println("panamax: loaded " + (modelPath == null ? "kjv-llama (embedded)" : modelPath) + " (" + model.model().architecture()
                    + ", context " + model.model().contextLength() + ") in " + Math.round((t1 - t0) / 1e6) + " ms");
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
            long[] shown = new long[1 + Math.min(o.maxTokens(), model.model().contextLength())]; // when each piece of text came: the steady rate below
            int[] pieces = {0};
            Generator.Result r = model.generate(ids, o, text -> {
                out.print(text);
                out.flush();
                if (out.checkError()) throw new OutputClosed();
                if (pieces[0] < shown.length) shown[pieces[0]++] = System.nanoTime();
            });
            out.println();
            if (a.has("--print-ids")) {
                StringBuilder sb = new StringBuilder();
                for (int id : r.promptIds()) sb.append(sb.length() > 0 ? "," : "").append(id);
                for (int id : r.generatedIds()) sb.append(',').append(id);
                out.println(sb);
            }
            // A fresh JVM's first tokens run while the JIT compiles the kernels: with 16 tokens or more the line also
            // gives the later half's rate, between the pieces of text shown (about one a token).
            int k = pieces[0], half = k / 2;
            String steady = k >= 16 && shown[k - 1] > shown[half]
                    ? " (the last " + (k - 1 - half) + " at " + oneDecimal((k - 1 - half) / ((shown[k - 1] - shown[half]) / 1e9)) + " tok/s)"
                    : "";
            err.println("panamax: prompt " + r.promptIds().length + " tokens at " + oneDecimal(r.promptTokensPerSecond()) + " tok/s; generated "
                    + r.generatedIds().length + " tokens at " + oneDecimal(r.generatedTokensPerSecond()) + " tok/s" + steady + " ("
                    + (deviceName.equals("cpu") ? Parallel.threads() + " threads" : deviceName.split(",")[0]) + ", stopped by " + r.stoppedBy() + ")");
        }
        return 0;
    }

    /**
     * x with one decimal, rounded half up from the double (where x·10 rounds to an exact half, %.1f may
     * print the tenth below): a fresh JVM's first Formatter costs milliseconds at the end of a run.
     */
    static String oneDecimal(double x) {
        if (!Double.isFinite(x) || Math.abs(x) >= 1e15) return String.format(java.util.Locale.ROOT, "%.1f", x);
        long tenths = Math.round(x * 10);
        String sign = tenths < 0 ? "-" : "";
        tenths = Math.abs(tenths);
        return sign + tenths / 10 + "." + tenths % 10;
    }
}
