package dev.panamax.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SamplerTest {

    static final float[] LOGITS = {1f, 3f, 2f, 0.5f, 2.9f};

    static int sample(GenerationOptions o, float[] logits, int[] history) {
        return new Sampler(o).sample(logits.clone(), history, history.length);
    }

    @Test
    void greedyTopKOneAndTinyTopPAllPickTheArgmax() {
        assertEquals(1, sample(GenerationOptions.greedy(), LOGITS, new int[0]));
        for (long seed = 0; seed < 50; seed++) {
            assertEquals(1, sample(GenerationOptions.defaults().withTopK(1).withSeed(seed), LOGITS, new int[0]));
            assertEquals(1, sample(GenerationOptions.defaults().withTopK(0).withTopP(0.01f).withSeed(seed), LOGITS, new int[0]));
        }
    }

    @Test
    void drawsFollowTheSoftmaxAndTheSeedReproduces() {
        GenerationOptions o = GenerationOptions.defaults().withTopK(0).withTopP(1f).withMinP(0f).withTemperature(1f).withSeed(7);
        Sampler s = new Sampler(o);
        int[] counts = new int[LOGITS.length];
        int n = 20000;
        for (int i = 0; i < n; i++) counts[s.sample(LOGITS.clone(), new int[0], 0)]++;
        double z = 0;
        for (float l : LOGITS) z += Math.exp(l);
        for (int i = 0; i < LOGITS.length; i++) {
            double p = Math.exp(LOGITS[i]) / z, sd = Math.sqrt(p * (1 - p) / n);
            assertEquals(p, counts[i] / (double) n, 5 * sd, "token " + i);
        }
        Sampler a = new Sampler(o), b = new Sampler(o);
        for (int i = 0; i < 100; i++) assertEquals(a.sample(LOGITS.clone(), new int[0], 0), b.sample(LOGITS.clone(), new int[0], 0));
    }

    @Test
    void minPAndTopKCutTheTail() {
        // p ∝ e^logit: token 3 (0.5) is below 0.1 × the top one (e^-2.5 ≈ 0.08), token 0 above it.
        GenerationOptions o = GenerationOptions.defaults().withTopK(0).withTopP(1f).withMinP(0.1f).withTemperature(1f);
        for (long seed = 0; seed < 300; seed++) assertTrue(sample(o.withSeed(seed), LOGITS, new int[0]) != 3);
        GenerationOptions k2 = GenerationOptions.defaults().withTopK(2).withTopP(1f).withMinP(0f).withTemperature(1f);
        for (long seed = 0; seed < 300; seed++) {
            int t = sample(k2.withSeed(seed), LOGITS, new int[0]);
            assertTrue(t == 1 || t == 4, "top-2 are tokens 1 and 4, got " + t);
        }
    }

    /**
     * The sampler ranks its candidates without boxing ids, in the order a stable sort of boxed ids by
     * logit (descending, by {@link Float#compare}) gives — the order it sampled from before, so a seed
     * draws what it drew — over vocabularies with many ties, ±0, infinities and NaN, and logits that
     * rise or fall with the id, top-k from 1 to beyond the vocabulary, and off.
     */
    @Test
    void rankingIsAStableSortOfTheLogitsDescending() {
        java.util.Random r = new java.util.Random(5);
        float[] special = {0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 1e-30f, -1e-30f};
        int[] topKs = {0, 1, 2, 40, 255, 256, 257, 1000};
        Sampler s = new Sampler(GenerationOptions.defaults());
        for (int c = 0; c < 80; c++) {
            int n = 1 + r.nextInt(c < 40 ? 300 : 5000);
            float[] logits = new float[n];
            for (int i = 0; i < n; i++) {
                int kind = r.nextInt(10);
                logits[i] = kind == 0 && c % 3 == 0 ? special[r.nextInt(special.length)] : kind < 5 ? r.nextInt(7) - 3 : (float) r.nextGaussian() * 4;
                if (c >= 72) logits[i] = (c % 2 == 0 ? i : n - i) * 0.01f; // rising and falling with the id: each id displaces the last, or none
            }
            if (c % 7 == 6) for (int i = 0; i < n; i++) logits[i] = i % 2 == 0 ? -0f : 0f; // +0 ranks above −0
            int keep = topKs[c % topKs.length] > 0 ? Math.min(topKs[c % topKs.length], n) : n;
            Integer[] ids = new Integer[n];
            for (int i = 0; i < n; i++) ids[i] = i;
            java.util.Arrays.sort(ids, (a, b) -> Float.compare(logits[b], logits[a]));
            int[] want = new int[keep];
            for (int i = 0; i < keep; i++) want[i] = ids[i];
            org.junit.jupiter.api.Assertions.assertArrayEquals(want, s.ranking(logits, keep), "case " + c + " n " + n + " keep " + keep);
        }
        // The keys alone: as Float.compare orders their logits, ties by id.
        for (int c = 0; c < 200; c++) {
            float a = special[r.nextInt(special.length)], b = r.nextBoolean() ? special[r.nextInt(special.length)] : r.nextInt(3) - 1;
            int i = r.nextInt(100), j = r.nextInt(100);
            int want = Float.compare(b, a) != 0 ? Float.compare(b, a) : Integer.compare(i, j);
            assertEquals(Integer.signum(want), Long.signum(Long.compare(Sampler.key(a, i), Sampler.key(b, j))), a + "@" + i + " vs " + b + "@" + j);
        }
    }

    @Test
    void repetitionPenaltyDemotesRecentTokens() {
        // Penalty 2 on token 1 (logit 3 → 1.5): greedy now picks token 4 (2.9).
        assertEquals(4, sample(GenerationOptions.greedy().withRepeatPenalty(2f), LOGITS, new int[] {1, 1}));
        // Negative logits are multiplied, so they move away from zero too.
        float[] neg = {-1f, -0.5f};
        assertEquals(0, sample(GenerationOptions.greedy().withRepeatPenalty(3f), neg, new int[] {1}));
    }
}
