package dev.panamax.cli;

/**
 * When {@code panamax bench} has warmed up enough: after at least one whole run, once {@code
 * seconds} have passed, the kernels no longer run their warm-up twins ({@code Simd.warmingUp()})
 * and a whole run went by without the JIT compiling anything — or, if the JIT
 * keeps compiling, at ten times {@code seconds} (at least 20 s). Why the second condition: on a
 * two-core machine a C2 compilation still running takes the second core from a two-thread
 * measurement (SmolLM-135M Q4_0, two threads: prefill 523–545 tokens/s after a 2-second warm-up,
 * 586–624 after 8). The JIT's clock is {@code java.lang.management}'s compilation time, read only
 * where that module is in the runtime (a jlinked runtime may leave it out: then time alone decides).
 */
final class WarmUp {
    private final long start = System.nanoTime(), minEnd, maxEnd;
    private final boolean jitClock = ModuleLayer.boot().findModule("java.management").isPresent();
    private long lastJit = jitMillis();
    private int runs;

    WarmUp(float seconds) {
        minEnd = start + (long) (seconds * 1e9);
        maxEnd = seconds == 0 ? start : start + Math.max((long) (10 * seconds * 1e9), 20_000_000_000L);
    }

    /** Called after each warm-up run: whether another is needed. */
    boolean another() {
        runs++;
        long now = System.nanoTime(), jit = jitMillis();
        boolean compiled = jit != lastJit;
        lastJit = jit;
        if (now < minEnd) return true;
        return (compiled || dev.panamax.simd.Simd.warmingUp()) && now < maxEnd;
    }

    /** "N runs, S s" for the report. */
    /** Warm-up runs so far. */
    int runs() {
        return runs;
    }

    /** Seconds since the warm-up began. */
    double seconds() {
        return (System.nanoTime() - start) / 1e9;
    }

    String summary() {
        return String.format(java.util.Locale.ROOT, "%d run%s, %.1f s", runs, runs == 1 ? "" : "s", (System.nanoTime() - start) / 1e9);
    }

    private long jitMillis() {
        return jitClock ? Jit.millis() : 0;
    }

    /** Loaded only where java.management is present. */
    private static final class Jit {
        static long millis() {
            var bean = java.lang.management.ManagementFactory.getCompilationMXBean();
            return bean != null && bean.isCompilationTimeMonitoringSupported() ? bean.getTotalCompilationTime() : 0;
        }
    }
}
