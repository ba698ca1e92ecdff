package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.model.EncoderModel;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.simd.Parallel;
import dev.panamax.simd.Simd;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/** {@code panamax bench}: prefill and decode tokens/s (median of repeated runs). */
final class BenchCommand extends Command {

    BenchCommand() {
        super("bench", "[MODEL] [options]", "prefill and decode tokens/s (median of repeated runs)", """
                Measures a model (default: the embedded kjv-llama; an encoder such as BERT is measured
                encoding the prompt, with no decode line): after warming up (whole runs, at least one,
                until S seconds have passed, then on until a whole run goes by without the JIT
                compiling, for at most max(10·S, 20) seconds), R runs each prefill P prompt tokens (in
                one matrix-matrix pass where the model allows) and then decode N tokens greedily;
                prints the median of each as "prefill P tokens: X tok/s" and "decode N tokens: Y tok/s".
                With --batch B, B sequences (each with its own prompt) decode together, N steps of B
                tokens each reading every weight once (as panamax serve batches its requests); the
                decode line is then the tokens of all B per second.
                """, List.of(Option.valued("--prompt-tokens", "P", "default 64"), Option.valued("--tokens", "N", "default 128"),
                Option.valued("--batch", "B", "sequences decoded together (default 1)"),
                Option.valued("--repeats", "R", "default 5"), Option.valued("--warmup", "S", "seconds of warm-up runs at least (default 2; 0: one run)"),
                Option.THREADS, Option.KV_TYPE, Option.DEVICE));
    }

    @Override
    int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException {
        threads(a);
        return bench(a, out, err);
    }

    private int bench(Args a, PrintStream out, PrintStream err) {
        if (a.positional.size() > 1) throw new UsageException("bench takes at most MODEL (see panamax bench --help)");
        int p = a.integer("--prompt-tokens", 64), n = a.integer("--tokens", 128), repeats = a.integer("--repeats", 5), batch = a.integer("--batch", 1);
        if (p < 1 || n < 1 || repeats < 1 || batch < 1) throw new UsageException("--prompt-tokens, --tokens, --repeats and --batch must be at least 1");
        if (batch > 4096) throw new UsageException("--batch must be at most 4096, got " + batch);
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
                LanguageModel.Session[] s = new LanguageModel.Session[batch];
                float[][] logits = new float[batch][];
                long t0 = System.nanoTime();
                for (int b = 0; b < batch; b++) {
                    s[b] = m.newSession();
                    logits[b] = s[b].prefill(b == 0 ? prompt : rotated(prompt, b), false);
                }
                long t1 = System.nanoTime();
                int[] next = new int[batch];
                for (int i = 0; i < n; i++) {
                    for (int b = 0; b < batch; b++) next[b] = Simd.kernels().argmax(logits[b], 0, logits[b].length);
                    if (batch == 1) logits[0] = s[0].forward(next[0]);
                    else logits = m.decodeStep(s, next);
                }
                long t2 = System.nanoTime();
                for (LanguageModel.Session x : s) if (x instanceof AutoCloseable c) closeSession(c); // a GPU session's memory, now
                if (r >= 0) {
                    prefill[r] = (double) p * batch / ((t1 - t0) / 1e9);
                    decode[r] = (double) n * batch / ((t2 - t1) / 1e9);
                }
            }
            java.util.Arrays.sort(prefill);
            java.util.Arrays.sort(decode);
            out.printf("model: %s (%s), %s%n", modelPath == null ? "kjv-llama (embedded)" : modelPath, m.architecture(),
                    deviceName.equals("cpu") ? Parallel.threads() + " threads, SIMD " + Simd.description() : "device " + deviceName);
            out.println("warm-up: " + warm.summary());
            out.printf(java.util.Locale.ROOT, "prefill %d tokens: %.1f tok/s%n", p, prefill[repeats / 2]);
            if (batch == 1) out.printf(java.util.Locale.ROOT, "decode %d tokens: %.1f tok/s%n", n, decode[repeats / 2]);
            else out.printf(java.util.Locale.ROOT, "decode %d tokens x %d sequences (batched): %.1f tok/s%n", n, batch, decode[repeats / 2]);
        }
        return 0;
    }

    private static void closeSession(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing a session failed", e);
        }
    }

    /** Sequence b's prompt: the same ids rotated by b, so the batch's sequences differ. */
    private static int[] rotated(int[] prompt, int b) {
        int[] r = new int[prompt.length];
        for (int i = 0; i < r.length; i++) r[i] = prompt[(i + b) % r.length];
        return r;
    }

    private int benchEncoder(EncoderModel enc, Path path, int p, int repeats, float warmup, PrintStream out) {
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
}
