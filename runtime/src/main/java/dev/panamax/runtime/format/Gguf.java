package dev.panamax.runtime.format;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.runtime.tokenizer.SentencePiece;
import dev.panamax.runtime.tokenizer.Tokenizer;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reader for GGUF v2/v3, llama.cpp's model format (little-endian):
 *
 * <pre>
 * "GGUF"  u32 version  u64 tensor_count  u64 kv_count
 * kv_count × { string key, u32 type, value }             string = u64 length + UTF-8 bytes
 * tensor_count × { string name, u32 n_dims, u64 dims[n_dims] (innermost first), u32 ggml_type, u64 offset }
 * padding to general.alignment (default 32), then the tensor data; offsets are relative to it
 * </pre>
 *
 * Value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string, 9 array (u32 type,
 * u64 count, values), 10 u64, 11 i64, 12 f64. Metadata values become Long (integers), Float/Double,
 * Boolean, String or List. Every count and length is checked against the bytes left before it is
 * used, so a lying file is an error, never a huge allocation.
 */
public final class Gguf {

    public static final int TYPE_UINT8 = 0, TYPE_INT8 = 1, TYPE_UINT16 = 2, TYPE_INT16 = 3, TYPE_UINT32 = 4, TYPE_INT32 = 5,
            TYPE_FLOAT32 = 6, TYPE_BOOL = 7, TYPE_STRING = 8, TYPE_ARRAY = 9, TYPE_UINT64 = 10, TYPE_INT64 = 11, TYPE_FLOAT64 = 12;

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One tensor's directory entry, dims as stored (innermost first). */
    public record TensorInfo(String name, long[] dims, int ggmlType, long offset) {}

    private final Path path;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, Integer> metadataTypes;
    private final List<TensorInfo> infos;
    private final Weights weights;
    private final long dataOffset;

    private Gguf(Path path, int version, Map<String, Object> metadata, Map<String, Integer> types, List<TensorInfo> infos, Weights weights, long dataOffset) {
        this.path = path;
        this.version = version;
        this.metadata = metadata;
        this.metadataTypes = types;
        this.infos = infos;
        this.weights = weights;
        this.dataOffset = dataOffset;
    }

    public int version() {
        return version;
    }

    public Map<String, Object> metadata() {
        return metadata;
    }

    /**
     * The GGUF value type each metadata key was stored with; for arrays, {@code TYPE_ARRAY |
     * elementType << 8}.
     */
    public Map<String, Integer> metadataTypes() {
        return metadataTypes;
    }

    public List<TensorInfo> tensorInfos() {
        return infos;
    }

    /** Tensors as mapped views, or null for a vocabulary-only file's... (empty when it has none). */
    public Weights weights() {
        return weights;
    }

    public long dataOffset() {
        return dataOffset;
    }

    public String architecture() {
        Object a = metadata.get("general.architecture");
        if (!(a instanceof String s)) throw new ModelException(path + ": no general.architecture in the GGUF metadata");
        return s;
    }

    /** The tokenizer described by {@code tokenizer.ggml.*}; null when the file has none. */
    public Tokenizer tokenizer() {
        Object model = metadata.get("tokenizer.ggml.model");
        if (model == null) return null;
        return switch ((String) model) {
            case "no_vocab", "none" -> null; // llama.cpp's mark of a file without a vocabulary
            case "llama" -> SentencePiece.fromGguf(metadata);
            case "gpt2" -> dev.panamax.runtime.tokenizer.ByteLevelBpe.fromGguf(metadata);
            case "bert" -> dev.panamax.runtime.tokenizer.WordPiece.fromGguf(metadata);
            default -> throw new ModelException(path + ": tokenizer model '" + model + "' is not supported (llama, gpt2, bert)");
        };
    }

    /** Reads and validates the whole file; tensors stay mapped in the returned object's {@link #weights()}. */
    public static Gguf read(Path path) {
        Weights weights = new Weights();
        try {
            return parse(path, weights.map(path), weights);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    private static Gguf parse(Path path, MemorySegment seg, Weights weights) {
        Cursor c = new Cursor(path, seg);
        c.need(4, "the magic");
        int magic = seg.get(U32, 0);
        if (magic != 0x46554747) throw new ModelException(path + ": not a GGUF file (the first bytes are not \"GGUF\")");
        c.pos = 4;
        int version = c.u32("the version");
        if (version != 2 && version != 3) throw new ModelException(path + ": GGUF version " + version + " is not supported (2 and 3 are)");
        long tensorCount = c.u64("the tensor count");
        long kvCount = c.u64("the metadata count");
        // Each entry takes at least 8 + 4 bytes (kv) or 8 + 4 + 4 + 8 bytes (tensor): bound the counts by the file.
        if (kvCount < 0 || kvCount > c.left() / 12) throw new ModelException(path + ": metadata count " + kvCount + " cannot fit in the file");
        if (tensorCount < 0 || tensorCount > c.left() / 24) throw new ModelException(path + ": tensor count " + tensorCount + " cannot fit in the file");
        Map<String, Object> meta = new LinkedHashMap<>();
        Map<String, Integer> types = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = c.name("metadata key " + i);
            int type = c.u32("the type of " + key);
            long at = c.pos;
            Object value = c.value(type, key, 0);
            if (meta.put(key, value) != null) throw new ModelException(path + ": metadata key " + key + " appears twice");
            // Arrays: remember the element type too (the first u32 of the value), for rewriting.
            types.put(key, type == TYPE_ARRAY ? TYPE_ARRAY | seg.get(U32, at) << 8 : type);
        }
        List<TensorInfo> infos = new ArrayList<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = c.name("tensor name " + i);
            int nDims = c.u32("the rank of " + name);
            if (nDims < 0 || nDims > 8) throw new ModelException(path + ": tensor " + name + " has " + nDims + " dimensions");
            long[] dims = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                dims[d] = c.u64("a dimension of " + name);
                if (dims[d] < 0) throw new ModelException(path + ": tensor " + name + " has a negative dimension");
            }
            int type = c.u32("the type of " + name);
            long offset = c.u64("the offset of " + name);
            infos.add(new TensorInfo(name, dims, type, offset));
        }
        long alignment = 32;
        Object al = meta.get("general.alignment");
        if (al != null) {
            if (!(al instanceof Long a) || a <= 0 || (a & (a - 1)) != 0) throw new ModelException(path + ": general.alignment " + al + " is not a power of two");
            alignment = (Long) al;
        }
        long dataOffset = (c.pos + alignment - 1) / alignment * alignment;
        long size = seg.byteSize();
        for (TensorInfo t : infos) {
            DType type = DType.fromGgml(t.ggmlType());
            if (type == null) throw new ModelException(path + ": tensor " + t.name() + " has ggml type " + t.ggmlType() + ", which is not supported yet");
            long elements = 1;
            for (long d : t.dims()) {
                if (d != 0 && elements > Long.MAX_VALUE / d) throw new ModelException(path + ": tensor " + t.name() + " is impossibly large");
                elements *= d;
            }
            if (type.quantized() && (t.dims().length == 0 || t.dims()[0] % type.blockSize != 0)) {
                throw new ModelException(path + ": tensor " + t.name() + " is " + type + " but its rows are not whole blocks of " + type.blockSize);
            }
            long bytes = type.bytesFor(elements);
            if (bytes < 0) throw new ModelException(path + ": tensor " + t.name() + " has " + elements + " elements, not whole blocks of " + type);
            if (t.offset() < 0 || t.offset() % alignment != 0 || dataOffset + t.offset() > size || bytes > size - dataOffset - t.offset()) {
                throw new ModelException(path + ": tensor " + t.name() + " claims bytes [" + t.offset() + ", " + (t.offset() + bytes)
                        + ") of the data section, which has " + Math.max(0, size - dataOffset) + " bytes (truncated file?)");
            }
            long[] shape = new long[t.dims().length];
            for (int d = 0; d < shape.length; d++) shape[d] = t.dims()[shape.length - 1 - d];
            weights.add(new Tensor(t.name(), type, shape, seg.asSlice(dataOffset + t.offset(), bytes)));
        }
        return new Gguf(path, version, meta, types, infos, weights, dataOffset);
    }

    /**
     * The most metadata array elements a file may hold in all (2²⁴): the largest vocabularies have
     * a few hundred thousand tokens. Each element becomes a Java object, many times the bytes it
     * takes in the file, so without a budget a small lying file could exhaust the heap.
     */
    static final long MAX_ARRAY_ELEMENTS = 1 << 24;

    /** The longest metadata key or tensor name read, in bytes. */
    static final int MAX_NAME = 1024;

    /** A bounds-checked reading position. */
    private static final class Cursor {
        final Path path;
        final MemorySegment seg;
        long pos;
        long elementsLeft = MAX_ARRAY_ELEMENTS;

        Cursor(Path path, MemorySegment seg) {
            this.path = path;
            this.seg = seg;
        }

        long left() {
            return seg.byteSize() - pos;
        }

        void need(long n, String what) {
            if (n < 0 || n > left()) throw new ModelException(path + ": truncated: " + what + " needs " + n + " bytes at offset " + pos + ", the file has " + left() + " left");
        }

        int u32(String what) {
            need(4, what);
            int v = seg.get(U32, pos);
            pos += 4;
            return v;
        }

        long u64(String what) {
            need(8, what);
            long v = seg.get(U64, pos);
            pos += 8;
            return v;
        }

        /**
         * A key or tensor name: at most {@link #MAX_NAME} bytes of UTF-8 without control characters
         * (ggml's own names are ASCII and at most 64 bytes). A name that is not is a damaged file,
         * and would make every message that quotes it unreadable.
         */
        String name(String what) {
            long at = pos;
            long n = u64(what + " (length)");
            need(n, what);
            if (n > MAX_NAME) throw new ModelException(path + ": " + what + " at offset " + at + " is " + n + " bytes long, more than the " + MAX_NAME + " a name may have");
            pos = at;
            String s = string(what);
            for (int i = 0; i < s.length(); i++) {
                char ch = s.charAt(i);
                if (ch < 0x20 || ch == 0x7f || ch == '\ufffd') throw new ModelException(path + ": " + what + " at offset " + at + " is not text (control characters or bytes that are not UTF-8)");
            }
            return s;
        }

        String string(String what) {
            if (left() < 8) need(8, what + " (length)"); // the message built only when it is needed: a vocabulary has ~10⁵ strings
            long n = u64(what);
            need(n, what);
            byte[] b = seg.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE);
            pos += n;
            return new String(b, StandardCharsets.UTF_8);
        }

        /**
         * An array of n numbers of {@code size} bytes each (bounds already checked), copied at once
         * into a primitive array and boxed as {@link #value} boxes each element (Long, Float or
         * Double) only when read: a vocabulary's scores and token types, one object each, cost a
         * fresh JVM milliseconds.
         */
        List<Object> numbers(int et, int n, long size) {
            MemorySegment all = seg.asSlice(pos, n * size);
            pos += n * size;
            return switch (et) {
                case TYPE_FLOAT32 -> { float[] v = all.toArray(F32); yield view(n, i -> v[i]); }
                case TYPE_FLOAT64 -> { double[] v = all.toArray(F64); yield view(n, i -> v[i]); }
                case TYPE_UINT32 -> { int[] v = all.toArray(U32); yield view(n, i -> v[i] & 0xffffffffL); }
                case TYPE_INT32 -> { int[] v = all.toArray(U32); yield view(n, i -> (long) v[i]); }
                case TYPE_UINT64, TYPE_INT64 -> { long[] v = all.toArray(U64); yield view(n, i -> v[i]); }
                case TYPE_UINT16 -> { short[] v = all.toArray(U16); yield view(n, i -> (long) (v[i] & 0xffff)); }
                case TYPE_INT16 -> { short[] v = all.toArray(U16); yield view(n, i -> (long) v[i]); }
                case TYPE_UINT8 -> { byte[] v = all.toArray(ValueLayout.JAVA_BYTE); yield view(n, i -> (long) (v[i] & 0xff)); }
                case TYPE_INT8 -> { byte[] v = all.toArray(ValueLayout.JAVA_BYTE); yield view(n, i -> (long) v[i]); }
                default -> throw new IllegalArgumentException("not a number type: " + et);
            };
        }

        private static List<Object> view(int n, java.util.function.IntFunction<Object> get) {
            return new java.util.AbstractList<>() {
                @Override public Object get(int i) { return get.apply(java.util.Objects.checkIndex(i, n)); }
                @Override public int size() { return n; }
            };
        }

        Object value(int type, String key, int depth) {
            switch (type) {
                case TYPE_UINT8: need(1, key); return (long) (seg.get(ValueLayout.JAVA_BYTE, pos++) & 0xff);
                case TYPE_INT8: need(1, key); return (long) seg.get(ValueLayout.JAVA_BYTE, pos++);
                case TYPE_UINT16: { need(2, key); long v = seg.get(U16, pos) & 0xffff; pos += 2; return v; }
                case TYPE_INT16: { need(2, key); long v = seg.get(U16, pos); pos += 2; return v; }
                case TYPE_UINT32: return u32(key) & 0xffffffffL;
                case TYPE_INT32: return (long) u32(key);
                case TYPE_FLOAT32: return Float.intBitsToFloat(u32(key));
                case TYPE_BOOL: { need(1, key); byte b = seg.get(ValueLayout.JAVA_BYTE, pos++); if (b != 0 && b != 1) throw new ModelException(path + ": " + key + ": bad bool " + b); return b == 1; }
                case TYPE_STRING: return string(key);
                case TYPE_UINT64:
                case TYPE_INT64: return u64(key);
                case TYPE_FLOAT64: return Double.longBitsToDouble(u64(key));
                case TYPE_ARRAY: {
                    if (depth > 2) throw new ModelException(path + ": " + key + ": arrays nested too deeply");
                    int et = u32(key + " (array type)");
                    long n = u64(key + " (array length)");
                    long min = switch (et) { case TYPE_UINT8, TYPE_INT8, TYPE_BOOL -> 1; case TYPE_UINT16, TYPE_INT16 -> 2;
                        case TYPE_UINT32, TYPE_INT32, TYPE_FLOAT32 -> 4; case TYPE_STRING, TYPE_UINT64, TYPE_INT64, TYPE_FLOAT64 -> 8; case TYPE_ARRAY -> 12;
                        default -> throw new ModelException(path + ": " + key + ": unknown array element type " + et); };
                    if (n < 0 || n > left() / min) throw new ModelException(path + ": " + key + ": array of " + n + " elements cannot fit in the " + left() + " bytes left");
                    if (n > elementsLeft) {
                        throw new ModelException(path + ": " + key + ": an array of " + n + " elements takes the metadata past the "
                                + MAX_ARRAY_ELEMENTS + " array elements Panamax reads");
                    }
                    elementsLeft -= n;
                    if (et != TYPE_STRING && et != TYPE_ARRAY && et != TYPE_BOOL) return numbers(et, (int) n, min);
                    List<Object> list = new ArrayList<>((int) n);
                    for (long i = 0; i < n; i++) list.add(value(et, key, depth + 1));
                    return list;
                }
                default: throw new ModelException(path + ": " + key + ": unknown value type " + type);
            }
        }
    }

    @Override
    public String toString() {
        return "GGUF v" + version + " " + path + " (" + metadata.size() + " keys, " + infos.size() + " tensors)";
    }

    static String shape(long[] dims) {
        return Arrays.toString(dims);
    }
}
