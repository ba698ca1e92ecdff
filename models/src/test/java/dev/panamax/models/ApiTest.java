package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.EmbeddingOptions;
import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.ModelInfo;
import dev.panamax.runtime.Panamax;
import dev.panamax.runtime.generate.Cancellation;
import dev.panamax.runtime.generate.Chat;
import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.generate.Generator;
import dev.panamax.runtime.generate.StopReason;
import dev.panamax.simd.Simd;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The public API (Panamax): info, generation with a stop reason and cancellation, chat, embeddings, tokens. */
class ApiTest {

    @Test
    void infoDescribesTheModel() {
        try (Panamax p = Panamax.load(Fixtures.kjv(), Fixtures.OPTIONS)) {
            ModelInfo info = p.info();
            assertEquals("llama", info.architecture());
            assertEquals("decoder", info.kind());
            // From config.json: embedding and head 2048 × 256 each; per layer q 256², k and v 128 × 256,
            // o 256², gate/up/down 688 × 256, two norms of 256; six layers; the final norm.
            long perLayer = 2L * 256 * 256 + 2L * 128 * 256 + 3L * 688 * 256 + 2 * 256;
            assertEquals(2L * 2048 * 256 + 6 * perLayer + 256, info.parameters());
            assertEquals(512, info.contextLength());
            assertEquals(2048, info.vocabularySize());
            assertEquals("cpu", info.device());
            assertEquals(info.parameters(), info.parametersByType().values().stream().mapToLong(Long::longValue).sum());
        }
        try (Panamax p = Panamax.load(Fixtures.hf("bert"), Fixtures.OPTIONS)) {
            assertEquals(new ModelInfo("bert", "encoder", p.info().parameters(), p.info().parametersByType(), 128, -1, "cpu"), p.info());
        }
    }

    @Test
    void aGenerationSaysWhyItStopped() {
        try (Panamax p = Panamax.load(Fixtures.kjv(), Fixtures.OPTIONS)) {
            Generator.Result r = p.generate("And God said", GenerationOptions.greedy().withMaxTokens(5), null);
            assertEquals(StopReason.MAX_TOKENS, r.stopReason());
            assertEquals(5, r.generatedIds().length);
            assertEquals("max-tokens", r.stoppedBy());
            assertEquals(r.promptIds().length + 5, r.totalTokens());
            assertEquals(p.countTokens("And God said"), r.promptIds().length);
            assertEquals(r.text(), p.decode(r.generatedIds()));
        }
    }

    /** Cancelled from another thread while the generation waits in its callback: it ends there, with what it had. */
    @Test
    void aCancelledGenerationReturnsWhatItHad() throws Exception {
        try (Panamax p = Panamax.load(Fixtures.kjv(), Fixtures.OPTIONS)) {
            GenerationOptions o = GenerationOptions.greedy().withMaxTokens(400);
            Generator.Result full = p.generate("In the beginning", o.withMaxTokens(10), null);
            Cancellation cancel = new Cancellation();
            CountDownLatch tenth = new CountDownLatch(1), cancelled = new CountDownLatch(1);
            AtomicInteger chunks = new AtomicInteger();
            Thread stopper = Thread.ofPlatform().start(() -> {
                try {
                    tenth.await();
                    cancel.cancel();
                    cancelled.countDown();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            Generator.Result r = p.generate("In the beginning", o, text -> {
                if (chunks.incrementAndGet() == 10) {
                    tenth.countDown();
                    try {
                        assertTrue(cancelled.await(30, TimeUnit.SECONDS));
                    } catch (InterruptedException e) {
                        throw new RuntimeException(e);
                    }
                }
            }, cancel);
            stopper.join();
            assertEquals(StopReason.CANCELLED, r.stopReason());
            assertEquals(10, chunks.get());
            assertArrayEquals(full.generatedIds(), r.generatedIds(), "the ten tokens before the cancel, as without it");
            assertEquals(full.text(), r.text());
            Generator.Result none = p.generate("In the beginning", o, null, cancel);
            assertEquals(StopReason.CANCELLED, none.stopReason(), "a cancelled handle stays cancelled");
            assertEquals(0, none.generatedIds().length);
        }
    }

    /** A chat keeps its session: the second turn feeds its own message, not the conversation again. */
    @Test
    void aChatTurnCostsItsOwnTokens() {
        try (Panamax p = Panamax.load(Fixtures.kjv(), Fixtures.OPTIONS)) {
            Chat chat = p.chat("The book of Genesis.");
            GenerationOptions o = GenerationOptions.greedy().withMaxTokens(12);
            Generator.Result first = chat.send("In the beginning God created", o, null);
            Generator.Result second = chat.send("And the earth was", o, null);
            assertEquals(5, chat.messages().size(), "system, user, assistant, user, assistant");
            assertEquals("assistant", chat.messages().get(4).role());
            assertEquals(first.promptIds().length, first.promptTokensFed(), "the first turn feeds everything");
            assertTrue(second.promptIds().length > first.promptIds().length + first.generatedIds().length, "the second prompt holds the first turn");
            assertTrue(second.promptTokensFed() <= p.countTokens("And the earth was") + 2,
                    "fed " + second.promptTokensFed() + " of " + second.promptIds().length + " prompt tokens");
            // The same conversation from scratch gives the same answer: the reused cache changes nothing.
            Generator.Result again = p.generate(second.promptIds(), o, null);
            assertArrayEquals(again.generatedIds(), second.generatedIds());
        }
        Panamax closed = Panamax.load(Fixtures.kjv(), Fixtures.OPTIONS);
        Chat chat = closed.chat(null);
        closed.close();
        ModelException e = assertThrows(ModelException.class, () -> chat.send("And", GenerationOptions.greedy(), null));
        assertEquals("this model is closed", e.getMessage());
    }

    /** A decoder's hidden states are what its head multiplies: head · h equals transformers' logits. */
    @Test
    void decoderEmbeddingsArePooledHiddenStates() throws Exception {
        Path dir = Fixtures.kjv();
        int[] ids = Fixtures.ints(Fixtures.json(dir.resolve("expected.json")).get("input_ids"));
        float[] logits = Fixtures.floats(dir.resolve("logits.f32"));
        try (Panamax p = Panamax.load(dir, Fixtures.OPTIONS)) {
            Llama.Model m = (Llama.Model) p.model();
            int d = m.hiddenSize();
            assertEquals(256, d);
            float[] h = m.hiddenStates(ids), row = new float[d], out = new float[m.vocabSize()];
            assertEquals(ids.length * d, h.length);
            for (int t = 0; t < ids.length; t++) {
                System.arraycopy(h, t * d, row, 0, d);
                m.weights.cpu(m.output).matvec(Simd.kernels(), row, out);
                EquivalenceTest.assertLogitsMatch(logits, t, out, "kjv head · hidden state");
            }
            float[] mean = new float[d];
            for (int t = 0; t < ids.length; t++) for (int i = 0; i < d; i++) mean[i] += h[t * d + i];
            for (int i = 0; i < d; i++) mean[i] /= ids.length;
            float[] raw = p.embedIds(List.of(ids), EmbeddingOptions.defaults().withNormalize(false)).getFirst();
            assertArrayEquals(mean, raw, 1e-6f);
            float[] unit = p.embedIds(List.of(ids), EmbeddingOptions.defaults()).getFirst();
            assertEquals(1.0, norm(unit), 1e-5);
            List<float[]> texts = p.embed(List.of("In the beginning", "And God said"));
            assertArrayEquals(p.embedIds(List.of(p.encode("In the beginning")), EmbeddingOptions.defaults()).getFirst(), texts.get(0), 0f);
            assertTrue(Arrays.stream(new double[] {dot(texts.get(0), texts.get(1))}).allMatch(c -> c > -1 && c < 1));
        }
    }

    /** BERT through the same call: transformers' last hidden state, mean-pooled; too long is an error unless truncated. */
    @Test
    void encoderEmbeddingsMatchTransformersAndTruncateWhenAsked() throws Exception {
        Path dir = Fixtures.hf("bert");
        int[] ids = Fixtures.ints(Fixtures.json(dir.resolve("expected.json")).get("input_ids"));
        float[] hidden = Fixtures.floats(dir.resolve("hidden.f32"));
        int h = 64;
        float[] want = new float[h];
        for (int t = 0; t < ids.length; t++) for (int i = 0; i < h; i++) want[i] += hidden[t * h + i] / ids.length;
        double n = norm(want);
        for (int i = 0; i < h; i++) want[i] /= (float) n;
        try (Panamax p = Panamax.load(dir, Fixtures.OPTIONS)) {
            assertArrayEquals(want, p.embedIds(List.of(ids), EmbeddingOptions.defaults()).getFirst(), 1e-4f);
            int[] tooLong = new int[200];
            for (int i = 0; i < tooLong.length; i++) tooLong[i] = ids[i % ids.length];
            ModelException e = assertThrows(ModelException.class, () -> p.embedIds(List.of(ids, tooLong), EmbeddingOptions.defaults()));
            assertEquals("text 2 of 2 is 200 tokens; this model takes at most 128 (EmbeddingOptions.withTruncate(true) keeps the first 128)", e.getMessage());
            int[] cut = Arrays.copyOf(tooLong, 128);
            cut[127] = tooLong[199];
            assertArrayEquals(p.embedIds(List.of(cut), EmbeddingOptions.defaults()).getFirst(),
                    p.embedIds(List.of(tooLong), EmbeddingOptions.defaults().withTruncate(true)).getFirst(), 0f);
            ModelException gen = assertThrows(ModelException.class, () -> p.generate(ids, GenerationOptions.greedy(), null));
            assertEquals("this bert model is an encoder: it embeds text (embed), it does not generate", gen.getMessage());
        }
    }

    @Test
    void architecturesWithoutHiddenStatesSaySo() {
        try (Panamax p = Panamax.load(Fixtures.hf("mamba"), Fixtures.OPTIONS)) {
            ModelException e = assertThrows(ModelException.class, () -> p.embedIds(List.of(new int[] {1, 2}), EmbeddingOptions.defaults()));
            assertTrue(e.getMessage().startsWith("mamba models do not give hidden states"), e.getMessage());
        }
    }

    private static double norm(float[] v) {
        return Math.sqrt(dot(v, v));
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }
}
