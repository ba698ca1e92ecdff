package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panamax.runtime.LoadOptions;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.simd.Simd;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Batch invariance ({@link LanguageModel#decodeStep}, what {@code panamax serve} batches with):
 * kjv-llama in every weight format, four sequences of different prompts decoded greedily in
 * batched steps whose company changes from step to step (they join one by one, one leaves early,
 * steps of 1 to 4; one joins with its whole prompt as rows of a step) give, each of them, exactly the
 * ids and logits of that sequence decoded alone — on the kernels' pool at its size, 1 and 3 threads.
 * Runs on the Vector API path and, in the models module's second surefire execution, on the scalar path
 * (until now the second execution's includes had left it out). The models module's tests start the
 * batched Q4_K and Q6_K kernels at once ({@code -Dpanamax.quant.batchAfter=0} in its pom): with a
 * fresh process's threshold this test's steps never reached them (a swapped activation sum in
 * {@code q4kBatch2} passed it then and fails it now).
 */
class BatchInvarianceTest {

    private static final int SEQUENCES = 4, STEPS = 7;

    /** Sequence i's prompt: a slice of the reference ids, each of another length and start. */
    private static int[] prompt(int[] ids, int i) {
        return Arrays.copyOfRange(ids, 2 * i, 2 * i + 3 + 3 * i);
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /** The sequence whose prompt rides in a step as rows of its own (fed token by token when alone). */
    private static final int PROMPT_IN_STEP = 3;

    /** Sequence i alone: its prompt, then STEPS greedy decoding steps; the logits after each step. */
    private static float[][] alone(LanguageModel m, int[] prompt, boolean tokenByToken) {
        LanguageModel.Session s = m.newSession();
        float[] logits = null;
        if (tokenByToken) {
            for (int token : prompt) logits = s.forward(token);
        } else {
            logits = s.prefill(prompt, false);
        }
        float[][] steps = new float[STEPS][];
        for (int t = 0; t < STEPS; t++) steps[t] = s.forward(argmax(logits)).clone();
        return steps;
    }

    private static void check(LanguageModel m, int[] ids, String what) {
        check(m, ids, what, alone(m, ids));
    }

    /** Each sequence decoded alone: the logits after each of its steps. */
    private static float[][][] alone(LanguageModel m, int[] ids) {
        float[][][] want = new float[SEQUENCES][][];
        for (int i = 0; i < SEQUENCES; i++) want[i] = alone(m, prompt(ids, i), i == PROMPT_IN_STEP);
        return want;
    }

    /** The sequences in batched steps of changing company, each step's logits against {@code want}. */
    private static void check(LanguageModel m, int[] ids, String what, float[][][] want) {

        LanguageModel.Session[] sessions = new LanguageModel.Session[SEQUENCES];
        float[][] last = new float[SEQUENCES][];
        int[] done = new int[SEQUENCES];
        for (int i = 0; i < SEQUENCES; i++) {
            sessions[i] = m.newSession();
            if (i != PROMPT_IN_STEP) last[i] = sessions[i].prefill(prompt(ids, i), false).clone();
        }
        int maxBatch = 0;
        for (int step = 0; ; step++) {
            // Sequence i joins at step i; sequence 1 sits out step 5; sequence 2 pauses after 4 steps
            // until the others are done, then finishes alone (steps of one).
            boolean othersDone = done[0] == STEPS && done[1] == STEPS && done[3] == STEPS;
            List<Integer> members = new ArrayList<>();
            for (int i = 0; i < SEQUENCES; i++) {
                boolean sitsOut = (i == 1 && step == 5) || (i == 2 && done[i] >= 4 && !othersDone);
                if (step >= i && done[i] < STEPS && !sitsOut) members.add(i);
            }
            if (members.isEmpty()) break;
            maxBatch = Math.max(maxBatch, members.size());
            // Rows: each member's next token; the joining PROMPT_IN_STEP brings its whole prompt instead, rows in order.
            List<LanguageModel.Session> batch = new ArrayList<>();
            List<Integer> tokens = new ArrayList<>(), lastRow = new ArrayList<>();
            boolean promptRows = false;
            for (int i : members) {
                if (last[i] == null) {
                    for (int token : prompt(ids, i)) {
                        batch.add(sessions[i]);
                        tokens.add(token);
                    }
                    promptRows = true;
                } else {
                    batch.add(sessions[i]);
                    tokens.add(argmax(last[i]));
                }
                lastRow.add(batch.size() - 1);
            }
            float[][] logits = m.decodeStep(batch.toArray(new LanguageModel.Session[0]), tokens.stream().mapToInt(Integer::intValue).toArray());
            for (int r = 0; r < logits.length; r++) {
                if (!lastRow.contains(r)) assertEquals(null, logits[r], "a prompt row before its last has no logits");
            }
            if (promptRows) {
                int i = PROMPT_IN_STEP, j = members.indexOf(i);
                last[i] = logits[lastRow.get(j)].clone();
                if (!Arrays.equals(last[i], alonePrompt(m, prompt(ids, i)))) throw new AssertionError(what + ": a prompt fed as rows of a step differs from it fed alone");
                members.remove(j);
                lastRow.remove(j);
            }
            for (int j = 0; j < members.size(); j++) {
                int i = members.get(j), t = done[i]++;
                last[i] = logits[lastRow.get(j)].clone();
                float[] w = want[i][t];
                for (int v = 0; v < w.length; v++) {
                    if (Float.floatToRawIntBits(w[v]) != Float.floatToRawIntBits(last[i][v])) {
                        throw new AssertionError(what + ": sequence " + i + ", step " + t + " in a batch of " + batch.size() + ": logit " + v + " is "
                                + last[i][v] + ", alone " + w[v] + " (" + Simd.kernels().name() + " kernels)");
                    }
                }
            }
        }
        assertEquals(SEQUENCES, maxBatch, "all four sequences shared a step");
        for (int i = 0; i < SEQUENCES; i++) assertEquals(STEPS, done[i]);
    }

    @ParameterizedTest
    @ValueSource(strings = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k", "q5_0", "iq4_nl", "tq2_0"})
    void sequencesDecodedTogetherEqualEachAlone(String type, @TempDir Path tmp) throws Exception {
        Path gguf = tmp.resolve("kjv-" + type + ".gguf");
        GgufExport.convert(Fixtures.kjv(), gguf, QuantPlan.parse(type));
        int[] ids = DeterminismTest.ids();
        try (LanguageModel m = ModelLoader.loadLanguageModel(gguf, Fixtures.OPTIONS)) {
            float[][][] want = alone(m, ids);
            check(m, ids, type, want);
            // The batched steps on other thread counts than the solo runs: the same bits still.
            int threads = dev.panamax.simd.Parallel.threads();
            try {
                for (int t : new int[] {1, 3}) {
                    dev.panamax.simd.Parallel.setThreads(t);
                    check(m, ids, type + ", batched on " + t + " kernel threads", want);
                }
            } finally {
                dev.panamax.simd.Parallel.setThreads(threads);
            }
        }
    }

    @Test
    void halfFloatKvCacheToo(@TempDir Path tmp) throws Exception {
        Path gguf = tmp.resolve("kjv-q8_0.gguf");
        GgufExport.convert(Fixtures.kjv(), gguf, QuantPlan.parse("q8_0"));
        try (LanguageModel m = ModelLoader.loadLanguageModel(gguf, Fixtures.OPTIONS.withKvCache(LoadOptions.KvCache.F16))) {
            check(m, DeterminismTest.ids(), "q8_0 with an f16 KV cache");
        }
    }

    /** A prompt fed alone token by token: the logits after its last token. */
    private static float[] alonePrompt(LanguageModel m, int[] prompt) {
        LanguageModel.Session s = m.newSession();
        float[] logits = null;
        for (int token : prompt) logits = s.forward(token);
        return logits;
    }

    @Test
    void aStepRefusesForeignSessionsAndBadShapes(@TempDir Path tmp) throws Exception {
        try (LanguageModel a = ModelLoader.loadLanguageModel(Fixtures.kjv(), Fixtures.OPTIONS);
             LanguageModel b = ModelLoader.loadLanguageModel(Fixtures.kjv(), Fixtures.OPTIONS)) {
            LanguageModel.Session s = a.newSession(), t = b.newSession();
            assertThrows(IllegalArgumentException.class, () -> a.decodeStep(new LanguageModel.Session[] {s, t}, new int[] {1, 1}));
            assertThrows(IllegalArgumentException.class, () -> a.decodeStep(new LanguageModel.Session[] {s}, new int[] {1, 1}));
            assertThrows(dev.panamax.runtime.ModelException.class, () -> a.decodeStep(new LanguageModel.Session[] {s, a.newSession()}, new int[] {1, -3}));
            assertEquals(0, s.position(), "a refused step feeds nothing");
            float[][] two = a.decodeStep(new LanguageModel.Session[] {s, s}, new int[] {1, 5});
            assertEquals(null, two[0]);
            assertArrayEquals(alonePrompt(a, new int[] {1, 5}), two[1], "two rows of one session: its two tokens in turn");
            assertEquals(2, s.position());
        }
    }
}
