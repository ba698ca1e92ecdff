package dev.panamax.simd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The vector kernels as a fresh JVM should run them: each family of the decoding kernels runs on
 * its {@link LaneOrderKernels lane-order twin} — plain Java, the same bits — until a background
 * thread has warmed the Vector API version up, then on the vector kernels. Everything else goes to
 * the vector kernels from the start. A user sees the same results at every moment; only the first
 * tokens come sooner.
 *
 * <p>The warm-up thread waits {@link #DELAY_MILLIS}, then runs the kernels the model has used so
 * far (each twinned kernel notes its first use) on a few rows — too few for the thread pool, so it
 * never takes the model's threads — timing the vector kernel against the twin; a family switches
 * once its vector side is as fast, {@link #ROUNDS} rounds in a row (C2 has compiled it). When every
 * family the model used has switched, the others switch too and the thread ends; after
 * {@link #DEADLINE_NANOS} every family switches, warm or not (still the same bits).
 * {@code -Dpanamax.twinWarmUp=false} runs the vector kernels from the first call (to compare);
 * {@code -Dpanamax.twinWarmUpLog=true} prints each round's times to stderr.
 *
 * <p>What it buys, and costs (kjv-llama, {@code ./panamax generate --temperature 0}, whole process,
 * Zen 5, two threads, figures in docs/benchmarks.md): 32 tokens in about half the time of the
 * vector kernels alone, 128 in two thirds; but on two cores the warm-up and the JIT then share the
 * machine with the model, the vector kernels arrive about a second later, and a 512-token run takes
 * about a third longer. With idle cores the warm-up starts at once and costs the model nothing.
 */
final class WarmingKernels implements Kernels {

    /** The twinned kernels (matvec by width: each width takes another branch of the vector kernel), each with a warm-up workload. */
    enum Kernel { MATVEC_NARROW, MATVEC_WIDE, MATVEC_WIDEST, DOT, DOT_TILE, RMSNORM, MUL_ADD_TILE, AXPY, EXP_SHIFT, SOFTMAX, SILU, GELU_ERF,
        GELU_TANH, LAYERNORM, ROPE, ROPE_INTERLEAVED, F16, BF16 }

    /** Kernels that switch together ({@link StartUpTwins.Family}): the warm-up times their workloads on each side. */
    private static StartUpTwins.Family family(String name, Kernel... members) {
        return new StartUpTwins.Family(name, members, null, false);
    }

    /**
     * After this long the warm-up stops and every family switches, warm or not
     * ({@code -Dpanamax.twinWarmUpDeadlineMillis}, default 10 s; a test sets a short one to switch
     * mid-run whatever the JIT's pace).
     */
    static final long DEADLINE_NANOS = Tuning.speed("twinWarmUpDeadlineMillis", 10_000L) * 1_000_000L;
    /** Rounds in a row the vector side must be at least as fast as the twin before a family switches. */
    static final int ROUNDS = 3;
    /**
     * With two processors or fewer, the kernels run on the calling thread alone from the start until
     * the warm-up ends, its delay included ({@link Parallel#callerOnly}): the warm-up thread and the
     * JIT then have a core (kjv-llama, 512 tokens, Zen 5: 3.1–3.7 s against 3.9–4.2 with both kernel
     * threads; its 32 tokens, 2-core Xeon: 0.37 s against 0.43 with both threads through the delay);
     * {@code -Dpanamax.twinWarmUpCallerOnly=false} keeps both.
     */
    static final boolean CALLER_ONLY = Runtime.getRuntime().availableProcessors() <= 2 && Tuning.flagOn("twinWarmUpCallerOnly");
    /**
     * How much slower than the twin a family's vector side may be in a round and still count as
     * warm: a few microseconds, which only compiled vector code reaches (the Java fallbacks take
     * hundreds). RoPE's and the exponentials' small workloads ran 2 µs against the twin's 1 µs for
     * hundreds of rounds, keeping the model on one thread (TinyLlama Q8_0: 32 tokens at 7.4 tok/s).
     */
    private static final long SLACK_NANOS = 3_000;
    /** Untimed calls of each kernel's vector side per round, before the timed one. */
    private static final int CALLS_PER_ROUND = Tuning.speed("twinWarmUpCalls", 200);

    private final Kernels v;
    private final LaneOrderKernels t;
    final StartUpTwins.Family matvec = family("matvec", Kernel.MATVEC_NARROW, Kernel.MATVEC_WIDE, Kernel.MATVEC_WIDEST),
            dots = family("dot", Kernel.DOT, Kernel.DOT_TILE, Kernel.RMSNORM),
            mulAdd = family("mulAdd", Kernel.MUL_ADD_TILE, Kernel.AXPY),
            exps = family("exp", Kernel.EXP_SHIFT, Kernel.SOFTMAX, Kernel.SILU, Kernel.GELU_ERF, Kernel.GELU_TANH),
            norms = family("layernorm", Kernel.LAYERNORM),
            rope = family("rope", Kernel.ROPE, Kernel.ROPE_INTERLEAVED),
            convert = family("widen16", Kernel.F16, Kernel.BF16);
    /** This module's families, then those registered from outside ({@link StartUpTwins#register}), in order. */
    private volatile StartUpTwins.Family[] families = {matvec, dots, mulAdd, exps, norms, rope, convert};
    /** Which kernels have run (on the twins): set without synchronisation — a use seen late is warmed a round later. */
    private final boolean[] used = new boolean[Kernel.values().length];
    private final int rowDotsBelow;

    /**
     * {@code vector} the Vector API kernels, {@code twin} their lane-order twin (of the same width),
     * {@code rowDotsBelow} the matvec width where the vector kernel's branches change; {@code warmUp}:
     * start the background thread.
     */
    WarmingKernels(Kernels vector, LaneOrderKernels twin, int rowDotsBelow, boolean warmUp) {
        if (twin.lanes * 32 != vector.vectorBits()) throw new IllegalArgumentException("a " + twin.lanes + "-lane twin of " + vector.vectorBits() + "-bit kernels");
        this.v = vector;
        this.t = twin;
        this.rowDotsBelow = rowDotsBelow;
        if (warmUp) {
            Parallel.callerOnly = CALLER_ONLY; // from the start: through the delay as through the warm-up
            Thread.ofPlatform().daemon().name("panamax-vector-warm-up").start(this::warmUp);
        }
    }

    /** Whether every family runs on the vector kernels now. */
    boolean warm() {
        for (StartUpTwins.Family f : families) if (!f.vector) return false;
        return true;
    }

    /** Switches every family to the vector kernels now (the deadline's way; tests). */
    synchronized void switchAll() {
        switched = true;
        for (StartUpTwins.Family f : families) f.vector = true;
        Parallel.callerOnly = false;
    }

    /** Set once every family has switched: a family registered after that starts on the vector kernels. */
    private boolean switched;

    /** A family from another module ({@link StartUpTwins#register}): on its twins unless the warm-up is over. */
    synchronized StartUpTwins.Family register(String name, StartUpTwins.Workload workload) {
        StartUpTwins.Family f = new StartUpTwins.Family(name, new Kernel[0], workload, switched);
        StartUpTwins.Family[] all = java.util.Arrays.copyOf(families, families.length + 1);
        all[families.length] = f;
        families = all;
        return f;
    }

    private boolean registeredUsed() {
        for (StartUpTwins.Family f : families) if (f.workload != null && f.used) return true;
        return false;
    }

    private boolean anyUsed() {
        for (boolean u : used) if (u) return true;
        for (StartUpTwins.Family f : families) if (f.used) return true;
        return false;
    }

    /** Whether {@code k} has run on the twins (tests). */
    boolean used(Kernel k) {
        return used[k.ordinal()];
    }

    /**
     * How long after the kernels load the warm-up starts ({@code -Dpanamax.twinWarmUpDelayMillis}):
     * at once where there are idle cores for the JIT; after a second on two processors or fewer,
     * where compiling the vector kernels takes a core for a second or more and a short run (kjv-llama's
     * 32 tokens come in ~0.4 s) is over sooner on the twins alone than with a compiler beside it.
     */
    static final long DELAY_MILLIS = Tuning.speed("twinWarmUpDelayMillis", Runtime.getRuntime().availableProcessors() <= 2 ? 1000L : 0L);

    private static final boolean LOG = Tuning.flag("twinWarmUpLog");

    private void warmUp() {
        long start = System.nanoTime();
        try {
            // The delay ends early once a registered family (the quantized matvecs) runs on its twins:
            // their twins are several times slower than their vector kernels and a large model's
            // token takes a large share of a second on them, so every moment of warm-up pays.
            while (System.nanoTime() - start < DELAY_MILLIS * 1_000_000L && !registeredUsed()) Thread.sleep(10);
            if (warm()) return; // Simd.endWarmUp() switched everything meanwhile: the model has its threads back
            Work w = new Work();
            while (!warm() && System.nanoTime() - start < DEADLINE_NANOS) {
                boolean ran = false;
                for (StartUpTwins.Family f : families) {
                    if (f.vector) continue;
                    long[] times = new long[2]; // ns on the vector side, on the twin
                    if (f.workload != null && f.used) {
                        timeRound(f.workload, times);
                        ran = true;
                    }
                    for (Kernel k : f.members) {
                        if (!used[k.ordinal()]) continue;
                        timeRound(side -> w.run(k, side), times);
                        ran = true;
                    }
                    long onVector = times[0], onTwin = times[1];
                    if (onVector + onTwin == 0) continue;
                    f.fasterRounds = onVector <= onTwin + SLACK_NANOS ? f.fasterRounds + 1 : 0;
                    if (LOG) System.err.printf("panamax warm-up %.3f s: %s vector %d us, twin %d us%n", (System.nanoTime() - start) / 1e9, f.name, onVector / 1000, onTwin / 1000);
                    if (f.fasterRounds >= ROUNDS) {
                        f.vector = true;
                        if (LOG) System.err.printf("panamax warm-up %.3f s: %s on the vector kernels%n", (System.nanoTime() - start) / 1e9, f.name);
                    }
                }
                if (!ran) {
                    // Every family the model has used is on the vector kernels: the rest switch too and
                    // the warm-up ends (a kernel first used later then compiles as it runs, as without
                    // twins; waiting for the deadline kept this thread and Simd.warmingUp() alive, and
                    // `panamax bench` waited 10 s for it).
                    if (anyUsed()) break;
                    Thread.sleep(20); // nothing used yet
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (LOG && !warm()) System.err.printf("panamax warm-up %.3f s: every family on the vector kernels (the deadline or the end of the uses)%n", (System.nanoTime() - start) / 1e9);
            switchAll();
        }
    }

    /**
     * One round of a workload: {@link #CALLS_PER_ROUND} calls of its vector side that only count —
     * the JIT compiles a method once it has run often enough (more often when its queue is long), and
     * a thread that called each kernel once a round left the small ones in C1 for seconds — then one
     * timed call of each side, added to times[0] (vector) and times[1] (twin).
     */
    private static void timeRound(StartUpTwins.Workload work, long[] times) {
        for (int r = 0; r < CALLS_PER_ROUND; r++) work.run(true);
        long t0 = System.nanoTime();
        work.run(true);
        long t1 = System.nanoTime();
        work.run(false);
        long t2 = System.nanoTime();
        times[0] += t1 - t0;
        times[1] += t2 - t1;
    }

    /** The warm-up's inputs: each kernel on the shapes and branches a model's decoding takes, a few rows at a time. */
    private final class Work {
        private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final int ROWS = 8; // matvec's grain: one range, run on the calling thread
        private final int[] cols = {Math.max(1, Math.min(288, rowDotsBelow - 1)), rowDotsBelow + 32, 4160};
        private final MemorySegment w;
        private final float[] x = new float[2 * 4160], out = new float[2 * ROWS], a = new float[8 * 67], c = new float[8 * 8],
                cos = new float[64], sin = new float[64], gamma = new float[1056], beta = new float[1056], s = new float[8 * 67], o = new float[4160];

        Work() {
            w = Arena.ofAuto().allocate(4L * ROWS * 4160, 64);
            java.util.Random random = new java.util.Random(1);
            for (long i = 0; i < ROWS * 4160L; i++) w.setAtIndex(F32_LE, i, (float) random.nextGaussian());
            for (float[] f : new float[][] {x, a, cos, sin, gamma, beta}) for (int i = 0; i < f.length; i++) f[i] = (float) random.nextGaussian();
        }

        /** {@code k}'s workload on the vector kernels, or on the twins. */
        void run(Kernel k, boolean onVector) {
            switch (k) {
                case MATVEC_NARROW, MATVEC_WIDE, MATVEC_WIDEST -> {
                    int n = cols[k.ordinal() - Kernel.MATVEC_NARROW.ordinal()];
                    if (onVector) {
                        v.matvec(w, 0, x, out, ROWS, n);
                        v.matvecBatch(w, 0, x, 2, out, ROWS, n);
                    } else {
                        t.matvec(w, 0, x, out, ROWS, n);
                        t.matvecBatch(w, 0, x, 2, out, ROWS, n);
                    }
                }
                case DOT -> {
                    if (onVector) { v.dot(x, 0, x, 67, 67); v.dot(x, 0, x, 300, 288); } else { t.dot(x, 0, x, 67, 67); t.dot(x, 0, x, 300, 288); }
                }
                case DOT_TILE -> { // a 4 × 4 block, a partial block of rows, edges
                    if (onVector) v.dotTile(a, 0, 67, 5, a, 0, 67, 8, 67, c, 0, 8); else t.dotTile(a, 0, 67, 5, a, 0, 67, 8, 67, c, 0, 8);
                }
                case RMSNORM -> {
                    if (onVector) v.rmsnorm(o, 0, x, 0, gamma, 288, 1e-5f); else t.rmsnorm(o, 0, x, 0, gamma, 288, 1e-5f);
                }
                case MUL_ADD_TILE -> {
                    if (onVector) v.mulAddTile(c, 0, 8, 5, a, 0, 67, 8, 67, s, 0, 67); else t.mulAddTile(c, 0, 8, 5, a, 0, 67, 8, 67, s, 0, 67);
                }
                case AXPY -> {
                    if (onVector) v.axpy(1e-3f, x, 0, s, 0, 100); else t.axpy(1e-3f, x, 0, s, 0, 100);
                }
                case EXP_SHIFT, SOFTMAX, SILU, GELU_ERF, GELU_TANH -> {
                    System.arraycopy(x, 0, s, 0, 100);
                    switch (k) {
                        case EXP_SHIFT -> { if (onVector) v.expShift(s, 0, 70, 3f); else t.expShift(s, 0, 70, 3f); }
                        case SOFTMAX -> { if (onVector) v.softmax(s, 0, 70); else t.softmax(s, 0, 70); }
                        case SILU -> { if (onVector) v.silu(s, 0, 100); else t.silu(s, 0, 100); }
                        case GELU_ERF -> { if (onVector) v.geluErf(s, 0, 100); else t.geluErf(s, 0, 100); }
                        default -> { if (onVector) v.geluTanh(s, 0, 100); else t.geluTanh(s, 0, 100); }
                    }
                }
                case LAYERNORM -> {
                    if (onVector) v.layernorm(o, 0, x, 0, gamma, beta, 1056, 1e-5f); else t.layernorm(o, 0, x, 0, gamma, beta, 1056, 1e-5f);
                }
                case ROPE, ROPE_INTERLEAVED -> {
                    System.arraycopy(x, 0, s, 0, 256);
                    boolean interleaved = k == Kernel.ROPE_INTERLEAVED;
                    if (onVector) v.rope(s, 0, 2, 128, 128, cos, sin, interleaved); else t.rope(s, 0, 2, 128, 128, cos, sin, interleaved);
                }
                case F16 -> {
                    if (onVector) v.f16ToF32(w, 0, o, 0, 300); else t.f16ToF32(w, 0, o, 0, 300);
                }
                case BF16 -> {
                    if (onVector) v.bf16ToF32(w, 0, o, 0, 300); else t.bf16ToF32(w, 0, o, 0, 300);
                }
            }
        }
    }

    /** Notes a use of {@code k} on the twins (a plain store: racing writers all write true). */
    private void use(Kernel k) {
        used[k.ordinal()] = true;
    }

    private Kernel matvecKernel(int cols) {
        return cols < rowDotsBelow ? Kernel.MATVEC_NARROW : cols <= 4096 ? Kernel.MATVEC_WIDE : Kernel.MATVEC_WIDEST;
    }

    // ---- the Kernels contract: the twinned families by their switch, the rest on the vector kernels

    @Override public String name() { return v.name(); }
    @Override public int vectorBits() { return v.vectorBits(); }

    @Override public float dot(float[] a, int aOff, float[] b, int bOff, int n) { if (dots.vector) return v.dot(a, aOff, b, bOff, n); use(Kernel.DOT); return t.dot(a, aOff, b, bOff, n); }
    @Override public void dotTile(float[] a, int aOff, int aStride, int m, float[] b, int bOff, int bStride, int n, int len, float[] c, int cOff, int cStride) {
        if (dots.vector) v.dotTile(a, aOff, aStride, m, b, bOff, bStride, n, len, c, cOff, cStride);
        else {
            use(Kernel.DOT_TILE);
            t.dotTile(a, aOff, aStride, m, b, bOff, bStride, n, len, c, cOff, cStride);
        }
    }
    @Override public void mulAddTile(float[] p, int pOff, int pStride, int m, float[] b, int bOff, int bStride, int n, int len, float[] c, int cOff, int cStride) {
        if (mulAdd.vector) v.mulAddTile(p, pOff, pStride, m, b, bOff, bStride, n, len, c, cOff, cStride);
        else {
            use(Kernel.MUL_ADD_TILE);
            t.mulAddTile(p, pOff, pStride, m, b, bOff, bStride, n, len, c, cOff, cStride);
        }
    }
    @Override public float dot(MemorySegment w, long wByteOff, float[] x, int xOff, int n) { if (dots.vector) return v.dot(w, wByteOff, x, xOff, n); use(Kernel.DOT); return t.dot(w, wByteOff, x, xOff, n); }
    @Override public void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        if (mulAdd.vector) v.axpy(alpha, x, xOff, y, yOff, n);
        else {
            use(Kernel.AXPY);
            t.axpy(alpha, x, xOff, y, yOff, n);
        }
    }
    // Element-wise products and sums, argmax and ReLU²: the scalar twin gives the vector kernels' bits.
    @Override public void scale(float[] x, int off, int n, float alpha) { if (exps.vector) v.scale(x, off, n, alpha); else ScalarKernels.INSTANCE.scale(x, off, n, alpha); }
    @Override public void add(float[] a, int aOff, float[] b, int bOff, float[] out, int oOff, int n) { if (exps.vector) v.add(a, aOff, b, bOff, out, oOff, n); else ScalarKernels.INSTANCE.add(a, aOff, b, bOff, out, oOff, n); }
    @Override public void mul(float[] a, int aOff, float[] b, int bOff, float[] out, int oOff, int n) { if (exps.vector) v.mul(a, aOff, b, bOff, out, oOff, n); else ScalarKernels.INSTANCE.mul(a, aOff, b, bOff, out, oOff, n); }
    @Override public int argmax(float[] x, int off, int n) { return exps.vector ? v.argmax(x, off, n) : ScalarKernels.INSTANCE.argmax(x, off, n); }
    @Override public void reluSquared(float[] x, int off, int n) { if (exps.vector) v.reluSquared(x, off, n); else ScalarKernels.INSTANCE.reluSquared(x, off, n); }

    @Override public void matvec(MemorySegment w, long wByteOff, float[] x, float[] out, int rows, int cols) {
        if (matvec.vector) v.matvec(w, wByteOff, x, out, rows, cols);
        else {
            use(matvecKernel(cols));
            t.matvec(w, wByteOff, x, out, rows, cols);
        }
    }
    @Override public void matvecBatch(MemorySegment w, long wByteOff, float[] x, int B, float[] out, int rows, int cols) {
        if (matvec.vector) v.matvecBatch(w, wByteOff, x, B, out, rows, cols);
        else {
            use(matvecKernel(cols));
            t.matvecBatch(w, wByteOff, x, B, out, rows, cols);
        }
    }
    @Override public void matvec16(MemorySegment w, long wByteOff, boolean bf16, float[] x, float[] out, int rows, int cols) { v.matvec16(w, wByteOff, bf16, x, out, rows, cols); }
    @Override public void matvec16Batch(MemorySegment w, long wByteOff, boolean bf16, float[] x, int B, float[] out, int rows, int cols) { v.matvec16Batch(w, wByteOff, bf16, x, B, out, rows, cols); }
    @Override public void matvec(float[] w, float[] x, float[] out, int rows, int cols) { matvec(MemorySegment.ofArray(w), 0, x, out, rows, cols); }

    @Override public void matmulTransposedB(float[] a, MemorySegment b, long bByteOff, float[] c, int m, int n, int k) { v.matmulTransposedB(a, b, bByteOff, c, m, n, k); }
    @Override public void matmulTransposedB(float[] a, float[] b, float[] c, int m, int n, int k) { v.matmulTransposedB(a, b, c, m, n, k); }
    @Override public void matmulTransposedB(float[] a, RowSource b, float[] c, int m, int n, int k) { v.matmulTransposedB(a, b, c, m, n, k); }
    @Override public void matmulTransposedB(float[] a, MemorySegment b, long bByteOff, float[] c, int m, int n, int k, int itemRows) { v.matmulTransposedB(a, b, bByteOff, c, m, n, k, itemRows); }
    @Override public void matmulTransposedB(float[] a, RowSource b, float[] c, int m, int n, int k, int itemRows) { v.matmulTransposedB(a, b, c, m, n, k, itemRows); }
    @Override public void matmul(float[] a, float[] b, float[] c, int m, int n, int k) { v.matmul(a, b, c, m, n, k); }

    @Override public void softmax(float[] x, int off, int n) { if (exps.vector) v.softmax(x, off, n); else { use(Kernel.SOFTMAX); t.softmax(x, off, n); } }
    @Override public float expShift(float[] x, int off, int n, float shift) { if (exps.vector) return v.expShift(x, off, n, shift); use(Kernel.EXP_SHIFT); return t.expShift(x, off, n, shift); }
    @Override public void rmsnorm(float[] out, int oOff, float[] x, int xOff, float[] weight, int n, float eps) {
        if (dots.vector) v.rmsnorm(out, oOff, x, xOff, weight, n, eps);
        else {
            use(Kernel.RMSNORM);
            t.rmsnorm(out, oOff, x, xOff, weight, n, eps);
        }
    }
    @Override public void layernorm(float[] out, int oOff, float[] x, int xOff, float[] gamma, float[] beta, int n, float eps) {
        if (norms.vector) v.layernorm(out, oOff, x, xOff, gamma, beta, n, eps);
        else {
            use(Kernel.LAYERNORM);
            t.layernorm(out, oOff, x, xOff, gamma, beta, n, eps);
        }
    }
    @Override public void rope(float[] x, int off, int heads, int headDim, int rotaryDim, float[] cos, float[] sin, boolean interleaved) {
        if (rope.vector) v.rope(x, off, heads, headDim, rotaryDim, cos, sin, interleaved);
        else {
            use(interleaved ? Kernel.ROPE_INTERLEAVED : Kernel.ROPE);
            t.rope(x, off, heads, headDim, rotaryDim, cos, sin, interleaved);
        }
    }
    @Override public void silu(float[] x, int off, int n) { if (exps.vector) v.silu(x, off, n); else { use(Kernel.SILU); t.silu(x, off, n); } }
    @Override public void geluErf(float[] x, int off, int n) { if (exps.vector) v.geluErf(x, off, n); else { use(Kernel.GELU_ERF); t.geluErf(x, off, n); } }
    @Override public void geluTanh(float[] x, int off, int n) { if (exps.vector) v.geluTanh(x, off, n); else { use(Kernel.GELU_TANH); t.geluTanh(x, off, n); } }

    // 16-bit floats: widening twinned (a model reads its embedding rows so); narrowing (F16 KV caches) on the vector kernels from the start.
    @Override public void f16ToF32(MemorySegment src, long srcByteOff, float[] dst, int dOff, int n) { if (convert.vector) v.f16ToF32(src, srcByteOff, dst, dOff, n); else { use(Kernel.F16); t.f16ToF32(src, srcByteOff, dst, dOff, n); } }
    @Override public void f32ToF16(float[] src, int sOff, MemorySegment dst, long dstByteOff, int n) { v.f32ToF16(src, sOff, dst, dstByteOff, n); }
    @Override public void bf16ToF32(MemorySegment src, long srcByteOff, float[] dst, int dOff, int n) { if (convert.vector) v.bf16ToF32(src, srcByteOff, dst, dOff, n); else { use(Kernel.BF16); t.bf16ToF32(src, srcByteOff, dst, dOff, n); } }
    @Override public void f32ToBf16(float[] src, int sOff, MemorySegment dst, long dstByteOff, int n) { v.f32ToBf16(src, sOff, dst, dstByteOff, n); }
}
