package dev.panamax.jmh;

import dev.panamax.simd.Kernels;
import dev.panamax.simd.Parallel;
import dev.panamax.simd.Simd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * f32 matrix × vector with the matrix off-heap (as a memory-mapped model's weights are).
 * Weight bandwidth GB/s = 4·rows·cols / (seconds per op) / 1e9. 4096×4096 (64 MiB, far beyond the
 * caches) measures memory bandwidth; 256×256 (256 KiB, in L2) measures the thread hand-off.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseSerialGC"})
@State(Scope.Benchmark)
public class MatvecBenchmark {

    @Param({"4096", "256"})
    public int size;

    @Param({"1", "2"})
    public int threads;

    @Param({"vector"})
    public String path;

    private Kernels k;
    private Arena arena;
    private MemorySegment w;
    private float[] x, out;

    @Setup(Level.Trial)
    public void setUp() {
        k = path.equals("scalar") ? Simd.scalar() : Simd.vector().orElseThrow();
        Parallel.setThreads(threads);
        arena = Arena.ofShared();
        w = arena.allocate(4L * size * size, 64);
        Random rnd = new Random(42);
        ValueLayout.OfFloat f32 = ValueLayout.JAVA_FLOAT.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < (long) size * size; i++) w.setAtIndex(f32, i, rnd.nextFloat() - 0.5f);
        x = new float[size];
        out = new float[size];
        for (int i = 0; i < size; i++) x[i] = rnd.nextFloat();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float matvec() {
        k.matvec(w, 0, x, out, size, size);
        return out[size - 1];
    }
}
