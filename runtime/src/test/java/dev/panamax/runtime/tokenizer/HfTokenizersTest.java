package dev.panamax.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.format.Gguf;
import dev.panamax.runtime.json.Json;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tokenizers read from Hugging Face files agree with the references. */
class HfTokenizersTest {

    static Path shared() {
        return Path.of(System.getProperty("panamax.shared", "../../shared")).normalize();
    }

    @Test
    void kjvTokenizerJsonGivesTransformersIds(@TempDir Path tmp) throws Exception {
        Path kjv = shared().resolve("models/kjv-llama");
        // Only tokenizer.json (no tokenizer.model) in the directory, so that path is the one taken.
        Files.copy(kjv.resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
        Map<String, Object> config = Json.object(Json.parse(Files.readString(kjv.resolve("config.json"))), "config");
        Tokenizer fromJson = HfTokenizers.load(tmp, config);
        Tokenizer fromModel = HfTokenizers.load(kjv, config);
        Map<String, Object> expected = Json.object(Json.parse(Files.readString(kjv.resolve("expected.json"))), "expected");
        int checked = 0;
        for (Object s : Json.array(expected.get("samples"), "samples")) {
            Map<String, Object> sample = Json.object(s, "sample");
            String prompt = (String) sample.get("prompt");
            int[] want = Json.array(sample.get("input_ids"), "ids").stream().mapToInt(o -> ((Number) o).intValue()).toArray();
            assertArrayEquals(want, fromJson.encode(prompt, true), "tokenizer.json: " + prompt);
            assertArrayEquals(want, fromModel.encode(prompt, true), "tokenizer.model: " + prompt);
            checked++;
        }
        assertEquals(3, checked);
        // And a longer text with bytes outside the vocabulary (byte fallback) agrees between the two.
        String text = "And God said, Let there be light: and there was light. Ἀρχή — 🦙 naïve";
        assertArrayEquals(fromModel.encode(text, true), fromJson.encode(text, true));
    }

    @Test
    void bertVocabTxtReproducesLlamaCppVectors(@TempDir Path tmp) throws Exception {
        Path dir = shared().resolve("tokenizers");
        Gguf gguf = Gguf.read(dir.resolve("ggml-vocab-bert-bge.gguf"));
        List<String> lines = new ArrayList<>();
        try (var w = gguf.weights()) {
            // Write the vocabulary back in Hugging Face's vocab.txt form ("##" for continuations).
            for (Object t : (List<?>) gguf.metadata().get("tokenizer.ggml.tokens")) {
                String s = (String) t;
                lines.add(s.startsWith("\u2581") ? s.substring(1) : s.matches("\\[.*]") ? s : "##" + s);
            }
        }
        Files.write(tmp.resolve("vocab.txt"), lines, StandardCharsets.UTF_8);
        Tokenizer tok = HfTokenizers.load(tmp, Map.of());
        assertInstanceOf(WordPiece.class, tok);
        List<String> tests = new ArrayList<>(Arrays.asList(Files.readString(dir.resolve("ggml-vocab-bert-bge.gguf.inp")).split("\n__ggml_vocab_test__\n", -1)));
        List<String> expected = Files.readAllLines(dir.resolve("ggml-vocab-bert-bge.gguf.out"));
        if (tests.size() == expected.size() + 1) tests.remove(tests.size() - 1);
        int same = 0;
        for (int i = 0; i < tests.size(); i++) {
            String got = String.join(" ", Arrays.stream(((WordPiece) tok).encode(tests.get(i), false, false)).mapToObj(Integer::toString).toList());
            if (got.equals(expected.get(i).strip())) same++;
        }
        assertEquals(tests.size(), same, "all vectors through vocab.txt");
        int[] withSpecials = tok.encode("hello", true);
        assertEquals(101, withSpecials[0]);
        assertEquals(102, withSpecials[withSpecials.length - 1]);
        assertTrue(withSpecials.length == 3, Arrays.toString(withSpecials));
    }
}
