package dev.panamax.runtime.format;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.json.Json;
import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Reader for Hugging Face safetensors files:
 *
 * <pre>
 * u64 LE   N             header length
 * N bytes  JSON          {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}
 * ...      data          tensor bytes; offsets are relative to the end of the header
 * </pre>
 *
 * Every length and offset is checked against the file before a tensor is made.
 */
public final class Safetensors {
    private Safetensors() {}

    /** Maps {@code file} into {@code weights} and adds its tensors (names as in the file). */
    public static void read(Path file, Weights weights) {
        MemorySegment seg = weights.map(file);
        long size = seg.byteSize();
        if (size < 8) throw new ModelException(file + ": " + size + " bytes is too short for a safetensors file");
        long n = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (n <= 0 || n > size - 8 || n > 100_000_000) {
            throw new ModelException(file + ": header length " + n + " does not fit in the file's " + size + " bytes (truncated or not safetensors)");
        }
        String json = new String(seg.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        Map<String, Object> header;
        try {
            header = Json.object(Json.parse(json), "header");
        } catch (Json.JsonException e) {
            throw new ModelException(file + ": bad safetensors header: " + e.getMessage(), e);
        }
        long dataStart = 8 + n, dataSize = size - dataStart;
        for (Map.Entry<String, Object> e : header.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) continue;
            try {
                Map<String, Object> info = Json.object(e.getValue(), name);
                String dtypeName = Json.string(info.get("dtype"), name + ".dtype");
                DType type = DType.fromSafetensors(dtypeName);
                if (type == null) throw new ModelException("tensor " + name + " has dtype " + dtypeName + ", which is not supported (F32, F16, BF16)");
                List<Object> shapeList = Json.array(info.get("shape"), name + ".shape");
                long[] shape = new long[shapeList.size()];
                for (int i = 0; i < shape.length; i++) {
                    double d = Json.number(shapeList.get(i), name + ".shape");
                    if (d < 0 || d != Math.floor(d) || d > Integer.MAX_VALUE) throw new ModelException("tensor " + name + " has a bad dimension " + d);
                    shape[i] = (long) d;
                }
                List<Object> offs = Json.array(info.get("data_offsets"), name + ".data_offsets");
                if (offs.size() != 2) throw new ModelException("tensor " + name + ": data_offsets must have two entries");
                long begin = (long) Json.number(offs.get(0), name), end = (long) Json.number(offs.get(1), name);
                if (begin < 0 || end < begin || end > dataSize) {
                    throw new ModelException("tensor " + name + " claims bytes [" + begin + ", " + end + ") but the data section has " + dataSize + " bytes (truncated file?)");
                }
                long elements = 1;
                for (long d : shape) elements = Math.multiplyExact(elements, d);
                if (type.bytesFor(elements) != end - begin) {
                    throw new ModelException("tensor " + name + ": shape " + java.util.Arrays.toString(shape) + " of " + type + " needs "
                            + type.bytesFor(elements) + " bytes, the offsets give " + (end - begin));
                }
                weights.add(new Tensor(name, type, shape, seg.asSlice(dataStart + begin, end - begin)));
            } catch (Json.JsonException | ArithmeticException ex) {
                throw new ModelException(file + ": tensor " + name + ": " + ex.getMessage(), ex);
            } catch (ModelException ex) {
                throw new ModelException(file + ": " + ex.getMessage(), ex);
            }
        }
    }
}
