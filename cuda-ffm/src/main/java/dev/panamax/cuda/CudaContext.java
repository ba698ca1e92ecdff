package dev.panamax.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One GPU: its primary context, its properties, and Panamax's kernels compiled for it (once per
 * process). Device memory is owned by {@link Arena}s: {@link #allocate} ties each allocation to an
 * arena, and closing the arena frees it, so closing a model returns all its device memory.
 */
public final class CudaContext {
    private static volatile CudaContext shared;

    /**
     * The first GPU, set up once (perhaps on another thread: {@code Backends.probeInBackground}), its
     * context made current on the calling thread; throws a {@link CudaException} saying why there is none.
     */
    public static CudaContext get() {
        CudaContext c = shared;
        if (c == null) {
            synchronized (CudaContext.class) {
                if (shared == null) shared = new CudaContext(Driver.get(), dev.panamax.simd.Tuning.speed("cuda.device", 0));
                c = shared;
            }
        }
        c.makeCurrent();
        return c;
    }

    public final Driver driver;
    public final int device, ccMajor, ccMinor, multiprocessors, maxSharedOptIn;
    public final String name;
    public final long totalMemory;
    final long context;
    private final Map<String, Long> functions = new ConcurrentHashMap<>();
    /**
     * The most dynamic shared memory each kernel has been launched with, checked against the GPU (with its
     * static arrays) and allowed where the two together pass the default 48 KiB.
     */
    private final Map<Long, Integer> sharedSet = new ConcurrentHashMap<>();

    private CudaContext(Driver driver, int ordinal) {
        this.driver = driver;
        int count = driver.deviceCount();
        if (count == 0) throw new CudaException("the CUDA driver sees no GPU");
        if (ordinal < 0 || ordinal >= count) throw new CudaException("no CUDA device " + ordinal + " (this machine has " + count + ")");
        device = driver.device(ordinal);
        name = driver.deviceName(device);
        ccMajor = driver.attribute(device, Driver.ATTR_CC_MAJOR);
        ccMinor = driver.attribute(device, Driver.ATTR_CC_MINOR);
        multiprocessors = driver.attribute(device, Driver.ATTR_MULTIPROCESSOR_COUNT);
        maxSharedOptIn = driver.attribute(device, Driver.ATTR_MAX_SHARED_PER_BLOCK_OPTIN);
        totalMemory = driver.totalMemory(device);
        context = driver.primaryContext(device);
        makeCurrent();
    }

    /** Makes this device's context current on the calling thread (each CUDA call acts on the current one). */
    public void makeCurrent() {
        driver.setCurrent(context);
    }

    /** "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.2 GiB, driver 13.0)". */
    public String describe() {
        int v = driver.driverVersion();
        return String.format(java.util.Locale.ROOT, "%s (sm_%d%d, %d SMs, %.1f GiB, CUDA driver %d.%d)", name, ccMajor, ccMinor,
                multiprocessors, totalMemory / (double) (1L << 30), v / 1000, (v % 1000) / 10);
    }

    // ---- memory ----

    /** {@code bytes} of device memory, freed when {@code owner} closes. */
    public long allocate(Arena owner, long bytes) {
        makeCurrent();
        long p = driver.malloc(Math.max(bytes, 1));
        MemorySegment.ofAddress(p).reinterpret(0, owner, s -> {
            makeCurrent();
            driver.free(p);
        });
        return p;
    }

    /**
     * Held while a stream of this context is being captured into a CUDA graph, and by
     * {@link #synchronizeAll}: a context-wide synchronisation is illegal while any stream is capturing
     * (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, whatever the capture mode), and sessions on other threads
     * — a server's prompt thread beside its decoding thread — upload and download while one captures.
     */
    final Object captureLock = new Object();

    /** Waits for all work of the context, not while another thread captures a graph. */
    void synchronizeAll() {
        synchronized (captureLock) {
            driver.synchronizeContext();
        }
    }

    /** {@code bytes} of device memory set to zero (and there when this returns), freed when {@code owner} closes. */
    public long zeros(Arena owner, long bytes) {
        long p = allocate(owner, bytes);
        driver.zeroAsync(p, Math.max(bytes, 1), 0);
        synchronizeAll();
        return p;
    }

    /** {@code bytes} of page-locked host memory, freed when {@code owner} closes, as a segment the JVM can read and write. */
    public MemorySegment allocateHost(Arena owner, long bytes) {
        makeCurrent();
        long p = driver.mallocHost(Math.max(bytes, 1));
        return MemorySegment.ofAddress(p).reinterpret(bytes, owner, s -> {
            makeCurrent();
            driver.freeHost(p);
        });
    }

    /** A device copy of {@code data}, owned by {@code owner}: queued when this thread has {@link #beginUploads} open, else there on return. */
    public long upload(Arena owner, MemorySegment data) {
        long p = allocate(owner, data.byteSize());
        Uploads up = uploads.get();
        if (up != null && up.staged()) up.copy(p, data);
        else {
            copyIn(p, data);
            if (up != null) up.count(data.byteSize());
        }
        return p;
    }

    private final ThreadLocal<Uploads> uploads = new ThreadLocal<>();

    /**
     * Opens staged uploads on this thread until the returned object is closed ({@link Uploads}: page-locked
     * buffers, copies overlapping the packing of the next matrix). Inside, {@link #upload} and
     * {@link DeviceMatrix#upload} return before their data is on the device — launch nothing that reads
     * it before {@code close()}, which waits for all of it. {@code -Dpanamax.cuda.stagedUploads=false}
     * keeps every upload synchronous.
     */
    Uploads beginUploads() {
        return beginUploads(Uploads.BUFFER);
    }

    /** {@link #beginUploads()} with staging buffers of {@code bufferBytes} each (tests take small ones, to cross their edges). */
    Uploads beginUploads(long bufferBytes) {
        if (uploads.get() != null) throw new IllegalStateException("uploads are already open on this thread");
        startKernels(); // split_blocks, and the first token's kernels, load meanwhile
        Uploads up = new Uploads(this, dev.panamax.simd.Tuning.flagOn("cuda.stagedUploads"), bufferBytes);
        uploads.set(up);
        return up;
    }

    /** {@link Uploads#close}: this thread's uploads are synchronous again. */
    void uploadsClosed(Uploads up) {
        if (uploads.get() == up) uploads.remove();
    }

    /** This thread's open {@link Uploads}, or null. */
    Uploads openUploads() {
        return uploads.get();
    }

    /**
     * Copies {@code data} to {@code dst} and waits until it is there: a copy from pageable memory may
     * return before its DMA ends, and kernels on non-blocking streams do not wait for it.
     */
    public void copyIn(long dst, MemorySegment data) {
        if (data.byteSize() == 0) return;
        makeCurrent();
        if (data.isNative()) {
            driver.copyToDevice(dst, data, data.byteSize());
        } else { // heap arrays go through a native staging copy (the driver needs a stable address)
            try (Arena a = Arena.ofConfined()) {
                MemorySegment tmp = a.allocate(data.byteSize(), 16);
                tmp.copyFrom(data);
                driver.copyToDevice(dst, tmp, data.byteSize());
            }
        }
        synchronizeAll();
    }

    public long upload(Arena owner, float[] data) {
        return upload(owner, MemorySegment.ofArray(data));
    }

    public float[] downloadFloats(long src, int n) {
        makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment tmp = a.allocate(JAVA_FLOAT, Math.max(n, 1));
            synchronizeAll(); // whatever stream wrote it
            driver.copyToHost(tmp, src, 4L * n);
            return tmp.asSlice(0, 4L * n).toArray(JAVA_FLOAT);
        }
    }

    public short[] downloadShorts(long src, int n) {
        makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment tmp = a.allocate(2L * Math.max(n, 1), 8);
            synchronizeAll();
            driver.copyToHost(tmp, src, 2L * n);
            return tmp.asSlice(0, 2L * n).toArray(java.lang.foreign.ValueLayout.JAVA_SHORT);
        }
    }

    // ---- kernels ----

    /** The kernels' CUDA C source, shipped in the jar. */
    static String kernelSource() {
        try (InputStream in = CudaContext.class.getResourceAsStream("kernels.cu")) {
            if (in == null) throw new CudaException("kernels.cu is missing from the jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CudaException("cannot read kernels.cu: " + e.getMessage(), e);
        }
    }

    /**
     * Which part of kernels.cu defines each kernel: the {@code extern "C"} kernels and the kernel
     * macros' instances between {@code #if PANAMAX_PART_IS(n)} and {@code #endif}.
     */
    static Map<String, Integer> kernelParts(String source) {
        Map<String, Integer> parts = new java.util.HashMap<>();
        java.util.regex.Pattern guard = java.util.regex.Pattern.compile("^#if PANAMAX_PART_IS\\((\\d+)\\)");
        java.util.regex.Pattern kernel = java.util.regex.Pattern.compile(
                "^(?:extern \"C\" __global__ void (?:__launch_bounds__\\([^)]*\\) )?(\\w+)\\(|[A-Z_]+\\((\\w+),)");
        int part = 0;
        for (String line : source.split("\n")) {
            java.util.regex.Matcher g = guard.matcher(line);
            if (g.find()) {
                part = Integer.parseInt(g.group(1));
            } else if (line.startsWith("#endif")) {
                part = 0;
            } else if (part > 0) {
                java.util.regex.Matcher k = kernel.matcher(line);
                if (k.find()) parts.put(k.group(1) != null ? k.group(1) : k.group(2), part);
            }
        }
        return parts;
    }

    /**
     * Whether kernels.cu is built in parts, side by side (default), or as one program
     * ({@code -Dpanamax.cuda.compileParts=false}: the way before, for comparing first-run times).
     */
    static final boolean COMPILE_PARTS = dev.panamax.simd.Tuning.flagOn("cuda.compileParts");

    private volatile Map<String, Integer> partOf;
    private final Map<Integer, java.util.concurrent.Future<byte[]>> compiling = new ConcurrentHashMap<>();
    private final Map<Integer, Long> modules = new ConcurrentHashMap<>();

    /**
     * A kernel of Panamax's by its {@code extern "C"} name. The first call starts building every part of
     * kernels.cu on background threads (a part whose machine code is in the disk cache only loads it)
     * and waits for the kernel's own part only: a process that decodes one sequence does not wait for
     * the batched-step kernels it never launches, and the parts it needs build on several cores at
     * once (NVRTC compiles separate programs concurrently). A part still building when the process
     * ends is built again by the next one.
     */
    public long function(String kernel) {
        Long f = functions.get(kernel);
        if (f != null) return f;
        long m = module(partFor(kernel));
        return functions.computeIfAbsent(kernel, k -> driver.function(m, k));
    }

    private int partFor(String kernel) {
        if (!COMPILE_PARTS) return 0;
        Integer part = startKernels().get(kernel);
        if (part == null) throw new CudaException("no kernel " + kernel + " in kernels.cu");
        return part;
    }

    /**
     * Starts building (or loading from the disk cache) every part of kernels.cu on background threads,
     * once; returns which part holds each kernel. Models call it before their weights go up, so the
     * first token's kernels are ready when the weights are.
     */
    Map<String, Integer> startKernels() {
        Map<String, Integer> parts = partOf;
        if (parts == null && COMPILE_PARTS) {
            synchronized (this) {
                if (partOf == null) {
                    Map<String, Integer> p = kernelParts(kernelSource());
                    startBuilding(new java.util.TreeSet<>(p.values()));
                    partOf = p;
                }
                parts = partOf;
            }
        }
        return parts;
    }

    private void startBuilding(java.util.SortedSet<Integer> parts) {
        String source = kernelSource();
        int threads = Math.max(1, Math.min(parts.size(), Runtime.getRuntime().availableProcessors()));
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads,
                Thread.ofPlatform().daemon().name("panamax-nvrtc-", 0).factory());
        for (int part : parts) {
            compiling.put(part, pool.submit(() -> Nvrtc.get().compile("panamax_kernels_" + part + ".cu", source, ccMajor, ccMinor,
                    List.of("-DPANAMAX_PART=" + part))));
        }
        pool.shutdown(); // its threads end when the last part is built
        // A process that ends while NVRTC compiles on one of these threads crashed inside libnvrtc (its
        // statics torn down under the compile; 1 of 8 short first runs on an H100 host): at exit the
        // parts not started are dropped and those compiling finish (into the disk cache) first.
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("panamax-nvrtc-exit").unstarted(() -> {
            for (var f : compiling.values()) f.cancel(false); // those not started never start; a running one runs on, uninterrupted
            try {
                pool.awaitTermination(60, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
    }

    /** Part {@code part}'s module (0: all of kernels.cu as one program), loaded on the calling thread once built. */
    private long module(int part) {
        Long m = modules.get(part);
        if (m != null) return m;
        byte[] cubin;
        if (part == 0) {
            cubin = Nvrtc.get().compile("panamax_kernels.cu", kernelSource(), ccMajor, ccMinor, List.of());
        } else {
            try {
                cubin = compiling.get(part).get();
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) throw r;
                throw new CudaException("building part " + part + " of kernels.cu: " + e.getCause(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CudaException("interrupted while part " + part + " of kernels.cu was built");
            }
        }
        synchronized (captureLock) { // a module load may synchronise the context: not while another thread captures a graph
            Long loaded = modules.get(part);
            if (loaded != null) return loaded;
            makeCurrent();
            long module = driver.loadModule(cubin);
            modules.put(part, module);
            return module;
        }
    }

    /**
     * Launches {@code kernel} on {@code stream} with a grid of {@code grid} blocks (x, y, z) of
     * {@code block} threads, {@code shared} bytes of dynamic shared memory, and {@code args} (Long for
     * pointers and 64-bit integers, Integer, Float) in the kernel's parameter order.
     */
    public void launch(String kernel, int[] grid, int block, int shared, long stream, Object... args) {
        launch(false, kernel, grid, block, shared, stream, args);
    }

    /** Whether kernels can be launched as programmatic dependents (Hopper and later; {@code -Dpanamax.cuda.pdl=false} turns it off). */
    public boolean dependentLaunches() {
        return ccMajor >= 9 && dev.panamax.simd.Tuning.flagOn("cuda.pdl");
    }

    /**
     * As {@link #launch(String, int[], int, int, long, Object...)}; with {@code dependent} (where
     * {@link #dependentLaunches()}), as a programmatic dependent of the kernel before it on the stream.
     */
    public void launch(boolean dependent, String kernel, int[] grid, int block, int shared, long stream, Object... args) {
        long f = function(kernel);
        // Past 48 KiB a block's shared memory — the kernel's static arrays and the dynamic part together —
        // needs the opt-in attribute; without it the launch fails with CUDA_ERROR_INVALID_VALUE (the tensor-core
        // matvec of 16 inputs over 2 560 columns: 47 616 dynamic bytes + ~9.4 KB static). Checked once per
        // kernel and larger size: later launches of that size or less take one map lookup.
        if (shared > 0 && sharedSet.getOrDefault(f, 0) < shared) {
            int fixed = driver.functionAttribute(f, Driver.FUNC_STATIC_SHARED);
            if (shared + fixed > maxSharedOptIn) {
                throw new CudaException(kernel + " needs " + (shared + fixed) + " bytes of shared memory; this GPU has " + maxSharedOptIn);
            }
            if (shared + fixed > 48 * 1024) driver.setFunctionAttribute(f, Driver.FUNC_MAX_DYNAMIC_SHARED, shared);
            sharedSet.put(f, shared);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = a.allocate(java.lang.foreign.ValueLayout.ADDRESS, Math.max(args.length, 1));
            for (int i = 0; i < args.length; i++) {
                MemorySegment v = switch (args[i]) {
                    case Long l -> a.allocateFrom(JAVA_LONG, l);
                    case Integer n -> a.allocateFrom(JAVA_INT, n);
                    case Float x -> a.allocateFrom(JAVA_FLOAT, x);
                    default -> throw new IllegalArgumentException("kernel argument " + i + " of " + kernel + ": " + args[i]);
                };
                params.setAtIndex(java.lang.foreign.ValueLayout.ADDRESS, i, v);
            }
            int gy = grid.length > 1 ? grid[1] : 1, gz = grid.length > 2 ? grid[2] : 1;
            if (dependent && dependentLaunches()) driver.launchDependent(f, grid[0], gy, gz, block, 1, 1, shared, stream, params, a);
            else driver.launch(f, grid[0], gy, gz, block, 1, 1, shared, stream, params);
        }
    }
}
