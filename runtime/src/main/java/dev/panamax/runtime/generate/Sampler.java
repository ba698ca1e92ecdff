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
    private long[] keys = new long[0];
    private boolean[] seen = new boolean[0];

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
            if (seen.length != n) seen = new boolean[n];
            int from = Math.max(0, historyLength - o.repeatLastN());
            for (int i = from; i < historyLength; i++) {
                int t = history[i];
                if (t < 0 || t >= n || seen[t]) continue;
                seen[t] = true;
                logits[t] = logits[t] > 0 ? logits[t] / o.repeatPenalty() : logits[t] * o.repeatPenalty();
            }
            for (int i = from; i < historyLength; i++) if (history[i] >= 0 && history[i] < n) seen[history[i]] = false;
        }
        if (o.temperature() == 0) return Simd.kernels().argmax(logits, 0, n);

        if (order.length != n) {
            order = new int[n];
            probs = new float[n];
        }
        // The candidates by logit, descending, ties by id (top-k first keeps the ordering short when set).
        int keep = o.topK() > 0 ? Math.min(o.topK(), n) : n;
        rank(logits, keep);
        float max = logits[order[0]];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            probs[i] = (float) Math.exp((logits[order[i]] - max) / o.temperature());
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

    /**
     * Puts the ids of the {@code keep} largest logits into {@code order[0, keep)}, largest first, equal
     * logits by ascending id — the order of a stable sort by {@link Float#compare}, descending. Each id
     * goes into a long whose ascending order is that order (the logit's bits made sortable and inverted
     * above, the id below), so no id is boxed. With top-k the {@code keep} smallest keys are gathered in
     * one pass in a max-heap (its root the worst candidate kept; a logit below the root's is skipped
     * before its key is made), then sorted: n·log(keep) at worst, whatever order the logits come in.
     */
    private void rank(float[] logits, int keep) {
        int n = logits.length;
        if (keys.length < keep) keys = new long[keep];
        if (keep == n) {
            for (int i = 0; i < n; i++) keys[i] = key(logits[i], i);
            Arrays.sort(keys, 0, n);
        } else {
            int have = 0;
            float floor = Float.NEGATIVE_INFINITY; // once the heap is full, its root's logit: anything below it stays out
            for (int i = 0; i < n; i++) {
                float l = logits[i];
                if (l < floor) continue; // (false for NaN and for ±0 against ∓0: those take the key's comparison)
                long k = key(l, i);
                int at;
                if (have < keep) { // sift up
                    at = have++;
                    while (at > 0 && keys[(at - 1) / 2] < k) {
                        keys[at] = keys[(at - 1) / 2];
                        at = (at - 1) / 2;
                    }
                } else if (k < keys[0]) { // replace the root, sift down
                    at = 0;
                    for (int c = 1; c < keep; c = 2 * at + 1) {
                        if (c + 1 < keep && keys[c + 1] > keys[c]) c++;
                        if (keys[c] <= k) break;
                        keys[at] = keys[c];
                        at = c;
                    }
                } else {
                    continue;
                }
                keys[at] = k;
                if (have == keep) floor = logits[(int) keys[0]];
            }
            Arrays.sort(keys, 0, keep);
        }
        for (int i = 0; i < keep; i++) order[i] = (int) keys[i];
    }

    /** The ids {@link #sample} would rank first, {@code keep} of them (for tests). */
    int[] ranking(float[] logits, int keep) {
        if (order.length != logits.length) order = new int[logits.length];
        rank(logits, keep);
        return Arrays.copyOf(order, keep);
    }

    /** A long that sorts ascending as (logit descending by {@link Float#compare}, then id ascending). */
    static long key(float logit, int id) {
        int bits = Float.floatToIntBits(logit); // one NaN, the largest, as Float.compare has it
        int ascending = bits ^ ((bits >> 31) & 0x7fffffff); // signed order = Float.compare's, −0 below +0
        return ((long) ~ascending << 32) | (id & 0xffffffffL);
    }
}
