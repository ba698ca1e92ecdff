package dev.panamax.runtime.format;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tensors of a model, by name, over memory-mapped files owned by one shared {@link Arena}:
 * closing it unmaps everything. Readable from any thread.
 */
public final class Weights implements AutoCloseable {

    private final Arena arena;
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    public Weights() {
        this.arena = Arena.ofShared();
    }

    /** Maps a whole file read-only (any size: segments are not limited to 2 GB). */
    public MemorySegment map(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (IOException e) {
            throw new ModelException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    public void add(Tensor t) {
        if (tensors.putIfAbsent(t.name(), t) != null) throw new ModelException("tensor " + t.name() + " appears twice");
    }

    /** A tensor that must be there. */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new ModelException("the model has no tensor named " + name);
        return t;
    }

    /** A tensor that may be absent (biases, tied heads): null then. */
    public Tensor find(String name) {
        return tensors.get(name);
    }

    public Map<String, Tensor> all() {
        return Collections.unmodifiableMap(tensors);
    }

    public Arena arena() {
        return arena;
    }

    @Override
    public void close() {
        arena.close();
    }
}
