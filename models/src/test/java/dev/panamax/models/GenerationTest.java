package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.Panamax;
import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.generate.Generator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The generation loop and the public API on kjv-llama (the Hugging Face float32 directory). */
class GenerationTest {

    static Panamax model;

    @BeforeAll
    static void load() {
        model = Panamax.load(Fixtures.kjv(), Fixtures.OPTIONS);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void greedyTextAndIdsMatchTransformersUpToTheNearTie() throws Exception {
        Map<String, Object> expected = Fixtures.json(Fixtures.kjv().resolve("expected.json"));
        int[] prompt = Fixtures.ints(expected.get("input_ids"));
        int[] greedy = Fixtures.ints(expected.get("greedy_ids"));
        // The tokenizer (tokenizer.model) gives transformers' ids for the prompt, BOS included.
        assertArrayEquals(prompt, model.tokenizer().encode("In the beginning", true));
        StringBuilder streamed = new StringBuilder();
        Generator.Result r = model.generate("In the beginning", GenerationOptions.greedy().withMaxTokens(30), streamed::append);
        assertArrayEquals(Arrays.copyOfRange(greedy, prompt.length, prompt.length + 30), r.generatedIds());
        assertEquals(r.text(), streamed.toString());
        assertTrue(r.text().startsWith(", and the third day of the month"), r.text());
        assertEquals("max-tokens", r.stoppedBy());
    }

    @Test
    void sameSeedSameTextAndStopStringsAreNotPrinted() {
        GenerationOptions o = GenerationOptions.defaults().withMaxTokens(40).withSeed(1234);
        String a = model.generate("And it came to pass", o, t -> {}).text();
        String b = model.generate("And it came to pass", o, t -> {}).text();
        assertEquals(a, b);
        String c = model.generate("And it came to pass", o.withSeed(99), t -> {}).text();
        assertFalse(a.equals(c) && a.length() > 20, "a different seed should (almost surely) sample differently");

        StringBuilder streamed = new StringBuilder();
        Generator.Result r = model.generate("In the beginning", GenerationOptions.greedy().withMaxTokens(64).withStop(List.of("month")), streamed::append);
        assertEquals("stop", r.stoppedBy());
        assertEquals(", and the third day of the ", r.text());
        assertEquals(r.text(), streamed.toString());
    }

    @Test
    void generationConfigEndIdsStopGeneration(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        // kjv-llama with generation_config.json naming "," (2001) as a second end-of-sequence id.
        for (String f : new String[] {"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors", "tokenizer.model"}) {
            java.nio.file.Files.createSymbolicLink(tmp.resolve(f), Fixtures.kjv().resolve(f).toAbsolutePath());
        }
        java.nio.file.Files.writeString(tmp.resolve("generation_config.json"), "{\"eos_token_id\": [2, 2001]}");
        try (Panamax m = Panamax.load(tmp, Fixtures.OPTIONS)) {
            assertArrayEquals(new int[] {2, 2001}, m.model().endIds());
            Generator.Result r = m.generate("In the beginning", GenerationOptions.greedy().withMaxTokens(20), t -> {});
            assertEquals("eos", r.stoppedBy());
            assertEquals(0, r.generatedIds().length); // the first greedy token is ","
        }
    }

    @Test
    void aPromptLongerThanTheContextIsAClearError() {
        int[] ids = new int[600];
        Arrays.fill(ids, 261);
        ModelException e = assertThrows(ModelException.class, () -> model.generate(ids, GenerationOptions.greedy(), t -> {}));
        assertTrue(e.getMessage().contains("600 tokens") && e.getMessage().contains("512"), e.getMessage());
    }

    @Test
    void concurrentSessionsEqualTheirSequentialResults() throws Exception {
        String[] prompts = {"In the beginning", "And it came to pass", "The LORD is my shepherd", "And God said"};
        List<String> sequential = new ArrayList<>();
        for (String p : prompts) sequential.add(model.generate(p, GenerationOptions.greedy().withMaxTokens(24), t -> {}).text());
        ExecutorService pool = Executors.newFixedThreadPool(prompts.length);
        try {
            List<Future<String>> futures = new ArrayList<>();
            for (int round = 0; round < 3; round++) {
                for (String p : prompts) futures.add(pool.submit(() -> model.generate(p, GenerationOptions.greedy().withMaxTokens(24), t -> {}).text()));
            }
            for (int i = 0; i < futures.size(); i++) assertEquals(sequential.get(i % prompts.length), futures.get(i).get(), "session " + i);
        } finally {
            pool.shutdownNow();
        }
    }
}
