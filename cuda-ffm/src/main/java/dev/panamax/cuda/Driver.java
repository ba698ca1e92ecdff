package dev.panamax.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * The part of the CUDA driver API ({@code libcuda.so.1}) Panamax uses, bound with
 * {@code Linker.downcallHandle}. Every call's status is checked: a failure throws a
 * {@link CudaException} naming the call and the error ({@code cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY
 * (out of memory)}). Handles (contexts, streams, modules, functions, events, graphs) are native
 * pointers held as {@code long}; device addresses ({@code CUdeviceptr}) are {@code long} too.
 * Functions whose ABI changed carry their versioned symbol names ({@code cuMemAlloc_v2}, ...).
 */
public final class Driver {
    // Device attributes (CUdevice_attribute).
    public static final int ATTR_MULTIPROCESSOR_COUNT = 16, ATTR_CC_MAJOR = 75, ATTR_CC_MINOR = 76,
            ATTR_MAX_SHARED_PER_BLOCK_OPTIN = 97;
    /** CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES. */
    public static final int FUNC_MAX_DYNAMIC_SHARED = 8;
    /** CU_STREAM_NON_BLOCKING: no implicit synchronisation with the legacy default stream. */
    public static final int STREAM_NON_BLOCKING = 1;
    /** CU_STREAM_CAPTURE_MODE_THREAD_LOCAL. */
    public static final int CAPTURE_THREAD_LOCAL = 1;

    private static volatile Driver instance;
    private static volatile String failure;

    /** The driver, initialised once per process; throws a {@link CudaException} saying why it cannot be used. */
    public static Driver get() {
        Driver d = instance;
        if (d != null) return d;
        synchronized (Driver.class) {
            if (instance != null) return instance;
            if (failure != null) throw new CudaException(failure);
            try {
                instance = new Driver(CudaLibraries.driver(Arena.global()));
                return instance;
            } catch (CudaException e) {
                failure = e.getMessage();
                throw e;
            } catch (RuntimeException | LinkageError e) {
                failure = "the CUDA driver cannot be used: " + e;
                throw new CudaException(failure, e);
            }
        }
    }

    final CudaLibraries.Library lib;
    private final MethodHandle cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName, cuDeviceGetAttribute,
            cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuCtxSetCurrent, cuMemAlloc, cuMemFree, cuMemGetInfo, cuMemAllocHost,
            cuMemFreeHost, cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemcpyDtoDAsync, cuMemsetD8Async,
            cuStreamCreate, cuStreamDestroy, cuStreamSynchronize, cuModuleLoadData, cuModuleUnload, cuModuleGetFunction,
            cuFuncSetAttribute, cuFuncGetAttribute, cuLaunchKernel, cuEventCreate, cuEventDestroy, cuEventRecord, cuEventSynchronize, cuEventElapsedTime,
            cuStreamBeginCapture, cuStreamEndCapture, cuGraphInstantiate, cuGraphLaunch, cuGraphDestroy, cuGraphExecDestroy,
            cuGetErrorName, cuGetErrorString, cuCtxSynchronize, cuLaunchKernelEx;

    private Driver(CudaLibraries.Library lib) {
        this.lib = lib;
        FunctionDescriptor i_i = FunctionDescriptor.of(JAVA_INT, JAVA_INT), i_p = FunctionDescriptor.of(JAVA_INT, ADDRESS),
                i_l = FunctionDescriptor.of(JAVA_INT, JAVA_LONG), i_pl = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG),
                i_pi = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), i_ll = FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG);
        cuInit = lib.function(i_i, "cuInit");
        cuDriverGetVersion = lib.function(i_p, "cuDriverGetVersion");
        cuDeviceGetCount = lib.function(i_p, "cuDeviceGetCount");
        cuDeviceGet = lib.function(i_pi, "cuDeviceGet");
        cuDeviceGetName = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), "cuDeviceGetName");
        cuDeviceGetAttribute = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), "cuDeviceGetAttribute");
        cuDeviceTotalMem = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), "cuDeviceTotalMem_v2");
        cuDevicePrimaryCtxRetain = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), "cuDevicePrimaryCtxRetain");
        cuCtxSetCurrent = lib.function(i_l, "cuCtxSetCurrent");
        cuCtxSynchronize = lib.function(FunctionDescriptor.of(JAVA_INT), "cuCtxSynchronize");
        cuMemAlloc = lib.function(i_pl, "cuMemAlloc_v2");
        cuMemFree = lib.function(i_l, "cuMemFree_v2");
        cuMemGetInfo = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "cuMemGetInfo_v2");
        cuMemAllocHost = lib.function(i_pl, "cuMemAllocHost_v2");
        cuMemFreeHost = lib.function(i_l, "cuMemFreeHost");
        cuMemcpyHtoD = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG), "cuMemcpyHtoD_v2");
        cuMemcpyDtoH = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG), "cuMemcpyDtoH_v2");
        cuMemcpyHtoDAsync = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), "cuMemcpyHtoDAsync_v2");
        cuMemcpyDtoHAsync = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), "cuMemcpyDtoHAsync_v2");
        cuMemcpyDtoDAsync = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), "cuMemcpyDtoDAsync_v2");
        cuMemsetD8Async = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_BYTE, JAVA_LONG, JAVA_LONG), "cuMemsetD8Async");
        cuStreamCreate = lib.function(i_pi, "cuStreamCreate");
        cuStreamDestroy = lib.function(i_l, "cuStreamDestroy_v2");
        cuStreamSynchronize = lib.function(i_l, "cuStreamSynchronize");
        cuModuleLoadData = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "cuModuleLoadData");
        cuModuleUnload = lib.function(i_l, "cuModuleUnload");
        cuModuleGetFunction = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS), "cuModuleGetFunction");
        cuFuncSetAttribute = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT), "cuFuncSetAttribute");
        cuFuncGetAttribute = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG), "cuFuncGetAttribute");
        cuLaunchKernel = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS), "cuLaunchKernel");
        cuLaunchKernelEx = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS), "cuLaunchKernelEx");
        cuEventCreate = lib.function(i_pi, "cuEventCreate");
        cuEventDestroy = lib.function(i_l, "cuEventDestroy_v2");
        cuEventRecord = lib.function(i_ll, "cuEventRecord");
        cuEventSynchronize = lib.function(i_l, "cuEventSynchronize");
        cuEventElapsedTime = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG), "cuEventElapsedTime_v2", "cuEventElapsedTime");
        cuStreamBeginCapture = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT), "cuStreamBeginCapture_v2");
        cuStreamEndCapture = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS), "cuStreamEndCapture");
        cuGraphInstantiate = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG), "cuGraphInstantiateWithFlags");
        cuGraphLaunch = lib.function(i_ll, "cuGraphLaunch");
        cuGraphDestroy = lib.function(i_l, "cuGraphDestroy");
        cuGraphExecDestroy = lib.function(i_l, "cuGraphExecDestroy");
        cuGetErrorName = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), "cuGetErrorName");
        cuGetErrorString = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), "cuGetErrorString");
        check(call(() -> (int) cuInit.invokeExact(0)), "cuInit");
    }

    // ---- status ----

    /** Throws a {@link CudaException} naming {@code call} unless {@code status} is CUDA_SUCCESS. */
    void check(int status, String call) {
        if (status != 0) throw new CudaException(call + ": " + errorName(status));
    }

    /** "CUDA_ERROR_OUT_OF_MEMORY (out of memory)" for a status. */
    public String errorName(int status) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            String name = "CUresult " + status, text = "";
            if ((int) cuGetErrorName.invokeExact(status, p) == 0) name = p.get(ADDRESS, 0).reinterpret(256).getString(0);
            if ((int) cuGetErrorString.invokeExact(status, p) == 0) text = " (" + p.get(ADDRESS, 0).reinterpret(1024).getString(0) + ")";
            return name + text;
        } catch (Throwable t) {
            return "CUresult " + status;
        }
    }

    @FunctionalInterface
    interface NativeCall {
        int run() throws Throwable;
    }

    /**
     * The context a virtual thread last made current ({@link #setCurrent}). CUDA keeps the current
     * context per OS thread, and a virtual thread that parks (on a contended monitor, a lock, a
     * future) may resume on another carrier thread, where its context is not current: a server's
     * request opening a session failed with CUDA_ERROR_INVALID_CONTEXT so. Every call from a virtual
     * thread first makes its context current on the carrier it runs on now (no park point between
     * that and the call); platform threads keep theirs and pay nothing.
     */
    private static final ThreadLocal<Long> VIRTUAL_CONTEXT = new ThreadLocal<>();
    private static volatile MethodHandle setCurrentHandle;

    static int call(NativeCall c) {
        try {
            if (Thread.currentThread().isVirtual()) {
                Long context = VIRTUAL_CONTEXT.get();
                if (context != null) {
                    int ignored = (int) setCurrentHandle.invokeExact((long) context);
                }
            }
            return c.run();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("native call failed: " + t, t);
        }
    }

    // ---- devices and contexts ----

    public int driverVersion() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check(call(() -> (int) cuDriverGetVersion.invokeExact(v)), "cuDriverGetVersion");
            return v.get(JAVA_INT, 0);
        }
    }

    public int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check(call(() -> (int) cuDeviceGetCount.invokeExact(v)), "cuDeviceGetCount");
            return v.get(JAVA_INT, 0);
        }
    }

    public int device(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check(call(() -> (int) cuDeviceGet.invokeExact(v, ordinal)), "cuDeviceGet");
            return v.get(JAVA_INT, 0);
        }
    }

    public String deviceName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(256);
            check(call(() -> (int) cuDeviceGetName.invokeExact(v, 256, device)), "cuDeviceGetName");
            return v.getString(0);
        }
    }

    public int attribute(int device, int attribute) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check(call(() -> (int) cuDeviceGetAttribute.invokeExact(v, attribute, device)), "cuDeviceGetAttribute(" + attribute + ")");
            return v.get(JAVA_INT, 0);
        }
    }

    public long totalMemory(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check(call(() -> (int) cuDeviceTotalMem.invokeExact(v, device)), "cuDeviceTotalMem_v2");
            return v.get(JAVA_LONG, 0);
        }
    }

    /** The device's primary context (the one the CUDA runtime, and so cuBLAS, also uses). */
    public long primaryContext(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check(call(() -> (int) cuDevicePrimaryCtxRetain.invokeExact(v, device)), "cuDevicePrimaryCtxRetain");
            return v.get(JAVA_LONG, 0);
        }
    }

    public void setCurrent(long context) {
        if (Thread.currentThread().isVirtual()) {
            setCurrentHandle = cuCtxSetCurrent;
            VIRTUAL_CONTEXT.set(context);
        }
        check(call(() -> (int) cuCtxSetCurrent.invokeExact(context)), "cuCtxSetCurrent");
    }

    public void synchronizeContext() {
        check(call(() -> (int) cuCtxSynchronize.invokeExact()), "cuCtxSynchronize");
    }

    // ---- memory ----

    public long malloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            int status = call(() -> (int) cuMemAlloc.invokeExact(v, bytes));
            if (status != 0) throw new CudaException("cuMemAlloc_v2 of " + bytes + " bytes: " + errorName(status));
            return v.get(JAVA_LONG, 0);
        }
    }

    public void free(long pointer) {
        check(call(() -> (int) cuMemFree.invokeExact(pointer)), "cuMemFree_v2");
    }

    /** {free, total} device memory in bytes. */
    public long[] memoryInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_LONG), t = a.allocate(JAVA_LONG);
            check(call(() -> (int) cuMemGetInfo.invokeExact(f, t)), "cuMemGetInfo_v2");
            return new long[] {f.get(JAVA_LONG, 0), t.get(JAVA_LONG, 0)};
        }
    }

    /** Page-locked host memory (the only kind a captured graph may copy from or to). */
    public long mallocHost(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check(call(() -> (int) cuMemAllocHost.invokeExact(v, bytes)), "cuMemAllocHost_v2");
            return v.get(JAVA_LONG, 0);
        }
    }

    public void freeHost(long pointer) {
        check(call(() -> (int) cuMemFreeHost.invokeExact(pointer)), "cuMemFreeHost");
    }

    public void copyToDevice(long dst, MemorySegment src, long bytes) {
        check(call(() -> (int) cuMemcpyHtoD.invokeExact(dst, src, bytes)), "cuMemcpyHtoD_v2");
    }

    public void copyToHost(MemorySegment dst, long src, long bytes) {
        check(call(() -> (int) cuMemcpyDtoH.invokeExact(dst, src, bytes)), "cuMemcpyDtoH_v2");
    }

    /** Asynchronous copy from page-locked host memory at address {@code src}. */
    public void copyToDeviceAsync(long dst, long src, long bytes, long stream) {
        check(call(() -> (int) cuMemcpyHtoDAsync.invokeExact(dst, src, bytes, stream)), "cuMemcpyHtoDAsync_v2");
    }

    /** Asynchronous copy into page-locked host memory at address {@code dst}. */
    public void copyToHostAsync(long dst, long src, long bytes, long stream) {
        check(call(() -> (int) cuMemcpyDtoHAsync.invokeExact(dst, src, bytes, stream)), "cuMemcpyDtoHAsync_v2");
    }

    public void copyDeviceAsync(long dst, long src, long bytes, long stream) {
        check(call(() -> (int) cuMemcpyDtoDAsync.invokeExact(dst, src, bytes, stream)), "cuMemcpyDtoDAsync_v2");
    }

    public void zeroAsync(long dst, long bytes, long stream) {
        check(call(() -> (int) cuMemsetD8Async.invokeExact(dst, (byte) 0, bytes, stream)), "cuMemsetD8Async");
    }

    // ---- streams, modules, launches ----

    public long createStream() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check(call(() -> (int) cuStreamCreate.invokeExact(v, STREAM_NON_BLOCKING)), "cuStreamCreate");
            return v.get(JAVA_LONG, 0);
        }
    }

    public void destroyStream(long stream) {
        check(call(() -> (int) cuStreamDestroy.invokeExact(stream)), "cuStreamDestroy_v2");
    }

    public void synchronize(long stream) {
        check(call(() -> (int) cuStreamSynchronize.invokeExact(stream)), "cuStreamSynchronize");
    }

    /** Loads a cubin or PTX image. */
    public long loadModule(byte[] image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment img = a.allocate(image.length + 1L);
            img.copyFrom(MemorySegment.ofArray(image));
            MemorySegment v = a.allocate(ADDRESS);
            check(call(() -> (int) cuModuleLoadData.invokeExact(v, img)), "cuModuleLoadData");
            return v.get(JAVA_LONG, 0);
        }
    }

    public void unloadModule(long module) {
        check(call(() -> (int) cuModuleUnload.invokeExact(module)), "cuModuleUnload");
    }

    public long function(long module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS), n = a.allocateFrom(name);
            check(call(() -> (int) cuModuleGetFunction.invokeExact(v, module, n)), "cuModuleGetFunction(" + name + ")");
            return v.get(JAVA_LONG, 0);
        }
    }

    /** CU_FUNC_ATTRIBUTE_NUM_REGS: registers a thread of the function uses. */
    public static final int FUNC_NUM_REGS = 4;
    /** CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: the function's static shared memory ({@code __shared__} arrays of fixed size). */
    public static final int FUNC_STATIC_SHARED = 1;

    public int functionAttribute(long function, int attribute) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check(call(() -> (int) cuFuncGetAttribute.invokeExact(v, attribute, function)), "cuFuncGetAttribute");
            return v.get(JAVA_INT, 0);
        }
    }

    public void setFunctionAttribute(long function, int attribute, int value) {
        check(call(() -> (int) cuFuncSetAttribute.invokeExact(function, attribute, value)), "cuFuncSetAttribute");
    }

    /** Launches {@code function}; {@code params} is the {@code void**} array of pointers to each argument. */
    public void launch(long function, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes, long stream, MemorySegment params) {
        check(call(() -> (int) cuLaunchKernel.invokeExact(function, gx, gy, gz, bx, by, bz, sharedBytes, stream, params, MemorySegment.NULL)),
                "cuLaunchKernel");
    }

    /** CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION. */
    static final int ATTR_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

    /**
     * Launches {@code function} as a programmatic dependent of the previous kernel on the stream
     * (compute capability 9.0+): it may start while that one drains, and waits for it where the kernel
     * says so ({@code griddepcontrol.wait}), so its weight loads overlap the previous kernel's tail.
     * CUlaunchConfig: seven uints (grid, block, shared bytes), the stream at 32, the attributes at 40,
     * their count at 48; one CUlaunchAttribute: an id, padding, a 64-byte value union.
     */
    public void launchDependent(long function, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes, long stream,
                                MemorySegment params, Arena arena) {
        MemorySegment attr = arena.allocate(72, 8);
        attr.set(JAVA_INT, 0, ATTR_PROGRAMMATIC_STREAM_SERIALIZATION);
        attr.set(JAVA_INT, 8, 1);
        MemorySegment cfg = arena.allocate(56, 8);
        int[] dims = {gx, gy, gz, bx, by, bz, sharedBytes};
        for (int i = 0; i < dims.length; i++) cfg.set(JAVA_INT, 4L * i, dims[i]);
        cfg.set(JAVA_LONG, 32, stream);
        cfg.set(ADDRESS, 40, attr);
        cfg.set(JAVA_INT, 48, 1);
        check(call(() -> (int) cuLaunchKernelEx.invokeExact(cfg, function, params, MemorySegment.NULL)), "cuLaunchKernelEx");
    }

    // ---- events ----

    public long createEvent() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check(call(() -> (int) cuEventCreate.invokeExact(v, 0)), "cuEventCreate");
            return v.get(JAVA_LONG, 0);
        }
    }

    public void destroyEvent(long event) {
        check(call(() -> (int) cuEventDestroy.invokeExact(event)), "cuEventDestroy_v2");
    }

    public void record(long event, long stream) {
        check(call(() -> (int) cuEventRecord.invokeExact(event, stream)), "cuEventRecord");
    }

    /** Waits until the work recorded before {@code event} is done. */
    public void synchronizeEvent(long event) {
        check(call(() -> (int) cuEventSynchronize.invokeExact(event)), "cuEventSynchronize");
    }

    /** Milliseconds between two recorded events (waits for the second). */
    public float elapsedMillis(long start, long end) {
        check(call(() -> (int) cuEventSynchronize.invokeExact(end)), "cuEventSynchronize");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_FLOAT);
            check(call(() -> (int) cuEventElapsedTime.invokeExact(v, start, end)), "cuEventElapsedTime");
            return v.get(JAVA_FLOAT, 0);
        }
    }

    // ---- graphs ----

    public void beginCapture(long stream) {
        check(call(() -> (int) cuStreamBeginCapture.invokeExact(stream, CAPTURE_THREAD_LOCAL)), "cuStreamBeginCapture_v2");
    }

    /** Ends a capture and instantiates it; returns {graph, executable graph}. */
    public long[] endCaptureAndInstantiate(long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ADDRESS), e = a.allocate(ADDRESS);
            check(call(() -> (int) cuStreamEndCapture.invokeExact(stream, g)), "cuStreamEndCapture");
            long graph = g.get(JAVA_LONG, 0);
            check(call(() -> (int) cuGraphInstantiate.invokeExact(e, graph, 0L)), "cuGraphInstantiateWithFlags");
            return new long[] {graph, e.get(JAVA_LONG, 0)};
        }
    }

    public void launchGraph(long exec, long stream) {
        check(call(() -> (int) cuGraphLaunch.invokeExact(exec, stream)), "cuGraphLaunch");
    }

    public void destroyGraph(long graph, long exec) {
        if (exec != 0) check(call(() -> (int) cuGraphExecDestroy.invokeExact(exec)), "cuGraphExecDestroy");
        if (graph != 0) check(call(() -> (int) cuGraphDestroy.invokeExact(graph)), "cuGraphDestroy");
    }
}
