package dev.panamax.runtime.format;

import dev.panamax.runtime.tensor.DType;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF v3 files that llama.cpp loads (layout in {@link Gguf}). Metadata values carry their
 * GGUF type explicitly ({@link #u32}, {@link #f32}, …) because llama.cpp checks key types. Tensors
 * are given outermost dimension first (PyTorch order) and written innermost first, each aligned
 * to 32 bytes.
 *
 * <pre>{@code
 * GgufWriter w = new GgufWriter();
 * w.put("general.architecture", GgufWriter.string("llama"));
 * w.tensor("token_embd.weight", DType.F16, new long[] {vocab, dim}, bytes);
 * w.write(Path.of("model.gguf"));
 * }</pre>
 */
public final class GgufWriter {

    /** A metadata value with its GGUF type; arrays carry their element type. */
    public record Value(int type, int elementType, Object value) {}

    public static Value u32(long v) { return new Value(Gguf.TYPE_UINT32, -1, v); }
    public static Value i32(long v) { return new Value(Gguf.TYPE_INT32, -1, v); }
    public static Value u64(long v) { return new Value(Gguf.TYPE_UINT64, -1, v); }
    public static Value i64(long v) { return new Value(Gguf.TYPE_INT64, -1, v); }
    public static Value f32(double v) { return new Value(Gguf.TYPE_FLOAT32, -1, v); }
    public static Value bool(boolean v) { return new Value(Gguf.TYPE_BOOL, -1, v); }
    public static Value string(String v) { return new Value(Gguf.TYPE_STRING, -1, v); }
    public static Value strings(List<String> v) { return new Value(Gguf.TYPE_ARRAY, Gguf.TYPE_STRING, v); }
    public static Value f32s(float[] v) { return new Value(Gguf.TYPE_ARRAY, Gguf.TYPE_FLOAT32, v); }
    public static Value i32s(int[] v) { return new Value(Gguf.TYPE_ARRAY, Gguf.TYPE_INT32, v); }

    /** A value as {@link Gguf} read it, with the type it recorded ({@link Gguf#metadataTypes()}). */
    public static Value read(int recordedType, Object value) {
        return (recordedType & 0xff) == Gguf.TYPE_ARRAY ? new Value(Gguf.TYPE_ARRAY, recordedType >>> 8, value) : new Value(recordedType, -1, value);
    }

    private record PendingTensor(String name, DType type, long[] shape, byte[] data) {}

    private static final int ALIGNMENT = 32;
    private final Map<String, Value> metadata = new LinkedHashMap<>();
    private final List<PendingTensor> tensors = new ArrayList<>();

    public GgufWriter put(String key, Value v) {
        metadata.put(key, v);
        return this;
    }

    /** Adds a tensor; {@code data} holds its little-endian bytes. */
    public GgufWriter tensor(String name, DType type, long[] shape, byte[] data) {
        long n = 1;
        for (long d : shape) n *= d;
        if (type.bytesFor(n) != data.length) throw new IllegalArgumentException(name + ": " + data.length + " bytes for " + n + " elements of " + type);
        tensors.add(new PendingTensor(name, type, shape.clone(), data));
        return this;
    }

    public void write(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
            Out out = new Out(os);
            out.bytes("GGUF".getBytes(StandardCharsets.US_ASCII));
            out.u32(3);
            out.u64(tensors.size());
            out.u64(metadata.size());
            for (Map.Entry<String, Value> e : metadata.entrySet()) {
                out.string(e.getKey());
                out.u32(e.getValue().type());
                writeValue(out, e.getValue());
            }
            long offset = 0;
            for (PendingTensor t : tensors) {
                out.string(t.name());
                out.u32(t.shape().length);
                for (int d = t.shape().length - 1; d >= 0; d--) out.u64(t.shape()[d]);
                out.u32(t.type().ggmlType);
                out.u64(offset);
                offset = align(offset + t.data().length);
            }
            out.pad();
            for (PendingTensor t : tensors) {
                out.bytes(t.data());
                out.pad();
            }
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    private static long align(long v) {
        return (v + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private static void writeValue(Out out, Value v) throws IOException {
        if (v.type() == Gguf.TYPE_ARRAY) {
            out.u32(v.elementType());
            switch (v.value()) {
                case float[] a -> {
                    out.u64(a.length);
                    for (float f : a) out.u32(Float.floatToRawIntBits(f));
                }
                case int[] a -> {
                    out.u64(a.length);
                    for (int i : a) out.u32(i);
                }
                case List<?> l -> {
                    out.u64(l.size());
                    for (Object o : l) writeScalar(out, v.elementType(), o);
                }
                default -> throw new IllegalArgumentException("array value " + v.value().getClass());
            }
            return;
        }
        writeScalar(out, v.type(), v.value());
    }

    /** One value of a scalar GGUF type; numbers may come as any Number (the reader gives Long/Float/Double). */
    private static void writeScalar(Out out, int type, Object o) throws IOException {
        switch (type) {
            case Gguf.TYPE_UINT8, Gguf.TYPE_INT8 -> out.bytes(new byte[] {((Number) o).byteValue()});
            case Gguf.TYPE_UINT16, Gguf.TYPE_INT16 -> {
                int s = ((Number) o).intValue();
                out.bytes(new byte[] {(byte) s, (byte) (s >>> 8)});
            }
            case Gguf.TYPE_UINT32, Gguf.TYPE_INT32 -> out.u32(((Number) o).intValue());
            case Gguf.TYPE_UINT64, Gguf.TYPE_INT64 -> out.u64(((Number) o).longValue());
            case Gguf.TYPE_FLOAT32 -> out.u32(Float.floatToRawIntBits(((Number) o).floatValue()));
            case Gguf.TYPE_FLOAT64 -> out.u64(Double.doubleToRawLongBits(((Number) o).doubleValue()));
            case Gguf.TYPE_BOOL -> out.bytes(new byte[] {(byte) ((Boolean) o ? 1 : 0)});
            case Gguf.TYPE_STRING -> out.string((String) o);
            default -> throw new IllegalArgumentException("value type " + type);
        }
    }

    /** Little-endian output that counts its position, for alignment. */
    private static final class Out {
        final OutputStream os;
        final ByteBuffer b8 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        long pos;

        Out(OutputStream os) {
            this.os = os;
        }

        void bytes(byte[] b) throws IOException {
            os.write(b);
            pos += b.length;
        }

        void u32(int v) throws IOException {
            b8.clear();
            b8.putInt(v);
            os.write(b8.array(), 0, 4);
            pos += 4;
        }

        void u64(long v) throws IOException {
            b8.clear();
            b8.putLong(v);
            os.write(b8.array(), 0, 8);
            pos += 8;
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes(b);
        }

        void pad() throws IOException {
            while (pos % ALIGNMENT != 0) {
                os.write(0);
                pos++;
            }
        }
    }
}
