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
     * The sampler's ranking without boxed ids draws exactly what a stable sort of boxed ids by logit
     * (descending) draws — the simple form kept here as the reference — over vocabularies with many
     * ties, ±0, infinities and NaN, and logits that rise or fall with the id, top-k from 1 to beyond the
     * vocabulary, and off.
     */
    @Test
    void rankingDrawsWhatAStableSortOfTheLogitsDraws() {
        java.util.Random r = new java.util.Random(5);
        float[] special = {0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 1e-30f, -1e-30f};
        int[] topKs = {0, 1, 2, 40, 255, 256, 257, 1000};
        for (int c = 0; c < 60; c++) {
            int n = 1 + r.nextInt(c < 30 ? 300 : 5000);
            float[] logits = new float[n];
            for (int i = 0; i < n; i++) {
                int kind = r.nextInt(10);
                logits[i] = kind == 0 && c % 3 == 0 ? special[r.nextInt(special.length)] : kind < 5 ? r.nextInt(7) - 3 : (float) r.nextGaussian() * 4;
                if (c >= 52) logits[i] = (c % 2 == 0 ? i : n - i) * 0.01f; // rising and falling with the id: each id displaces the last, or none
            }
            // NaN logits make softmax NaN: keep them in the ranking cases only where the top-k leaves them out
            boolean nan = false;
            for (float l : logits) nan |= Float.isNaN(l);
            GenerationOptions o = GenerationOptions.defaults().withTopK(topKs[c % topKs.length]).withTopP(c % 4 == 0 ? 1f : 0.9f)
                    .withMinP(c % 5 == 0 ? 0.05f : 0f).withTemperature(0.5f + r.nextFloat()).withSeed(c);
            if (nan || Float.isInfinite(max(logits))) continue;
            Sampler s = new Sampler(o);
            java.util.SplittableRandom ref = new java.util.SplittableRandom(c);
            for (int draw = 0; draw < 20; draw++) {
                assertEquals(referenceSample(o, ref, logits), s.sample(logits.clone(), new int[0], 0), "case " + c + " draw " + draw + " n " + n);
            }
        }
        // −0 and +0 alternating: +0 ranks above −0 (Float.compare), so the top 10 are the first ten odd ids.
        float[] zeros = new float[100];
        for (int i = 0; i < zeros.length; i++) zeros[i] = i % 2 == 0 ? -0f : 0f;
        for (int topK : new int[] {10, 0}) { // the heap, and every id ranked
            GenerationOptions oz = GenerationOptions.defaults().withTopK(topK).withTopP(topK == 0 ? 0.3f : 1f).withMinP(0f).withTemperature(1f)
                    .withSeed(3);
            Sampler sz = new Sampler(oz);
            java.util.SplittableRandom rz = new java.util.SplittableRandom(3);
            for (int draw = 0; draw < 50; draw++) {
                int t = sz.sample(zeros.clone(), new int[0], 0);
                assertEquals(referenceSample(oz, rz, zeros), t, "signed zeros, top-k " + topK + ", draw " + draw);
                if (topK == 10) assertTrue(t % 2 == 1 && t < 20, "a +0 among the first ten, got " + t);
            }
        }
        // Ties, signed zeros, infinities and NaN in the ranking itself: the keys order as Float.compare does, ties by id.
        for (int c = 0; c < 200; c++) {
            float a = special[r.nextInt(special.length)], b = r.nextBoolean() ? special[r.nextInt(special.length)] : r.nextInt(3) - 1;
            int i = r.nextInt(100), j = r.nextInt(100);
            int want = Float.compare(b, a) != 0 ? Float.compare(b, a) : Integer.compare(i, j);
            assertEquals(Integer.signum(want), Long.signum(Long.compare(Sampler.key(a, i), Sampler.key(b, j))), a + "@" + i + " vs " + b + "@" + j);
        }
    }

    private static float max(float[] v) {
        float m = Float.NEGATIVE_INFINITY;
        for (float x : v) m = Math.max(m, x);
        return m;
    }

    /** The sampler's steps after the penalty, with a stable sort of boxed ids: the reference. */
    private static int referenceSample(GenerationOptions o, java.util.SplittableRandom random, float[] logits) {
        int n = logits.length;
        Integer[] ids = new Integer[n];
        for (int i = 0; i < n; i++) ids[i] = i;
        java.util.Arrays.sort(ids, (a, b) -> Float.compare(logits[b], logits[a]));
        int keep = o.topK() > 0 ? Math.min(o.topK(), n) : n;
        float max = logits[ids[0]];
        float[] probs = new float[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            probs[i] = (float) Math.exp((logits[ids[i]] - max) / o.temperature());
            sum += probs[i];
        }
        for (int i = 0; i < keep; i++) probs[i] /= (float) sum;
        double cum = 0;
        int cut = keep;
        for (int i = 0; i < keep; i++) {
            cum += probs[i];
            if (cum >= o.topP()) {
                cut = i + 1;
                break;
            }
        }
        keep = cut;
        if (o.minP() > 0) {
            float floor = o.minP() * probs[0];
            int c = 1;
            while (c < keep && probs[c] >= floor) c++;
            keep = c;
        }
        double total = 0;
        for (int i = 0; i < keep; i++) total += probs[i];
        double x = random.nextDouble() * total;
        for (int i = 0; i < keep; i++) {
            x -= probs[i];
            if (x <= 0) return ids[i];
        }
        return ids[keep - 1];
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
