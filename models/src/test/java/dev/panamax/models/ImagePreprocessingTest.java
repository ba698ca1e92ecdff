package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.image.ImageProcessor;
import dev.panamax.runtime.image.RgbImage;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.VisionModel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * From the PNG file to the model's input and on to its answer, against transformers' image
 * processors (Pillow's 8-bit resampling): the fixtures' {@code image.png} through
 * {@link RgbImage#read} and {@link ImageProcessor} gives {@code pixel_values.f32} within 0.02 (the
 * README's bound: Pillow rounds in 8-bit fixed point), and the classifiers' logits from it are
 * within 1e-2 of transformers' with the same top-1 label.
 */
class ImagePreprocessingTest {

    static Path vision(String name) {
        return Fixtures.shared().resolve("fixtures/vision").resolve(name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"vit", "deit", "clip"})
    void thePngBecomesTheProcessorsPixels(String name) throws Exception {
        Path dir = vision(name);
        ImageProcessor p = ImageProcessor.read(dir);
        RgbImage image = RgbImage.read(dir.resolve("image.png"));
        assertEquals(48, image.width());
        assertEquals(40, image.height());
        float[] want = Fixtures.floats(dir.resolve("pixel_values.f32")), got = p.apply(image);
        assertEquals(want.length, got.length, name + ": [3, H, W] sizes");
        assertEquals(32, p.outputHeight() < 0 ? 32 : p.outputHeight());
        double worst = 0;
        for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]));
        double w = worst;
        assertTrue(worst <= 0.02, () -> name + ": pixel values off by " + w);
    }

    @ParameterizedTest
    @ValueSource(strings = {"vit", "deit"})
    void classifiersGiveTransformersAnswerFromThePng(String name) throws Exception {
        Path dir = vision(name);
        ImageProcessor p = ImageProcessor.read(dir);
        float[] pixels = p.apply(RgbImage.read(dir.resolve("image.png")));
        try (Model m = ModelLoader.load(dir, Fixtures.OPTIONS)) {
            VisionModel v = (VisionModel) m;
            float[] logits = v.classify(pixels, p.outputHeight(), p.outputWidth()), want = Fixtures.floats(dir.resolve("logits.f32"));
            float max = 1;
            for (float x : want) max = Math.max(max, Math.abs(x));
            for (int i = 0; i < want.length; i++) assertEquals(want[i], logits[i], 1e-2 * max, name + " logit " + i);
            int best = 0;
            for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
            assertEquals(((Number) Fixtures.json(dir.resolve("expected.json")).get("top1")).intValue(), best, name + " top-1");
        }
    }

    @Test
    void badImagesAreNamed(@TempDir Path tmp) throws Exception {
        ModelException e = assertThrows(ModelException.class, () -> RgbImage.read(tmp.resolve("missing.png")));
        assertTrue(e.getMessage().contains("missing.png"), e.getMessage());
        Path junk = Files.write(tmp.resolve("junk.png"), new byte[] {1, 2, 3, 4});
        e = assertThrows(ModelException.class, () -> RgbImage.read(junk));
        assertTrue(e.getMessage().contains("junk.png"), e.getMessage());
        e = assertThrows(ModelException.class, () -> ImageProcessor.read(tmp));
        assertTrue(e.getMessage().contains("preprocessor_config.json"), e.getMessage());
    }
}
