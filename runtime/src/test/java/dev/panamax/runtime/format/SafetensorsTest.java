package dev.panamax.runtime.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Safetensors files written byte by byte here, as the format's description says, and read back. */
class SafetensorsTest {

    /** header length (u64 LE), the header, then {@code data}. */
    static Path file(Path dir, String name, String header, byte[] data) throws Exception {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
        out.writeBytes(h);
        out.writeBytes(data);
        Path p = dir.resolve(name);
        Files.write(p, out.toByteArray());
        return p;
    }

    static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    private static ModelException fails(Path p) {
        return assertThrows(ModelException.class, () -> {
            try (Weights w = new Weights()) {
                Safetensors.read(p, w);
            }
        });
    }

    @Test
    void tensorsInAnyKeyOrderEscapesMetadataAndUnknownKeys(@TempDir Path tmp) throws Exception {
        Path p = file(tmp, "a.safetensors", """
                { "__metadata__": {"format": "pt", "nested": {"x": [1, 2, {"y": null}]}},
                  "w\\u00e9\\"q": {"shape": [2, 3], "data_offsets": [0, 24], "dtype": "F32", "extra": [true, 1.5e3]},
                  "b": {"dtype": "F16", "data_offsets": [24, 28], "shape": [2]} }""",
                concat(floats(1, 2, 3, 4, 5, 6), new byte[] {0, 0x3c, 0, (byte) 0xc0}));
        try (Weights w = new Weights()) {
            Safetensors.read(p, w);
            Tensor t = w.get("wé\"q");
            assertEquals(DType.F32, t.type());
            assertArrayEquals(new long[] {2, 3}, t.shape());
            assertEquals(6f, t.data().get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 20));
            assertArrayEquals(new long[] {2}, w.get("b").shape());
        }
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void aTensorNamedTwiceIsRefused(@TempDir Path tmp) throws Exception {
        // Before: the header went through a JSON map, and the second entry silently replaced the first.
        Path p = file(tmp, "dup.safetensors", """
                {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                 "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}""", floats(1, 2));
        assertTrue(fails(p).getMessage().contains("tensor w appears twice"), fails(p).getMessage());
    }

    @Test
    void theHeaderCapIsReportedAsTheCap(@TempDir Path tmp) throws Exception {
        // A header length over 100 MB in a file long enough to hold it: sparse, so it costs no disk.
        Path p = tmp.resolve("big.safetensors");
        try (var ch = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE,
                java.nio.file.StandardOpenOption.SPARSE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 150_000_000L));
            ch.write(ByteBuffer.wrap(new byte[] {0}), 150_000_100L);
        }
        String m = fails(p).getMessage();
        assertTrue(m.contains("the safetensors header is 150000000 bytes, more than the 100000000 Panamax reads"), m);
        Path shortFile = file(tmp, "short.safetensors", "{}", new byte[0]);
        Files.write(shortFile, ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array());
        assertTrue(fails(shortFile).getMessage().contains("header length 1000 does not fit in the file's 12 bytes"), fails(shortFile).getMessage());
    }

    @Test
    void badEntriesAreNamed(@TempDir Path tmp) throws Exception {
        String[][] cases = {
                {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 12]}}", "tensor w: shape [2] of F32 needs 8 bytes, the offsets give 12"},
                {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [12, 20]}}", "tensor w claims bytes [12, 20) but the data section has 16 bytes"},
                {"{\"w\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [0, 8]}}", "tensor w has dtype I64, which is not supported"},
                {"{\"w\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", "the shape of w should be a whole number of 0 or more"},
                {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 8]}}", "the shape of w should be a whole number"},
                {"{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 8]}}", "tensor w lacks its shape"},
                {"{\"w\": {\"dtype\": \"F32\", \"shape\": [99999999999999999999], \"data_offsets\": [0, 8]}}", "the shape of w is too large"},
                {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}", "unexpected end of the header"},
                {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}} x", "unexpected text after the header's object"},
        };
        for (String[] c : cases) {
            Path p = file(tmp, "bad" + c[1].hashCode() + ".safetensors", c[0], floats(1, 2, 3, 4));
            String m = fails(p).getMessage();
            assertTrue(m.contains(c[1]), c[0] + " -> " + m);
        }
    }

    @Test
    void aHeaderOfManyTensorsIsReadInMemoryProportionalToItsTensors(@TempDir Path tmp) throws Exception {
        // Before: the header became a String and a JSON tree first — 1.1 GB of heap for a 60 MB header
        // of 900k tensors. Now each entry becomes its tensor directly: here 100k tensors, a 7 MB header.
        int n = 100_000;
        StringBuilder h = new StringBuilder("{");
        for (int i = 0; i < n; i++) {
            if (i > 0) h.append(',');
            h.append("\"model.layers.").append(i).append(".weight\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [")
                    .append(4L * i).append(", ").append(4L * i + 4).append("]}");
        }
        h.append('}');
        Path p = file(tmp, "many.safetensors", h.toString(), new byte[4 * n]);
        var bean = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Weights w = new Weights()) {
            long before = bean.getCurrentThreadAllocatedBytes();
            Safetensors.read(p, w);
            long used = bean.getCurrentThreadAllocatedBytes() - before;
            assertEquals(n, w.all().size());
            // 900k tensors (87 MB of header): 1532 bytes each through the JSON tree, 413 read directly.
            assertTrue(used < 600L * n, "reading " + n + " tensors allocated " + used + " bytes (" + used / n + " per tensor)");
        }
    }
}
