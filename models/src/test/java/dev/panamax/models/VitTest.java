package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.VisionModel;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * ViT and DeiT against transformers (../shared/fixtures/vision, README there): from the processor's
 * pixel values, the last hidden state and the logits within 1e-4 × max(1, max |reference|), the same
 * top-1 label; a wrong-sized image is refused with its size named.
 */
class VitTest {

    private static void near(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what + ": length");
        float max = 1;
        for (float v : want) max = Math.max(max, Math.abs(v));
        double worst = 0;
        for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]));
        double tolerance = 1e-4 * max;
        double w = worst;
        assertTrue(worst <= tolerance, () -> what + ": off by " + w + " (tolerance " + tolerance + ")");
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    @ParameterizedTest
    @ValueSource(strings = {"vit", "deit"})
    void logitsAndHiddenStatesMatchTransformers(String name) throws Exception {
        Path dir = Fixtures.shared().resolve("fixtures/vision").resolve(name);
        var expected = Fixtures.json(dir.resolve("expected.json"));
        float[] pixels = Fixtures.floats(dir.resolve("pixel_values.f32"));
        try (Model m = ModelLoader.load(dir, Fixtures.OPTIONS)) {
            VisionModel v = (VisionModel) m;
            assertEquals(name, v.architecture());
            assertEquals(32, v.imageSize());
            int size = v.imageSize();
            float[] logits = v.classify(pixels, size, size);
            near(Fixtures.floats(dir.resolve("logits.f32")), logits, name + " logits");
            near(Fixtures.floats(dir.resolve("hidden.f32")), v.hiddenStates(pixels, size, size), name + " hidden states");
            assertEquals(((Number) expected.get("top1")).intValue(), argmax(logits), name + " top-1");
            assertEquals(logits.length, v.labels().size());
            ModelException e = assertThrows(ModelException.class, () -> v.classify(new float[3 * 40 * 40], 40, 40));
            assertTrue(e.getMessage().contains("40×40") && e.getMessage().contains("32×32"), e.getMessage());
            assertThrows(ModelException.class, () -> v.classify(new float[10], size, size));
        }
        // Through the text API: described, and a clear refusal of text.
        try (dev.panamax.runtime.Panamax p = dev.panamax.runtime.Panamax.load(dir)) {
            assertEquals("vision", p.info().kind());
            assertTrue(p.info().parameters() > 0);
            ModelException e = assertThrows(ModelException.class, () -> p.generate("hello", dev.panamax.runtime.generate.GenerationOptions.defaults(), t -> {}));
            assertTrue(e.getMessage().contains("takes images"), e.getMessage());
            assertThrows(ModelException.class, () -> p.embedIds(java.util.List.of(new int[] {1}), dev.panamax.runtime.EmbeddingOptions.defaults()));
        }
    }
}
