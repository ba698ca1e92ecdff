package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.generate.BatchedDecoder;
import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.generate.Generator;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * {@link BatchedDecoder}, continuous batching as the server uses it: generations from many threads
 * share decoding steps, joining and leaving at their own times, and each gives the ids it gives alone.
 */
class BatchedDecoderTest {

    @Test
    void generationsFromManyThreadsShareStepsAndEachEqualsItsRunAlone() throws Exception {
        int[] ids = DeterminismTest.ids();
        try (LanguageModel m = ModelLoader.loadLanguageModel(Fixtures.kjv(), Fixtures.OPTIONS)) {
            int n = 8;
            int[][] prompts = new int[n][];
            GenerationOptions[] options = new GenerationOptions[n];
            int[][] alone = new int[n][];
            for (int i = 0; i < n; i++) {
                prompts[i] = Arrays.copyOfRange(ids, i, i + 2 + i); // lengths 2..9: different prefill times, staggered joins
                options[i] = GenerationOptions.defaults().withMaxTokens(10 + 3 * i).withTemperature(i % 2 == 0 ? 0f : 0.8f).withSeed(77 + i);
                alone[i] = Generator.generate(m, prompts[i], options[i], null, null).generatedIds();
            }
            AtomicInteger steps = new AtomicInteger(), sequences = new AtomicInteger(), widest = new AtomicInteger();
            try (BatchedDecoder batched = new BatchedDecoder(m, 6, Duration.ofMillis(5), (b, nanos) -> {
                     steps.incrementAndGet();
                     sequences.addAndGet(b);
                     widest.accumulateAndGet(b, Math::max);
                 });
                 ExecutorService pool = Executors.newFixedThreadPool(n)) {
                // Each generation waits after its first token until all have one, so all eight are decoding at once.
                java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(n);
                List<Future<int[]>> runs = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    int k = i;
                    boolean[] first = {true};
                    runs.add(pool.submit(() -> Generator.generate(batched, prompts[k], options[k], null, id -> {
                        if (!first[0]) return;
                        first[0] = false;
                        started.countDown();
                        try {
                            started.await(1, TimeUnit.MINUTES);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }).generatedIds()));
                }
                for (int i = 0; i < n; i++) assertArrayEquals(alone[i], runs.get(i).get(2, TimeUnit.MINUTES), "generation " + i);
            }
            assertTrue(widest.get() > 1 && widest.get() <= 6, "the widest step had " + widest.get() + " sequences (at most 6 allowed, more than 1 expected)");
            assertTrue(sequences.get() > steps.get(), sequences + " sequences in " + steps + " steps");
        }
    }

    /**
     * Short prompts that ride in steps as rows (shorter than promptBatchFrom) take at most one block's
     * worth of rows (promptChunk: 24 here, two prompts of 12) a step, beside the decoding sequences'
     * tokens: six prompts arriving while another sequence decodes are spread over steps instead of
     * one step of 72 rows, and every generation still gives its ids alone.
     */
    @Test
    void shortPromptsArrivingTogetherRideAtMostABlockOfRowsAStep() throws Exception {
        int[] ids = DeterminismTest.ids();
        dev.panamax.runtime.LoadOptions options = Fixtures.OPTIONS.withPromptBatchFrom(64).withPromptChunk(24);
        try (LanguageModel m = ModelLoader.loadLanguageModel(Fixtures.kjv(), options)) {
            int n = 6;
            int[][] prompts = new int[n + 1][];
            int[][] alone = new int[n + 1][];
            GenerationOptions greedy = GenerationOptions.defaults().withTemperature(0f);
            for (int i = 0; i <= n; i++) {
                prompts[i] = Arrays.copyOfRange(ids, i, i + (i == 0 ? 3 : 12));
                alone[i] = Generator.generate(m, prompts[i], greedy.withMaxTokens(i == 0 ? 60 : 6), null, null).generatedIds();
            }
            AtomicInteger widest = new AtomicInteger();
            try (BatchedDecoder batched = new BatchedDecoder(m, 8, Duration.ofMillis(2), (rows, nanos) -> widest.accumulateAndGet(rows, Math::max));
                 ExecutorService pool = Executors.newFixedThreadPool(n + 1)) {
                java.util.concurrent.CountDownLatch decoding = new java.util.concurrent.CountDownLatch(1);
                List<Future<int[]>> runs = new ArrayList<>();
                runs.add(pool.submit(() -> Generator.generate(batched, prompts[0], greedy.withMaxTokens(60), null, id -> decoding.countDown()).generatedIds()));
                decoding.await(1, TimeUnit.MINUTES);
                for (int i = 1; i <= n; i++) {
                    int k = i;
                    runs.add(pool.submit(() -> Generator.generate(batched, prompts[k], greedy.withMaxTokens(6), null, null).generatedIds()));
                }
                for (int i = 0; i <= n; i++) assertArrayEquals(alone[i], runs.get(i).get(2, TimeUnit.MINUTES), "generation " + i);
            }
            // 24 prompt rows and at most seven decoding sequences' tokens
            assertTrue(widest.get() <= 24 + n + 1, "the widest step had " + widest.get() + " rows");
        }
    }

    /**
     * A model session that holds resources of its own (a GPU session's KV cache in device memory) is
     * closed when its generation ends — once, after its last step — and not left to a garbage
     * collection; after the decoder is closed, a leaving session closes its own at once.
     */
    @Test
    void aSessionThatHoldsResourcesIsClosedWhenItsGenerationEnds() throws Exception {
        try (LanguageModel m = ModelLoader.loadLanguageModel(Fixtures.kjv(), Fixtures.OPTIONS)) {
            AtomicInteger closed = new AtomicInteger();
            LanguageModel closing = (LanguageModel) java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
                    new Class<?>[] {LanguageModel.class}, (proxy, method, args) -> {
                        // Steps one session after another (the interface's default), over the wrapped sessions.
                        if (method.getName().equals("decodeStep")) return java.lang.reflect.InvocationHandler.invokeDefault(proxy, method, args);
                        Object r = method.invoke(m, args);
                        if (!method.getName().equals("newSession")) return r;
                        LanguageModel.Session inner = (LanguageModel.Session) r;
                        return java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
                                new Class<?>[] {LanguageModel.Session.class, AutoCloseable.class}, (p2, m2, a2) -> {
                                    if (m2.getName().equals("close")) {
                                        closed.incrementAndGet();
                                        return null;
                                    }
                                    return m2.invoke(inner, a2);
                                });
                    });
            int[] prompt = Arrays.copyOf(DeterminismTest.ids(), 20); // a prompt the model feeds as a block, not token by token
            GenerationOptions o = GenerationOptions.defaults().withMaxTokens(5).withTemperature(0f);
            int[] alone = Generator.generate(m, prompt, o, null, null).generatedIds();
            BatchedDecoder batched = new BatchedDecoder(closing, 4, Duration.ofMillis(1), null);
            try {
                assertArrayEquals(alone, Generator.generate(batched, prompt, o, null, null).generatedIds());
                for (int i = 0; i < 1000 && closed.get() == 0; i++) Thread.sleep(10); // the close runs on the prompt thread
                assertEquals(1, closed.get(), "the model's session closed once");
                LanguageModel.Session s = batched.newSession();
                s.prefill(new int[] {1, 2}, false);
                ((AutoCloseable) s).close();
                ((AutoCloseable) s).close();
                for (int i = 0; i < 1000 && closed.get() == 1; i++) Thread.sleep(10);
                assertEquals(2, closed.get(), "closing twice closes the model's session once");
                LanguageModel.Session late = batched.newSession();
                batched.close();
                ((AutoCloseable) late).close();
                assertEquals(3, closed.get(), "after the decoder closed, at once");
            } finally {
                batched.close();
            }
        }
    }

    /**
     * Chunked prefill: a long prompt is fed a block at a time between the other sequences' steps
     * (they go on decoding while it is fed), and its logits are bit for bit the model's for the
     * prompt fed alone — which the model computes in the same blocks, each continuing the last
     * (within float rounding of the prompt as one block).
     */
    @Test
    void aLongPromptIsFedInBlocksBetweenTheOthersStepsWithItsOwnBits() throws Exception {
        int chunk = 16;
        try (LanguageModel m = ModelLoader.loadLanguageModel(Fixtures.kjv(), Fixtures.OPTIONS.withPromptChunk(chunk));
             LanguageModel whole = ModelLoader.loadLanguageModel(Fixtures.kjv(), Fixtures.OPTIONS.withPromptChunk(0))) {
            java.util.Random random = new java.util.Random(5);
            int[] prompt = new int[7 * chunk + 5]; // eight blocks
            for (int i = 0; i < prompt.length; i++) prompt[i] = 3 + random.nextInt(m.vocabSize() - 3);
            LanguageModel.Session s = m.newSession();
            assertEquals(chunk, s.prefillChunk());
            float[] alone = s.prefill(prompt, false).clone();
            LanguageModel.Session byBlocks = m.newSession();
            float[] last = null;
            int[] lengths = LanguageModel.Session.blockLengths(prompt.length, chunk);
            assertArrayEquals(new int[] {15, 15, 15, 15, 15, 14, 14, 14}, lengths, "117 tokens in blocks of at most 16: eight of nearly equal length");
            int from = 0;
            for (int n : lengths) {
                last = byBlocks.prefill(Arrays.copyOfRange(prompt, from, from + n), false);
                from += n;
            }
            assertArrayEquals(alone, last, "the prompt fed block by block: the bits of the prompt fed whole");
            float[] asOneBlock = whole.newSession().prefill(prompt, false);
            for (int i = 0; i < alone.length; i++) assertEquals(asOneBlock[i], alone[i], 1e-4f, "logit " + i + ": blocks against one block");
            float[] allLogits = m.newSession().prefill(prompt, true); // each block's rows in their place
            LanguageModel.Session allByBlocks = m.newSession();
            int vocab = m.vocabSize();
            from = 0;
            for (int n : lengths) {
                assertArrayEquals(allByBlocks.prefill(Arrays.copyOfRange(prompt, from, from + n), true),
                        Arrays.copyOfRange(allLogits, from * vocab, (from + n) * vocab), "all logits, the block from " + from);
                from += n;
            }

            AtomicInteger steps = new AtomicInteger();
            try (BatchedDecoder batched = new BatchedDecoder(m, 4, Duration.ofMillis(1), (rows, nanos) -> steps.incrementAndGet());
                 ExecutorService pool = Executors.newSingleThreadExecutor()) {
                java.util.concurrent.atomic.AtomicBoolean fed = new java.util.concurrent.atomic.AtomicBoolean();
                java.util.concurrent.CountDownLatch decoding = new java.util.concurrent.CountDownLatch(1);
                Future<Integer> other = pool.submit(() -> { // decodes until the prompt is in
                    LanguageModel.Session o = batched.newSession();
                    o.prefill(new int[] {1, 2}, false);
                    decoding.countDown();
                    int n = 0;
                    while (!fed.get() && o.position() < m.contextLength() - 1) {
                        o.forward(3 + n % 50);
                        n++;
                    }
                    return n;
                });
                decoding.await(1, TimeUnit.MINUTES);
                LanguageModel.Session served = batched.newSession();
                int before = steps.get();
                float[] got = served.prefill(prompt, false);
                int during = steps.get() - before;
                fed.set(true);
                assertArrayEquals(alone, got, "the prompt through the batched decoder, beside a decoding sequence");
                assertEquals(prompt.length, served.position());
                assertTrue(other.get(1, TimeUnit.MINUTES) > 0);
                assertTrue(during >= 6, during + " steps of the other sequence while the prompt's 8 blocks were fed (one after each block expected)");

                // A bad id in the last block fails before any block is fed.
                LanguageModel.Session bad = batched.newSession();
                int[] badPrompt = prompt.clone();
                badPrompt[badPrompt.length - 1] = m.vocabSize();
                ModelException e = assertThrows(ModelException.class, () -> bad.prefill(badPrompt, false));
                assertTrue(e.getMessage().contains("outside the vocabulary"), e.getMessage());
                assertEquals(0, bad.position(), "nothing fed");
            }
        }
    }

    @Test
    void aClosedDecoderRefusesToStep() throws Exception {
        try (LanguageModel m = ModelLoader.loadLanguageModel(Fixtures.kjv(), Fixtures.OPTIONS)) {
            BatchedDecoder batched = new BatchedDecoder(m, 4, Duration.ofMillis(1), null);
            LanguageModel.Session s = batched.newSession();
            s.prefill(new int[] {1, 2}, false);
            float[] viaStep = s.forward(3).clone();
            LanguageModel.Session plain = m.newSession();
            plain.prefill(new int[] {1, 2}, false);
            assertArrayEquals(plain.forward(3), viaStep, "one sequence through the decoder: the model's own logits");
            assertEquals(3, s.position());
            batched.close();
            ModelException e = assertThrows(ModelException.class, () -> s.forward(4));
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new BatchedDecoder(m, 0, Duration.ZERO, null));
        }
    }
}
