package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.panamax.quant.BlockFormat;
import dev.panamax.quant.DecodeLayout;
import dev.panamax.quant.QuantizedMatvec;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.tensor.DType;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * kjv-llama in Q8_0, Q4_0 and Q4_K_M (Q4_K, its head Q6_K) with its matrices interleaved sixteen rows at a time (the CPU's decode
 * layout) against the same file in its own layout: the interleaved matrices are really used, a
 * prompt's logits agree to float rounding (both widen the same values for the same GEMM; Q4_0's
 * prompts of 32 tokens and more multiply in integers, as decoding does, and are held to its bound), and token
 * by token both stay within {@link QuantizedModelTest}'s bounds of transformers' float32 logits.
 * Token-by-token logits of the two layouts are not compared with each other tightly: decoding
 * quantizes activations to int8, so a last-bit difference anywhere upstream (the two layouts'
 * prompt GEMMs widen in different orders) can flip one rounding and move later logits by a few
 * percent. The kernels themselves are compared bit for bit in the quant module's InterleavedTest.
 */
class InterleavedModelTest {

    @ParameterizedTest
    @CsvSource({"q8_0, 0.03", "q4_0, 0.30", "q4_k_m, 0.25"})
    void interleavedWeightsGiveTheFileLayoutsLogits(String type, double bound, @TempDir Path tmp) throws Exception {
        assumeTrue(QuantizedMatvec.interleaves(BlockFormat.Q8_0, 16, 32), "no interleaved layout on this JVM (scalar kernels)");
        Path gguf = tmp.resolve("kjv-" + type + ".gguf");
        GgufExport.convert(Fixtures.kjv(), gguf, QuantPlan.parse(type));
        Map<String, Object> expected = Fixtures.json(Fixtures.kjv().resolve("expected.json"));
        int[] ids = Fixtures.ints(expected.get("greedy_ids"));
        float[] full = Fixtures.floats(Fixtures.kjv().resolve("full_logits.f32"));
        float[][] stepsA, stepsB;
        float[] promptA, promptB;
        try (LanguageModel m = ModelLoader.loadLanguageModel(gguf, Fixtures.OPTIONS)) {
            Llama.Model lm = (Llama.Model) m;
            Llama.Layer first = lm.layers[0];
            DecodeLayout want = switch (type) {
                case "q8_0" -> DecodeLayout.Q8_0x16;
                case "q4_0" -> DecodeLayout.Q4_0x64;
                default -> DecodeLayout.Q4_Kx16;
            };
            assertEquals(want, lm.weights.cpu(first.wq()).layout(), "the CPU's wq");
            assertEquals(want, lm.weights.cpu(first.gate()).layout(), "the CPU's gate");
            if (type.equals("q4_k_m")) assertEquals(DecodeLayout.Q6_Kx16, lm.weights.cpu(lm.output).layout(), "the CPU's Q6_K head");
            stepsA = steps(m, ids);
            promptA = m.newSession().prefill(ids, true);
        }
        try (LanguageModel m = ModelLoader.loadLanguageModel(gguf, Fixtures.OPTIONS.withInterleave(false))) {
            Llama.Model lm = (Llama.Model) m;
            assertEquals(null, lm.weights.cpu(lm.layers[0].wq()).layout(), "the file's layout");
            stepsB = steps(m, ids);
            promptB = m.newSession().prefill(ids, true);
        }
        double interleaved = errorAgainst(full, stepsA), fileLayout = errorAgainst(full, stepsB);
        assertTrue(interleaved <= bound, () -> type + ": interleaved, relative logit error " + interleaved + " > " + bound);
        assertTrue(fileLayout <= bound, () -> type + ": file layout, relative logit error " + fileLayout + " > " + bound);
        assertEquals(promptB.length, promptA.length);
        if (type.equals("q4_0") && QuantizedMatvec.multipliesPrompt(BlockFormat.Q4_0, ids.length)) {
            // Interleaved Q4_0 prompts multiply in integers against int8 activations, as decoding does:
            // held to decoding's bound against transformers, and no longer equal to the widened file layout's.
            double prompt = errorAgainst(full, rows(promptA, ids.length)), widened = errorAgainst(full, rows(promptB, ids.length));
            assertTrue(prompt <= bound, () -> "q4_0: integer prompt GEMM, relative logit error " + prompt + " > " + bound);
            assertTrue(widened <= bound, () -> "q4_0: widened prompt, relative logit error " + widened + " > " + bound);
            assertTrue(java.util.stream.IntStream.range(0, promptA.length).anyMatch(i -> promptA[i] != promptB[i]), "the integer GEMM ran");
            return;
        }
        for (int i = 0; i < promptA.length; i++) {
            assertEquals(promptB[i], promptA[i], 1e-4f * Math.max(1, Math.abs(promptB[i])), type + ": prompt logit " + i);
        }
    }

    /**
     * Mamba, Mamba-2, Qwen3-Next and BERT quantized at load (Q8_0) decode from the same interleaved
     * layout as Llama: every architecture takes its matrices through {@code Weights.matrix}, and the
     * CPU kernels read {@code Weights.cpu}'s copies. Their outputs stay within the quantization's
     * distance of transformers' float32 ones (checked for the language models' prompt logits).
     */
    @ParameterizedTest
    @CsvSource({"mamba, 0.05", "mamba2, 0.05", "qwen3_next, 0.05", "bert, 0"})
    void everyArchitectureDecodesFromTheInterleavedLayout(String name, double bound) throws Exception {
        assumeTrue(QuantizedMatvec.interleaves(BlockFormat.Q8_0, 16, 32), "no interleaved layout on this JVM (scalar kernels)");
        Path dir = Fixtures.hf(name);
        try (var model = ModelLoader.load(dir, Fixtures.OPTIONS.withQuantize(DType.Q8_0))) {
            dev.panamax.runtime.format.Weights w = switch (model) {
                case LoadedLanguageModel lm -> lm.weights;
                case Bert.BertModel mm -> mm.w;
                default -> throw new AssertionError(model.getClass());
            };
            dev.panamax.runtime.tensor.Tensor some = switch (model) {
                case Mamba.MambaModel mm -> mm.layers[0].inProj();
                case Mamba2.Mamba2Model mm -> mm.layers[0].outProj();
                case Qwen3Next.Qwen3NextModel mm -> java.util.Arrays.stream(mm.layers).filter(l -> l.delta() != null).findFirst().orElseThrow().delta().out();
                case Bert.BertModel mm -> mm.layers[0].wo();
                default -> throw new AssertionError();
            };
            assertEquals(DType.Q8_0, some.type(), "quantized at load");
            assertEquals(DecodeLayout.Q8_0x16, w.cpu(some).layout(), name + ": the CPU reads the interleaved copy");
            if (model instanceof LanguageModel m) {
                int[] ids = Fixtures.ints(Fixtures.json(dir.resolve("expected.json")).get("input_ids"));
                float[] logits = Fixtures.floats(dir.resolve("logits.f32"));
                double err = errorAgainst(logits, rows(m.newSession().prefill(ids, true), ids.length));
                assertTrue(err <= bound, () -> name + " q8_0: relative logit error " + err + " > " + bound);
            }
        }
    }

    /** A prompt's logits [tokens × vocab] as one row per position. */
    private static float[][] rows(float[] logits, int tokens) {
        int vocab = logits.length / tokens;
        float[][] out = new float[tokens][];
        for (int t = 0; t < tokens; t++) out[t] = java.util.Arrays.copyOfRange(logits, t * vocab, (t + 1) * vocab);
        return out;
    }

    /** Worst over positions of max|got − ref| / max(1, max|ref|), as {@link QuantizedModelTest} measures. */
    private static double errorAgainst(float[] full, float[][] got) {
        double worst = 0;
        for (int t = 0; t < got.length; t++) {
            int vocab = got[t].length;
            double maxRef = 0, maxDiff = 0;
            for (int i = 0; i < vocab; i++) {
                maxRef = Math.max(maxRef, Math.abs(full[t * vocab + i]));
                maxDiff = Math.max(maxDiff, Math.abs(full[t * vocab + i] - got[t][i]));
            }
            worst = Math.max(worst, maxDiff / Math.max(1, maxRef));
        }
        return worst;
    }

    private static float[][] steps(LanguageModel m, int[] ids) {
        LanguageModel.Session s = m.newSession();
        float[][] out = new float[ids.length][];
        for (int t = 0; t < ids.length; t++) out[t] = s.forward(ids[t]).clone();
        return out;
    }

    /**
     * GPT-2 (the tiny transformers fixture, quantized to Q8_0 at load): its CPU matrices are
     * interleaved too, and its logits stay within the same distance of transformers' as the file
     * layout's (Q8_0 of a 64-wide model: both 0.0094 of the largest logit here; bound 0.02), prompt and token by token.
     */
    @org.junit.jupiter.api.Test
    void gpt2InterleavesItsMatricesToo() throws Exception {
        assumeTrue(QuantizedMatvec.interleaves(BlockFormat.Q8_0, 16, 32), "no interleaved layout on this JVM (scalar kernels)");
        Path dir = Fixtures.hf("gpt2");
        int[] ids = Fixtures.ints(Fixtures.json(dir.resolve("expected.json")).get("greedy_ids"));
        float[] full = Fixtures.floats(dir.resolve("full_logits.f32"));
        double[] err = new double[2];
        float[][] prompts = new float[2][];
        for (int mode = 0; mode < 2; mode++) {
            try (LanguageModel m = ModelLoader.loadLanguageModel(dir, Fixtures.OPTIONS.withQuantize(DType.Q8_0).withInterleave(mode == 0))) {
                Gpt2.Gpt2Model g = (Gpt2.Gpt2Model) m;
                assertEquals(mode == 0 ? DecodeLayout.Q8_0x16 : null, g.weights.cpu(g.layers[0].wqkv()).layout(), "the CPU's c_attn");
                assertEquals(DType.Q8_0, g.weights.cpu(g.layers[0].wqkv()).type(), "the CPU's c_attn block format");
                err[mode] = errorAgainst(full, steps(m, ids));
                prompts[mode] = m.newSession().prefill(ids, true);
            }
        }
        System.out.printf("gpt2 q8_0: relative logit error interleaved %.4f, file layout %.4f%n", err[0], err[1]);
        assertTrue(err[0] <= 0.02 && err[1] <= 0.02, () -> "relative logit error: interleaved " + err[0] + ", file layout " + err[1]);
        for (int i = 0; i < prompts[0].length; i++) {
            assertEquals(prompts[1][i], prompts[0][i], 1e-4f * Math.max(1, Math.abs(prompts[1][i])), "prompt logit " + i);
        }
    }

    /**
     * Which prompts go through the decoding arithmetic as the rows of one step, by default
     * ({@code promptBatchFrom} 0): with most layer weights in quantized decode layouts, those shorter
     * than {@link dev.panamax.runtime.LoadOptions#QUANTIZED_PROMPT_BATCH_FROM} (a step's batched kernels
     * read each weight once for all the rows); with float32 matrices, those shorter than
     * {@link dev.panamax.runtime.LoadOptions#DEFAULT_PROMPT_BATCH_FROM}; an explicit value holds for both.
     */
    @org.junit.jupiter.api.Test
    void quantizedDecodeLayoutsFeedLongerPromptsAsRowsOfAStep() throws Exception {
        assumeTrue(QuantizedMatvec.interleaves(BlockFormat.Q8_0, 16, 32), "no interleaved layout on this JVM (scalar kernels)");
        int quantized = dev.panamax.runtime.LoadOptions.QUANTIZED_PROMPT_BATCH_FROM, plain = dev.panamax.runtime.LoadOptions.DEFAULT_PROMPT_BATCH_FROM;
        assertTrue(quantized > plain, quantized + " against " + plain);
        var auto = Fixtures.OPTIONS.withPromptBatchFrom(0);
        try (LanguageModel m = ModelLoader.loadLanguageModel(Fixtures.kjv(), auto.withQuantize(DType.Q8_0))) {
            Llama.Model lm = (Llama.Model) m;
            for (Llama.Layer l : lm.layers) assertEquals(DecodeLayout.Q8_0x16, lm.weights.cpu(l.gate()).layout(), "a layer's gate (its down projection, 688 columns, stays float32)");
            LanguageModel.Session s = m.newSession();
            assertTrue(s.prefillsTokenByToken(quantized - 1), "Q8_0 layouts, " + (quantized - 1) + " tokens");
            assertFalse(s.prefillsTokenByToken(quantized), "Q8_0 layouts, " + quantized + " tokens");
        }
        try (LanguageModel m = ModelLoader.loadLanguageModel(Fixtures.kjv(), auto)) {
            LanguageModel.Session s = m.newSession();
            assertTrue(s.prefillsTokenByToken(plain - 1), "float32, " + (plain - 1) + " tokens");
            assertFalse(s.prefillsTokenByToken(plain), "float32, " + plain + " tokens");
        }
        try (LanguageModel m = ModelLoader.loadLanguageModel(Fixtures.kjv(), Fixtures.OPTIONS.withPromptBatchFrom(3).withQuantize(DType.Q8_0))) {
            LanguageModel.Session s = m.newSession();
            assertTrue(s.prefillsTokenByToken(2), "Q8_0 layouts, promptBatchFrom 3, 2 tokens");
            assertFalse(s.prefillsTokenByToken(3), "Q8_0 layouts, promptBatchFrom 3, 3 tokens");
        }
    }
}
