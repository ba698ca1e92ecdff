package dev.panamax.models;

import dev.panamax.runtime.format.Gguf;
import dev.panamax.runtime.format.GgufWriter;
import dev.panamax.runtime.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;

/** A GGUF file copied with some metadata set or dropped and some tensors' bytes changed: bad files for the tests. */
final class GgufEdit {
    private GgufEdit() {}

    static Path copy(Path in, Path out, Map<String, GgufWriter.Value> set, Set<String> dropTensors, BiFunction<String, byte[], byte[]> data)
            throws IOException {
        Gguf g = Gguf.read(in);
        try (var w = g.weights()) {
            GgufWriter o = new GgufWriter();
            for (var e : g.metadata().entrySet()) {
                if (e.getKey().equals("general.alignment")) continue;
                o.put(e.getKey(), set.containsKey(e.getKey()) ? set.get(e.getKey()) : GgufWriter.read(g.metadataTypes().get(e.getKey()), e.getValue()));
            }
            for (var e : set.entrySet()) if (!g.metadata().containsKey(e.getKey())) o.put(e.getKey(), e.getValue());
            for (Tensor t : w.all().values()) {
                if (dropTensors.contains(t.name())) continue;
                byte[] bytes = t.data().toArray(ValueLayout.JAVA_BYTE);
                o.tensor(t.name(), t.type(), t.shape(), data == null ? bytes : data.apply(t.name(), bytes));
            }
            o.write(out);
        }
        return out;
    }

    static Path copy(Path in, Path out, Map<String, GgufWriter.Value> set) throws IOException {
        return copy(in, out, set, Set.of(), null);
    }
}
