package dev.panamax.jmh;

import dev.panamax.simd.Kernels;
import dev.panamax.simd.Parallel;
import dev.panamax.simd.Simd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A prompt block against a weight, C = A·Bᵀ with A [64 tokens, k] and B [n, k] off-heap as a mapped
 * weight is: the GEMM of a 64-token prefill, in TinyLlama-1.1B's shapes (q/o 2048 × 2048, gate/up
 * 5632 × 2048, down 2048 × 5632) and SmolLM-135M's (gate/up 1536 × 576). {@code tiles} picks the
 * tile shape: {@code broadcast} (BroadcastGemm, lanes over tokens, the default on AVX-512) or
 * {@code dot} (DotGemm's dot-product tiles). GFLOP/s = 2·64·n·k / (seconds per op) / 1e9.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseSerialGC"})
@State(Scope.Benchmark)
public class PromptGemmBenchmark {

    @Param({"2048x2048", "5632x2048", "2048x5632", "1536x576"})
    public String shape;

    @Param({"1", "2"})
    public int threads;

    @Param({"broadcast", "dot"})
    public String tiles;

    private Kernels k;
    private float[] a, c;
    private MemorySegment b;
    private int m = 64, n, kk;

    @Setup(Level.Trial)
    public void setUp() {
        // Read once when the kernels' class initialises: set before anything touches Simd.
        System.setProperty("panamax.experiments", "true"); // the crossover is a kernel experiment (Tuning)
        System.setProperty("panamax.broadcastGemmRows", tiles.equals("dot") ? "0" : "16");
        k = Simd.vector().orElseThrow();
        Parallel.setThreads(threads);
        String[] nk = shape.split("x");
        n = Integer.parseInt(nk[0]);
        kk = Integer.parseInt(nk[1]);
        Random rnd = new Random(42);
        a = new float[m * kk];
        c = new float[m * n];
        for (int i = 0; i < a.length; i++) a[i] = rnd.nextFloat() - 0.5f;
        b = Arena.global().allocate(4L * n * kk, 64);
        for (long i = 0; i < (long) n * kk; i++) b.setAtIndex(ValueLayout.JAVA_FLOAT, i, rnd.nextFloat() - 0.5f);
    }

    @Benchmark
    public float promptBlock() {
        k.matmulTransposedB(a, b, 0, c, m, n, kk);
        return c[n + 1];
    }
}
