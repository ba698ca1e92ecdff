package dev.panamax.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.format.GgufWriter;
import dev.panamax.runtime.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the loader makes of a path before any architecture sees it. */
class ModelLoaderTest {

    @Test
    void aPathThatIsNotAFileOrDirectorySaysSo(@TempDir Path tmp) {
        // Before: /dev/null was "no such file or directory".
        ModelException dev = assertThrows(ModelException.class, () -> ModelLoader.load(Path.of("/dev/null")));
        assertEquals("/dev/null: not a regular file or a directory (a model is a .gguf file, a llama2.c .bin or a Hugging Face directory)", dev.getMessage());
        ModelException missing = assertThrows(ModelException.class, () -> ModelLoader.load(tmp.resolve("nope.gguf")));
        assertTrue(missing.getMessage().endsWith("nope.gguf: no such file or directory"), missing.getMessage());
    }

    @Test
    void theFormatComesFromTheFirstBytes(@TempDir Path tmp) throws Exception {
        Path gguf = tmp.resolve("model.bin");
        new GgufWriter().put("general.architecture", GgufWriter.string("llama")).tensor("t", DType.F32, new long[] {1}, new byte[4]).write(gguf);
        assertEquals(ModelLoader.Format.GGUF, ModelLoader.formatOf(gguf));
        Path text = Files.writeString(tmp.resolve("notes.txt"), "hello");
        assertTrue(assertThrows(ModelException.class, () -> ModelLoader.formatOf(text)).getMessage().contains("not a model Panamax reads"));
        assertEquals(ModelLoader.Format.LLAMA2C, ModelLoader.formatOf(Files.write(tmp.resolve("stories.bin"), new byte[64])));
        assertEquals(ModelLoader.Format.HUGGING_FACE, ModelLoader.formatOf(tmp));
    }

    @Test
    void aVocabularyOnlyGgufIsNotAModel(@TempDir Path tmp) throws Exception {
        Path vocab = tmp.resolve("vocab.gguf");
        new GgufWriter().put("tokenizer.ggml.model", GgufWriter.string("no_vocab")).write(vocab);
        ModelException e = assertThrows(ModelException.class, () -> ModelLoader.load(vocab));
        assertTrue(e.getMessage().contains("a vocabulary-only GGUF"), e.getMessage());
    }

    /** The runtime alone knows no architecture: the message says which artifact brings them. */
    @Test
    void withoutTheModelsArtifactTheMessageNamesIt(@TempDir Path tmp) throws Exception {
        Path gguf = tmp.resolve("model.gguf");
        new GgufWriter().put("general.architecture", GgufWriter.string("llama")).tensor("t", DType.F32, new long[] {1}, new byte[4]).write(gguf);
        ModelException e = assertThrows(ModelException.class, () -> ModelLoader.load(gguf));
        assertTrue(e.getMessage().contains("no model architectures are on the class path (architecture 'llama' asked for): add the dependency dev.panamax:panamax"),
                e.getMessage());
    }
}
