package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.LoadOptions;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The half-float KV cache (--kv-type f16): close to transformers' float32 logits, same in prefill and decode. */
class KvCacheTest {

    @Test
    void halfFloatCacheStaysCloseToTheFloatLogits() throws Exception {
        var expected = Fixtures.json(Fixtures.kjv().resolve("expected.json"));
        int[] greedy = Fixtures.ints(expected.get("greedy_ids"));
        int[] prompt = Fixtures.ints(expected.get("input_ids"));
        float[] full = Fixtures.floats(Fixtures.kjv().resolve("full_logits.f32"));
        try (LanguageModel m = ModelLoader.loadLanguageModel(Fixtures.kjv(), Fixtures.OPTIONS.withKvCache(LoadOptions.KvCache.F16))) {
            int vocab = m.vocabSize();
            LanguageModel.Session s = m.newSession(), p = m.newSession();
            float[] pre = p.prefill(Arrays.copyOf(greedy, prompt.length), true);
            double worst = 0;
            for (int t = 0; t < greedy.length; t++) {
                float[] got = s.forward(greedy[t]);
                double maxRef = 0, maxDiff = 0, maxPre = 0;
                for (int i = 0; i < vocab; i++) {
                    maxRef = Math.max(maxRef, Math.abs(full[t * vocab + i]));
                    maxDiff = Math.max(maxDiff, Math.abs(full[t * vocab + i] - got[i]));
                    if (t < prompt.length) maxPre = Math.max(maxPre, Math.abs(pre[t * vocab + i] - got[i]));
                }
                worst = Math.max(worst, maxDiff / Math.max(1, maxRef));
                final int row = t;
                final double mp = maxPre, lim = 1e-4 * Math.max(1, maxRef);
                assertTrue(mp <= lim, () -> "prefill and decode differ at row " + row + ": " + mp);
            }
            System.out.printf("kv f16: worst max|diff| / max(1, max|ref|) over %d positions = %.5f%n", greedy.length, worst);
            final double w = worst;
            // Keys and values rounded to 11 significant bits: well under a percent of the logits.
            assertTrue(worst <= 2e-3, () -> "relative logit error with an f16 cache " + w);
            assertTrue(worst > 0, "the cache really is rounded");
        }
    }

    /** Two models in one JVM with different KV caches: options, not a JVM-wide property. */
    @Test
    void twoModelsInOneJvmKeepTheirOwnCacheTypes() throws Exception {
        int[] ids = Fixtures.ints(Fixtures.json(Fixtures.kjv().resolve("expected.json")).get("greedy_ids"));
        try (LanguageModel f16 = ModelLoader.loadLanguageModel(Fixtures.kjv(), Fixtures.OPTIONS.withKvCache(LoadOptions.KvCache.F16));
             LanguageModel f32 = ModelLoader.loadLanguageModel(Fixtures.kjv(), Fixtures.OPTIONS)) {
            float[] a = f16.newSession().prefill(ids, true), b = f32.newSession().prefill(ids, true), c = f16.newSession().prefill(ids, true);
            assertTrue(!Arrays.equals(a, b), "the F16 cache rounds what the F32 one keeps");
            assertArrayEquals(a, c, "each model keeps its own cache type");
        }
    }
}
