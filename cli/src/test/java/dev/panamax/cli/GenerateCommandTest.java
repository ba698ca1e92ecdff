package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The model commands, run in-process as a person would type them. */
class GenerateCommandTest {

    record Result(int status, String out, String err) {}

    static Result run(String stdin, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int status = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static Path kjv() {
        return Path.of(System.getProperty("panamax.shared", "../../shared")).resolve("models/kjv-llama");
    }

    @Test
    void generateOnTheEmbeddedModelStreamsTextAndPrintsIds() {
        Result r = run("", "generate", "In the beginning", "--temperature", "0", "--max-tokens", "12", "--print-ids");
        assertEquals(0, r.status(), r.err());
        String[] lines = r.out().split("\n");
        assertEquals("In the beginning, and the third day of the month, that they should", lines[0]);
        // transformers' greedy ids for this prompt (../shared/models/kjv-llama/expected.json), BOS first.
        assertEquals("1,1043,261,1791,1243,2001,270,261,1541,435,271,261,1135,2001,301,338,667", lines[1]);
        assertTrue(r.err().contains("loaded kjv-llama (embedded)"), r.err());
        assertTrue(r.err().matches("(?s).*prompt 5 tokens at [0-9.]+ tok/s; generated 12 tokens at [0-9.]+ tok/s \\(\\d+ threads.*"), r.err());
        Result longer = run("", "generate", "In the beginning", "--temperature", "0", "--max-tokens", "24");
        assertTrue(longer.err().matches("(?s).*generated 24 tokens at [0-9.]+ tok/s \\(the last \\d+ at [0-9.]+ tok/s\\) \\(\\d+ threads.*"), longer.err());
    }

    @Test
    void tokenizeForwardAndInspectAHuggingFaceDirectory(@TempDir Path tmp) throws Exception {
        Result t = run("In the beginning", "tokenize", kjv().toString(), "--ids");
        assertEquals(0, t.status(), t.err());
        assertEquals("1 1043 261 1791 1243", t.out().strip());
        Result raw = run("In the beginning", "tokenize", kjv().toString(), "--ids", "--no-special");
        assertEquals("1043 261 1791 1243", raw.out().strip());

        Path logits = tmp.resolve("logits.f32");
        Result f = run("", "forward", kjv().toString(), "--ids", "1,1043,261,1791,1243", "--out", logits.toString());
        assertEquals(0, f.status(), f.err());
        float[] got = floats(logits), ref = floats(kjv().resolve("logits.f32"));
        assertEquals(ref.length, got.length);
        for (int i = 0; i < ref.length; i++) assertEquals(ref[i], got[i], 1e-4 * 20, "logit " + i);

        Result in = run("", "inspect", kjv().toString());
        assertEquals(0, in.status(), in.err());
        assertTrue(in.out().contains("architecture: llama"), in.out());
        assertTrue(in.out().contains("model.layers.5.mlp.down_proj.weight  F32 [256, 688]"), in.out());
        assertTrue(in.out().contains("parameters: 5401856"), in.out());
    }

    @Test
    void badModelsAreOneLineErrors(@TempDir Path tmp) throws Exception {
        // A GGUF cut short in its metadata.
        Path gguf = tmp.resolve("cut.gguf");
        ByteBuffer b = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN);
        b.put("GGUF".getBytes(StandardCharsets.US_ASCII)).putInt(3).putLong(0).putLong(1).putLong(1_000_000L);
        Files.write(gguf, b.array());
        Result r = run("", "generate", gguf.toString(), "hi");
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("panamax: ") && r.err().contains("truncated") && r.err().strip().lines().count() == 1, r.err());

        // An architecture nobody implements.
        Path dir = Files.createDirectories(tmp.resolve("frob"));
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"frobnet\"}");
        Result u = run("", "generate", dir.toString(), "hi");
        assertEquals(1, u.status());
        assertTrue(u.err().contains("architecture 'frobnet' is not supported; supported: ") && u.err().contains("llama"), u.err());

        Result missing = run("", "inspect", tmp.resolve("nope.gguf").toString());
        assertEquals(1, missing.status());
        assertTrue(missing.err().contains("no such file"), missing.err());

        Result badFlag = run("", "generate", "--max-tokens", "lots");
        assertEquals(2, badFlag.status());
        assertEquals("panamax: --max-tokens needs a whole number, got 'lots'\n", badFlag.err());
    }

    @Test
    void chatWithoutATemplateContinuesEachLine() {
        Result r = run("And God said\n\n", "chat", "--temperature", "0", "--max-tokens", "6");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().startsWith("And God said"), r.out());
        assertTrue(r.out().length() > "And God said".length() + 5, r.out());
        assertTrue(r.err().contains("template none"), r.err());
    }

    @Test
    void embedPrintsUnitLengthSentenceEmbeddings(@TempDir Path tmp) throws Exception {
        Path bert = Path.of(System.getProperty("panamax.shared", "../../shared")).resolve("fixtures/hf/bert");
        Path dir = Files.createDirectories(tmp.resolve("bert"));
        Files.copy(bert.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(bert.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        java.util.List<String> vocab = new java.util.ArrayList<>(java.util.List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"));
        for (char ch = 'a'; ch <= 'z'; ch++) {
            vocab.add(String.valueOf(ch));
            vocab.add("##" + ch);
        }
        vocab.add("hello");
        vocab.add("world");
        while (vocab.size() < 256) vocab.add("unused" + vocab.size());
        Files.write(dir.resolve("vocab.txt"), vocab);

        Result r = run("", "embed", dir.toString(), "Hello world", "a b c");
        assertEquals(0, r.status(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(2, lines.length);
        for (String line : lines) {
            String[] v = line.split(" ");
            assertEquals(64, v.length);
            double norm = 0;
            for (String x : v) norm += Double.parseDouble(x) * Double.parseDouble(x);
            assertEquals(1.0, norm, 1e-4);
        }
        assertTrue(r.err().contains("cosine similarity"), r.err());
        // The same as the library's embedding of the tokenizer's ids: [CLS] hello world [SEP].
        try (var m = (dev.panamax.runtime.model.EncoderModel) dev.panamax.runtime.model.ModelLoader.load(dir)) {
            int[] ids = m.tokenizer().encode("Hello world", true);
            org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {2, vocab.indexOf("hello"), vocab.indexOf("world"), 3}, ids);
            float[] e = m.embed(ids);
            String[] v = lines[0].split(" ");
            for (int i = 0; i < e.length; i++) assertEquals(e[i], Float.parseFloat(v[i]), 1e-6);
        }
        Result bin = run("", "embed", dir.toString(), "Hello world", "--precision", "binary");
        assertTrue(bin.out().strip().matches("[0-9a-f]{16}"), "64 dimensions are one 64-bit word: " + bin.out());
        Result i8 = run("", "embed", dir.toString(), "Hello world", "--precision", "int8");
        assertTrue(i8.out().strip().matches("[0-9.e-]+:( -?\\d+){64}"), i8.out());

        // search: a corpus of lines, the query itself is in it, so it must come first in every precision.
        Path corpus = tmp.resolve("corpus.txt");
        java.util.List<String> docs = new java.util.ArrayList<>();
        java.util.Random rnd = new java.util.Random(3);
        for (int i = 0; i < 60; i++) {
            StringBuilder sb = new StringBuilder();
            for (int w = 0; w < 6; w++) sb.append((char) ('a' + rnd.nextInt(26))).append(rnd.nextBoolean() ? "" : String.valueOf((char) ('a' + rnd.nextInt(26)))).append(' ');
            docs.add(sb.toString().strip());
        }
        Files.write(corpus, docs);
        for (String p : new String[] {"binary", "int8", "float"}) {
            Result s = run("", "search", dir.toString(), "--corpus", corpus.toString(), "--query", docs.get(17), "--precision", p, "-k", "3", "--compare");
            assertEquals(0, s.status(), s.err());
            String[] ranked = s.out().split("\n");
            assertTrue(ranked[1].endsWith(docs.get(17)), p + ": " + s.out());
            assertTrue(s.err().contains("recall@3 of " + p), s.err());
        }
        Result decoder = run("", "embed", kjv().toString(), "In the beginning");
        assertEquals(0, decoder.status(), decoder.err());
        assertEquals(256, decoder.out().strip().split(" ").length, "kjv-llama's hidden size, mean-pooled");
        Path mamba = Path.of(System.getProperty("panamax.shared", "../../shared")).resolve("fixtures/hf/mamba");
        Result noStates = run("", "embed", mamba.toString(), "--ids", "1,2,3");
        assertEquals(1, noStates.status());
        assertTrue(noStates.err().contains("mamba models do not give hidden states"), noStates.err());
    }

    @Test
    void benchPrintsPrefillAndDecodeLines() {
        Result r = run("", "bench", "--prompt-tokens", "8", "--tokens", "8", "--repeats", "1", "--warmup", "0");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().matches("(?s).*\\nprefill 8 tokens: [0-9.]+ tok/s\\ndecode 8 tokens: [0-9.]+ tok/s\\n"), r.out());
        assertTrue(r.out().contains("\nwarm-up: 1 run, "), "--warmup 0 is one warm-up run: " + r.out());
        assertTrue(r.out().startsWith("cpu: ") && r.out().lines().findFirst().orElseThrow().contains("; JVM: "), "the CPU first: " + r.out());
        // --json: one object, the medians the text prints and every run.
        Result j = run("", "bench", "--prompt-tokens", "8", "--tokens", "8", "--repeats", "3", "--warmup", "0", "--json");
        assertEquals(0, j.status(), j.err());
        java.util.Map<String, Object> o = dev.panamax.runtime.json.Json.object(dev.panamax.runtime.json.Json.parse(j.out()), "bench --json");
        assertEquals("kjv-llama (embedded)", o.get("model"));
        assertEquals("llama", o.get("architecture"));
        assertEquals(8.0, dev.panamax.runtime.json.Json.number(o.get("prompt_tokens"), "prompt_tokens"));
        java.util.List<Object> runs = dev.panamax.runtime.json.Json.array(o.get("decode_runs_tok_s"), "runs");
        assertEquals(3, runs.size());
        assertEquals(dev.panamax.runtime.json.Json.number(runs.get(1), "median"), dev.panamax.runtime.json.Json.number(o.get("decode_tok_s"), "decode"));
        assertTrue(dev.panamax.runtime.json.Json.number(o.get("prefill_tok_s"), "prefill") > 0);
        assertTrue(o.get("cpu") instanceof java.util.Map<?, ?> cpu && cpu.get("model") instanceof String, o.toString());
        Result bad = run("", "bench", "--warmup", "-1");
        assertEquals(2, bad.status(), bad.out());
        assertTrue(bad.err().contains("--warmup must be between 0 and 3600 seconds"), bad.err());
    }

    @Test
    void quantizeAGgufAndQuantizeOnLoadGiveTheSameText(@TempDir Path tmp) throws Exception {
        // The embedded F16 model, quantized as a file and at load: the same Q8_0 weights, the same greedy text.
        Path q8 = tmp.resolve("kjv-q8_0.gguf");
        Result q = run("", "quantize", dev.panamax.runtime.Panamax.defaultModelPath().toString(), q8.toString(), "--type", "q8_0");
        assertEquals(0, q.status(), q.err());
        Result inspect = run("", "inspect", q8.toString());
        assertTrue(inspect.out().contains("blk.0.attn_q.weight  Q8_0 [256, 256]"), inspect.out());
        assertTrue(inspect.out().contains("blk.0.ffn_down.weight  F16 [256, 688]"), "rows of 688 are not whole blocks: " + inspect.out());
        assertTrue(inspect.out().contains("general.file_type = 7"), inspect.out());
        Result fromFile = run("", "generate", q8.toString(), "In the beginning", "--temperature", "0", "--max-tokens", "24");
        Result onLoad = run("", "generate", "In the beginning", "--temperature", "0", "--max-tokens", "24", "--quantize", "q8_0");
        assertEquals(0, fromFile.status(), fromFile.err());
        assertEquals(0, onLoad.status(), onLoad.err());
        assertEquals(fromFile.out(), onLoad.out());
        assertTrue(fromFile.out().startsWith("In the beginning, and the third day of the month"), fromFile.out());
    }

    @Test
    void theLayoutCacheIsWrittenOnceMappedLaterAndOffWritesNothing(@TempDir Path tmp) throws Exception {
        Path q4 = tmp.resolve("kjv-q4_0.gguf");
        assertEquals(0, run("", "quantize", dev.panamax.runtime.Panamax.defaultModelPath().toString(), q4.toString(), "--type", "q4_0").status());
        Path cache = tmp.resolve("layouts");
        String[] gen = {"generate", q4.toString(), "In the beginning", "--temperature", "0", "--max-tokens", "16", "--layout-cache"};
        Result first = run("", concat(gen, cache.toString())), later = run("", concat(gen, cache.toString())), off = run("", concat(gen, "off"));
        assertEquals(0, first.status(), first.err());
        assertEquals(0, later.status(), later.err());
        assertEquals(0, off.status(), off.err());
        assertEquals(off.out(), first.out());
        assertEquals(off.out(), later.out());
        assertTrue(!off.err().contains("decode layout"), off.err());
        if (dev.panamax.simd.Simd.kernels() == dev.panamax.simd.Simd.scalar()) { // no interleaved layout on the scalar kernels
            assertTrue(!Files.exists(cache) || Files.list(cache).findAny().isEmpty(), "nothing written");
            return;
        }
        assertTrue(first.err().contains("panamax: decode layout being written to " + cache), first.err());
        assertTrue(later.err().contains("panamax: decode layout mapped from " + cache), later.err());
        assertTrue(run("", "generate", "--help").out().contains("--layout-cache DIR|off"));
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void benchMeasuresAnEncoderByItsEncoding() {
        Result r = run("", "bench", Path.of(System.getProperty("panamax.shared", "../../shared")).resolve("fixtures/hf/bert").toString(), "--prompt-tokens", "6", "--repeats", "1", "--warmup", "0");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().matches("(?s).*\\nprefill 6 tokens: [0-9.]+ tok/s\\ndecode: none \\(an encoder generates no tokens\\)\\n"), r.out());
    }

    /**
     * An image model: images/s at the model's size (the ViT fixture: 32×32, 16 patches and the class
     * token), one at a time and 16 (or --batch) a pass, beside the GEMM's own speed.
     */
    @Test
    void benchMeasuresAnImageModelInImagesPerSecond() {
        String vit = Path.of(System.getProperty("panamax.shared", "../../shared")).resolve("fixtures/vision/vit").toString();
        Result r = run("", "bench", vit, "--repeats", "1", "--warmup", "0");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().matches("(?s).*\\nclassify 32×32, 17 tokens: [0-9.]+ images/s \\(≈ [0-9.]+ GFLOP/s\\)\\n"
                + "F32 GEMM \\[17 × 64\\]·\\[256 × 64\\]ᵀ: [0-9.]+ GFLOP/s \\(the model at [0-9.]+× of it\\)\\n"
                + "classify 16 images a pass: [0-9.]+ images/s \\([0-9.]+× one at a time\\)\\n"), r.out());
        Result j = run("", "bench", vit, "--repeats", "1", "--warmup", "0", "--batch", "3", "--json");
        assertEquals(0, j.status(), j.err());
        assertTrue(j.out().matches("(?s)\\{.*\"batch\":3,\"batch_images_s\":[0-9.]+,.*\\}\\n"), j.out());
        Result big = run("", "bench", vit, "--batch", "1000");
        assertEquals(2, big.status(), big.out());
        assertTrue(big.err().contains("at most 256 images"), big.err());
    }

    @Test
    void quantizeToTheQ4KMMixRunsAndNamesItsTypes(@TempDir Path tmp) throws Exception {
        Path q = tmp.resolve("kjv-q4_k_m.gguf");
        Result r = run("", "quantize", dev.panamax.runtime.Panamax.defaultModelPath().toString(), q.toString(), "--type", "q4_k_m", "--fallback", "f32");
        assertEquals(0, r.status(), r.err());
        String info = run("", "inspect", q.toString()).out();
        assertTrue(info.contains("general.file_type = 15"), info);
        assertTrue(info.contains("blk.0.attn_q.weight  Q4_K [256, 256]"), info);
        assertTrue(info.contains("blk.0.attn_v.weight  Q4_K [128, 256]"), info);
        assertTrue(info.contains("blk.2.attn_v.weight  Q6_K [128, 256]"), "6 layers: layers 2 and 5 get more bits: " + info);
        assertTrue(info.contains("blk.5.attn_v.weight  Q6_K [128, 256]"), info);
        assertTrue(info.contains("blk.0.ffn_down.weight  F32 [256, 688]"), "688 is no whole number of blocks: " + info);
        Result gen = run("", "generate", q.toString(), "In the beginning", "--temperature", "0", "--max-tokens", "12");
        assertEquals(0, gen.status(), gen.err());
        assertTrue(gen.out().startsWith("In the beginning") && gen.out().length() > 30, gen.out());
        // Binary weights at load (signs and a mean |w| per 64): the 256-wide matrices go to 1.25 bits a weight and it still writes words.
        Result binary = run("", "generate", "In the beginning", "--temperature", "0", "--max-tokens", "12", "--quantize", "binary");
        assertEquals(0, binary.status(), binary.err());
        assertTrue(binary.out().startsWith("In the beginning") && binary.out().length() > 30, binary.out());
        Result bad = run("", "quantize", q.toString(), tmp.resolve("x.gguf").toString(), "--type", "q3_k_xl");
        assertEquals(2, bad.status());
        assertTrue(bad.err().contains("--type must be one of f32, f16, bf16, q8_0, q5_0, q4_0, iq4_nl, q4_k"), bad.err());
    }

    @Test
    void invalidUtf8OnStandardInputIsAClearError() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        byte[] bad = {'a', 'b', (byte) 0xC3, 'x'}; // 0xC3 starts a two-byte sequence; 'x' cannot continue it
        int status = Main.run(new String[] {"tokenize", kjv().toString(), "--ids"}, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), new ByteArrayInputStream(bad));
        assertEquals(1, status);
        assertEquals("panamax: standard input is not valid UTF-8: byte 0xc3 at offset 2\n", err.toString(StandardCharsets.UTF_8));
        ByteArrayOutputStream err2 = new ByteArrayOutputStream();
        int chat = Main.run(new String[] {"chat", "--max-tokens", "2"}, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err2, true, StandardCharsets.UTF_8), new ByteArrayInputStream(bad));
        assertEquals(1, chat);
        assertTrue(err2.toString(StandardCharsets.UTF_8).contains("not valid UTF-8"), err2.toString(StandardCharsets.UTF_8));
    }

    @Test
    void everyCommandHasHelp() {
        for (String c : new String[] {"generate", "chat", "embed", "search", "bench", "tokenize", "forward", "inspect", "convert", "quantize"}) {
            Result r = run("", c, "--help");
            assertEquals(0, r.status(), c);
            assertTrue(r.out().startsWith("Usage: panamax " + c), c + ": " + r.out());
        }
    }

    static float[] floats(Path p) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[b.remaining() / 4];
        b.asFloatBuffer().get(f);
        return f;
    }

    /** The speed line's numbers: one decimal, rounded half up, as %.1f prints them away from exact halves. */
    @Test
    void speedsPrintWithOneDecimal() {
        assertEquals("0.0", GenerateCommand.oneDecimal(0));
        assertEquals("0.0", GenerateCommand.oneDecimal(0.04));
        assertEquals("157.3", GenerateCommand.oneDecimal(157.25)); // an exact half in binary: up
        assertEquals("1441.1", GenerateCommand.oneDecimal(1441.14));
        assertEquals("100.0", GenerateCommand.oneDecimal(99.96));
        assertEquals("12.5", GenerateCommand.oneDecimal(12.5));
        assertEquals("-3.2", GenerateCommand.oneDecimal(-3.21));
        assertEquals("Infinity", GenerateCommand.oneDecimal(Double.POSITIVE_INFINITY));
        assertEquals("NaN", GenerateCommand.oneDecimal(Double.NaN));
        java.util.Random r = new java.util.Random(7);
        for (int i = 0; i < 10_000; i++) {
            double x = r.nextDouble() * 100_000;
            double tenths = x * 10 - Math.floor(x * 10);
            if (Math.abs(tenths - 0.5) < 1e-6) continue; // near an exact half the two may differ in the last digit
            assertEquals(String.format(java.util.Locale.ROOT, "%.1f", x), GenerateCommand.oneDecimal(x), "x = " + x);
        }
    }
}
