package dev.panamax.cli;

import dev.panamax.simd.Simd;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The CPU a benchmark ran on, as {@code bench} prints it first: the model (and, on x86, family and
 * model numbers — a virtual machine may name only "AMD EPYC"), the vector features that matter to the
 * kernels, and what the JVM uses of them (HotSpot's {@code UseAVX}, the Vector API's width). From
 * /proc/cpuinfo on Linux; elsewhere the architecture alone.
 */
record CpuInfo(String model, List<String> features, String jvm) {

    /** The features worth naming, in this order: x86's AVX levels, VNNI, BF16/FP16, AMX; ARM's NEON, SVE, dot products. */
    private static final List<String> NAMED = List.of("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16",
            "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimddp", "sve", "sve2", "i8mm", "bf16");

    static CpuInfo read() {
        return parse(readProc(), System.getProperty("os.arch"), jvmView());
    }

    static CpuInfo parse(String cpuinfo, String arch, String jvm) {
        String name = null, family = null, number = null, flags = null;
        for (String line : cpuinfo.split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                if (name != null && flags != null) break; // the first processor's block is enough
                continue;
            }
            String key = line.substring(0, colon).trim(), value = line.substring(colon + 1).trim();
            switch (key) {
                case "model name" -> { if (name == null) name = value; }
                case "cpu family" -> { if (family == null) family = value; }
                case "model" -> { if (number == null) number = value; }
                case "flags", "Features" -> { if (flags == null) flags = value; }
                default -> { }
            }
        }
        String model = name == null ? arch : name + (family != null && number != null ? " (family " + family + ", model " + number + ")" : "");
        List<String> features = new ArrayList<>();
        if (flags != null) {
            List<String> have = List.of(flags.split("\\s+"));
            for (String f : NAMED) if (have.contains(f)) features.add(f);
        }
        return new CpuInfo(model, List.copyOf(features), jvm);
    }

    private static String readProc() {
        try {
            Path p = Path.of("/proc/cpuinfo");
            return Files.isReadable(p) ? Files.readString(p) : "";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /** HotSpot's UseAVX (x86; absent elsewhere) and the kernels' SIMD path. */
    private static String jvmView() {
        String avx = null;
        try {
            var bean = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            if (bean != null) avx = bean.getVMOption("UseAVX").getValue();
        } catch (RuntimeException | LinkageError e) {
            // not HotSpot, not x86, or no java.management: the SIMD line alone
        }
        return (avx == null ? "" : "UseAVX=" + avx + ", ") + "SIMD " + Simd.description();
    }

    /** "cpu: AMD EPYC (family 26, model 2); avx2 fma avx512f …; JVM: UseAVX=3, SIMD vector (…)". */
    String line() {
        return "cpu: " + model + "; " + (features.isEmpty() ? "no vector features named" : String.join(" ", features)) + "; JVM: " + jvm;
    }

    Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", model);
        m.put("features", features);
        m.put("jvm", jvm);
        return m;
    }
}
