package dev.panamax.simd;

import java.util.Optional;

/**
 * Picks the kernel path once, at start-up.
 *
 * <p>The Vector API path is used when the JVM was started with {@code --add-modules
 * jdk.incubator.vector}, the module loads, and a smoke test agrees with the scalar twin. Otherwise
 * — an edge JVM without the module, or {@code -Dpanamax.simd=scalar} — the scalar twin runs, with
 * the same results. {@link #description()} says which and why.
 *
 * <pre>{@code
 * Kernels k = Simd.kernels();
 * System.out.println(Simd.description());   // e.g. "vector (Vector API, 512-bit, 16 float lanes)"
 * }</pre>
 */
public final class Simd {

    private static final String VECTOR_MODULE = "jdk.incubator.vector";

    private static final Kernels VECTOR;
    private static final String VECTOR_UNAVAILABLE;
    private static final Kernels ACTIVE;
    private static final String REASON;

    static {
        Kernels v = null;
        String why = null;
        if (ModuleLayer.boot().findModule(VECTOR_MODULE).isEmpty()) {
            why = VECTOR_MODULE + " is not in this JVM (start it with --add-modules " + VECTOR_MODULE + ")";
        } else {
            try {
                v = (Kernels) Class.forName("dev.panamax.simd.VectorKernels").getDeclaredField("INSTANCE").get(null);
                why = smokeTest(v);
                if (why != null) v = null;
            } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
                why = "the Vector API failed to start: " + e;
                v = null;
            }
        }
        VECTOR = v;
        VECTOR_UNAVAILABLE = why;

        String choice = java.util.Objects.requireNonNullElse(Tuning.word("simd"), "auto");
        switch (choice) {
            case "scalar" -> {
                ACTIVE = ScalarKernels.INSTANCE;
                REASON = "-Dpanamax.simd=scalar";
            }
            case "auto", "vector", "" -> {
                ACTIVE = VECTOR != null ? warming(VECTOR) : ScalarKernels.INSTANCE;
                REASON = VECTOR != null ? null : VECTOR_UNAVAILABLE;
                // Said once per JVM, through the platform logger (an application routes or silences it
                // like any other): the scalar twins give the same results, several times slower.
                if (VECTOR == null) {
                    System.getLogger("dev.panamax.simd").log(System.Logger.Level.INFO,
                            "Panamax runs its scalar kernels (same results, slower): " + VECTOR_UNAVAILABLE);
                }
            }
            default -> throw new IllegalArgumentException(
                    "panamax.simd must be auto, vector or scalar, got '" + choice + "'");
        }
    }

    private Simd() {}

    /** The kernels every model uses. */
    public static Kernels kernels() {
        return ACTIVE;
    }

    /**
     * Whether the kernels still run (some of) their lane-order twins while the vector kernels warm
     * up in the background ({@link WarmingKernels}): the same bits, a slower speed — a benchmark
     * waits for this to end before it measures.
     */
    public static boolean warmingUp() {
        return ACTIVE instanceof WarmingKernels w && !w.warm();
    }

    /**
     * Ends the start-up twins now: every kernel runs its vector version from here on (the same bits).
     * For work long enough that the twins' warm-up costs more than it gives — on two cores a
     * generation of a few hundred tokens, where the warm-up and the JIT share the machine with the
     * model (docs/kernels.md) — and for servers and benchmarks. Nothing when the twins are not running.
     */
    public static void endWarmUp() {
        if (ACTIVE instanceof WarmingKernels w) w.switchAll();
    }

    /** The scalar twin, always available. */
    public static Kernels scalar() {
        return ScalarKernels.INSTANCE;
    }

    /** The Vector API path itself (never its warm-up twins), if this JVM can run it (whatever {@code panamax.simd} chose). */
    public static Optional<Kernels> vector() {
        return Optional.ofNullable(VECTOR);
    }

    /** One line for {@code --version}: the path in use, its width, and why when it is the scalar one. */
    public static String description() {
        if (ACTIVE != ScalarKernels.INSTANCE) {
            int bits = ACTIVE.vectorBits();
            return "vector (Vector API, " + bits + "-bit, " + bits / 32 + " float lanes)";
        }
        return "scalar (" + REASON + ")";
    }

    /**
     * The vector kernels behind {@link WarmingKernels}, which runs their lane-order twins until a
     * background thread has warmed them up (the same bits, sooner in a fresh JVM), unless
     * {@code -Dpanamax.twinWarmUp=false}.
     */
    private static Kernels warming(Kernels v) {
        if (!Tuning.flagOn("twinWarmUp")) return v;
        try {
            int rowDotsBelow = Class.forName("dev.panamax.simd.VectorKernels").getDeclaredField("ROW_DOTS_BELOW").getInt(null);
            return new WarmingKernels(v, new LaneOrderKernels(v.vectorBits() / 32, rowDotsBelow), rowDotsBelow, true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return v; // the vector kernels alone, as before
        }
    }

    /** Compares a few kernels with the scalar twin; null when they agree, else what went wrong. */
    private static String smokeTest(Kernels v) {
        float[] a = new float[37], b = new float[37];
        for (int i = 0; i < a.length; i++) {
            a[i] = (i % 7) - 3;
            b[i] = (i % 5) * 0.5f;
        }
        float want = ScalarKernels.INSTANCE.dot(a, 0, b, 0, a.length);
        float got = v.dot(a, 0, b, 0, a.length);
        if (got != want) return "the Vector API dot product disagrees with the scalar one (" + got + " vs " + want + ")";
        if (v.vectorBits() < 128) return "the preferred vector is only " + v.vectorBits() + " bits";
        return null;
    }
}
