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
import java.util.Map;

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
                decode line is then the tokens of all B per second. An image model (ViT, DeiT,
                CLIP) is measured in images/s at its size, one image at a time and B images a pass
                (--batch, default 16 for an image model: each linear layer one product over all B,
                each image's result bit for bit its own), alternating, beside the kernels' own F32
                GEMM speed on the model's feed-forward shape in the same run.
                """, List.of(Option.valued("--prompt-tokens", "P", "default 64"), Option.valued("--tokens", "N", "default 128"),
                Option.valued("--batch", "B", "sequences decoded together (default 1)"),
                Option.valued("--repeats", "R", "default 5"), Option.valued("--warmup", "S", "seconds of warm-up runs at least (default 2; 0: one run)"),
                Option.flag("--json", "print the results as one JSON object (cpu, model, runs, medians) instead of text"),
                Option.THREADS, Option.KV_TYPE, Option.PROMPT_CHUNK, Option.LAYOUT_CACHE, Option.DEVICE, Option.QUANTIZE));
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
        dev.panamax.simd.Simd.endWarmUp(); // steady speed is measured: no start-up twins to wait out
        String device = deviceOption(a);
        try (Model loaded = placeModel(modelPath == null ? load(null, loadOptions(a), err).model() : ModelLoader.load(modelPath, loadOptions(a)), device, err)) {
            if (loaded instanceof EncoderModel enc) return benchEncoder(enc, modelPath, p, repeats, warmup, a.has("--json"), out);
            if (loaded instanceof dev.panamax.runtime.model.VisionModel vision) {
                if (batch > 256) throw new UsageException("--batch for an image model must be at most 256 images, got " + batch);
                return benchVision(vision, modelPath, repeats, warmup, a.value("--batch", null) != null ? batch : 16, a.has("--json"), out);
            }
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
            if (a.has("--json")) {
                Map<String, Object> j = report(modelPath == null ? "kjv-llama (embedded)" : modelPath.toString(), m.architecture(), warm);
                j.put("prompt_tokens", p);
                j.put("tokens", n);
                j.put("batch", batch);
                j.put("prefill_tok_s", prefill[repeats / 2]);
                j.put("decode_tok_s", decode[repeats / 2]);
                j.put("prefill_runs_tok_s", toList(prefill));
                j.put("decode_runs_tok_s", toList(decode));
                out.println(dev.panamax.serve.JsonOut.write(j));
                return 0;
            }
            out.println(CpuInfo.read().line());
            out.printf("model: %s (%s), %s%n", modelPath == null ? "kjv-llama (embedded)" : modelPath, m.architecture(),
                    deviceName.equals("cpu") ? Parallel.threads() + " threads, SIMD " + Simd.description() : "device " + deviceName);
            out.println("warm-up: " + warm.summary());
            out.printf(java.util.Locale.ROOT, "prefill %d tokens: %.1f tok/s%n", p, prefill[repeats / 2]);
            if (batch == 1) out.printf(java.util.Locale.ROOT, "decode %d tokens: %.1f tok/s%n", n, decode[repeats / 2]);
            else out.printf(java.util.Locale.ROOT, "decode %d tokens x %d sequences (batched): %.1f tok/s%n", n, batch, decode[repeats / 2]);
        }
        return 0;
    }

    /** The JSON report's common part: the CPU, the model, where it ran, the warm-up. Medians and every run follow. */
    private Map<String, Object> report(String model, String architecture, WarmUp warm) {
        Map<String, Object> j = new java.util.LinkedHashMap<>();
        j.put("cpu", CpuInfo.read().json());
        j.put("model", model);
        j.put("architecture", architecture);
        j.put("device", deviceName);
        j.put("threads", Parallel.threads());
        j.put("simd", Simd.description());
        j.put("warmup_runs", warm.runs());
        j.put("warmup_seconds", warm.seconds());
        return j;
    }

    private static List<Double> toList(double[] sorted) {
        List<Double> l = new java.util.ArrayList<>();
        for (double x : sorted) l.add(x);
        return l;
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

    /**
     * An image model: images/s one image at a time and {@code batch} images a pass, alternating
     * (random pixels at the model's size, the classifier's logits or CLIP's image embedding), and,
     * for scale, the kernels' own F32 GEMM speed on the model's largest projection in the same run
     * ([tokens × hidden] · [4·hidden × hidden]ᵀ).
     */
    private int benchVision(dev.panamax.runtime.model.VisionModel v, Path path, int repeats, float warmup, int batch, boolean json, PrintStream out) {
        int size = v.imageSize(), hidden = v.hiddenSize();
        java.util.Random r = new java.util.Random(42);
        List<float[]> images = new java.util.ArrayList<>();
        for (int b = 0; b < batch; b++) {
            float[] x = new float[3 * size * size];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            images.add(x);
        }
        float[] pixels = images.get(0);
        boolean classifier = !v.labels().isEmpty();
        Runnable one = () -> {
            if (classifier) v.classify(pixels, size, size);
            else v.embedImage(pixels, size, size);
        };
        Runnable all = () -> {
            if (classifier) v.classify(images, size, size);
            else v.embedImages(images, size, size);
        };
        double[] rate = new double[repeats], batchRate = new double[repeats];
        WarmUp warm = new WarmUp(warmup);
        for (int k = -1; k < repeats; k++) {
            if (k == 0 && warm.another()) k = -1;
            double single = imagesPerSecond(one, 1), together = imagesPerSecond(all, batch);
            if (k >= 0) {
                rate[k] = single;
                batchRate[k] = together;
            }
        }
        java.util.Arrays.sort(rate);
        java.util.Arrays.sort(batchRate);
        // The GEMM for scale: the feed-forward's up projection of one image's tokens (patches + class token).
        int tokens = v.hiddenStates(pixels, size, size).length / hidden, ffn = 4 * hidden;
        float[] a = new float[tokens * hidden], b = new float[ffn * hidden], c = new float[tokens * ffn];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
        for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian();
        double[] gemm = new double[repeats];
        for (int k = -3; k < repeats; k++) {
            int n = 0;
            long t0 = System.nanoTime();
            do {
                Simd.kernels().matmulTransposedB(a, b, c, tokens, ffn, hidden);
                n++;
            } while (System.nanoTime() - t0 < 300_000_000L);
            if (k >= 0) gemm[k] = 2.0 * tokens * ffn * hidden * n / ((System.nanoTime() - t0) / 1e9) / 1e9;
        }
        java.util.Arrays.sort(gemm);
        // The model's arithmetic per image: 2 flops per weight of the layers' matrices per token, and attention's two products.
        long weights = 0;
        for (long n : v.parametersByType().values()) weights += n;
        int layers = (int) Math.max(1, Math.round(weights / (12.0 * hidden * hidden))); // 12·hidden² weights a layer (feed-forward 4·hidden)
        double flops = 2.0 * weights * tokens + 4.0 * tokens * tokens * hidden * layers;
        double modelGflops = flops * rate[repeats / 2] / 1e9;
        if (json) {
            Map<String, Object> j = report(path.toString(), v.architecture(), warm);
            j.put("image_size", size);
            j.put("tokens", tokens);
            j.put(classifier ? "classify_images_s" : "embed_images_s", rate[repeats / 2]);
            j.put("images_s_runs", toList(rate));
            j.put("batch", batch);
            j.put("batch_images_s", batchRate[repeats / 2]);
            j.put("batch_images_s_runs", toList(batchRate));
            if (classifier) {
                j.put("model_gflop_s", modelGflops);
                j.put("f32_gemm_gflop_s", gemm[repeats / 2]);
                j.put("f32_gemm_shape", List.of(tokens, hidden, ffn));
            }
            out.println(dev.panamax.serve.JsonOut.write(j));
            return 0;
        }
        out.println(CpuInfo.read().line());
        out.printf("model: %s (%s), %d threads, SIMD %s%n", path, v.architecture(), Parallel.threads(), Simd.description());
        out.println("warm-up: " + warm.summary());
        if (classifier) { // a ViT's weights are its image tower's (CLIP's count its text tower too)
            out.printf(java.util.Locale.ROOT, "classify %d×%d, %d tokens: %.2f images/s (≈ %.1f GFLOP/s)%n", size, size, tokens, rate[repeats / 2],
                    modelGflops);
            out.printf(java.util.Locale.ROOT, "F32 GEMM [%d × %d]·[%d × %d]ᵀ: %.1f GFLOP/s (the model at %.2f× of it)%n", tokens, hidden, ffn, hidden,
                    gemm[repeats / 2], modelGflops / gemm[repeats / 2]);
        } else {
            out.printf(java.util.Locale.ROOT, "embed image %d×%d, %d tokens: %.2f images/s%n", size, size, tokens, rate[repeats / 2]);
        }
        out.printf(java.util.Locale.ROOT, "%s %d images a pass: %.2f images/s (%.2f× one at a time)%n", classifier ? "classify" : "embed", batch,
                batchRate[repeats / 2], batchRate[repeats / 2] / rate[repeats / 2]);
        return 0;
    }

    /** Images/s of {@code pass}, which handles {@code images} images, run for at least half a second (at most 1000 images). */
    private static double imagesPerSecond(Runnable pass, int images) {
        int done = 0;
        long t0 = System.nanoTime();
        do {
            pass.run();
            done += images;
        } while (System.nanoTime() - t0 < 500_000_000L && done < 1000);
        return done / ((System.nanoTime() - t0) / 1e9);
    }

    private int benchEncoder(EncoderModel enc, Path path, int p, int repeats, float warmup, boolean json, PrintStream out) {
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
        if (json) {
            Map<String, Object> j = report(path.toString(), enc.architecture(), warm);
            j.put("prompt_tokens", p);
            j.put("prefill_tok_s", rate[repeats / 2]);
            j.put("prefill_runs_tok_s", toList(rate));
            out.println(dev.panamax.serve.JsonOut.write(j));
            return 0;
        }
        out.println(CpuInfo.read().line());
        out.printf("model: %s (%s, an encoder), %s%n", path, enc.architecture(),
                deviceName.equals("cpu") ? Parallel.threads() + " threads, SIMD " + Simd.description() : "device " + deviceName);
        out.println("warm-up: " + warm.summary());
        out.printf(java.util.Locale.ROOT, "prefill %d tokens: %.1f tok/s%n", p, rate[repeats / 2]);
        out.println("decode: none (an encoder generates no tokens)");
        return 0;
    }
}
