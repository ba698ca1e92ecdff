package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.simd.Simd;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every architecture against Hugging Face transformers' own float32 outputs: prompt logits,
 * teacher-forced logits over the whole greedy sequence, and greedy ids up to the first near-tie.
 */
class EquivalenceTest {

    /** max |a − b| ≤ 1e-4 × max(1, max |ref|), row by row. */
    static void assertLogitsMatch(float[] ref, int row, float[] got, String what) {
        int n = got.length;
        double maxRef = 0, maxDiff = 0;
        int worst = -1;
        for (int i = 0; i < n; i++) {
            maxRef = Math.max(maxRef, Math.abs(ref[row * n + i]));
            double d = Math.abs(ref[row * n + i] - got[i]);
            if (d > maxDiff) {
                maxDiff = d;
                worst = i;
            }
        }
        double tol = 1e-4 * Math.max(1, maxRef);
        final int w = worst;
        final double md = maxDiff;
        assertTrue(maxDiff <= tol, () -> what + " row " + row + ": max |diff| " + md + " at " + w + " > " + tol);
    }

    static void check(Path dir) throws Exception {
        check(dir, dir);
    }

    /** Runs the model at {@code model} against the references in {@code dir}. */
    static void check(Path dir, Path modelPath) throws Exception {
        Map<String, Object> expected = Fixtures.json(dir.resolve("expected.json"));
        Map<String, Object> extra = Fixtures.json(dir.resolve("extra.json"));
        int[] prompt = Fixtures.ints(expected.get("input_ids"));
        int[] greedy = Fixtures.ints(expected.get("greedy_ids"));
        float[] logits = Fixtures.floats(dir.resolve("logits.f32"));
        float[] full = Fixtures.floats(dir.resolve("full_logits.f32"));
        double[] margins = Fixtures.doubles(extra.get("greedy_margins"));
        try (LanguageModel model = ModelLoader.loadLanguageModel(modelPath, Fixtures.OPTIONS)) {
            int vocab = model.vocabSize();
            assertEquals(prompt.length * vocab, logits.length, "logits.f32 shape");
            // Prompt logits.
            LanguageModel.Session s = model.newSession();
            for (int t = 0; t < prompt.length; t++) assertLogitsMatch(logits, t, s.forward(prompt[t]), dir.getFileName() + " prompt");
            // The prompt in one prefill pass (matrix-matrix), then the rest of the sequence in two more
            // chunks (so a prefill starts at a later position, over a filled cache).
            LanguageModel.Session pf = model.newSession();
            float[] all = pf.prefill(prompt, true);
            for (int t = 0; t < prompt.length; t++) assertLogitsMatch(logits, t, Arrays.copyOfRange(all, t * vocab, (t + 1) * vocab), dir.getFileName() + " prefill");
            int mid = prompt.length + (greedy.length - prompt.length) / 2;
            float[] a1 = pf.prefill(Arrays.copyOfRange(greedy, prompt.length, mid), true);
            float[] a2 = pf.prefill(Arrays.copyOfRange(greedy, mid, greedy.length), false);
            for (int t = prompt.length; t < mid; t++) {
                assertLogitsMatch(full, t, Arrays.copyOfRange(a1, (t - prompt.length) * vocab, (t - prompt.length + 1) * vocab), dir.getFileName() + " prefill chunk");
            }
            assertLogitsMatch(full, greedy.length - 1, a2, dir.getFileName() + " prefill last");
            // The whole sequence as one prompt computed in blocks of 5 tokens (LoadOptions.promptChunk),
            // each block continuing the cache or state the last one left.
            try (LanguageModel inBlocks = ModelLoader.loadLanguageModel(modelPath, Fixtures.OPTIONS.withPromptChunk(5))) {
                LanguageModel.Session bs = inBlocks.newSession();
                assertEquals(5, bs.prefillChunk(), dir.getFileName() + ": a session that promises blocks");
                float[] b = bs.prefill(greedy, true);
                for (int t = 0; t < greedy.length; t++) {
                    assertLogitsMatch(full, t, Arrays.copyOfRange(b, t * vocab, (t + 1) * vocab), dir.getFileName() + " prefill in blocks of 5");
                }
            }
            // Teacher-forced logits over prompt + generated.
            LanguageModel.Session tf = model.newSession();
            for (int t = 0; t < greedy.length; t++) assertLogitsMatch(full, t, tf.forward(greedy[t]), dir.getFileName() + " full");
            // Greedy generation, exact up to the first near-tie.
            int firstTie = margins.length;
            for (int i = 0; i < margins.length; i++) {
                if (margins[i] < 1e-3) {
                    firstTie = i;
                    break;
                }
            }
            LanguageModel.Session g = model.newSession();
            float[] out = null;
            for (int id : prompt) out = g.forward(id);
            int[] generated = new int[firstTie];
            for (int i = 0; i < firstTie; i++) {
                generated[i] = Simd.kernels().argmax(out, 0, vocab);
                out = g.forward(generated[i]);
            }
            assertArrayEquals(Arrays.copyOfRange(greedy, prompt.length, prompt.length + firstTie), generated,
                    dir.getFileName() + " greedy ids before the first near-tie (step " + firstTie + ")");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "llama3", "mistral", "qwen2", "qwen3", "bitnet", "gpt2", "mamba", "mamba2", "qwen3_next"})
    void fixtureMatchesTransformers(String name) throws Exception {
        check(Fixtures.hf(name));
    }

    @org.junit.jupiter.api.Test
    void runsOnTheKernelPathThisJvmWasStartedFor() {
        assertEquals(System.getProperty("panamax.expect.simd"), Simd.kernels().name(), Simd.description());
    }

    /** BERT: the last hidden state over the prompt, against transformers' hidden.f32. */
    @org.junit.jupiter.api.Test
    void bertHiddenStatesMatchTransformers() throws Exception {
        Path dir = Fixtures.hf("bert");
        int[] ids = Fixtures.ints(Fixtures.json(dir.resolve("expected.json")).get("input_ids"));
        float[] ref = Fixtures.floats(dir.resolve("hidden.f32"));
        try (var model = (dev.panamax.runtime.model.EncoderModel) ModelLoader.load(dir, Fixtures.OPTIONS)) {
            float[] got = model.encode(ids);
            assertEquals(ref.length, got.length);
            int h = model.hiddenSize();
            for (int t = 0; t < ids.length; t++) assertLogitsMatch(ref, t, java.util.Arrays.copyOfRange(got, t * h, t * h + h), "bert hidden");
            float[] e = model.embed(ids);
            double norm = 0;
            for (float v : e) norm += v * v;
            assertEquals(1.0, norm, 1e-5, "sentence embeddings are unit length");
        }
    }

    /** BERT through our GGUF writer and llama.cpp's tensor names. */
    @org.junit.jupiter.api.Test
    void bertAsGgufMatchesTransformers(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path dir = Fixtures.hf("bert"), gguf = tmp.resolve("bert.gguf");
        GgufExport.convert(dir, gguf, dev.panamax.runtime.tensor.DType.F32);
        int[] ids = Fixtures.ints(Fixtures.json(dir.resolve("expected.json")).get("input_ids"));
        float[] ref = Fixtures.floats(dir.resolve("hidden.f32"));
        try (var model = (dev.panamax.runtime.model.EncoderModel) ModelLoader.load(gguf, Fixtures.OPTIONS)) {
            float[] got = model.encode(ids);
            int h = model.hiddenSize();
            for (int t = 0; t < ids.length; t++) assertLogitsMatch(ref, t, java.util.Arrays.copyOfRange(got, t * h, t * h + h), "bert gguf hidden");
        }
    }

    @org.junit.jupiter.api.Test
    void kjvLlamaMatchesTransformers() throws Exception {
        check(Fixtures.kjv());
    }

    /** Llama fixtures through GGUF, Llama 3's scaling carried as llama.cpp's rope_freqs tensor; Mamba with llama.cpp's ssm_* names. */
    @ParameterizedTest
    @ValueSource(strings = {"llama", "llama3", "mamba", "mamba2"})
    void fixtureAsF32GgufMatchesTransformers(String name, @org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path gguf = tmp.resolve(name + ".gguf");
        GgufExport.convert(Fixtures.hf(name), gguf, dev.panamax.runtime.tensor.DType.F32);
        check(Fixtures.hf(name), gguf);
    }

    /** Through our GGUF writer and reader: llama.cpp's names, permuted Q/K and interleaved RoPE. */
    @org.junit.jupiter.api.Test
    void kjvLlamaAsF32GgufMatchesTransformers(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path gguf = tmp.resolve("kjv-f32.gguf");
        GgufExport.convert(Fixtures.kjv(), gguf, dev.panamax.runtime.tensor.DType.F32);
        check(Fixtures.kjv(), gguf);
    }
}
