package dev.panamax.runtime.format;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import java.lang.foreign.ValueLayout;
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

    /** The files' mappings themselves, when {@link #map} hands out plain views of them (for {@link #unload}). */
    private final java.util.List<MemorySegment> mappings = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** Whether this module may call restricted methods without a warning ({@code --enable-native-access}). */
    private static final boolean NATIVE_ACCESS = Weights.class.getModule().isNativeAccessEnabled() && !dev.panamax.simd.Tuning.flag("mappedSegments");

    /**
     * Maps a whole file read-only (any size: segments are not limited to 2 GB). With native access
     * enabled the result is a plain native segment over the mapping, of the same class as the
     * arena-allocated copies the CPU decodes from: the Vector API's loads from a segment are
     * compiled for the segment classes they have seen, and a kernel that has seen two (an
     * embedding row read from the mapped file, then the interleaved matrices) ran TinyLlama's
     * decode 25% slower than one that has seen one. Both live and die with this arena.
     * {@code -Dpanamax.mappedSegments=true} hands out the mapping itself (to compare).
     */
    public MemorySegment map(Path file) {
        LayoutCache.Source source = LayoutCache.source(file);
        if (source != null) sources.add(source);
        return mapOnly(file);
    }

    /** The files {@link #map} mapped, as {@link LayoutCache}'s key names them. */
    private final java.util.List<LayoutCache.Source> sources = new java.util.concurrent.CopyOnWriteArrayList<>();

    private MemorySegment mapOnly(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            if (!NATIVE_ACCESS) return mapped;
            mappings.add(mapped);
            return MemorySegment.ofAddress(mapped.address()).reinterpret(mapped.byteSize(), arena, null);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new ModelException(file + ": no such file", e);
        } catch (IOException e) {
            throw new ModelException(file + ": cannot read (" + e + ")", e);
        }
    }

    /**
     * Hands the file pages under {@code part} (a slice of a segment from {@link #map}) back to the
     * OS: they stay in the page cache, and reading them again faults them back in. Anything else: nothing.
     */
    public void unload(MemorySegment part) {
        if (part.isMapped()) {
            part.unload();
            return;
        }
        for (MemorySegment m : mappings) {
            long at = part.address() - m.address();
            if (at >= 0 && at + part.byteSize() <= m.byteSize()) {
                m.asSlice(at, part.byteSize()).unload();
                return;
            }
        }
    }

    /**
     * The CPU's decode copy of each matrix into this arena — {@link Tensor#interleaved} where that
     * layout runs here (and {@link dev.panamax.runtime.LoadOptions#interleave} allows), the F32 widening
     * of the 16-bit matrices {@link #matrix} chose to widen — the file pages of each matrix that got a
     * copy unloaded: the copy's user does not read them again. With a
     * {@link dev.panamax.runtime.LoadOptions#layoutCache} folder, the copies are mapped from the
     * {@link LayoutCache} file a previous start wrote for the same sources and options, or written
     * there after they are made.
     */
    public Map<Tensor, Tensor> interleaved(java.util.Collection<Tensor> matrices) {
        java.util.List<Tensor> all = java.util.List.copyOf(new java.util.LinkedHashSet<>(matrices));
        if (all.stream().noneMatch(this::copied)) {
            Map<Tensor, Tensor> same = new java.util.IdentityHashMap<>();
            for (Tensor t : all) same.put(t, t);
            return same;
        }
        Path cacheFile = null;
        String key = null;
        if (options.layoutCache() != null && !sources.isEmpty()) {
            key = LayoutCache.key(sources, "quantize=" + options.quantize() + " interleave=" + options.interleave() + " widen-f32=" + !widened.isEmpty(),
                    dev.panamax.simd.Simd.kernels().vectorBits(), all);
            cacheFile = LayoutCache.file(options.layoutCache(), key);
            Map<Tensor, Tensor> cached = LayoutCache.read(cacheFile, key, all, this::mapOnly);
            if (cached != null) {
                layoutCacheNote = "decode layout mapped from " + cacheFile;
                return cached;
            }
        }
        Map<Tensor, Tensor> copies = new java.util.concurrent.ConcurrentHashMap<>();
        // One matrix per thread: most of the time is the kernel handing out (and the JDK zeroing)
        // fresh pages, which parallelizes by matrix, not within one allocation.
        dev.panamax.simd.Parallel.forEach(all.size(), i -> {
            Tensor t = all.get(i);
            copies.put(t, widened.contains(t) ? widenedToF32(t) : options.interleave() ? t.interleaved(arena) : t);
        });
        if (cacheFile != null) {
            long bytes = 0;
            for (Tensor m : all) if (copies.get(m) != m) bytes += copies.get(m).data().byteSize();
            String noRoom = LayoutCache.noRoom(options.layoutCache(), bytes);
            if (noRoom != null) {
                layoutCacheNote = "decode layout not cached in " + options.layoutCache() + ": " + noRoom;
            } else {
                // Written while the model already runs (the first tokens need not wait for ~2 s of disk
                // writes); close() waits for it, since the copies it reads live in this arena.
                Path file = cacheFile;
                String k = key;
                layoutCacheNote = String.format(java.util.Locale.ROOT, "decode layout being written to %s (%.2f GB; later starts map it)", file, bytes / 1e9);
                cacheWriter = Thread.ofPlatform().daemon().name("panamax-layout-cache").start(() -> {
                    try {
                        LayoutCache.write(file, k, all, copies);
                    } catch (IOException | RuntimeException e) {
                        System.getLogger("dev.panamax").log(System.Logger.Level.WARNING, "decode layout not cached in " + file + ": " + e.getMessage());
                    }
                });
            }
        }
        copies.forEach((from, to) -> {
            if (to != from) unload(from.data());
        });
        return copies;
    }

    /** Whether the CPU kernels read {@code m} (a matrix from {@link #matrix}) in a quantized decode layout ({@link #cpu}), before or after {@link #prepare}. */
    public boolean inDecodeLayout(Tensor m) {
        return m.layout() != null || options.interleave() && m.interleavesHere();
    }

    /** Whether {@link #interleaved} gives {@code m} a copy of its own here: widened to F32, or interleaved. */
    private boolean copied(Tensor m) {
        return widened.contains(m) || options.interleave() && m.interleavesHere();
    }

    private volatile String layoutCacheNote;
    /** The thread writing the layout cache, if one was started: {@link #close} waits for it. */
    private volatile Thread cacheWriter;

    /** What {@link #interleaved} did with the layout cache (mapped, written, or why not), or null when it was not asked to. */
    public String layoutCacheNote() {
        return layoutCacheNote;
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

    /**
     * The same tensor as float32 in off-heap memory owned by these weights (itself when it already
     * is F32). Widening 16-bit matrices once at load makes a small model's decode several times
     * faster on CPUs without a vector half-float instruction, at twice the memory.
     */
    public Tensor widenedToF32(Tensor t) {
        if (t.type() == DType.F32) return t;
        if (t.type() != DType.F16 && t.type() != DType.BF16) throw new IllegalArgumentException(t.name() + ": only F16 and BF16 widen, not " + t.type());
        long n = t.elements();
        MemorySegment dst = arena.allocate(4 * n, 64);
        int size = (int) Math.min(n, 1 << 16);
        short[] half = new short[size];
        float[] chunk = new float[size];
        boolean bf16 = t.type() == DType.BF16;
        for (long i = 0; i < n; i += size) {
            int len = (int) Math.min(size, n - i);
            // Bulk copies and a plain loop over arrays in its own small method: this runs once, at
            // start-up, before the JIT has compiled anything, where a read per element through the
            // memory segment (or interpreted Vector API code) is many times slower — kjv-llama's
            // 5.4 M weights widened in 120 ms that way, in ~20 ms this way.
            MemorySegment.copy(t.data(), I16_LE, 2 * i, half, 0, len);
            widen(half, chunk, len, bf16);
            MemorySegment.copy(chunk, 0, dst, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 4 * i, len);
        }
        return new Tensor(t.name(), DType.F32, t.shape(), dst);
    }

    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** f[i] = the half float (or bfloat16) s[i], exactly as the kernels' {@code f16ToF32}/{@code bf16ToF32} widen it. */
    private static void widen(short[] s, float[] f, int len, boolean bf16) {
        if (bf16) for (int i = 0; i < len; i++) f[i] = Float.intBitsToFloat(s[i] << 16);
        else for (int i = 0; i < len; i++) f[i] = Float.float16ToFloat(s[i]);
    }

    /**
     * A 2-D tensor [rows, cols] transposed to float32 [cols, rows] in off-heap memory owned by these
     * weights: GPT-2's Conv1D layers store [in, out], and the kernels want one row per output.
     */
    public Tensor transposedToF32(Tensor t, dev.panamax.simd.Kernels k) {
        if (t.rank() != 2) throw new ModelException("tensor " + t.name() + " should be 2-D to transpose, has shape " + java.util.Arrays.toString(t.shape()));
        int rows = t.rows(), cols = t.cols();
        float[] src = t.toFloats(k), dst = new float[src.length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
        MemorySegment seg = arena.allocate(4L * dst.length, 64);
        MemorySegment.copy(dst, 0, seg, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0, dst.length);
        return new Tensor(t.name(), DType.F32, new long[] {cols, rows}, seg);
    }

    private dev.panamax.runtime.LoadOptions options = dev.panamax.runtime.LoadOptions.defaults();

    /** How the model is to be prepared (set by the loader before an architecture reads the weights). */
    public void options(dev.panamax.runtime.LoadOptions o) {
        this.options = java.util.Objects.requireNonNull(o);
    }

    public dev.panamax.runtime.LoadOptions options() {
        return options;
    }

    /** The type float matrices are quantized to at load ({@link dev.panamax.runtime.LoadOptions#quantize}), or null. */
    public DType quantizeMatricesTo() {
        return options.quantize();
    }

    /** The matrices from {@link #matrix} (the CPU kernels' operands), and their decode copies once {@link #prepare} made them. */
    private final java.util.List<Tensor> cpuMatrices = new java.util.ArrayList<>();
    private volatile Map<Tensor, Tensor> cpuCopies;
    /** Bytes of 16-bit tensors in these weights, counted once: whether to widen them ({@link #matrix}). */
    private long halfFloatBytes = -1;

    /**
     * A weight matrix as an architecture keeps it: quantized to {@link dev.panamax.runtime.LoadOptions#quantize}
     * when asked and its rows are whole blocks; a 16-bit one widened to F32 when the model's 16-bit
     * tensors total at most {@link dev.panamax.runtime.LoadOptions#widenHalfFloatsUpTo} (a CPU has no
     * vector half-float instruction to use on the fly, and small models fit the caches either way);
     * otherwise as stored. It is also noted as a CPU operand: {@link #cpu} gives the layout the CPU
     * kernels read it in. Every architecture takes its matrices through here, so each gets the same
     * preparation.
     */
    public Tensor matrix(Tensor t) {
        Tensor m = quantized(t);
        boolean widen = m.type() != t.type() ? false : (t.type() == DType.F16 || t.type() == DType.BF16) && t.rank() == 2 && widensHalfFloats();
        synchronized (cpuMatrices) {
            if (cpuCopies != null) throw new IllegalStateException("matrix " + t.name() + " after prepare()");
            cpuMatrices.add(m);
            if (widen) widened.add(m);
        }
        return m;
    }

    /**
     * The 16-bit matrices whose CPU copy is their F32 widening: made with the interleaved copies in
     * {@link #prepare} (not at {@link #matrix}), so they come from the layout cache too — a fresh
     * process maps them from the page cache instead of faulting in and filling fresh memory (kjv-llama:
     * ~0.1 s of a 0.6 s start). A backend that takes the matrices elsewhere gets them as stored.
     */
    private final java.util.Set<Tensor> widened = Collections.newSetFromMap(new java.util.IdentityHashMap<>());

    /**
     * Makes the CPU's decode copy of every matrix from {@link #matrix}, all at once and only once
     * (interleaved rows for Q8_0, Q4_0, Q4_K, Q6_K, Q5_0 and IQ4_NL; see {@link #interleaved}). A
     * language model does it when its first session starts, or when asked up front
     * ({@link dev.panamax.runtime.model.LanguageModel#prepare}); a model that a backend takes
     * elsewhere (CUDA) never makes one.
     */
    public void prepare() {
        if (cpuCopies != null) return;
        synchronized (cpuMatrices) {
            if (cpuCopies == null) cpuCopies = interleaved(cpuMatrices);
        }
    }

    /** The layout the CPU kernels read {@code m} (a matrix from {@link #matrix}) in: its decode copy, or itself. */
    public Tensor cpu(Tensor m) {
        prepare();
        Tensor c = cpuCopies.get(m);
        return c != null ? c : m;
    }

    private Tensor quantized(Tensor t) {
        DType quantizeTo = options.quantize();
        if (quantizeTo == null || t.type().quantized() || t.rank() != 2 || t.cols() % quantizeTo.blockSize != 0) return t;
        MemorySegment dst = arena.allocate(quantizeTo.bytesFor(t.elements()), 64);
        if (quantizeTo == DType.TERNARY) {
            // BitNet b1.58: one absmean scale for the whole tensor.
            float[] all = t.toFloats(dev.panamax.simd.Simd.scalar());
            dev.panamax.quant.TernaryBlock.quantize(all, all.length, dst, 0);
            return new Tensor(t.name(), quantizeTo, t.shape(), dst);
        }
        int cols = t.cols();
        float[] row = new float[cols];
        long rowBytes = quantizeTo.bytesFor(cols);
        for (int r = 0; r < t.rows(); r++) {
            t.read(dev.panamax.simd.Simd.scalar(), (long) r * cols, row, 0, cols);
            quantizeTo.format.quantize(row, 0, cols, dst, r * rowBytes);
        }
        return new Tensor(t.name(), quantizeTo, t.shape(), dst);
    }

    private synchronized boolean widensHalfFloats() {
        if (halfFloatBytes < 0) halfFloatBytes = bytesOf(DType.F16) + bytesOf(DType.BF16);
        return halfFloatBytes > 0 && halfFloatBytes <= options.widenHalfFloatsUpTo();
    }

    /** Total bytes of tensors of the given type. */
    public long bytesOf(DType type) {
        long sum = 0;
        for (Tensor t : tensors.values()) if (t.type() == type) sum += t.data().byteSize();
        return sum;
    }

    /**
     * Parameters of each type as the model computes with them ({"F16": 5_400_000}): the file's
     * tensors, with each matrix taken as {@link #matrix} prepared it (quantized or widened at load).
     */
    public Map<String, Long> parametersByType() {
        Map<String, String> typeOf = new java.util.LinkedHashMap<>();
        Map<String, Long> count = new java.util.HashMap<>();
        for (Tensor t : tensors.values()) {
            typeOf.put(t.name(), t.type().name());
            count.put(t.name(), t.elements());
        }
        synchronized (cpuMatrices) {
            for (Tensor m : cpuMatrices) {
                typeOf.put(m.name(), widened.contains(m) ? DType.F32.name() : m.type().name());
                count.put(m.name(), m.elements());
            }
        }
        Map<String, Long> out = new java.util.TreeMap<>();
        typeOf.forEach((name, type) -> out.merge(type, count.get(name), Long::sum));
        return out;
    }

    public Map<String, Tensor> all() {
        return Collections.unmodifiableMap(tensors);
    }

    public Arena arena() {
        return arena;
    }

    @Override
    public void close() {
        Thread w = cacheWriter;
        boolean interrupted = false;
        while (w != null && w.isAlive()) {
            try {
                w.join();
            } catch (InterruptedException e) {
                interrupted = true; // the writer reads this arena's copies: it must end before the arena closes
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        arena.close();
    }
}
