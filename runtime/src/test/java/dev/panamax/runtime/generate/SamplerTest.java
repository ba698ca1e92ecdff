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

    @Test
    void repetitionPenaltyDemotesRecentTokens() {
        // Penalty 2 on token 1 (logit 3 → 1.5): greedy now picks token 4 (2.9).
        assertEquals(4, sample(GenerationOptions.greedy().withRepeatPenalty(2f), LOGITS, new int[] {1, 1}));
        // Negative logits are multiplied, so they move away from zero too.
        float[] neg = {-1f, -0.5f};
        assertEquals(0, sample(GenerationOptions.greedy().withRepeatPenalty(3f), neg, new int[] {1}));
    }
}
