package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.format.Llama2c;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.ModelSource;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.runtime.tokenizer.SentencePiece;
import dev.panamax.simd.Simd;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * llama2.c checkpoints: kjv-llama written in run.c's layout (by the writer below, which follows
 * run.c's memory_map_weights order) must load and match transformers' logits and ids.
 */
class Llama2cTest {

    @Test
    void kjvLlamaAsALlama2cCheckpointMatchesTransformers(@TempDir Path tmp) throws Exception {
        Path bin = tmp.resolve("kjv.bin");
        ModelSource hf = ModelLoader.readHuggingFace(Fixtures.kjv());
        try (var w = hf.weights()) {
            Llama.Config c = Llama.Config.fromHuggingFace(hf.config(), "llama");
            writeCheckpoint(bin, c, w.all());
            writeTokenizer(tmp.resolve("tokenizer.bin"), (SentencePiece) hf.tokenizer());
        }
        EquivalenceTest.check(Fixtures.kjv(), bin);
        try (LanguageModel m = ModelLoader.loadLanguageModel(bin, Fixtures.OPTIONS)) {
            // The prompt through tokenizer.bin, as transformers tokenised it.
            assertArrayEquals(new int[] {1, 1043, 261, 1791, 1243}, m.tokenizer().encode("In the beginning", true));
        }
    }

    @Test
    void aTruncatedCheckpointIsAClearError(@TempDir Path tmp) throws Exception {
        Path bin = tmp.resolve("cut.bin");
        ByteBuffer b = ByteBuffer.allocate(28 + 400).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(256).putInt(688).putInt(6).putInt(8).putInt(4).putInt(2048).putInt(512);
        Files.write(bin, b.array());
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.panamax.runtime.ModelException.class, () -> ModelLoader.load(bin, Fixtures.OPTIONS));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    static void writeCheckpoint(Path file, Llama.Config c, Map<String, Tensor> t) throws IOException {
        var k = Simd.kernels();
        try (OutputStream os = new java.io.BufferedOutputStream(Files.newOutputStream(file))) {
            ByteBuffer h = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN);
            h.putInt(c.dim()).putInt(c.ffnDim()).putInt(c.layers()).putInt(c.heads()).putInt(c.kvHeads()).putInt(-c.vocab()).putInt(c.context());
            os.write(h.array());
            floats(os, t.get("model.embed_tokens.weight").toFloats(k));
            String[] order = {"input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                    "post_attention_layernorm", "mlp.gate_proj", "mlp.down_proj", "mlp.up_proj"};
            for (String part : order) {
                for (int l = 0; l < c.layers(); l++) {
                    float[] v = t.get("model.layers." + l + "." + part + ".weight").toFloats(k);
                    if (part.equals("self_attn.q_proj")) v = GgufExport.permuteForInterleavedRope(v, c.heads(), c.headDim(), c.dim());
                    if (part.equals("self_attn.k_proj")) v = GgufExport.permuteForInterleavedRope(v, c.kvHeads(), c.headDim(), c.dim());
                    floats(os, v);
                }
            }
            floats(os, t.get("model.norm.weight").toFloats(k));
            floats(os, new float[c.context() * c.headDim()]); // freq_cis_real and _imag (unused by readers that recompute them)
            floats(os, t.get("lm_head.weight").toFloats(k));
        }
    }

    static void floats(OutputStream os, float[] v) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        os.write(b.array());
    }

    static void writeTokenizer(Path file, SentencePiece tok) throws IOException {
        try (DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(Files.newOutputStream(file)))) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            out.write(b.putInt(0, 64).array());
            for (int i = 0; i < tok.vocabSize(); i++) {
                byte[] s = tok.piece(i).replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
                ByteBuffer e = ByteBuffer.allocate(8 + s.length).order(ByteOrder.LITTLE_ENDIAN);
                e.putFloat(tok.score(i)).putInt(s.length).put(s);
                out.write(e.array());
            }
        }
    }
}
