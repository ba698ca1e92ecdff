package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.Vision;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Vision}, the image API: classify a PNG (ViT), choose among texts (CLIP), refuse a text model. */
class VisionApiTest {

    @Test
    void classifiesImagesAndChoosesAmongTexts() throws Exception {
        Path vit = Fixtures.shared().resolve("fixtures/vision/vit"), clip = vit.resolveSibling("clip");
        try (Vision v = Vision.load(vit)) {
            List<Vision.Label> top = v.classify(vit.resolve("image.png"), 3);
            assertEquals(3, top.size());
            assertEquals("class_" + ((Number) Fixtures.json(vit.resolve("expected.json")).get("top1")).intValue(), top.get(0).label());
            assertTrue(top.get(0).probability() >= top.get(1).probability() && top.get(1).probability() >= top.get(2).probability(), top.toString());
            assertThrows(ModelException.class, () -> v.embedText("a cat"));
            // Several files, 16 a pass: each file's answer the one it gets alone, in the files' order.
            List<Path> files = java.util.Collections.nCopies(18, vit.resolve("image.png"));
            List<List<Vision.Label>> all = v.classify(files, 3);
            assertEquals(18, all.size());
            for (List<Vision.Label> labels : all) assertEquals(top, labels);
        }
        try (Vision c = Vision.load(clip)) {
            @SuppressWarnings("unchecked")
            List<String> texts = (List<String>) (List<?>) Fixtures.json(clip.resolve("expected.json")).get("texts");
            float[] perImage = Fixtures.floats(clip.resolve("logits_per_image.f32"));
            int best = 0;
            for (int i = 1; i < perImage.length; i++) if (perImage[i] > perImage[best]) best = i;
            List<Vision.Label> ranked = c.classify(clip.resolve("image.png"), texts);
            assertEquals(texts.get(best), ranked.get(0).label());
            double sum = 0;
            for (Vision.Label l : ranked) sum += l.probability();
            assertEquals(1, sum, 1e-9);
            float[] e = c.embedImage(clip.resolve("image.png"));
            assertEquals(32, e.length);
            List<float[]> es = c.embedImages(List.of(clip.resolve("image.png"), clip.resolve("image.png")));
            assertEquals(2, es.size());
            for (float[] x : es) org.junit.jupiter.api.Assertions.assertArrayEquals(e, x);
        }
        ModelException e = assertThrows(ModelException.class, () -> Vision.load(Fixtures.kjv()));
        assertTrue(e.getMessage().contains("not an image model"), e.getMessage());
    }
}
