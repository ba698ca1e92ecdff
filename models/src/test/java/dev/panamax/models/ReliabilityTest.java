package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.Panamax;
import dev.panamax.runtime.format.GgufWriter;
import dev.panamax.runtime.generate.Chat;
import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.generate.Generator;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Bad numbers in model files, and the generation loop's own limits: each ends in a
 * {@link ModelException} that names the problem, or in a correct result — never an arithmetic
 * exception, a huge allocation or garbage. (The issue that asked for each is in the git log.)
 */
class ReliabilityTest {

    @TempDir
    static Path tmp;
    static Path f32;

    @BeforeAll
    static void kjvAsGguf() throws Exception {
        f32 = tmp.resolve("kjv-f32.gguf");
        GgufExport.convert(Fixtures.kjv(), f32, QuantPlan.parse("f32"));
    }

    private static ModelException loadFails(Path gguf) {
        return assertThrows(ModelException.class, () -> {
            try (var m = ModelLoader.load(gguf, Fixtures.OPTIONS)) {
                m.architecture();
            }
        });
    }

    /** A GGUF key set to an integer (i64) or a real (f32) value: the load fails naming it. */
    @ParameterizedTest
    @CsvSource({
            "llama.attention.head_count, 0, 'llama.attention.head_count' must be at least 1",
            "llama.attention.head_count, -3, 'llama.attention.head_count' must be at least 1",
            "llama.embedding_length, 2147483648, 'llama.embedding_length' must be at most 16777216",
            "llama.block_count, 4611686018427387904, 'llama.block_count' must be at most 16777216",
            "llama.feed_forward_length, 0, 'llama.feed_forward_length' must be at least 1",
            "llama.context_length, 0, 'llama.context_length' must be at least 1",
            "llama.attention.head_count_kv, 3, 8 attention heads are not a multiple of 3 key/value heads",
            "llama.vocab_size, -1, 'llama.vocab_size' must be at least 1",
            "llama.attention.layer_norm_rms_epsilon, NaN, 'llama.attention.layer_norm_rms_epsilon' is NaN",
            "llama.attention.layer_norm_rms_epsilon, -1.0, 'llama.attention.layer_norm_rms_epsilon' must be a finite number of 0 or more",
            "llama.rope.freq_base, Infinity, 'llama.rope.freq_base' must be a finite number of 0 or more",
    })
    void aGgufWithABadHyperParameterIsRefusedByName(String key, String value, String message) throws Exception {
        boolean whole = value.matches("-?[0-9]+");
        GgufWriter.Value v = whole ? GgufWriter.i64(Long.parseLong(value)) : GgufWriter.f32(Double.parseDouble(value));
        Path bad = GgufEdit.copy(f32, tmp.resolve("bad-" + key + value + ".gguf"), Map.of(key, v));
        ModelException e = loadFails(bad);
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({
            "num_attention_heads, 0, 'num_attention_heads' must be at least 1",
            "hidden_size, 250, 'tensor model.embed_tokens.weight has shape [2048, 256], the model''s hyper-parameters say [2048, 250]'",
            "num_hidden_layers, -1, 'num_hidden_layers' must be at least 1",
            "num_attention_heads, 7, 7 attention heads are not a multiple of 4 key/value heads",
            "intermediate_size, 1e30, 'intermediate_size' must be at most 16777216",
    })
    void aConfigJsonWithABadHyperParameterIsRefusedByName(String key, String value, String message) throws Exception {
        // kjv-llama's directory with links to its files (not in a JUnit @TempDir, which warns about links) and an edited config.json.
        Path dir = Files.createTempDirectory("panamax-hf-" + key);
        try {
            for (Path f : Files.list(Fixtures.kjv()).toList()) {
                if (Files.isRegularFile(f) && !f.getFileName().toString().equals("config.json")) Files.createSymbolicLink(dir.resolve(f.getFileName()), f.toAbsolutePath());
            }
            String config = Files.readString(Fixtures.kjv().resolve("config.json")).replaceFirst("\"" + key + "\"\\s*:\\s*[^,}]+", "\"" + key + "\": " + value);
            assertTrue(config.contains("\"" + key + "\": " + value), "the fixture's config.json has " + key);
            Files.writeString(dir.resolve("config.json"), config);
            ModelException e = loadFails(dir);
            assertTrue(e.getMessage().contains(message), e.getMessage());
        } finally {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) Files.delete(f); // the links, not what they point to
            }
            Files.delete(dir);
        }
    }

    /** Bytes this thread has allocated so far (HotSpot's count: deterministic, unlike the heap's size). */
    private static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    @Test
    void aHugeMaxTokensOnAHugeContextAllocatesOnlyForWhatIsGenerated() throws Exception {
        // Before: the token history was sized prompt + maxTokens up front: 4 GB here, for 20 tokens.
        Path huge = GgufEdit.copy(f32, tmp.resolve("ctx-max.gguf"), Map.of("llama.context_length", GgufWriter.u32(Integer.MAX_VALUE)));
        try (LanguageModel m = ModelLoader.loadLanguageModel(huge, Fixtures.OPTIONS)) {
            assertEquals(Integer.MAX_VALUE, m.contextLength());
            AtomicInteger tokens = new AtomicInteger();
            long before = allocated();
            ModelException stop = assertThrows(ModelException.class, () -> Generator.generate(m, new int[] {1, 1043}, GenerationOptions.greedy()
                    .withMaxTokens(1_000_000_000), null, id -> tokens.incrementAndGet(), () -> tokens.get() >= 20 ? "enough" : null));
            long used = allocated() - before;
            assertEquals("enough", stop.getMessage());
            assertEquals(20, tokens.get());
            assertTrue(used < 200_000_000, "20 tokens allocated " + used + " bytes");
        }
    }

    @Test
    void nanWeightsEndGenerationWithAnErrorInsteadOfUnkForever() throws Exception {
        // Before: the logits were all NaN, argmax said 0 (<unk>) at every step, and the exit status was 0.
        Path nan = GgufEdit.copy(f32, tmp.resolve("nan.gguf"), Map.of(), Set.of(), (name, bytes) -> {
            if (!name.equals("output_norm.weight")) return bytes;
            ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            b.putFloat(4 * 7, Float.NaN);
            return bytes;
        });
        try (LanguageModel m = ModelLoader.loadLanguageModel(nan, Fixtures.OPTIONS)) {
            ModelException e = assertThrows(ModelException.class, () -> Generator.generate(m, new int[] {1, 1043}, GenerationOptions.greedy(), null, null));
            assertTrue(e.getMessage().contains("non-finite logit") && e.getMessage().contains("NaN"), e.getMessage());
        }
    }

    @Test
    void anEmptyPromptStartsFromBos() throws Exception {
        try (LanguageModel m = ModelLoader.loadLanguageModel(f32, Fixtures.OPTIONS)) {
            Generator.Result r = Generator.generate(m, new int[0], GenerationOptions.greedy().withMaxTokens(5), null, null);
            assertArrayEquals(new int[] {m.tokenizer().bos()}, r.promptIds());
            assertEquals(5, r.generatedIds().length);
            Generator.Result same = Generator.generate(m, new int[] {m.tokenizer().bos()}, GenerationOptions.greedy().withMaxTokens(5), null, null);
            assertArrayEquals(same.generatedIds(), r.generatedIds());
        }
    }

    @Test
    void closingWhileGeneratingEndsTheGenerationWithAPanamaxError() throws Exception {
        // Before: the generating thread died with the JDK's raw IllegalStateException "Already closed",
        // and a second close() threw.
        Panamax model = Panamax.load(f32, Fixtures.OPTIONS);
        CountDownLatch started = new CountDownLatch(1);
        CompletableFuture<Throwable> outcome = CompletableFuture.supplyAsync(() -> {
            try {
                model.generate("In the beginning", GenerationOptions.greedy().withMaxTokens(100_000), text -> {
                    started.countDown();
                    try {
                        Thread.sleep(5); // slow enough that close() lands mid-generation
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        assertTrue(started.await(60, TimeUnit.SECONDS));
        model.close();
        model.close(); // idempotent
        Throwable t = outcome.get(60, TimeUnit.SECONDS);
        assertTrue(t instanceof ModelException && t.getMessage().equals("the model was closed during generation"), String.valueOf(t));
        ModelException after = assertThrows(ModelException.class, () -> model.generate("x", GenerationOptions.greedy(), null));
        assertEquals("this model is closed", after.getMessage());
        assertTrue(model.isClosed());
    }

    @Test
    void aChatFeedsOnlyEachTurnsNewTokensAndDropsOldTurnsWhenFull() throws Exception {
        try (LanguageModel m = ModelLoader.loadLanguageModel(f32, Fixtures.OPTIONS)) {
            List<String> notes = new ArrayList<>();
            Chat chat = new Chat(m, null, notes::add);
            GenerationOptions o = GenerationOptions.greedy().withMaxTokens(40);
            Generator.Result first = chat.send("And the LORD spake unto Moses, saying", o, null);
            Generator.Result second = chat.send("And Moses said unto the LORD", o, null);
            // Before: each turn fed the whole conversation again.
            assertTrue(second.promptIds().length > 50, "the second turn's prompt holds the first exchange: " + second.promptIds().length);
            assertTrue(second.promptTokensFed() <= 12, "the second turn fed " + second.promptTokensFed() + " tokens");
            assertEquals(first.promptIds().length, first.promptTokensFed());
            // Greedy and bit-reproducible: the same conversation again gives the same answers.
            Chat again = new Chat(m, null, null);
            assertArrayEquals(first.generatedIds(), again.send("And the LORD spake unto Moses, saying", o, null).generatedIds());
            assertArrayEquals(second.generatedIds(), again.send("And Moses said unto the LORD", o, null).generatedIds());
            // Before: the conversation outgrew the 512-token context and the chat ended with an error.
            for (int i = 0; i < 30; i++) chat.send("And it came to pass", o, null);
            assertEquals(1, notes.size(), notes.toString());
            assertTrue(notes.getFirst().contains("dropping the oldest turns"), notes.getFirst());
            assertTrue(chat.messages().size() < 64, "old turns were dropped: " + chat.messages().size());
        }
    }
}
