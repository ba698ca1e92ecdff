package dev.panamax.runtime.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.simd.Simd;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GGUF files written byte by byte here, following the format's specification, and read back. */
class GgufTest {

    /** Little-endian GGUF bytes. */
    static final class Bytes {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Bytes u8(int v) { out.write(v); return this; }
        Bytes u16(int v) { return raw(ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) v).array()); }
        Bytes u32(int v) { return raw(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array()); }
        Bytes u64(long v) { return raw(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array()); }
        Bytes f32(float v) { return u32(Float.floatToRawIntBits(v)); }
        Bytes f64(double v) { return u64(Double.doubleToRawLongBits(v)); }
        Bytes str(String s) { byte[] b = s.getBytes(StandardCharsets.UTF_8); u64(b.length); return raw(b); }
        Bytes raw(byte[] b) { out.writeBytes(b); return this; }
        Bytes padTo(int alignment) { while (out.size() % alignment != 0) out.write(0); return this; }
        int size() { return out.size(); }
        byte[] bytes() { return out.toByteArray(); }
    }

    @Test
    void everyValueTypeVersionTwoAndACustomAlignment(@TempDir Path tmp) throws Exception {
        Bytes b = new Bytes().raw("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(2).u64(1).u64(14);
        b.str("u8").u32(0).u8(200);
        b.str("i8").u32(1).u8(0xff);
        b.str("u16").u32(2).u16(60000);
        b.str("i16").u32(3).u16(-2);
        b.str("u32").u32(4).u32(-1);
        b.str("i32").u32(5).u32(-7);
        b.str("f32").u32(6).f32(1.5f);
        b.str("bool").u32(7).u8(1);
        b.str("str").u32(8).str("héllo");
        b.str("u64").u32(10).u64(1L << 40);
        b.str("i64").u32(11).u64(-3);
        b.str("f64").u32(12).f64(0.25);
        b.str("nested").u32(9).u32(9).u64(2).u32(5).u64(2).u32(1).u32(2).u32(5).u64(1).u32(3);
        b.str("general.alignment").u32(4).u32(64);
        b.str("w").u32(2).u64(3).u64(2).u32(0).u64(0); // F32 [2, 3]: dims innermost first
        b.padTo(64);
        for (int i = 0; i < 6; i++) b.f32(i);
        Path f = tmp.resolve("all.gguf");
        Files.write(f, b.bytes());
        Gguf g = Gguf.read(f);
        try (var w = g.weights()) {
            assertEquals(2, g.version());
            var m = g.metadata();
            assertEquals(200L, m.get("u8"));
            assertEquals(-1L, m.get("i8"));
            assertEquals(60000L, m.get("u16"));
            assertEquals(-2L, m.get("i16"));
            assertEquals(4294967295L, m.get("u32"));
            assertEquals(-7L, m.get("i32"));
            assertEquals(1.5f, m.get("f32"));
            assertEquals(true, m.get("bool"));
            assertEquals("héllo", m.get("str"));
            assertEquals(1L << 40, m.get("u64"));
            assertEquals(-3L, m.get("i64"));
            assertEquals(0.25, m.get("f64"));
            assertEquals(List.of(List.of(1L, 2L), List.of(3L)), m.get("nested"));
            Tensor t = w.get("w");
            assertArrayEquals(new long[] {2, 3}, t.shape());
            assertEquals(DType.F32, t.type());
            assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, t.toFloats(Simd.kernels()));
            assertEquals(0, g.dataOffset() % 64);
        }
    }

    /** Arrays of numbers are copied at once and boxed when read: each element as the scalar of its type reads. */
    @Test
    void arraysOfEveryNumberTypeReadAsTheirScalars(@TempDir Path tmp) throws Exception {
        Bytes b = new Bytes().raw("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(3).u64(0).u64(12);
        b.str("u8").u32(9).u32(0).u64(3).u8(0).u8(200).u8(255);
        b.str("i8").u32(9).u32(1).u64(2).u8(0xff).u8(0x7f);
        b.str("u16").u32(9).u32(2).u64(2).u16(60000).u16(1);
        b.str("i16").u32(9).u32(3).u64(2).u16(-2).u16(32767);
        b.str("u32").u32(9).u32(4).u64(2).u32(-1).u32(7);
        b.str("i32").u32(9).u32(5).u64(3).u32(-7).u32(0).u32(Integer.MIN_VALUE);
        b.str("f32").u32(9).u32(6).u64(3).f32(1.5f).f32(-0.0f).f32(Float.NaN);
        b.str("u64").u32(9).u32(10).u64(2).u64(1L << 40).u64(-1);
        b.str("i64").u32(9).u32(11).u64(1).u64(-3);
        b.str("f64").u32(9).u32(12).u64(2).f64(0.25).f64(-1e300);
        b.str("empty").u32(9).u32(6).u64(0);
        b.str("after").u32(8).str("end"); // the cursor moved past every array exactly
        Path f = tmp.resolve("arrays.gguf");
        Files.write(f, b.bytes());
        Gguf g = Gguf.read(f);
        try (var w = g.weights()) {
            var m = g.metadata();
            assertEquals(List.of(0L, 200L, 255L), m.get("u8"));
            assertEquals(List.of(-1L, 127L), m.get("i8"));
            assertEquals(List.of(60000L, 1L), m.get("u16"));
            assertEquals(List.of(-2L, 32767L), m.get("i16"));
            assertEquals(List.of(4294967295L, 7L), m.get("u32"));
            assertEquals(List.of(-7L, 0L, (long) Integer.MIN_VALUE), m.get("i32"));
            assertEquals(List.of(1.5f, -0.0f, Float.NaN), m.get("f32"));
            assertEquals(List.of(1L << 40, -1L), m.get("u64"));
            assertEquals(List.of(-3L), m.get("i64"));
            assertEquals(List.of(0.25, -1e300), m.get("f64"));
            assertEquals(List.of(), m.get("empty"));
            assertEquals("end", m.get("after"));
            List<?> f32 = (List<?>) m.get("f32");
            assertThrows(IndexOutOfBoundsException.class, () -> f32.get(3));
            @SuppressWarnings("unchecked") List<Object> writable = (List<Object>) f32;
            assertThrows(UnsupportedOperationException.class, () -> writable.set(0, 2f));
        }
    }

    @Test
    void lyingLengthsAndOffsetsAreErrorsNotAllocations(@TempDir Path tmp) throws Exception {
        // An array claiming 2^40 elements.
        Bytes a = new Bytes().raw("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(3).u64(0).u64(1);
        a.str("tokens").u32(9).u32(8).u64(1L << 40);
        assertError(tmp, a, "cannot fit");
        // A string longer than the file.
        Bytes s = new Bytes().raw("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(3).u64(0).u64(1);
        s.str("k").u32(8).u64(1_000_000).raw(new byte[10]);
        assertError(tmp, s, "truncated");
        // A tensor whose data runs past the end of the file.
        Bytes t = new Bytes().raw("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(3).u64(1).u64(0);
        t.str("w").u32(2).u64(1000).u64(1000).u32(0).u64(0).padTo(32).raw(new byte[64]);
        assertError(tmp, t, "tensor w claims bytes");
        // An unknown version, and not GGUF at all.
        assertError(tmp, new Bytes().raw("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(9).u64(0).u64(0), "version 9");
        assertError(tmp, new Bytes().raw("GGML".getBytes(StandardCharsets.US_ASCII)).u32(3), "not a GGUF file");
        // A tensor count no file could hold.
        assertError(tmp, new Bytes().raw("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(3).u64(Long.MAX_VALUE / 2).u64(0), "tensor count");
    }

    private static void assertError(Path tmp, Bytes b, String words) throws Exception {
        Path f = Files.createTempFile(tmp, "bad", ".gguf");
        Files.write(f, b.bytes());
        ModelException e = assertThrows(ModelException.class, () -> Gguf.read(f));
        assertTrue(e.getMessage().contains(words), e.getMessage());
        assertTrue(e.getMessage().startsWith(f.toString()), "names the file: " + e.getMessage());
    }

    /** llama.cpp marks a file without a vocabulary with tokenizer.ggml.model "no_vocab": no tokenizer, not an error. */
    @Test
    void noVocabMeansNoTokenizer(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("nv.gguf");
        new GgufWriter().put("general.architecture", GgufWriter.string("llama")).put("tokenizer.ggml.model", GgufWriter.string("no_vocab"))
                .tensor("t", DType.F32, new long[] {1}, new byte[4]).write(f);
        Gguf g = Gguf.read(f);
        try (var w = g.weights()) {
            assertEquals(null, g.tokenizer());
        }
        Path u = tmp.resolve("unknown.gguf");
        new GgufWriter().put("general.architecture", GgufWriter.string("llama")).put("tokenizer.ggml.model", GgufWriter.string("rwkv"))
                .tensor("t", DType.F32, new long[] {1}, new byte[4]).write(u);
        Gguf h = Gguf.read(u);
        try (var w = h.weights()) {
            ModelException e = org.junit.jupiter.api.Assertions.assertThrows(ModelException.class, h::tokenizer);
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("rwkv"), e.getMessage());
        }
    }

    @Test
    void writerOutputReadsBack(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("w.gguf");
        byte[] data = new byte[2 * 5];
        ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).putShort(Float.floatToFloat16(1f)).putShort(Float.floatToFloat16(-2f));
        new GgufWriter().put("general.architecture", GgufWriter.string("llama")).put("x", GgufWriter.u32(7))
                .put("names", GgufWriter.strings(List.of("a", "b"))).tensor("t", DType.F16, new long[] {5}, data).write(f);
        Gguf g = Gguf.read(f);
        try (var w = g.weights()) {
            assertEquals(3, g.version());
            assertEquals("llama", g.architecture());
            assertEquals(7L, g.metadata().get("x"));
            assertEquals(List.of("a", "b"), g.metadata().get("names"));
            assertArrayEquals(new float[] {1, -2, 0, 0, 0}, w.get("t").toFloats(Simd.kernels()));
        }
    }

    @Test
    void metadataArraysShareABudgetOfElements(@TempDir Path tmp) throws Exception {
        // 40 arrays of a million u8 each: 40 MB in the file, and each element a boxed Long once read
        // (about a gigabyte of heap) — refused at the array that passes the 2^24-element budget.
        Bytes b = new Bytes().raw("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(3).u64(0).u64(40);
        byte[] million = new byte[1 << 20];
        for (int i = 0; i < 40; i++) b.str("a" + i).u32(9).u32(0).u64(million.length).raw(million);
        Path f = tmp.resolve("budget.gguf");
        Files.write(f, b.bytes());
        ModelException e = org.junit.jupiter.api.Assertions.assertThrows(ModelException.class, () -> Gguf.read(f));
        assertTrue(e.getMessage().contains("a16: an array of 1048576 elements takes the metadata past the 16777216 array elements Panamax reads"), e.getMessage());
    }
}
