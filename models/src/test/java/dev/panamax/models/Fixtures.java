package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.json.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The reference outputs in ../shared (Hugging Face transformers, float32). */
final class Fixtures {
    private Fixtures() {}

    /**
     * How the models tests load: prompts batched from 2 tokens (so the fixtures' 12-token prompts take
     * the GEMM path) and the delta rule in chunks of 5 (so Qwen3-Next's prompt crosses two chunk
     * boundaries and ends in a partial chunk).
     */
    static final dev.panamax.runtime.LoadOptions OPTIONS = dev.panamax.runtime.LoadOptions.defaults().withPromptBatchFrom(2).withDeltaRuleChunk(5);

    static Path shared() {
        Path p = Path.of(System.getProperty("panamax.shared", "../../shared")).normalize();
        assertTrue(Files.isDirectory(p.resolve("fixtures")), "the reference fixtures must be at " + p.toAbsolutePath() + " (../shared beside the checkout)");
        return p;
    }

    static Path hf(String name) {
        return shared().resolve("fixtures/hf").resolve(name);
    }

    static Path kjv() {
        return shared().resolve("models/kjv-llama");
    }

    static Map<String, Object> json(Path file) throws IOException {
        return Json.object(Json.parse(Files.readString(file)), file.toString());
    }

    static int[] ints(Object list) {
        List<Object> l = Json.array(list, "ids");
        int[] r = new int[l.size()];
        for (int i = 0; i < r.length; i++) r[i] = ((Number) l.get(i)).intValue();
        return r;
    }

    static float[] floats(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[b.remaining() / 4];
        b.asFloatBuffer().get(f);
        return f;
    }

    static double[] doubles(Object list) {
        List<Object> l = Json.array(list, "values");
        double[] r = new double[l.size()];
        for (int i = 0; i < r.length; i++) r[i] = ((Number) l.get(i)).doubleValue();
        return r;
    }
}
