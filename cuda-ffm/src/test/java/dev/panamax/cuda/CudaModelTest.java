package dev.panamax.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.backend.Backends;
import dev.panamax.runtime.json.Json;
import dev.panamax.runtime.model.EncoderModel;
import dev.panamax.runtime.LoadOptions;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.VisionModel;
import dev.panamax.runtime.tensor.DType;
import dev.panamax.simd.Simd;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Whole models on the GPU against Hugging Face transformers' float32 outputs, with the criteria of
 * the CPU's EquivalenceTest: prompt logits token by token, the prompt as one prefill and two later
 * chunks, teacher-forced logits, greedy ids up to the first near-tie. Also: device memory comes back
 * when a model closes, and graph replay equals eager launches.
 */
class CudaModelTest {

    static Path shared() {
        return Path.of(System.getProperty("panamax.shared", "../../shared")).normalize();
    }

    /**
     * How the GPU tests load, on the CPU and for the GPU alike: 16-bit weights kept 16-bit (as the CLI
     * loads for --device cuda), so both sides compute from the same values.
     */
    static final LoadOptions OPTIONS = LoadOptions.defaults().withWidenHalfFloatsUpTo(0);

    static LanguageModel onGpu(Path model) {
        return onGpu(model, OPTIONS);
    }

    static LanguageModel onGpu(Path model, LoadOptions options) {
        Gpu.context();
        return Backends.place("cuda", ModelLoader.loadLanguageModel(model, options), m -> {});
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "llama3", "mistral", "qwen2", "qwen3", "bitnet", "gpt2", "mamba", "mamba2", "qwen3_next"})
    void fixtureMatchesTransformersOnTheGpu(String name) throws Exception {
        Gpu.context();
        check(shared().resolve("fixtures/hf").resolve(name));
    }

    @Test
    void kjvLlamaMatchesTransformersOnTheGpu() throws Exception {
        Gpu.context();
        check(shared().resolve("models/kjv-llama"));
    }

    /**
     * Sessions opened and run on virtual threads (as {@code panamax serve} handles its requests): a
     * virtual thread that parks on a contended monitor may resume on another carrier thread, where the
     * CUDA context it made current is not — {@code serve --device cuda} failed a request so
     * (CUDA_ERROR_INVALID_CONTEXT from cuCtxSynchronize). Twenty-four at once, parked on the
     * context's capture lock as a capturing stepper would park them, beside virtual threads that unbind whatever context their carrier has (as a
     * carrier that never ran CUDA work has none); each sequence's logits bit for bit its own alone.
     */
    @Test
    void sessionsOnVirtualThreadsKeepTheirContext() throws Exception {
        Gpu.context();
        try (LanguageModel gpu = onGpu(shared().resolve("models/kjv-llama"), OPTIONS)) {
            int n = 24;
            java.util.Random r = new java.util.Random(11);
            int[][] prompts = new int[n][];
            for (int i = 0; i < n; i++) prompts[i] = r.ints(2 + i % 7, 1, gpu.vocabSize()).toArray();
            float[][] alone = new float[n][];
            for (int i = 0; i < n; i++) {
                LanguageModel.Session se = gpu.newSession();
                se.prefill(prompts[i], false);
                alone[i] = se.forward(5).clone();
            }
            float[][] together = new float[n][];
            java.util.List<Throwable> failures = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
            java.util.List<Thread> threads = new java.util.ArrayList<>();
            for (int i = 0; i < n; i++) {
                int k = i;
                threads.add(Thread.ofVirtual().start(() -> {
                    try {
                        start.await();
                        LanguageModel.Session se = gpu.newSession();
                        se.prefill(prompts[k], false);
                        Thread.yield(); // off this carrier, perhaps onto another
                        together[k] = se.forward(5).clone();
                    } catch (Throwable t) {
                        failures.add(t);
                    }
                }));
            }
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.List<Thread> unbinders = new java.util.ArrayList<>();
            for (int i = 0; i < 8; i++) {
                unbinders.add(Thread.ofVirtual().start(() -> {
                    while (!done.get()) {
                        Driver.get().setCurrent(0L); // this carrier now has no current context
                        Thread.yield();
                    }
                }));
            }
            synchronized (CudaContext.get().captureLock) { // as a stepping thread capturing a graph: each new session's
                start.countDown();                          // zeroing waits for it, parked, and resumes on some carrier
                Thread.sleep(300);
            }
            for (Thread t : threads) t.join();
            done.set(true);
            for (Thread t : unbinders) t.join();
            if (!failures.isEmpty()) throw new AssertionError(failures.size() + " of " + n + " virtual threads failed", failures.get(0));
            for (int i = 0; i < n; i++) assertArrayEquals(alone[i], together[i], "sequence " + i);
        }
    }

    /**
     * Batched decode steps ({@link LanguageModel#decodeStep}, as {@code panamax serve} runs them on the
     * GPU): six sequences, each after its own prompt, decoded in steps whose company changes (one
     * joins late, one sits two steps out and catches up; a company that repeats replays its captured
     * graph) give logit for logit, bit for bit, what each gives decoded alone — for F32, F16, BF16, Q8_0
     * and Q4_0 weights, an F16 KV cache, GPT-2's learned positions and LayerNorm, Qwen3's q/k norms —
     * with the batched matvec taking four rows a warp ({@code matvec4x4_*}) in even rounds and the
     * one-input blocks in odd ones — Q8_0 and Q4_0 with every matvec on the integer tensor cores
     * ({@code matvec_mma_*}, alone and batched; the default) and on the dp4a kernels; F16 on the
     * half-float tensor cores too ({@code :mmaF16}).
     */
    @ParameterizedTest
    @ValueSource(strings = {"kjv", "llama:F16", "llama:F16:mmaF16", "llama:BF16", "kjv:Q8_0", "kjv:Q4_0", "kjv:Q8_0:dp4a", "kjv:Q4_0:dp4a", "kjv:kv16",
            "gpt2", "qwen3"})
    void batchedStepsGiveEachSequenceItsLogitsAlone(String setup, @org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
        Gpu.context();
        boolean was = CudaOps.mma, wasF16 = CudaOps.mmaF16;
        CudaOps.mma = !setup.endsWith(":dp4a"); // the quantized matvecs on the integer tensor cores (default) or dp4a, alone and batched
        CudaOps.mmaF16 = setup.endsWith(":mmaF16");
        try {
            batchedSteps(setup, tmp);
        } finally {
            CudaOps.mma = was;
            CudaOps.mmaF16 = wasF16;
        }
    }

    /**
     * F16 weights on the half-float tensor cores ({@code matvec_mma_f16}, mmaF16) against the CUDA-core
     * kernels on the same weights: fixtures rounded to F16 — llama (its hidden width 64 on the tensor
     * cores, W_down's 172 columns not), llama3 (every matrix on them, one KV head), qwen3 (q/k norms) —
     * a prompt's last logits and twelve decode steps each within the fixtures' 1e-4.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama", "llama3", "qwen3"})
    void halfFloatTensorCoresMatchTheCudaCores(String name, @org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
        Gpu.context();
        Path dir = shared().resolve("fixtures/hf").resolve(name);
        for (String f : new String[] {"config.json", "generation_config.json"}) Files.copy(dir.resolve(f), tmp.resolve(f));
        halfCopy(dir.resolve("model.safetensors"), tmp.resolve("model.safetensors"), true);
        boolean was = CudaOps.mmaF16;
        float[][][] got = new float[2][][];
        try {
            for (int mode = 0; mode < 2; mode++) {
                CudaOps.mmaF16 = mode == 1;
                try (LanguageModel gpu = onGpu(tmp)) {
                    assertEquals(DeviceMatrix.F16, ((CudaDecoder) gpu).layers[0].qkv().format, "F16 on the device");
                    java.util.Random r = new java.util.Random(5);
                    int[] prompt = r.ints(20, 1, gpu.vocabSize()).toArray();
                    LanguageModel.Session se = gpu.newSession();
                    got[mode] = new float[13][];
                    got[mode][0] = se.prefill(prompt, false).clone();
                    for (int t = 1; t <= 12; t++) got[mode][t] = se.forward(r.nextInt(1, gpu.vocabSize())).clone();
                }
            }
        } finally {
            CudaOps.mmaF16 = was;
        }
        for (int t = 0; t <= 12; t++) match(got[0][t], 0, got[1][t], name + " F16 tensor cores, step " + t);
        assertTrue(!Arrays.equals(got[0][5], got[1][5]), "the tensor-core run took other kernels (its sums differ in the last bits)");
    }

    private void batchedSteps(String setup, Path tmp) throws IOException {
        String[] p = setup.split(":");
        Path dir = p[0].equals("kjv") ? shared().resolve("models/kjv-llama") : shared().resolve("fixtures/hf").resolve(p[0]);
        LoadOptions o = OPTIONS;
        if (p.length > 1 && p[1].endsWith("F16")) { // 16-bit weights: the fixture rounded, kept 16-bit on the device
            for (String f : new String[] {"config.json", "generation_config.json"}) Files.copy(dir.resolve(f), tmp.resolve(f));
            halfCopy(dir.resolve("model.safetensors"), tmp.resolve("model.safetensors"), p[1].equals("F16"));
            dir = tmp;
        } else if (p.length > 1) {
            o = p[1].equals("kv16") ? o.withKvCache(LoadOptions.KvCache.F16) : o.withQuantize(dev.panamax.runtime.tensor.DType.valueOf(p[1]));
        }
        try (LanguageModel gpu = onGpu(dir, o)) {
            assertTrue(gpu instanceof CudaDecoder, "on the GPU");
            int vocab = gpu.vocabSize(), n = 6, steps = 12; // steps of 5 and 6 rows: a full block of four rows and a partial one
            java.util.Random r = new java.util.Random(7);
            int[][] prompts = new int[n][], fed = new int[n][];
            for (int i = 0; i < n; i++) {
                prompts[i] = r.ints(3 + 5 * i, 1, vocab).toArray(); // up to 28 tokens: within every fixture's context
                fed[i] = r.ints(steps, 1, vocab).toArray();
            }
            float[][][] alone = new float[n][steps][];
            for (int i = 0; i < n; i++) {
                LanguageModel.Session se = gpu.newSession();
                se.prefill(prompts[i], false);
                for (int t = 0; t < steps; t++) alone[i][t] = se.forward(fed[i][t]).clone();
            }
            LanguageModel.Session[] ss = new LanguageModel.Session[n];
            for (int i = 0; i < n; i++) {
                ss[i] = gpu.newSession();
                ss[i].prefill(prompts[i], false);
            }
            int[] next = new int[n];
            int batched = 0;
            for (int round = 0; Arrays.stream(next).anyMatch(t -> t < steps); round++) {
                List<Integer> rows = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    if (next[i] >= steps || (i == 3 && round < 4) || (i == 1 && (round == 6 || round == 7))) continue;
                    rows.add(i);
                }
                LanguageModel.Session[] sess = new LanguageModel.Session[rows.size()];
                int[] toks = new int[rows.size()];
                for (int k = 0; k < rows.size(); k++) {
                    sess[k] = ss[rows.get(k)];
                    toks[k] = fed[rows.get(k)][next[rows.get(k)]];
                }
                CudaOps.rowsFromBlocks = round % 2 == 0 ? 0 : Integer.MAX_VALUE; // both batched kernels: four rows a warp, one-input blocks
                float[][] got;
                try {
                    got = gpu.decodeStep(sess, toks);
                } finally {
                    CudaOps.rowsFromBlocks = -1;
                }
                if (rows.size() > 1) batched++;
                for (int k = 0; k < rows.size(); k++) {
                    int i = rows.get(k);
                    assertArrayEquals(alone[i][next[i]], got[k], setup + ": sequence " + i + " step " + next[i] + " among " + rows.size());
                    assertEquals(prompts[i].length + next[i] + 1, ss[i].position());
                    next[i]++;
                }
            }
            assertTrue(batched >= 10, "steps of several sequences: " + batched);
        }
    }

    /**
     * --kv-type f16: the GPU's KV cache in half floats, against the CPU's half-float cache on the same
     * model (prompt logits, a prefill in two chunks, decode steps). The fixtures are short, so a
     * prompt longer than one attention chunk is also run (positions past 64).
     */
    @Test
    void anF16KvCacheMatchesTheCpusF16Cache() {
        Gpu.context();
        Path dir = shared().resolve("fixtures/hf/qwen3"); // per-head q/k norms and GQA too
        LoadOptions f16 = OPTIONS.withKvCache(LoadOptions.KvCache.F16);
        try (LanguageModel cpu = ModelLoader.loadLanguageModel(dir, f16); LanguageModel gpu = onGpu(dir, f16)) {
            assertEquals(2, ((CudaDecoder) gpu).kvElement, "half floats in the GPU's cache");
            int vocab = cpu.vocabSize();
            int[] prompt = new java.util.Random(3).ints(100, 1, vocab).toArray();
            float[] want = cpu.newSession().prefill(prompt, true).clone();
            LanguageModel.Session g = gpu.newSession();
            float[] a = g.prefill(Arrays.copyOf(prompt, 60), true).clone(), b = g.prefill(Arrays.copyOfRange(prompt, 60, 100), true);
            for (int t = 0; t < 100; t++) {
                float[] got = t < 60 ? Arrays.copyOfRange(a, t * vocab, (t + 1) * vocab) : Arrays.copyOfRange(b, (t - 60) * vocab, (t - 59) * vocab);
                match(want, t, got, "f16 cache prefill");
            }
            LanguageModel.Session c = cpu.newSession(), d = gpu.newSession();
            for (int t = 0; t < 100; t++) {
                float[] cl = c.forward(prompt[t]).clone();
                match(cl, 0, d.forward(prompt[t]), "f16 cache decode step " + t);
            }
        }
    }

    /** Sigmoid attention (LoadOptions.sigmoidAttention): the GPU against the CPU on the same model, prefill and decode. */
    @Test
    void sigmoidAttentionMatchesTheCpu() {
        Gpu.context();
        Path dir = shared().resolve("fixtures/hf/llama3");
        LoadOptions sigmoid = OPTIONS.withSigmoidAttention(true);
        try (LanguageModel cpu = ModelLoader.loadLanguageModel(dir, sigmoid); LanguageModel gpu = onGpu(dir, sigmoid)) {
            assertTrue(((CudaDecoder) gpu).s.sigmoidAttention());
            int vocab = cpu.vocabSize();
            int[] prompt = new java.util.Random(4).ints(90, 1, vocab).toArray();
            float[] want = cpu.newSession().prefill(prompt, true).clone(), got = gpu.newSession().prefill(prompt, true);
            for (int t = 0; t < prompt.length; t++) match(want, t, Arrays.copyOfRange(got, t * vocab, (t + 1) * vocab), "sigmoid prefill");
            LanguageModel.Session c = cpu.newSession(), g = gpu.newSession();
            for (int t = 0; t < prompt.length; t++) {
                float[] cl = c.forward(prompt[t]).clone();
                match(cl, 0, g.forward(prompt[t]), "sigmoid decode step " + t);
            }
        }
    }

    /**
     * BF16 weights stay BF16 on the device (the matvec reads them; prompts widen them to F32 for
     * SGEMM): the llama fixture rounded to BF16, on the GPU against the CPU on the same file. Needs the
     * CPU loader to keep 16-bit weights ({@link #OPTIONS}).
     */
    @Test
    void bf16WeightsStayBf16AndMatchTheCpu(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Gpu.context();
        Path dir = shared().resolve("fixtures/hf/llama");
        for (String f : new String[] {"config.json", "generation_config.json"}) Files.copy(dir.resolve(f), tmp.resolve(f));
        bf16Copy(dir.resolve("model.safetensors"), tmp.resolve("model.safetensors"));
        int[] prompt = ints(json(dir.resolve("expected.json")).get("input_ids"));
        try (LanguageModel cpu = ModelLoader.loadLanguageModel(tmp, OPTIONS); LanguageModel gpu = onGpu(tmp)) {
            CudaDecoder d = (CudaDecoder) gpu;
            assertEquals(DeviceMatrix.BF16, d.layers[0].qkv().format, "W_q|W_k|W_v on the device (loaded with OPTIONS)");
            int vocab = cpu.vocabSize();
            float[] want = cpu.newSession().prefill(prompt, true).clone(), got = gpu.newSession().prefill(prompt, true);
            LanguageModel.Session c = cpu.newSession(), g = gpu.newSession();
            for (int t = 0; t < prompt.length; t++) {
                match(want, t, Arrays.copyOfRange(got, t * vocab, (t + 1) * vocab), "bf16 prefill");
                float[] cl = c.forward(prompt[t]).clone();
                match(cl, 0, g.forward(prompt[t]), "bf16 decode step " + t);
            }
        }
    }

    /** The safetensors file at src with every F32 tensor rounded to BF16 (to nearest, ties to even). */
    static void bf16Copy(Path src, Path dst) throws IOException {
        halfCopy(src, dst, false);
    }

    /** The same rounded to BF16, or with {@code f16} to IEEE half floats (Float.floatToFloat16: to nearest, ties to even). */
    static void halfCopy(Path src, Path dst, boolean f16) throws IOException {
        byte[] all = Files.readAllBytes(src);
        ByteBuffer in = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        int headerLen = (int) in.getLong(0);
        Map<String, Object> header = Json.object(Json.parse(new String(all, 8, headerLen, java.nio.charset.StandardCharsets.UTF_8)), "header");
        StringBuilder h = new StringBuilder("{");
        java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
        for (Map.Entry<String, Object> e : new java.util.TreeMap<>(header).entrySet()) {
            if (e.getKey().equals("__metadata__")) continue;
            Map<String, Object> t = Json.object(e.getValue(), e.getKey());
            List<Object> off = Json.array(t.get("data_offsets"), "data_offsets"), shape = Json.array(t.get("shape"), "shape");
            int from = 8 + headerLen + ((Number) off.get(0)).intValue(), to = 8 + headerLen + ((Number) off.get(1)).intValue();
            if (!"F32".equals(t.get("dtype"))) throw new IOException("expected F32 tensors, " + e.getKey() + " is " + t.get("dtype"));
            long start = data.size();
            for (int i = from; i < to; i += 4) {
                int bits = in.getInt(i), r = f16 ? Float.floatToFloat16(Float.intBitsToFloat(bits)) : (bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16;
                data.write(r & 0xff);
                data.write((r >>> 8) & 0xff);
            }
            StringBuilder dims = new StringBuilder();
            for (Object d : shape) dims.append(dims.length() > 0 ? "," : "").append(((Number) d).longValue());
            h.append(h.length() > 1 ? "," : "").append('"').append(e.getKey()).append("\":{\"dtype\":\"").append(f16 ? "F16" : "BF16").append("\",\"shape\":[").append(dims)
                    .append("],\"data_offsets\":[").append(start).append(',').append(data.size()).append("]}");
        }
        h.append('}');
        while ((h.length() + 8) % 8 != 0) h.append(' ');
        byte[] hb = h.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        try (var out = Files.newOutputStream(dst)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length).array());
            out.write(hb);
            data.writeTo(out);
        }
    }

    /** BERT: the last hidden state of the prompt against transformers' hidden.f32, every row. */
    @Test
    void bertMatchesTransformersOnTheGpu() throws Exception {
        CudaContext cx = Gpu.context();
        Path dir = shared().resolve("fixtures/hf/bert");
        int[] ids = ints(json(dir.resolve("expected.json")).get("input_ids"));
        float[] ref = floats(dir.resolve("hidden.f32"));
        long before;
        try (EncoderModel warm = Backends.place("cuda", (EncoderModel) ModelLoader.load(dir, OPTIONS), m -> {})) {
            assertTrue(warm instanceof CudaEncoder, warm.getClass().getName());
            warm.encode(ids);
        }
        before = cx.driver.memoryInfo()[0];
        try (EncoderModel m = Backends.place("cuda", (EncoderModel) ModelLoader.load(dir, OPTIONS), n -> {})) {
            int h = m.hiddenSize();
            float[] first = null;
            for (int round = 0; round < 3; round++) { // eager, then recorded as a graph and replayed, then replayed
                float[] got = m.encode(ids);
                assertEquals(ref.length, got.length);
                for (int t = 0; t < ids.length; t++) match(ref, t, Arrays.copyOfRange(got, t * h, (t + 1) * h), "bert hidden");
                if (first == null) first = got;
                else assertArrayEquals(first, got, "a graph replay against the eager run, round " + round);
                if (round == 1) m.encode(Arrays.copyOf(ids, 4)); // another length between replays
            }
            System.setProperty("panamax.cuda.noGraph", "true");
            try {
                assertArrayEquals(first, m.encode(ids), "eager again, no graph");
            } finally {
                System.clearProperty("panamax.cuda.noGraph");
            }
            float[] shorter = m.encode(Arrays.copyOf(ids, 5)); // bidirectional: a prefix is its own input, not a slice
            assertArrayEquals(shorter, m.encode(Arrays.copyOf(ids, 5)), "length 5 replayed");
            try (EncoderModel cpu = (EncoderModel) ModelLoader.load(dir, OPTIONS)) {
                float[] want = cpu.encode(Arrays.copyOf(ids, 5));
                for (int t = 0; t < 5; t++) match(want, t, Arrays.copyOfRange(shorter, t * h, (t + 1) * h), "bert prefix vs cpu");
            }
            assertThrows(ModelException.class, () -> m.encode(new int[m.maxPositions() + 1]));
            assertThrows(ModelException.class, () -> m.encode(new int[] {-1}));
        }
        assertEquals(before, cx.driver.memoryInfo()[0], "device memory after the encoder closed");
    }

    /**
     * ViT, DeiT and CLIP's image tower on the GPU: from the processor's pixels, the logits, the last
     * hidden state and CLIP's image embedding against transformers' within 1e-4 × max(1, max |ref|);
     * a 112×112 image (197 tokens, the attention split over key chunks) against the CPU; a list of
     * images each equal to its own run; Q8_0 weights within 1e-2; device memory back on close.
     */
    @ParameterizedTest
    @ValueSource(strings = {"vit", "deit", "clip"})
    void visionMatchesTransformersOnTheGpu(String name) throws Exception {
        CudaContext cx = Gpu.context();
        Path dir = shared().resolve("fixtures/vision").resolve(name);
        float[] pixels = floats(dir.resolve("pixel_values.f32"));
        boolean clip = name.equals("clip");
        java.util.Random r = new java.util.Random(3);
        float[] big = Gpu.random(r, 3 * 112 * 112, 1), other = Gpu.random(r, 3 * 32 * 32, 1);
        long before;
        float[] out;
        try (VisionModel warm = Backends.place("cuda", (VisionModel) ModelLoader.load(dir, OPTIONS), m -> {})) {
            assertTrue(warm instanceof CudaVision, warm.getClass().getName());
            warm.hiddenStates(pixels, 32, 32);
        }
        before = cx.driver.memoryInfo()[0];
        try (VisionModel m = Backends.place("cuda", (VisionModel) ModelLoader.load(dir, OPTIONS), n -> {});
             VisionModel cpu = (VisionModel) ModelLoader.load(dir, OPTIONS)) {
            assertEquals("cuda", m.device());
            out = clip ? m.embedImage(pixels, 32, 32) : m.classify(pixels, 32, 32);
            match(floats(dir.resolve(clip ? "image_embeds.f32" : "logits.f32")), 0, out, name + (clip ? " image embedding" : " logits"));
            if (!clip) {
                float[] hidden = floats(dir.resolve("hidden.f32")), got = m.hiddenStates(pixels, 32, 32);
                int h = m.hiddenSize();
                for (int t = 0; t < got.length / h; t++) match(hidden, t, Arrays.copyOfRange(got, t * h, (t + 1) * h), name + " hidden");
            }
            float[] gpuBig = m.hiddenStates(big, 112, 112), cpuBig = cpu.hiddenStates(big, 112, 112);
            int h = m.hiddenSize();
            for (int t = 0; t < gpuBig.length / h; t++) match(cpuBig, t, Arrays.copyOfRange(gpuBig, t * h, (t + 1) * h), name + " 112×112 vs cpu");
            float[] odd = Gpu.random(r, 3 * 40 * 24, 1); // not square, not whole patches: the unfold drops the rest as the CPU does
            float[] gpuOdd = m.hiddenStates(odd, 40, 24), cpuOdd = cpu.hiddenStates(odd, 40, 24);
            for (int t = 0; t < gpuOdd.length / h; t++) match(cpuOdd, t, Arrays.copyOfRange(gpuOdd, t * h, (t + 1) * h), name + " 40×24 vs cpu");
            List<float[]> batch = clip ? m.embedImages(List.of(other, pixels, other), 32, 32) : m.classify(List.of(other, pixels, other), 32, 32);
            org.junit.jupiter.api.Assertions.assertArrayEquals(out, batch.get(1), "an image's result in a list is its own");
            org.junit.jupiter.api.Assertions.assertArrayEquals(batch.get(0), batch.get(2));
            if (clip) assertArrayEquals(cpu.embedText("a photo of a cat"), m.embedText("a photo of a cat"));
            assertThrows(ModelException.class, () -> m.classify(new float[7], 32, 32));
            float[] replayed = clip ? m.embedImage(pixels, 32, 32) : m.classify(pixels, 32, 32); // the graph of this size, replayed again
            org.junit.jupiter.api.Assertions.assertArrayEquals(out, replayed, "replayed as a CUDA graph: the first (eager) image's bits");
        }
        assertEquals(before, cx.driver.memoryInfo()[0], "device memory after the " + name + " model closed");
        System.setProperty("panamax.cuda.noGraph", "true");
        try (VisionModel eager = Backends.place("cuda", (VisionModel) ModelLoader.load(dir, OPTIONS), n -> {})) {
            for (int i = 0; i < 3; i++) {
                float[] again = clip ? eager.embedImage(pixels, 32, 32) : eager.classify(pixels, 32, 32);
                org.junit.jupiter.api.Assertions.assertArrayEquals(out, again, "every image eager: the same bits as with graphs (" + i + ")");
            }
        } finally {
            System.clearProperty("panamax.cuda.noGraph");
        }
        if (!clip) { // Q8_0 at load, dequantized for the GEMMs: near transformers, the same top-1
            float[] want = floats(dir.resolve("logits.f32"));
            try (VisionModel q = Backends.place("cuda", (VisionModel) ModelLoader.load(dir, OPTIONS.withQuantize(DType.Q8_0)), n -> {})) {
                float[] got = q.classify(pixels, 32, 32);
                float max = 1, worst = 0;
                int a = 0, b = 0;
                for (int i = 0; i < want.length; i++) {
                    max = Math.max(max, Math.abs(want[i]));
                    worst = Math.max(worst, Math.abs(want[i] - got[i]));
                    if (want[i] > want[a]) a = i;
                    if (got[i] > got[b]) b = i;
                }
                assertTrue(worst <= 1e-2 * max, name + " Q8_0 on the GPU off by " + worst);
                assertEquals(a, b, name + " Q8_0 top-1");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "gpt2", "mamba2", "qwen3_next"})
    void closingAModelReturnsItsDeviceMemory(String name) {
        CudaContext cx = Gpu.context();
        Path dir = shared().resolve("fixtures/hf").resolve(name);
        try (LanguageModel warm = onGpu(dir)) { // cuBLAS and the module load once per process
            warm.newSession().prefill(new int[] {1, 2, 3}, false);
        }
        long before = cx.driver.memoryInfo()[0];
        for (int i = 0; i < 3; i++) {
            try (LanguageModel m = onGpu(dir)) {
                LanguageModel.Session s = m.newSession();
                s.prefill(new int[] {1, 2, 3, 4, 5}, true);
                s.forward(6);
                s.forward(7);
                s.forward(8); // the graph is captured by now
                m.newSession().forward(1); // a second session, left open: closing the model frees it
                assertTrue(cx.driver.memoryInfo()[0] < before, "the model holds device memory while open");
            }
        }
        assertEquals(before, cx.driver.memoryInfo()[0], "device memory after three models were loaded and closed");
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3", "gpt2", "mamba2", "qwen3_next"})
    void graphReplayEqualsEagerLaunches(String name) {
        Gpu.context();
        Path dir = shared().resolve("fixtures/hf").resolve(name);
        try (LanguageModel m = onGpu(dir)) {
            LanguageModel.Session graph = m.newSession();
            List<float[]> replayed = new ArrayList<>();
            for (int t = 0; t < 8; t++) replayed.add(graph.forward(3 + t).clone());
            System.setProperty("panamax.cuda.noGraph", "true");
            try {
                LanguageModel.Session eager = m.newSession();
                for (int t = 0; t < 8; t++) assertArrayEquals(replayed.get(t), eager.forward(3 + t), 0f, "step " + t);
            } finally {
                System.clearProperty("panamax.cuda.noGraph");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "mamba", "qwen3_next"})
    void badInputIsAClearError(String name) {
        Gpu.context();
        try (LanguageModel m = onGpu(shared().resolve("fixtures/hf").resolve(name))) {
            LanguageModel.Session s = m.newSession();
            assertThrows(ModelException.class, () -> s.forward(m.vocabSize()));
            assertThrows(ModelException.class, () -> s.forward(-1));
            assertThrows(ModelException.class, () -> s.prefill(new int[0], false));
            assertThrows(ModelException.class, () -> s.prefill(new int[] {1, m.vocabSize()}, false));
            if (m.contextLength() < 1 << 20) assertThrows(ModelException.class, () -> s.prefill(new int[m.contextLength() + 1], false));
            assertEquals(0, s.position(), "rejected input moves nothing");
            s.forward(1); // and the session still works
        }
    }

    // ---- the equivalence criteria ----

    static void check(Path dir) throws IOException {
        Map<String, Object> expected = json(dir.resolve("expected.json")), extra = json(dir.resolve("extra.json"));
        int[] prompt = ints(expected.get("input_ids")), greedy = ints(expected.get("greedy_ids"));
        float[] logits = floats(dir.resolve("logits.f32")), full = floats(dir.resolve("full_logits.f32"));
        List<Object> marginList = Json.array(extra.get("greedy_margins"), "greedy_margins");
        String name = dir.getFileName().toString();
        try (LanguageModel model = onGpu(dir)) {
            int vocab = model.vocabSize();
            LanguageModel.Session s = model.newSession();
            for (int t = 0; t < prompt.length; t++) match(logits, t, s.forward(prompt[t]), name + " prompt");
            LanguageModel.Session pf = model.newSession();
            float[] all = pf.prefill(prompt, true);
            for (int t = 0; t < prompt.length; t++) match(logits, t, Arrays.copyOfRange(all, t * vocab, (t + 1) * vocab), name + " prefill");
            int mid = prompt.length + (greedy.length - prompt.length) / 2;
            float[] a1 = pf.prefill(Arrays.copyOfRange(greedy, prompt.length, mid), true);
            float[] a2 = pf.prefill(Arrays.copyOfRange(greedy, mid, greedy.length), false);
            for (int t = prompt.length; t < mid; t++) {
                match(full, t, Arrays.copyOfRange(a1, (t - prompt.length) * vocab, (t - prompt.length + 1) * vocab), name + " prefill chunk");
            }
            match(full, greedy.length - 1, a2, name + " prefill last");
            LanguageModel.Session tf = model.newSession();
            for (int t = 0; t < greedy.length; t++) match(full, t, tf.forward(greedy[t]), name + " teacher-forced");
            int firstTie = marginList.size();
            for (int i = 0; i < marginList.size(); i++) {
                if (((Number) marginList.get(i)).doubleValue() < 1e-3) {
                    firstTie = i;
                    break;
                }
            }
            LanguageModel.Session g = model.newSession();
            float[] out = g.prefill(prompt, false);
            int[] generated = new int[firstTie];
            for (int i = 0; i < firstTie; i++) {
                generated[i] = Simd.kernels().argmax(out, 0, vocab);
                out = g.forward(generated[i]);
            }
            assertArrayEquals(Arrays.copyOfRange(greedy, prompt.length, prompt.length + firstTie), generated, name + " greedy ids");
        }
    }

    /** max |a − b| ≤ 1e-4 × max(1, max |ref|) over the row. */
    static void match(float[] ref, int row, float[] got, String what) {
        int n = got.length;
        double maxRef = 0, maxDiff = 0;
        for (int i = 0; i < n; i++) {
            maxRef = Math.max(maxRef, Math.abs(ref[row * n + i]));
            maxDiff = Math.max(maxDiff, Math.abs(ref[row * n + i] - got[i]));
        }
        double tol = 1e-4 * Math.max(1, maxRef), md = maxDiff;
        assertTrue(maxDiff <= tol, () -> what + " row " + row + ": max |diff| " + md + " > " + tol);
    }

    static Map<String, Object> json(Path f) throws IOException {
        return Json.object(Json.parse(Files.readString(f)), f.toString());
    }

    static int[] ints(Object list) {
        List<Object> l = Json.array(list, "ids");
        int[] r = new int[l.size()];
        for (int i = 0; i < r.length; i++) r[i] = ((Number) l.get(i)).intValue();
        return r;
    }

    static float[] floats(Path f) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }
}
