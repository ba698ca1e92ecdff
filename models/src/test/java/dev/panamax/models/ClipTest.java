package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.image.ImageProcessor;
import dev.panamax.runtime.image.RgbImage;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.VisionModel;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * CLIP against transformers (../shared/fixtures/vision/clip): the tokenizer's ids for the three
 * texts, the normalised text and image embeddings and the image's logits over the texts within
 * 1e-4 from the processor's pixels; from the PNG, the same ranking of the texts.
 */
class ClipTest {

    private static void near(float[] want, float[] got, double tolerance, String what) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) {
            int index = i;
            assertTrue(Math.abs(want[i] - got[i]) <= tolerance, () -> what + "[" + index + "]: " + got[index] + " against " + want[index]);
        }
    }

    @Test
    void tokensEmbeddingsAndLogitsMatchTransformers() throws Exception {
        Path dir = Fixtures.shared().resolve("fixtures/vision/clip");
        var expected = Fixtures.json(dir.resolve("expected.json"));
        @SuppressWarnings("unchecked")
        List<String> texts = (List<String>) (List<?>) expected.get("texts");
        @SuppressWarnings("unchecked")
        List<Object> ids = (List<Object>) expected.get("input_ids");
        float[] pixels = Fixtures.floats(dir.resolve("pixel_values.f32")), textWant = Fixtures.floats(dir.resolve("text_embeds.f32"));
        float[] logitsWant = Fixtures.floats(dir.resolve("logits_per_image.f32"));
        try (Model m = ModelLoader.load(dir, Fixtures.OPTIONS)) {
            VisionModel clip = (VisionModel) m;
            float[] image = clip.embedImage(pixels, 32, 32);
            near(Fixtures.floats(dir.resolve("image_embeds.f32")), image, 1e-4, "image embedding");
            // Another size (48×48, a 6×6 grid for the trained 4×4): positions resized; still a unit vector.
            float[] bigger = new float[3 * 48 * 48];
            for (int i = 0; i < bigger.length; i++) bigger[i] = (float) Math.cos(0.37 * i);
            float[] e48 = clip.embedImage(bigger, 48, 48);
            double norm = 0;
            for (float v : e48) norm += v * v;
            assertEquals(image.length, e48.length);
            assertEquals(1.0, Math.sqrt(norm), 1e-5);
            assertEquals((1 + 36) * 64, clip.hiddenStates(bigger, 48, 48).length, "the class token and 36 patches");
            float[] logits = new float[texts.size()];
            for (int i = 0; i < texts.size(); i++) {
                assertArrayEquals(Fixtures.ints(ids.get(i)), clip.tokenizer().encode(texts.get(i), true), "ids of '" + texts.get(i) + "'");
                float[] t = clip.embedText(texts.get(i));
                near(java.util.Arrays.copyOfRange(textWant, 32 * i, 32 * i + 32), t, 1e-4, "text embedding " + i);
                float dot = 0;
                for (int j = 0; j < 32; j++) dot += image[j] * t[j];
                logits[i] = clip.logitScale() * dot;
            }
            float max = 1;
            for (float f : logitsWant) max = Math.max(max, Math.abs(f));
            near(logitsWant, logits, 1e-4 * max, "logits per image");

            // From the PNG through CLIP's processor: the texts in the same order.
            ImageProcessor p = ImageProcessor.read(dir);
            float[] fromPng = clip.embedImage(p.apply(RgbImage.read(dir.resolve("image.png"))), 32, 32);
            near(image, fromPng, 2e-2, "image embedding from the PNG");
            assertThrows(ModelException.class, () -> clip.classify(pixels, 32, 32));

            // A batch in one pass: each image's embedding bit for bit its own (17 tokens: the
            // dot-product tiles, over two calls of the stacked product; 197: the broadcast tiles).
            java.util.Random r = new java.util.Random(5);
            for (int[] shape : new int[][] {{32, 33}, {112, 2}}) {
                int size = shape[0];
                List<float[]> images = new java.util.ArrayList<>();
                for (int i = 0; i < shape[1]; i++) {
                    float[] x = new float[3 * size * size];
                    for (int j = 0; j < x.length; j++) x[j] = (float) r.nextGaussian();
                    images.add(x);
                }
                if (size == 32) images.set(3, pixels);
                List<float[]> batch = clip.embedImages(images, size, size);
                for (int i = 0; i < images.size(); i++) assertArrayEquals(clip.embedImage(images.get(i), size, size), batch.get(i), "image " + i + " at " + size);
                if (size == 32) assertArrayEquals(image, batch.get(3));
            }
        }
    }
}
