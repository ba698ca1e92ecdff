package dev.panamax.simd;

/**
 * Kernel families outside this module that run on plain-Java twins in a fresh JVM, as this module's
 * decoding kernels do ({@link WarmingKernels}): the quantized matrix × vector products of the quant
 * module. A family registers once with a warm-up workload; its caller asks {@link Family#onVector()}
 * on each call, runs the twin (and says so with {@link Family#use()}) until the one warm-up thread
 * has found the vector side as fast, then runs the vector kernel. The twin must give the vector
 * kernel's bits: a result never depends on when the process started.
 *
 * <pre>{@code
 * static final StartUpTwins.Family Q8 = StartUpTwins.register("q8_0", onVector -> { ... one call of each side ... });
 * if (Q8.onVector()) vectorKernel(...); else { Q8.use(); twin(...); }
 * }</pre>
 */
public final class StartUpTwins {
    private StartUpTwins() {}

    /** One call of a family's warm-up workload, on its vector kernels or on its twins; small (a few rows), never on the thread pool. */
    public interface Workload {
        void run(boolean onVector);
    }

    /** A family of kernels that switch together, from their twins to their vector kernels. */
    public static final class Family {
        final String name;
        /** This module's kernels in the family ({@link WarmingKernels}), or none for a registered family. */
        final WarmingKernels.Kernel[] members;
        /** A registered family's workload; null for this module's families. */
        final Workload workload;
        volatile boolean vector;
        /** Whether a registered family has run on its twins (a plain store: racing writers all write true). */
        boolean used;
        int fasterRounds;

        Family(String name, WarmingKernels.Kernel[] members, Workload workload, boolean vector) {
            this.name = name;
            this.members = members;
            this.workload = workload;
            this.vector = vector;
        }

        /** Whether the vector kernels run now (always, where no twins run: the scalar path, {@code -Dpanamax.twinWarmUp=false}, after the warm-up). */
        public boolean onVector() {
            return vector;
        }

        /** Notes that the family ran on its twins, so that the warm-up warms it. */
        public void use() {
            if (!used) used = true;
        }
    }

    /**
     * A family that runs on its twins until the warm-up has warmed {@code workload}'s vector side,
     * if the kernels warm up in this JVM; otherwise one that is on the vector kernels from the start.
     */
    public static Family register(String name, Workload workload) {
        if (Simd.kernels() instanceof WarmingKernels w) return w.register(name, workload);
        return new Family(name, new WarmingKernels.Kernel[0], workload, true);
    }
}
