package dev.panamax.jmh;

import dev.panamax.simd.Kernels;
import dev.panamax.simd.Parallel;
import dev.panamax.simd.Simd;
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
 * Square f32 matmul C = A·B and C = A·Bᵀ, n×n×n. GFLOP/s = 2n³ / (seconds per op) / 1e9, which
 * {@code jmh/summarize.py} prints next to OpenBLAS's figure.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseSerialGC"})
@State(Scope.Benchmark)
public class MatmulBenchmark {

    @Param({"1024", "2048"})
    public int n;

    @Param({"1", "2"})
    public int threads;

    @Param({"vector"})
    public String path;

    private Kernels k;
    private float[] a, b, c;

    @Setup(Level.Trial)
    public void setUp() {
        k = path.equals("scalar") ? Simd.scalar() : Simd.vector().orElseThrow();
        Parallel.setThreads(threads);
        Random rnd = new Random(42);
        a = new float[n * n];
        b = new float[n * n];
        c = new float[n * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = rnd.nextFloat() - 0.5f;
            b[i] = rnd.nextFloat() - 0.5f;
        }
    }

    @Benchmark
    public float matmul() {
        k.matmul(a, b, c, n, n, n);
        return c[n + 1];
    }

    @Benchmark
    public float matmulTransposedB() {
        k.matmulTransposedB(a, b, c, n, n, n);
        return c[n + 1];
    }
}
