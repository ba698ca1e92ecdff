package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The image commands on the vision fixtures: {@code classify} (ViT from pixels and from the PNG,
 * CLIP zero-shot), {@code forward --pixels}, {@code embed} for CLIP texts and images, and
 * {@code search --images} (text-to-image with CLIP).
 */
class VisionCommandsTest {

    @Test
    void printsTheTopLabelsBestFirstWithTheirProbabilities() throws Exception {
        Path vit = Path.of(System.getProperty("panamax.shared", "../../shared")).resolve("fixtures/vision/vit");
        GenerateCommandTest.Result r = GenerateCommandTest.run("", "classify", vit.toString(), "--pixels",
                vit.resolve("pixel_values.f32").toString(), "--top", "3");
        assertEquals(0, r.status(), r.err());
        List<String> lines = r.out().strip().lines().toList();
        assertEquals(3, lines.size(), r.out());
        // transformers' logits, as a softmax: the top label and its probability.
        float[] logits = new float[10];
        ByteBuffer.wrap(Files.readAllBytes(vit.resolve("logits.f32"))).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(logits);
        int best = 0;
        double sum = 0;
        for (int i = 0; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        for (float l : logits) sum += Math.exp(l - logits[best]);
        String[] top = lines.get(0).split(" ");
        assertEquals("class_" + best, top[0]);
        assertEquals(1 / sum, Double.parseDouble(top[1]), 1e-4);
        double previous = 2;
        for (String line : lines) {
            double p = Double.parseDouble(line.split(" ")[1]);
            assertTrue(p <= previous, r.out());
            previous = p;
        }

        // From the PNG itself (decoded and preprocessed here): the same top label.
        GenerateCommandTest.Result png = GenerateCommandTest.run("", "classify", vit.toString(), vit.resolve("image.png").toString(),
                vit.resolve("image.png").toString(), "--top", "1");
        assertEquals(0, png.status(), png.err());
        List<String> pl = png.out().strip().lines().toList();
        assertEquals(4, pl.size(), png.out());
        assertEquals("== " + vit.resolve("image.png"), pl.get(0));
        assertEquals("class_" + best, pl.get(1).split(" ")[0]);
        assertEquals(pl.get(1), pl.get(3), "the same image twice, the same answer");

        // forward writes the logits: from the pixel tensor, transformers' own within 1e-4.
        Path out = Files.createTempFile("vit-logits", ".f32");
        GenerateCommandTest.Result f = GenerateCommandTest.run("", "forward", vit.toString(), "--pixels", vit.resolve("pixel_values.f32").toString(),
                "--out", out.toString());
        assertEquals(0, f.status(), f.err());
        float[] written = new float[10];
        ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(written);
        for (int i = 0; i < 10; i++) assertEquals(logits[i], written[i], 1e-4, "logit " + i);
        // A 40×24 tensor (another size than the model's 32×32): --pixel-size names it, the run takes it
        // (positions resized); without --pixel-size its length is no square, and the message says so.
        Path wide = Files.createTempFile("vit-pixels", ".f32");
        ByteBuffer px = ByteBuffer.allocate(4 * 3 * 40 * 24).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 3 * 40 * 24; i++) px.putFloat((float) Math.sin(i));
        Files.write(wide, px.array());
        f = GenerateCommandTest.run("", "forward", vit.toString(), "--pixels", wide.toString(), "--pixel-size", "40x24", "--out", out.toString());
        assertEquals(0, f.status(), f.err());
        assertEquals(40, Files.size(out));
        f = GenerateCommandTest.run("", "classify", vit.toString(), "--pixels", wide.toString());
        assertEquals(1, f.status(), f.err());
        assertTrue(f.err().contains("not a square") && f.err().contains("--pixel-size"), f.err());
        f = GenerateCommandTest.run("", "classify", vit.toString(), "--pixels", wide.toString(), "--pixel-size", "40x25");
        assertEquals(1, f.status(), f.err());
        assertTrue(f.err().contains("[3, 40, 25]"), f.err());
        Files.delete(wide);
        f = GenerateCommandTest.run("", "forward", vit.toString(), "--ids", "1,2", "--out", out.toString());
        assertEquals(1, f.status(), f.err());
        assertTrue(f.err().contains("image model"), f.err());
        Files.delete(out);

        // CLIP zero-shot: two of the fixture's texts as labels (template "{label}"), ranked as transformers' logits_per_image rank them.
        Path clip = vit.resolveSibling("clip");
        float[] perImage = new float[3]; // transformers' logits of the image over the fixture's three texts
        ByteBuffer.wrap(Files.readAllBytes(clip.resolve("logits_per_image.f32"))).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(perImage);
        String[] texts = {"a photo of a cat", "A picture of the sea at night!"}; // the third has a comma
        GenerateCommandTest.Result z = GenerateCommandTest.run("", "classify", clip.toString(), "--pixels", clip.resolve("pixel_values.f32").toString(),
                "--labels", String.join(",", texts), "--template", "{label}", "--top", "1");
        assertEquals(0, z.status(), z.err());
        int bestText = perImage[1] > perImage[0] ? 1 : 0;
        assertEquals(texts[bestText], z.out().strip().substring(0, z.out().strip().lastIndexOf(' ')));
        // All three texts, the third with a comma, from a labels file: transformers' ranking of the three.
        Path labelsFile = Files.writeString(Files.createTempFile("labels", ".txt"), String.join("\n", texts[0], texts[1], "two green squares, 3 red circles"));
        z = GenerateCommandTest.run("", "classify", clip.toString(), "--pixels", clip.resolve("pixel_values.f32").toString(),
                "--labels-file", labelsFile.toString(), "--template", "{label}", "--top", "3");
        assertEquals(0, z.status(), z.err());
        String[] all = {texts[0], texts[1], "two green squares, 3 red circles"};
        Integer[] order = {0, 1, 2};
        java.util.Arrays.sort(order, (x, y) -> Float.compare(perImage[y], perImage[x]));
        List<String> ranked = z.out().strip().lines().map(l -> l.substring(0, l.lastIndexOf(' '))).toList();
        assertEquals(List.of(all[order[0]], all[order[1]], all[order[2]]), ranked, z.out());
        Files.delete(labelsFile);
        z = GenerateCommandTest.run("", "classify", clip.toString(), "--pixels", clip.resolve("pixel_values.f32").toString());
        assertEquals(2, z.status(), z.err());
        assertTrue(z.err().contains("--labels"), z.err());

        // embed: CLIP's text and image embeddings in one space, written as float32 [N, 32].
        Path texts2 = Files.createTempFile("clip-text", ".f32"), images2 = Files.createTempFile("clip-image", ".f32");
        GenerateCommandTest.Result e = GenerateCommandTest.run("", "embed", clip.toString(), texts[0], texts[1], "--out", texts2.toString());
        assertEquals(0, e.status(), e.err());
        e = GenerateCommandTest.run("", "embed", clip.toString(), "--image", clip.resolve("image.png").toString(), "--out", images2.toString());
        assertEquals(0, e.status(), e.err());
        float[] te = new float[64], ie = new float[32], want = new float[64];
        ByteBuffer.wrap(Files.readAllBytes(texts2)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(te);
        ByteBuffer.wrap(Files.readAllBytes(images2)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(ie);
        ByteBuffer.wrap(Files.readAllBytes(clip.resolve("text_embeds.f32"))).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(want);
        for (int i = 0; i < 64; i++) assertEquals(want[i], te[i], 1e-4, "text embedding value " + i);
        double norm = 0;
        for (float x : ie) norm += x * x;
        assertEquals(1, norm, 1e-4, "the image embedding has unit length");
        Files.delete(texts2);
        Files.delete(images2);

        // search: a folder of two images, a text query; float precision, so the scores are the embeddings' dot products.
        Path folder = Files.createTempDirectory("clip-images");
        Files.copy(clip.resolve("image.png"), folder.resolve("a.png"));
        java.awt.image.BufferedImage blue = new java.awt.image.BufferedImage(40, 40, java.awt.image.BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 40; y++) for (int x = 0; x < 40; x++) blue.setRGB(x, y, 0x2040c0);
        javax.imageio.ImageIO.write(blue, "png", folder.resolve("b.png").toFile());
        GenerateCommandTest.Result s = GenerateCommandTest.run("", "search", clip.toString(), "--images", folder.toString(), "--query", texts[0],
                "--precision", "float", "-k", "2");
        assertEquals(0, s.status(), s.err());
        List<String> hits = s.out().strip().lines().toList();
        assertEquals(3, hits.size(), s.out());
        assertEquals("query: " + texts[0], hits.get(0));
        double first = Double.parseDouble(hits.get(1).trim().split("\\s+")[1]), second = Double.parseDouble(hits.get(2).trim().split("\\s+")[1]);
        assertTrue(first >= second, s.out());
        // The a.png hit's score is the text embedding (te, row 0) against the image embedding (ie) from embed --image.
        double dot = 0;
        for (int i = 0; i < 32; i++) dot += te[i] * ie[i];
        String aLine = hits.get(1).endsWith("a.png") ? hits.get(1) : hits.get(2);
        assertEquals(dot, Double.parseDouble(aLine.trim().split("\\s+")[1]), 1e-3, s.out());
        try (var files = Files.list(folder)) {
            for (Path file : files.toList()) Files.delete(file);
        }
        Files.delete(folder);

        r = GenerateCommandTest.run("", "classify", vit.toString(), "--pixels", vit.resolve("config.json").toString());
        assertEquals(1, r.status(), r.err());
        assertTrue(r.err().contains("config.json") && r.err().contains("[3, 32, 32] float32 tensor, is 12288 bytes"), r.err());
    }
}
