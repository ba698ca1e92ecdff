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
        near(want, got, what, 1e-4);
    }

    private static void near(float[] want, float[] got, String what, double relative) {
        assertEquals(want.length, got.length, what + ": length");
        float max = 1;
        for (float v : want) max = Math.max(max, Math.abs(v));
        double worst = 0;
        for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]));
        double tolerance = relative * max;
        double w = worst;
        assertTrue(worst <= tolerance, () -> what + ": off by " + w + " (tolerance " + tolerance + ")");
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /**
     * PyTorch's {@code F.interpolate(x, size=…, mode="bicubic", align_corners=False)} of
     * {@code torch.arange(16.).reshape(1, 1, 4, 4)} to 8×8 and of {@code torch.arange(9.).reshape(1, 1, 3, 3)}
     * to 7×5: PyTorch's own outputs, as recorded in candle's PyTorch-comparison tests of its bicubic
     * upsampling (huggingface/candle).
     */
    static final float[] TORCH_4X4_TO_8X8 = {
        -0.52734375f, -0.23046875f, 0.24609375f, 0.875f, 1.28125f, 1.9101563f, 2.3867188f, 2.6835938f,
        0.66015625f, 0.95703125f, 1.4335938f, 2.0625f, 2.46875f, 3.0976563f, 3.5742188f, 3.8710938f,
        2.5664063f, 2.8632813f, 3.3398438f, 3.96875f, 4.375f, 5.0039063f, 5.4804688f, 5.7773438f,
        5.0820313f, 5.3789063f, 5.8554688f, 6.484375f, 6.890625f, 7.5195313f, 7.9960938f, 8.292969f,
        6.7070313f, 7.0039063f, 7.4804688f, 8.109375f, 8.515625f, 9.144531f, 9.621094f, 9.917969f,
        9.222656f, 9.519531f, 9.996094f, 10.625f, 11.03125f, 11.660156f, 12.136719f, 12.433594f,
        11.128906f, 11.425781f, 11.902344f, 12.53125f, 12.9375f, 13.566406f, 14.042969f, 14.339844f,
        12.316406f, 12.613281f, 13.089844f, 13.71875f, 14.125f, 14.753906f, 15.230469f, 15.527344f};
    static final float[] TORCH_3X3_TO_7X5 = {
        -0.42398766f, -0.01198716f, 0.6720123f, 1.3560125f, 1.7680128f,
        0.22761855f, 0.6396191f, 1.3236191f, 2.0076196f, 2.41962f,
        1.329657f, 1.741657f, 2.4256563f, 3.109656f, 3.5216568f,
        2.9040003f, 3.3160002f, 4.0f, 4.684f, 5.0960007f,
        4.478343f, 4.8903427f, 5.5743427f, 6.258343f, 6.6703434f,
        5.580384f, 5.9923835f, 6.676384f, 7.360385f, 7.7723846f,
        6.2319894f, 6.643989f, 7.327989f, 8.01199f, 8.42399f};

    private static float[] arange(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = i;
        return x;
    }

    @org.junit.jupiter.api.Test
    void bicubicResizeIsPyTorchs() {
        float[] out = new float[64];
        PreLnEncoder.bicubic(arange(16), 4, 4, out, 8, 8);
        near(TORCH_4X4_TO_8X8, out, "4×4 → 8×8", 1e-6); // float32 rounding: PyTorch sums in another order
        out = new float[35];
        PreLnEncoder.bicubic(arange(9), 3, 3, out, 7, 5);
        near(TORCH_3X3_TO_7X5, out, "3×3 → 7×5", 1e-6);
        // The same size is the identity, exactly.
        float[] same = new float[16];
        PreLnEncoder.bicubic(arange(16), 4, 4, same, 4, 4);
        org.junit.jupiter.api.Assertions.assertArrayEquals(arange(16), same);
    }

    /** Positions [prefix + g·g, dim]: the prefix rows kept, each channel's g×g plane resized on its own. */
    @org.junit.jupiter.api.Test
    void positionEmbeddingsAreResizedChannelByChannel() {
        int prefix = 2, g = 4, dim = 3;
        float[] pos = new float[(prefix + g * g) * dim];
        for (int t = 0; t < prefix; t++) for (int c = 0; c < dim; c++) pos[t * dim + c] = 100 + 10 * t + c;
        for (int i = 0; i < g * g; i++) {
            pos[(prefix + i) * dim] = i;              // channel 0: arange
            pos[(prefix + i) * dim + 1] = 2 * i + 1;  // channel 1: 2·arange + 1 (the resize is affine in its input)
            pos[(prefix + i) * dim + 2] = -i;         // channel 2: −arange
        }
        assertTrue(PreLnEncoder.positionsFor(pos, prefix, g, dim, g, g) == pos, "the trained grid keeps the embeddings themselves");
        float[] out = PreLnEncoder.positionsFor(pos, prefix, g, dim, 8, 8);
        assertEquals((prefix + 64) * dim, out.length);
        for (int t = 0; t < prefix; t++) for (int c = 0; c < dim; c++) assertEquals(pos[t * dim + c], out[t * dim + c]);
        float[][] want = new float[dim][64];
        float[][] got = new float[dim][64];
        for (int i = 0; i < 64; i++) {
            want[0][i] = TORCH_4X4_TO_8X8[i];
            want[1][i] = 2 * TORCH_4X4_TO_8X8[i] + 1;
            want[2][i] = -TORCH_4X4_TO_8X8[i];
            for (int c = 0; c < dim; c++) got[c][i] = out[(prefix + i) * dim + c];
        }
        for (int c = 0; c < dim; c++) near(want[c], got[c], "channel " + c);
    }

    /**
     * Another image size than the trained one runs, as transformers does with
     * {@code interpolate_pos_encoding=True}: more tokens, the positions resized. A 40×40 image is a
     * 5×5 grid; a 32×32 image padded by 4 pixels right and below (not a whole patch) is cut to 4×4
     * patches, its result the unpadded image's, as the patch convolution drops the remainder.
     */
    @ParameterizedTest
    @ValueSource(strings = {"vit", "deit"})
    void anotherImageSizeRunsWithResizedPositions(String name) throws Exception {
        Path dir = Fixtures.shared().resolve("fixtures/vision").resolve(name);
        float[] pixels = Fixtures.floats(dir.resolve("pixel_values.f32"));
        try (Model m = ModelLoader.load(dir, Fixtures.OPTIONS)) {
            VisionModel v = (VisionModel) m;
            int prefix = name.equals("deit") ? 2 : 1;
            float[] big = new float[3 * 40 * 40];
            java.util.Random r = new java.util.Random(7);
            for (int i = 0; i < big.length; i++) big[i] = (float) r.nextGaussian();
            assertEquals((prefix + 25) * v.hiddenSize(), v.hiddenStates(big, 40, 40).length);
            float[] logits = v.classify(big, 40, 40);
            for (float x : logits) assertTrue(Float.isFinite(x));
            float[] padded = new float[3 * 36 * 36];
            for (int c = 0; c < 3; c++) for (int y = 0; y < 32; y++) System.arraycopy(pixels, (c * 32 + y) * 32, padded, (c * 36 + y) * 36, 32);
            org.junit.jupiter.api.Assertions.assertArrayEquals(v.classify(pixels, 32, 32), v.classify(padded, 36, 36));
        }
    }

    /**
     * The patch embedding as a backend gets it ({@code VisionSpec.PatchEmbedding}): base plus the
     * patches' product (then CLIP's pre-layernorm), computed here with the same kernels, is the CPU's embedding bit for bit, at
     * the trained size and at another (resized positions), for one image and for two.
     */
    @ParameterizedTest
    @ValueSource(strings = {"vit", "deit", "clip"})
    void thePatchEmbeddingSplitForABackendIsTheEmbedding(String name) throws Exception {
        Path dir = Fixtures.shared().resolve("fixtures/vision").resolve(name);
        float[] pixels = Fixtures.floats(dir.resolve("pixel_values.f32"));
        java.util.Random r = new java.util.Random(11);
        float[] big = new float[3 * 48 * 48];
        for (int i = 0; i < big.length; i++) big[i] = (float) r.nextGaussian();
        try (Model m = ModelLoader.load(dir, Fixtures.OPTIONS)) {
            var spec = ((dev.panamax.runtime.backend.VisionSpec.Source) m).visionSpec();
            var pe = spec.stages().patchEmbedding();
            dev.panamax.simd.Kernels k = dev.panamax.simd.Simd.kernels();
            for (Object[] c : new Object[][] {{java.util.List.of(pixels), 32}, {java.util.List.of(big, big), 48}}) {
                @SuppressWarnings("unchecked") java.util.List<float[]> images = (java.util.List<float[]>) c[0];
                int size = (Integer) c[1], d = spec.dim(), T = spec.stages().tokens(size, size), N = T - pe.prefix();
                float[] want = spec.stages().embed(images, size, size), base = pe.base(size, size), patches = pe.patches(images, size, size);
                assertEquals(T * d, base.length);
                int cpp = patches.length / (images.size() * N);
                float[] prod = new float[images.size() * N * d];
                Linear.applyStacked(k, pe.projection(), patches, images.size() * N, N, pe.bias(), prod); // the CPU's own product, bias included
                float[] got = new float[images.size() * T * d];
                for (int i = 0; i < images.size(); i++) {
                    for (int t = 0; t < T; t++)
                        for (int j = 0; j < d; j++) {
                            float b = base[t * d + j];
                            got[(i * T + t) * d + j] = t < pe.prefix() ? b : b + prod[(i * N + t - pe.prefix()) * d + j];
                        }
                }
                if (pe.normWeight() != null) { // CLIP's pre-layernorm, after the embedding
                    for (int row = 0; row < images.size() * T; row++) k.layernorm(got, row * d, got, row * d, pe.normWeight(), pe.normBias(), d, spec.eps());
                } else {
                    assertEquals(null, pe.normBias());
                }
                org.junit.jupiter.api.Assertions.assertArrayEquals(want, got, name + " " + size + "×" + size + ", " + images.size() + " image(s)");
            }
        }
    }

    /**
     * A batch of images in one pass gives each image the bits it gets alone, whatever its batch
     * mates: image sizes whose token counts fall in each GEMM kernel's range (17 or 18 tokens, the
     * dot-product tiles; 197, the broadcast tiles; 626, the packed GEMM), more images than one call
     * of the stacked product takes, float32 and Q8_0 weights.
     */
    @ParameterizedTest
    @ValueSource(strings = {"vit", "deit"})
    void aBatchGivesEachImageItsSoloLogits(String name) throws Exception {
        Path dir = Fixtures.shared().resolve("fixtures/vision").resolve(name);
        float[] pixels = Fixtures.floats(dir.resolve("pixel_values.f32")), want = Fixtures.floats(dir.resolve("logits.f32"));
        for (var options : new dev.panamax.runtime.LoadOptions[] {Fixtures.OPTIONS, Fixtures.OPTIONS.withQuantize(dev.panamax.runtime.tensor.DType.Q8_0)}) {
            try (Model m = ModelLoader.load(dir, options)) {
                VisionModel v = (VisionModel) m;
                java.util.Random r = new java.util.Random(11);
                for (int[] shape : new int[][] {{32, 40}, {112, 3}, {200, 2}}) {
                    int size = shape[0];
                    java.util.List<float[]> images = new java.util.ArrayList<>();
                    for (int i = 0; i < shape[1]; i++) {
                        float[] image = new float[3 * size * size];
                        for (int j = 0; j < image.length; j++) image[j] = (float) r.nextGaussian();
                        images.add(image);
                    }
                    if (size == 32) images.set(7, pixels);
                    java.util.List<float[]> batch = v.classify(images, size, size);
                    assertEquals(images.size(), batch.size());
                    for (int i = 0; i < images.size(); i++) {
                        org.junit.jupiter.api.Assertions.assertArrayEquals(v.classify(images.get(i), size, size), batch.get(i),
                                name + " " + m.parametersByType().keySet() + ": image " + i + " of " + images.size() + " at " + size + "×" + size);
                    }
                    if (size == 32 && options == Fixtures.OPTIONS) near(want, batch.get(7), name + " logits in a batch");
                }
                ModelException e = assertThrows(ModelException.class, () -> v.classify(java.util.List.of(pixels, new float[5]), 32, 32));
                assertTrue(e.getMessage().contains("5 pixel values"), e.getMessage());
            }
        }
    }

    /** Quantized to Q8_0 at load ({@code --quantize q8_0}): transformers' logits within 1e-2 × max(1, max |ref|), the same top-1. */
    @ParameterizedTest
    @ValueSource(strings = {"vit", "deit"})
    void q8_0AtLoadStaysNearTransformers(String name) throws Exception {
        Path dir = Fixtures.shared().resolve("fixtures/vision").resolve(name);
        float[] pixels = Fixtures.floats(dir.resolve("pixel_values.f32")), want = Fixtures.floats(dir.resolve("logits.f32"));
        var options = Fixtures.OPTIONS.withQuantize(dev.panamax.runtime.tensor.DType.Q8_0);
        try (Model m = ModelLoader.load(dir, options)) {
            VisionModel v = (VisionModel) m;
            assertTrue(m.parametersByType().containsKey("Q8_0"), m.parametersByType().toString());
            float[] logits = v.classify(pixels, 32, 32);
            near(want, logits, name + " Q8_0 logits", 1e-2);
            assertEquals(argmax(want), argmax(logits), name + " Q8_0 top-1");
            float worst = 0;
            for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - logits[i]));
            assertTrue(worst > 0, "the Q8_0 run differs from the float one somewhere: it was quantized");
        }
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
            ModelException e = assertThrows(ModelException.class, () -> v.classify(new float[3 * 4 * 4], 4, 4));
            assertTrue(e.getMessage().contains("4×4") && e.getMessage().contains("8×8 patch"), e.getMessage());
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
