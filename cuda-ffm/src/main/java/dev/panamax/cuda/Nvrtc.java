package dev.panamax.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * NVRTC, the CUDA C++ compiler as a library: Panamax's kernels ship as CUDA C source in the jar
 * and are compiled here for the device's compute capability on first use. The machine code
 * (cubin) is cached on disk, keyed by the source, the options and NVRTC's version, so later runs
 * load it directly ({@code $XDG_CACHE_HOME/panamax/cuda} or {@code ~/.cache/panamax/cuda};
 * {@code -Dpanamax.cuda.cache=DIR} elsewhere, {@code none} to never cache).
 */
public final class Nvrtc {
    private static volatile Nvrtc instance;

    public static Nvrtc get() {
        Nvrtc n = instance;
        if (n != null) return n;
        synchronized (Nvrtc.class) {
            if (instance == null) instance = new Nvrtc(CudaLibraries.toolkit("nvrtc", new int[] {13, 12}, Arena.global()));
            return instance;
        }
    }

    final CudaLibraries.Library lib;
    private final MethodHandle create, compile, logSize, log, cubinSize, cubin, ptxSize, ptx, destroy, version, errorString;

    private Nvrtc(CudaLibraries.Library lib) {
        this.lib = lib;
        create = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS), "nvrtcCreateProgram");
        compile = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS), "nvrtcCompileProgram");
        logSize = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS), "nvrtcGetProgramLogSize");
        log = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS), "nvrtcGetProgramLog");
        cubinSize = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS), "nvrtcGetCUBINSize");
        cubin = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS), "nvrtcGetCUBIN");
        ptxSize = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS), "nvrtcGetPTXSize");
        ptx = lib.function(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS), "nvrtcGetPTX");
        destroy = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS), "nvrtcDestroyProgram");
        version = lib.function(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "nvrtcVersion");
        errorString = lib.function(FunctionDescriptor.of(ADDRESS, JAVA_INT), "nvrtcGetErrorString");
    }

    /** NVRTC's version as "13.0". */
    public String version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment major = a.allocate(JAVA_INT), minor = a.allocate(JAVA_INT);
            check(Driver.call(() -> (int) version.invokeExact(major, minor)), "nvrtcVersion");
            return major.get(JAVA_INT, 0) + "." + minor.get(JAVA_INT, 0);
        }
    }

    private void check(int status, String call) {
        if (status != 0) throw new CudaException(call + ": " + errorName(status));
    }

    private String errorName(int status) {
        try {
            MemorySegment s = (MemorySegment) errorString.invokeExact(status);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "nvrtcResult " + status;
        }
    }

    /**
     * Machine code for {@code source} on compute capability {@code major.minor} (a cubin), from the
     * disk cache when it is there. A compile error throws with NVRTC's log.
     */
    public byte[] compile(String name, String source, int major, int minor, List<String> extraOptions) {
        String arch = "sm_" + major + minor;
        List<String> options = new java.util.ArrayList<>(List.of("--gpu-architecture=" + arch, "--std=c++17", "-default-device"));
        options.addAll(extraOptions);
        Path cached = cacheFile(name, source, options);
        if (cached != null && Files.isRegularFile(cached)) {
            try {
                return Files.readAllBytes(cached);
            } catch (IOException e) {
                // fall through and compile
            }
        }
        byte[] code = compileNow(name, source, options);
        if (cached != null) {
            try {
                Files.createDirectories(cached.getParent());
                Path tmp = Files.createTempFile(cached.getParent(), "kernels", ".part");
                Files.write(tmp, code);
                Files.move(tmp, cached, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                // a cache we cannot write only costs the next run a compile
            }
        }
        return code;
    }

    /**
     * ptxas's report for {@code source} on {@code sm_<major><minor>}: per kernel, registers, spill
     * stores and loads, shared and local memory ({@code --ptxas-options=-v}). Needs NVRTC only, no GPU
     * and no driver: {@code tools/cuda-resources.sh} prints it for kernels.cu on any machine.
     */
    public String resourceReport(String name, String source, int major, int minor) {
        List<String> options = List.of("--gpu-architecture=sm_" + major + minor, "--std=c++17", "-default-device", "--ptxas-options=-v");
        return compiled(name, source, options, this::log);
    }

    private byte[] compileNow(String name, String source, List<String> options) {
        return compiled(name, source, options, (a, program) -> {
            long p = program; // invokeExact takes the primitive
            MemorySegment size = a.allocate(JAVA_LONG);
            check(Driver.call(() -> (int) cubinSize.invokeExact(p, size)), "nvrtcGetCUBINSize");
            long n = size.get(JAVA_LONG, 0);
            MemorySegment out = a.allocate(Math.max(1, n));
            check(Driver.call(() -> (int) cubin.invokeExact(p, out)), "nvrtcGetCUBIN");
            return out.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        });
    }

    /** Compiles {@code source} as program {@code name}, then reads what {@code result} takes from it; a compile error throws with NVRTC's log. */
    private <T> T compiled(String name, String source, List<String> options, java.util.function.BiFunction<Arena, Long, T> result) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment prog = a.allocate(ADDRESS);
            check(Driver.call(() -> (int) create.invokeExact(prog, a.allocateFrom(source), a.allocateFrom(name), 0, MemorySegment.NULL, MemorySegment.NULL)),
                    "nvrtcCreateProgram");
            long p = prog.get(JAVA_LONG, 0);
            try {
                MemorySegment opts = a.allocate(ADDRESS, options.size());
                for (int i = 0; i < options.size(); i++) opts.setAtIndex(ADDRESS, i, a.allocateFrom(options.get(i)));
                int status = Driver.call(() -> (int) compile.invokeExact(p, options.size(), opts));
                if (status != 0) throw new CudaException("nvrtcCompileProgram(" + name + ", " + String.join(" ", options) + "): " + errorName(status) + "\n" + log(a, p));
                return result.apply(a, p);
            } finally {
                Driver.call(() -> (int) destroy.invokeExact(prog));
            }
        }
    }

    private String log(Arena a, long p) {
        MemorySegment size = a.allocate(JAVA_LONG);
        if (Driver.call(() -> (int) logSize.invokeExact(p, size)) != 0) return "";
        MemorySegment text = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
        if (Driver.call(() -> (int) log.invokeExact(p, text)) != 0) return "";
        return text.getString(0);
    }

    private Path cacheFile(String name, String source, List<String> options) {
        String dir = dev.panamax.simd.Tuning.text("cuda.cache");
        if ("none".equals(dir)) return null;
        Path base;
        if (dir != null) {
            base = Path.of(dir);
        } else {
            String xdg = System.getenv("XDG_CACHE_HOME");
            base = (xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache")).resolve("panamax").resolve("cuda");
        }
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(source.getBytes(StandardCharsets.UTF_8));
            md.update(String.join("\0", options).getBytes(StandardCharsets.UTF_8));
            md.update(version().getBytes(StandardCharsets.UTF_8));
            return base.resolve(name.replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + HexFormat.of().formatHex(md.digest(), 0, 12) + ".cubin");
        } catch (NoSuchAlgorithmException e) {
            return null;
        }
    }
}
