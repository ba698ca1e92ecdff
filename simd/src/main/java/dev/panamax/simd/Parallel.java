package dev.panamax.simd;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The shared thread pool every multi-threaded kernel runs on, sized to the cores.
 *
 * <p>Why not a {@code ForkJoinPool}: one decoded token runs hundreds of small matvecs (a 256×256
 * one takes a few microseconds), so the hand-off must cost well under a microsecond. Workers here
 * are persistent threads that spin on the next job for a short while ({@code panamax.spinMicros},
 * default 200 µs) before parking, and the calling thread always works on the job too. Jobs are
 * immutable objects with their own counters, so a worker that wakes late can never run a task of
 * the wrong job.
 *
 * <p>Calls from inside a task, and calls made while another thread's job is running, run on the
 * calling thread alone (no deadlock, no oversubscription).
 *
 * <pre>{@code
 * Parallel.forRange(rows, 16, (start, end) -> { for (int r = start; r < end; r++) ... });
 * }</pre>
 */
public final class Parallel {

    /** Body of {@link #forRange}: handles items [start, end). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    /** Ranges per thread in {@link #forRange}. */
    static final int SPLIT = Tuning.speed("split", 4);

    private static volatile Pool pool = new Pool(defaultThreads());

    private Parallel() {}

    private static int defaultThreads() {
        String p = Tuning.text("threads");
        if (p != null && !p.isBlank()) {
            try {
                return Math.min(maxThreads(), Math.max(1, Integer.parseInt(p.trim())));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("panamax.threads must be a positive integer, got '" + p + "'");
            }
        }
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /** Number of threads jobs are spread over (the caller included). */
    public static int threads() {
        return pool.size;
    }

    /**
     * The most threads the pool takes: 4 × the processors this JVM sees, at least 8. More only
     * slow the kernels down, and a mistyped 100000 would take a minute to start.
     */
    public static int maxThreads() {
        return Math.max(8, 4 * Runtime.getRuntime().availableProcessors());
    }

    /** Resizes the shared pool; running jobs finish on the old one. */
    public static synchronized void setThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        if (threads > maxThreads()) {
            throw new IllegalArgumentException("threads must be at most " + maxThreads() + " (4 × the "
                    + Runtime.getRuntime().availableProcessors() + " processors this JVM sees), got " + threads);
        }
        if (threads == pool.size) return;
        Pool old = pool;
        pool = new Pool(threads);
        old.shutdown();
    }

    /**
     * While set, jobs run on the calling thread alone and the workers park: {@link WarmingKernels}
     * sets it while the vector kernels warm up, leaving the other cores to the JIT (on two cores,
     * a spinning worker and a second kernel thread delayed C2 by a second). Results do not depend
     * on it, as they do not depend on the thread count.
     */
    static volatile boolean callerOnly;

    /** Runs {@code body.accept(t)} for every t in [0, tasks), spread over the pool; returns when all are done. */
    public static void forEach(int tasks, IntConsumer body) {
        pool.run(tasks, body);
    }

    /**
     * Splits [0, n) into contiguous ranges whose boundaries are multiples of {@code grain} (except
     * the end), and runs them in parallel. There are up to {@value #SPLIT} ranges per thread, claimed
     * dynamically: on a shared machine one core is often slower than the other (a busy hyperthread
     * sibling, another tenant), and a fixed half-each split would wait for it.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        forRange(n, grain, threads() * SPLIT, body);
    }

    /** As {@link #forRange(int, int, RangeBody)} with at most {@code maxParts} ranges (each range has a set-up cost to amortise). */
    public static void forRange(int n, int grain, int maxParts, RangeBody body) {
        if (n <= 0) return;
        int g = Math.max(1, grain);
        int units = (n + g - 1) / g;
        int parts = threads() == 1 ? 1 : Math.max(1, Math.min(maxParts, units));
        if (parts <= 1) {
            body.run(0, n);
            return;
        }
        forEach(parts, p -> {
            int start = (int) ((long) units * p / parts) * g;
            int end = Math.min(n, (int) ((long) units * (p + 1) / parts) * g);
            if (start < end) body.run(start, end);
        });
    }

    /**
     * One call's work. The claim counter (inherited) and the done counter live in the job object
     * itself, so a worker touches one fresh cache line per job, not three.
     */
    @SuppressWarnings("serial")
    private static final class Job extends AtomicInteger {
        private static final VarHandle DONE;

        static {
            try {
                DONE = MethodHandles.lookup().findVarHandle(Job.class, "done", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final IntConsumer body;
        final int tasks;
        volatile int done;
        volatile Throwable failure;

        Job(IntConsumer body, int tasks) {
            this.body = body;
            this.tasks = tasks;
        }

        void work() {
            int t;
            while ((t = getAndIncrement()) < tasks) {
                try {
                    body.accept(t);
                } catch (Throwable e) {
                    if (failure == null) failure = e;
                } finally {
                    DONE.getAndAdd(this, 1);
                }
            }
        }
    }

    private static final class Pool {
        final int size;
        final Worker[] workers;
        final AtomicBoolean busy = new AtomicBoolean();
        final long spinNanos = Tuning.speed("spinMicros", 200L) * 1000L;
        volatile Job current;
        volatile boolean stopped;

        Pool(int size) {
            this.size = size;
            this.workers = new Worker[size - 1];
            for (int i = 0; i < workers.length; i++) {
                workers[i] = new Worker(this, i + 1);
                workers[i].start();
            }
        }

        void run(int tasks, IntConsumer body) {
            if (tasks <= 0) return;
            if (tasks == 1 || size == 1 || callerOnly || Thread.currentThread() instanceof Worker || !busy.compareAndSet(false, true)) {
                for (int t = 0; t < tasks; t++) body.accept(t);
                return;
            }
            try {
                Job job = new Job(body, tasks);
                current = job;
                for (Worker w : workers) {
                    if (w.parked) LockSupport.unpark(w);
                }
                job.work();
                int spins = 0;
                while (job.done < tasks) {
                    if (++spins < 100_000) Thread.onSpinWait();
                    else Thread.yield();
                }
                Throwable f = job.failure;
                if (f instanceof RuntimeException re) throw re;
                if (f instanceof Error er) throw er;
                if (f != null) throw new IllegalStateException(f);
            } finally {
                busy.set(false);
            }
        }

        void shutdown() {
            stopped = true;
            for (Worker w : workers) LockSupport.unpark(w);
        }
    }

    private static final class Worker extends Thread {
        /**
         * Runs a job through a method handle held in an instance field, which C2 cannot inline.
         * Why: once C2 OSR-compiles this thread's spin loop, it inlines Job.work and what it calls
         * into it, and the worker then ran its half of a 2048² matmul at half the speed of the
         * calling thread, for the rest of the run (measured: 100 → 185 ms per call; excluding this
         * method from compilation, or keeping Job.work out of line, keeps 100 ms).
         */
        private final MethodHandle work;

        final Pool pool;
        volatile boolean parked;

        Worker(Pool pool, int index) {
            super("panamax-worker-" + index);
            this.pool = pool;
            setDaemon(true);
            try {
                work = MethodHandles.lookup().findVirtual(Job.class, "work", MethodType.methodType(void.class));
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        private void runJob(Job job) {
            try {
                work.invokeExact(job);
            } catch (Throwable e) {
                // Job.work records its tasks' failures itself; nothing else can throw here.
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void run() {
            Job seen = null;
            while (!pool.stopped) {
                Job job = pool.current;
                if (job != seen) {
                    seen = job;
                    runJob(job);
                    continue;
                }
                long until = System.nanoTime() + pool.spinNanos;
                int spins = 0;
                while ((job = pool.current) == seen && !pool.stopped) {
                    Thread.onSpinWait();
                    if ((++spins & 255) == 0 && System.nanoTime() > until) {
                        parked = true;
                        if (pool.current == seen && !pool.stopped) LockSupport.park(this);
                        parked = false;
                        until = System.nanoTime() + pool.spinNanos;
                    }
                }
            }
        }
    }
}
