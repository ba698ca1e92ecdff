package dev.panamax.runtime.generate;

import dev.panamax.simd.Simd;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits, in llama.cpp's order: repetition penalty, then (unless
 * greedy) top-k, softmax with temperature, top-p, min-p, and a draw from what is left.
 * Deterministic for a given seed.
 */
public final class Sampler {
    private final GenerationOptions o;
    private final SplittableRandom random;
    private int[] order = new int[0];
    private float[] probs = new float[0];

    public Sampler(GenerationOptions options) {
        this.o = options;
        this.random = new SplittableRandom(options.seed());
    }

    /**
     * @param logits modified in place by the repetition penalty
     * @param history the tokens so far (prompt and generated); the last {@code repeatLastN} are penalised
     */
    public int sample(float[] logits, int[] history, int historyLength) {
        int n = logits.length;
        if (o.repeatPenalty() != 1f && o.repeatLastN() > 0) {
            boolean[] seen = new boolean[n];
            for (int i = Math.max(0, historyLength - o.repeatLastN()); i < historyLength; i++) {
                int t = history[i];
                if (t < 0 || t >= n || seen[t]) continue;
                seen[t] = true;
                logits[t] = logits[t] > 0 ? logits[t] / o.repeatPenalty() : logits[t] * o.repeatPenalty();
            }
        }
        if (o.temperature() == 0) return Simd.kernels().argmax(logits, 0, n);

        if (order.length != n) {
            order = new int[n];
            probs = new float[n];
        }
        // Sort candidate ids by logit, descending (top-k first keeps the sort short when set).
        Integer[] ids = new Integer[n];
        for (int i = 0; i < n; i++) ids[i] = i;
        Arrays.sort(ids, (a, b) -> Float.compare(logits[b], logits[a]));
        int keep = o.topK() > 0 ? Math.min(o.topK(), n) : n;
        float max = logits[ids[0]];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            order[i] = ids[i];
            probs[i] = (float) Math.exp((logits[ids[i]] - max) / o.temperature());
            sum += probs[i];
        }
        for (int i = 0; i < keep; i++) probs[i] /= (float) sum;
        // top-p: the smallest prefix whose mass reaches p.
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
        // min-p: drop tokens below minP × the most likely one.
        if (o.minP() > 0) {
            float floor = o.minP() * probs[0];
            int c = 1;
            while (c < keep && probs[c] >= floor) c++;
            keep = c;
        }
        double total = 0;
        for (int i = 0; i < keep; i++) total += probs[i];
        double r = random.nextDouble() * total;
        for (int i = 0; i < keep; i++) {
            r -= probs[i];
            if (r <= 0) return order[i];
        }
        return order[keep - 1];
    }
}
