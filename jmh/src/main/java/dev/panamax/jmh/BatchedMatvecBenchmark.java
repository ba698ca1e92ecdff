package dev.panamax.jmh;

import dev.panamax.quant.BlockFormat;
import dev.panamax.quant.QuantizedMatvec;
import dev.panamax.simd.Parallel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
 * A batched decoding step's matrix product: B vectors × one interleaved Q8_0 or Q4_0 matrix
 * (TinyLlama's down projection, 2048 × 5632, by default), {@code QuantizedMatvec.matvecInterleavedBatch}
 * as a server's step runs it — the weights read once for all B, each vector's rows bit for bit its
 * one-vector product. Time per call; divide by B for a vector's share. On 512-bit vectors Q8_0 takes
 * four vectors at a time below eight ({@code q8Batch4}) and eight from eight on ({@code q8Batch8}), so
 * {@code vectors} 4 against 8 compares the two kernels in one run. The vector kernels from the first
 * call ({@code -Dpanamax.twinWarmUp=false}): the start-up twins are not what is measured here.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseSerialGC", "-Dpanamax.twinWarmUp=false"})
@State(Scope.Benchmark)
public class BatchedMatvecBenchmark {

    /** rows x cols. */
    @Param({"2048x5632"})
    public String shape;

    @Param({"Q8_0", "Q4_0"})
    public String format;

    /** B: the sequences of a step. */
    @Param({"4", "8", "16"})
    public int vectors;

    @Param({"1", "2"})
    public int threads;

    private BlockFormat f;
    private Arena arena;
    private MemorySegment[] w;
    private int[] rows;
    private int cols;
    private float[] x;
    private float[][] out;

    @Setup(Level.Trial)
    public void setUp() {
        f = BlockFormat.valueOf(format);
        int r = Integer.parseInt(shape.substring(0, shape.indexOf('x')));
        cols = Integer.parseInt(shape.substring(shape.indexOf('x') + 1));
        Parallel.setThreads(threads);
        arena = Arena.ofShared();
        long rowBytes = (long) cols / f.size * f.bytes;
        MemorySegment file = arena.allocate(rowBytes * r, 64);
        Random rnd = new Random(42);
        float[] row = new float[cols];
        for (int i = 0; i < r; i++) {
            for (int c = 0; c < cols; c++) row[c] = (float) rnd.nextGaussian();
            f.quantize(row, 0, cols, file, i * rowBytes);
        }
        if (!QuantizedMatvec.interleaves(f, r, cols)) throw new IllegalStateException(f + " does not interleave on this JVM");
        MemorySegment p = arena.allocate(QuantizedMatvec.interleavedBytes(f, r, cols), 64);
        if (!QuantizedMatvec.interleave(f, file, 0, r, cols, p)) throw new IllegalStateException("non-finite scale");
        w = new MemorySegment[] {p};
        rows = new int[] {r};
        x = new float[vectors * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        out = new float[][] {new float[vectors * r]};
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float[][] step() {
        QuantizedMatvec.matvecInterleavedBatch(f, w, rows, cols, x, vectors, out);
        return out;
    }
}
