package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.quant.BlockFormat;
import dev.panamax.quant.QuantizedMatvec;
import dev.panamax.runtime.LoadOptions;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.tensor.DType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The decode-layout cache ({@code LoadOptions.layoutCache}): the first start writes the interleaved
 * copies, a later one maps them, and both compute exactly what a start without a cache computes; a
 * damaged, foreign or outdated cache file is a miss that is rewritten, never garbage. On the scalar
 * kernels, which have no interleaved layout, only 16-bit matrices widened to F32 are cached.
 */
class LayoutCacheTest {

    record Run(String note, float[] logits) {}

    private static Run run(Path model, LoadOptions o, int[] ids) {
        try (LanguageModel m = ModelLoader.loadLanguageModel(model, o)) {
            m.prepare();
            String note = m.preparedNote();
            LanguageModel.Session s = m.newSession();
            float[] prompt = s.prefill(ids, true);
            float[] out = java.util.Arrays.copyOf(prompt, prompt.length + 3 * m.vocabSize());
            for (int t = 0; t < 3; t++) System.arraycopy(s.forward(ids[t]), 0, out, prompt.length + t * m.vocabSize(), m.vocabSize());
            return new Run(note, out);
        }
    }

    private static List<Path> cacheFiles(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return List.of();
        try (var s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    @Test
    void aLaterStartMapsTheCopiesAndComputesTheSameBits(@TempDir Path tmp) throws Exception {
        Path gguf = tmp.resolve("kjv-q4_0.gguf");
        GgufExport.convert(Fixtures.kjv(), gguf, QuantPlan.parse("q4_0"));
        Map<String, Object> expected = Fixtures.json(Fixtures.kjv().resolve("expected.json"));
        int[] ids = Fixtures.ints(expected.get("greedy_ids"));
        Path cache = tmp.resolve("cache");
        LoadOptions cached = Fixtures.OPTIONS.withLayoutCache(cache);

        float[] plain = run(gguf, Fixtures.OPTIONS, ids).logits();
        Run first = run(gguf, cached, ids);
        if (!QuantizedMatvec.interleaves(BlockFormat.Q4_0, 64, 32)) { // the scalar kernels read Q4_0 in the file's layout
            assertArrayEquals(plain, first.logits());
            for (Path f : cacheFiles(cache)) { // only the F16 matrices the export kept (widened) are cached
                String header = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
                assertTrue(!header.contains(" Q4_0x64 ") && header.indexOf("\ncopy ") > 0 && header.indexOf(" F32 ", header.indexOf("\ncopy ")) > 0, f.toString());
            }
            return;
        }
        assertTrue(first.note().startsWith("decode layout being written to "), first.note());
        List<Path> files = cacheFiles(cache);
        assertEquals(1, files.size(), files.toString());
        Path file = files.get(0);
        assertTrue(first.note().contains(file.toString()), first.note());
        Run second = run(gguf, cached, ids);
        assertEquals("decode layout mapped from " + file, second.note());
        assertArrayEquals(plain, first.logits(), "the first start, with the cache written");
        assertArrayEquals(plain, second.logits(), "a later start, the copies mapped");

        // Damaged files: each a miss, rewritten, with the same bits.
        byte[] good = Files.readAllBytes(file);
        String head = new String(good, 0, Math.min(good.length, 1 << 16), StandardCharsets.ISO_8859_1);
        int copyLine = head.indexOf(" Q4_0x64 ");
        assertTrue(copyLine > 0, "the header names the copies' layout");
        List<byte[]> damaged = List.of(
                java.util.Arrays.copyOf(good, good.length / 2),                                   // truncated
                replaced(good, head.indexOf("version "), "version 9"),                              // another layout version
                replaced(good, copyLine, " Q8_0x16 "),                                             // a copy that claims another layout
                replaced(good, 0, "PMXLAYOX"));                                                    // not a cache file
        for (byte[] bad : damaged) {
            Files.write(file, bad);
            Run r = run(gguf, cached, ids);
            assertTrue(r.note().startsWith("decode layout being written to "), r.note());
            assertArrayEquals(plain, r.logits());
            assertArrayEquals(good, Files.readAllBytes(file), "rewritten whole");
        }

        // Options that change the matrices (quantized at load) are a cache of their own.
        Path f32 = tmp.resolve("kjv-f32.gguf");
        GgufExport.convert(Fixtures.kjv(), f32, DType.F32);
        Run q8 = run(f32, cached.withQuantize(DType.Q8_0), ids);
        assertTrue(q8.note().startsWith("decode layout being written to "), q8.note());
        assertEquals(2, cacheFiles(cache).size());
        assertArrayEquals(run(f32, Fixtures.OPTIONS.withQuantize(DType.Q8_0), ids).logits(), run(f32, cached.withQuantize(DType.Q8_0), ids).logits());

        // A changed model file: a miss, and its old cache file is removed.
        Files.setLastModifiedTime(gguf, FileTime.fromMillis(Files.getLastModifiedTime(gguf).toMillis() + 5_000));
        Run changed = run(gguf, cached, ids);
        assertTrue(changed.note().startsWith("decode layout being written to "), changed.note());
        assertTrue(!Files.exists(file), "the outdated cache file is gone");
        assertEquals(2, cacheFiles(cache).size(), cacheFiles(cache).toString());
        assertArrayEquals(plain, changed.logits());

        // A cache "folder" that is a file: said, nothing written, the same bits.
        Path notAFolder = Files.writeString(tmp.resolve("not-a-folder"), "x");
        Run refused = run(gguf, Fixtures.OPTIONS.withLayoutCache(notAFolder), ids);
        assertEquals("decode layout not cached in " + notAFolder + ": it is a file, not a folder", refused.note());
        assertArrayEquals(plain, refused.logits());
        assertEquals("x", Files.readString(notAFolder));
    }

    /**
     * A small 16-bit model's F32 widening is a decode copy too: written by the first start, mapped by
     * a later one (on either kernel path: widening does not depend on it), with the bits of a start
     * without a cache; a copy line that lies about its kind is a miss; with widening off nothing is cached.
     */
    @Test
    void halfFloatMatricesAreCachedWidened(@TempDir Path tmp) throws Exception {
        Path f16 = tmp.resolve("kjv-f16.gguf");
        GgufExport.convert(Fixtures.kjv(), f16, DType.F16);
        int[] ids = Fixtures.ints(Fixtures.json(Fixtures.kjv().resolve("expected.json")).get("greedy_ids"));
        Path cache = tmp.resolve("cache");
        LoadOptions cached = Fixtures.OPTIONS.withLayoutCache(cache);

        float[] plain = run(f16, Fixtures.OPTIONS, ids).logits();
        try (LanguageModel m = ModelLoader.loadLanguageModel(f16, Fixtures.OPTIONS)) {
            Map<String, Long> byType = m.parametersByType();
            assertTrue(byType.getOrDefault("F32", 0L) > byType.getOrDefault("F16", 0L), "the matrices compute in F32: " + byType);
        }
        Run first = run(f16, cached, ids);
        assertTrue(first.note().startsWith("decode layout being written to "), first.note());
        List<Path> files = cacheFiles(cache);
        assertEquals(1, files.size(), files.toString());
        Path file = files.get(0);
        Run second = run(f16, cached, ids);
        assertEquals("decode layout mapped from " + file, second.note());
        assertArrayEquals(plain, first.logits(), "the first start, with the cache written");
        assertArrayEquals(plain, second.logits(), "a later start, the widened copies mapped");

        byte[] good = Files.readAllBytes(file);
        String head = new String(good, 0, Math.min(good.length, 1 << 16), StandardCharsets.ISO_8859_1);
        int copyLine = head.indexOf(" F32 ", head.indexOf("\ncopy "));
        assertTrue(head.indexOf("\ncopy ") > 0 && copyLine > 0, "the header names the widened copies");
        Files.write(file, replaced(good, copyLine, " Q8_0x16 "));
        Run lied = run(f16, cached, ids);
        assertTrue(lied.note().startsWith("decode layout being written to "), lied.note());
        assertArrayEquals(plain, lied.logits());
        assertArrayEquals(good, Files.readAllBytes(file), "rewritten whole");

        Path none = tmp.resolve("none");
        Run asStored = run(f16, Fixtures.OPTIONS.withWidenHalfFloatsUpTo(0).withLayoutCache(none), ids);
        assertNull(asStored.note());
        assertEquals(List.of(), cacheFiles(none));
        assertEquals(plain.length, asStored.logits().length);
    }

    private static byte[] replaced(byte[] b, int at, String with) {
        byte[] out = b.clone();
        byte[] w = with.getBytes(StandardCharsets.ISO_8859_1);
        System.arraycopy(w, 0, out, at, w.length);
        return out;
    }
}
