package dev.panamax.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.format.Gguf;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** llama.cpp's own tokenizer test vectors (../shared/tokenizers), reproduced exactly. */
class TokenizerConformanceTest {

    static Path tokenizers() {
        Path p = Path.of(System.getProperty("panamax.shared", "../../shared")).resolve("tokenizers").normalize();
        assertTrue(Files.isDirectory(p), "tokenizer vectors must be at " + p.toAbsolutePath());
        return p;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-spm", "phi-3", "gpt-2", "falcon", "starcoder", "deepseek-coder", "deepseek-llm", "mpt", "refact", "bert-bge"})
    void llamaCppVocabularies(String name) throws Exception {
        Path dir = tokenizers();
        Gguf gguf = Gguf.read(dir.resolve("ggml-vocab-" + name + ".gguf"));
        try (var w = gguf.weights()) {
            Tokenizer tok = gguf.tokenizer();
            String inp = Files.readString(dir.resolve("ggml-vocab-" + name + ".gguf.inp"), StandardCharsets.UTF_8);
            List<String> tests = new ArrayList<>(Arrays.asList(inp.split("\n__ggml_vocab_test__\n", -1)));
            List<String> expected = Files.readAllLines(dir.resolve("ggml-vocab-" + name + ".gguf.out"), StandardCharsets.UTF_8);
            // The file ends with a separator; the empty text after it has no line in .out.
            if (tests.size() == expected.size() + 1 && tests.get(tests.size() - 1).isEmpty()) tests.remove(tests.size() - 1);
            assertEquals(expected.size(), tests.size(), "one expected line per test string");
            List<String> failures = new ArrayList<>();
            for (int i = 0; i < tests.size(); i++) {
                String got = Arrays.stream(encodeRaw(tok, tests.get(i))).mapToObj(Integer::toString).collect(Collectors.joining(" "));
                if (!got.equals(expected.get(i).strip())) {
                    failures.add("#" + i + " " + show(tests.get(i)) + "\n   want " + expected.get(i).strip() + "\n   got  " + got);
                }
            }
            assertTrue(failures.isEmpty(), failures.size() + " of " + tests.size() + " differ:\n" + String.join("\n", failures));
        }
    }

    /** llama.cpp's test mode: no BOS/EOS added, special-token text is text. */
    static int[] encodeRaw(Tokenizer tok, String text) {
        if (tok instanceof SentencePiece t) return t.encode(text, false, false);
        if (tok instanceof ByteLevelBpe t) return t.encode(text, false, false);
        if (tok instanceof WordPiece t) return t.encode(text, false, false);
        throw new AssertionError(tok.getClass());
    }

    static String show(String s) {
        return '"' + s.replace("\n", "\\n").replace("\t", "\\t") + '"';
    }
}
