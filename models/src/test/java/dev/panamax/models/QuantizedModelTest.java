package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.tensor.DType;
import dev.panamax.simd.Simd;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * kjv-llama quantized by our GGUF export, run by the quantized kernels, against transformers'
 * float32 logits: within a stated bound of the float results, and (Q8_0) the same greedy text up
 * to the first near-tie.
 */
class QuantizedModelTest {

    @ParameterizedTest
    @CsvSource({"q8_0, 0.03, true", "q4_0, 0.30, false", "q6_k, 0.06, false", "q5_k_m, 0.12, false", "q4_k_m, 0.25, false"})
    void quantizedKjvStaysCloseToTheFloatLogits(String type, double bound, boolean sameGreedy, @TempDir Path tmp) throws Exception {
        Path gguf = tmp.resolve("kjv-" + type + ".gguf");
        GgufExport.convert(Fixtures.kjv(), gguf, QuantPlan.parse(type));
        Map<String, Object> expected = Fixtures.json(Fixtures.kjv().resolve("expected.json"));
        int[] greedy = Fixtures.ints(expected.get("greedy_ids"));
        float[] full = Fixtures.floats(Fixtures.kjv().resolve("full_logits.f32"));
        try (LanguageModel m = ModelLoader.loadLanguageModel(gguf, Fixtures.OPTIONS)) {
            int vocab = m.vocabSize();
            LanguageModel.Session s = m.newSession();
            double worst = 0;
            for (int t = 0; t < greedy.length; t++) {
                float[] got = s.forward(greedy[t]);
                double maxRef = 0, maxDiff = 0;
                for (int i = 0; i < vocab; i++) {
                    maxRef = Math.max(maxRef, Math.abs(full[t * vocab + i]));
                    maxDiff = Math.max(maxDiff, Math.abs(full[t * vocab + i] - got[i]));
                }
                worst = Math.max(worst, maxDiff / Math.max(1, maxRef));
            }
            System.out.printf("%s: worst max|diff| / max(1, max|ref|) over %d positions = %.4f%n", type, greedy.length, worst);
            final double w = worst;
            assertTrue(worst <= bound, () -> type + ": relative logit error " + w + " > " + bound);
            if (sameGreedy) {
                LanguageModel.Session g = m.newSession();
                int[] prompt = Fixtures.ints(expected.get("input_ids"));
                float[] out = null;
                for (int id : prompt) out = g.forward(id);
                int[] gen = new int[16];
                for (int i = 0; i < gen.length; i++) {
                    gen[i] = Simd.kernels().argmax(out, 0, vocab);
                    out = g.forward(gen[i]);
                }
                assertArrayEquals(Arrays.copyOfRange(greedy, prompt.length, prompt.length + 16), gen);
            }
        }
    }
}
