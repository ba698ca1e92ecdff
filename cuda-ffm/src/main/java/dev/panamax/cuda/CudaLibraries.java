package dev.panamax.cuda;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Finds the CUDA libraries already on the machine and binds their functions. Nothing is bundled:
 * the driver ({@code libcuda.so.1}) comes with the NVIDIA driver; NVRTC and cuBLAS come from a CUDA
 * toolkit or from the {@code nvidia-*} Python wheels. Searched, in order: {@code CUDA_HOME},
 * {@code CUDA_PATH}, {@code LD_LIBRARY_PATH}, {@code /usr/local/cuda*}, the system library folders,
 * and the {@code nvidia/*}{@code /lib} folders of Python environments ({@code VIRTUAL_ENV},
 * {@code CONDA_PREFIX}, site-packages under {@code /usr}, {@code /opt}, {@code ~/.local}).
 */
public final class CudaLibraries {
    private CudaLibraries() {}

    /** A loaded library: where it was found and how to bind its symbols. */
    public record Library(String name, String file, SymbolLookup symbols) {

        /** The first of {@code names} the library exports, bound with {@code descriptor}. */
        public MethodHandle function(FunctionDescriptor descriptor, String... names) {
            for (String n : names) {
                Optional<MemorySegment> s = symbols.find(n);
                if (s.isPresent()) return Linker.nativeLinker().downcallHandle(s.get(), descriptor);
            }
            throw new CudaException(file + " has no function " + String.join(" or ", names));
        }

        /** Whether the library exports {@code name}. */
        public boolean has(String name) {
            return symbols.find(name).isPresent();
        }
    }

    /** The folders searched for NVRTC and cuBLAS, most specific first. */
    public static List<Path> searchFolders() {
        Set<Path> dirs = new LinkedHashSet<>();
        for (String var : new String[] {"CUDA_HOME", "CUDA_PATH"}) {
            String v = System.getenv(var);
            if (v != null && !v.isBlank()) {
                for (String sub : new String[] {"lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"}) dirs.add(Path.of(v, sub));
            }
        }
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null) for (String p : ld.split(":")) if (!p.isBlank()) dirs.add(Path.of(p));
        List<Path> cudas = new ArrayList<>(children(Path.of("/usr/local"), "cuda*"));
        cudas.sort(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed()); // newest version first,
        cudas.sort(Comparator.comparing((Path p) -> !p.getFileName().toString().equals("cuda"))); // after /usr/local/cuda itself
        for (Path c : cudas) {
            dirs.add(c.resolve("lib64"));
            dirs.add(c.resolve("targets/x86_64-linux/lib"));
            dirs.add(c.resolve("targets/sbsa-linux/lib"));
        }
        for (String p : new String[] {"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/nvidia/lib64"}) dirs.add(Path.of(p));
        List<Path> sitePackages = new ArrayList<>();
        for (String var : new String[] {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
            String v = System.getenv(var);
            if (v != null && !v.isBlank()) sitePackages.addAll(glob(Path.of(v, "lib"), "python3*", "site-packages"));
        }
        sitePackages.addAll(glob(Path.of(System.getProperty("user.home"), ".local/lib"), "python3*", "site-packages"));
        sitePackages.addAll(glob(Path.of("/usr/local/lib"), "python3*", "dist-packages"));
        sitePackages.addAll(glob(Path.of("/usr/lib"), "python3*", "dist-packages"));
        for (Path opt : children(Path.of("/opt"), "*")) {
            for (String venv : new String[] {".venv", "venv", "."}) sitePackages.addAll(glob(opt.resolve(venv).resolve("lib"), "python3*", "site-packages"));
        }
        for (Path sp : sitePackages) {
            for (Path pkg : children(sp.resolve("nvidia"), "*")) {
                dirs.add(pkg.resolve("lib"));
                for (Path sub : children(pkg, "*")) dirs.add(sub.resolve("lib")); // nvidia/cu13/lib in the CUDA 13 wheels
            }
        }
        List<Path> out = new ArrayList<>();
        for (Path d : dirs) if (Files.isDirectory(d)) out.add(d);
        return out;
    }

    /** The CUDA driver, {@code libcuda.so.1}, as the dynamic loader finds it (it is not part of a toolkit). */
    public static Library driver(Arena arena) {
        List<String> tried = new ArrayList<>();
        try {
            return new Library("cuda", "libcuda.so.1", SymbolLookup.libraryLookup("libcuda.so.1", arena));
        } catch (IllegalArgumentException e) {
            tried.add("libcuda.so.1 (dynamic loader)");
        }
        for (Path d : searchFolders()) {
            for (String f : new String[] {"libcuda.so.1", "libcuda.so"}) {
                Path p = d.resolve(f);
                if (Files.exists(p)) {
                    try {
                        return new Library("cuda", p.toString(), SymbolLookup.libraryLookup(p, arena));
                    } catch (IllegalArgumentException e) {
                        tried.add(p.toString());
                    }
                }
            }
        }
        throw new CudaException("no NVIDIA driver library (libcuda.so.1) found: is an NVIDIA driver installed? (tried " + String.join(", ", tried) + ")");
    }

    /**
     * A toolkit library such as {@code nvrtc} or {@code cublas}: {@code lib<base>.so.<major>} for the
     * given majors (newest first), then {@code lib<base>.so}, in {@link #searchFolders()}.
     */
    public static Library toolkit(String base, int[] majors, Arena arena) {
        List<String> names = new ArrayList<>();
        for (int m : majors) names.add("lib" + base + ".so." + m);
        names.add("lib" + base + ".so");
        List<Path> folders = searchFolders();
        List<String> failures = new ArrayList<>();
        for (Path d : folders) {
            for (String n : names) {
                Path p = d.resolve(n);
                if (!Files.exists(p)) continue;
                try {
                    return new Library(base, p.toString(), SymbolLookup.libraryLookup(p, arena));
                } catch (IllegalArgumentException e) {
                    failures.add(p + ": " + e.getMessage());
                }
            }
        }
        for (String n : names) { // last, whatever the dynamic loader knows (ldconfig's cache)
            try {
                return new Library(base, n, SymbolLookup.libraryLookup(n, arena));
            } catch (IllegalArgumentException e) {
                // not known to the loader either
            }
        }
        throw new CudaException("no " + names.get(0) + " found (set CUDA_HOME to a CUDA toolkit, or install the nvidia-"
                + (base.equals("nvrtc") ? "cuda-nvrtc" : base) + " Python wheel); searched " + folders.size() + " folders"
                + (failures.isEmpty() ? "" : "; unusable: " + String.join("; ", failures)));
    }

    private static List<Path> children(Path dir, String glob) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, glob)) {
            for (Path p : s) if (Files.isDirectory(p)) out.add(p);
        } catch (IOException | SecurityException e) {
            // an unreadable folder holds nothing we can load
        }
        out.sort(Comparator.naturalOrder());
        return out;
    }

    private static List<Path> glob(Path dir, String glob, String sub) {
        List<Path> out = new ArrayList<>();
        for (Path p : children(dir, glob)) if (Files.isDirectory(p.resolve(sub))) out.add(p.resolve(sub));
        return out;
    }

}
