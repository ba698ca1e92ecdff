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
 * Quantized matrix × vector, 8192 × 4096 weights off-heap (17–36 MB depending on the format: beyond
 * the caches), activations quantized inside each op as in a model. Weight bandwidth GB/s =
 * rows·cols/blockSize·blockBytes / (seconds per op) / 1e9, compared with STREAM read in jmh/README.md.
 * {@code path=float} is the float twin (a row at a time widened to floats).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseSerialGC"})
@State(Scope.Benchmark)
public class QuantMatvecBenchmark {

    static final int ROWS = 8192, COLS = 4096;

    @Param({"Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"})
    public String format;

    @Param({"1", "2"})
    public int threads;

    private BlockFormat f;
    private Arena arena;
    private MemorySegment w;
    private float[] x, out;

    @Setup(Level.Trial)
    public void setUp() {
        f = BlockFormat.valueOf(format);
        Parallel.setThreads(threads);
        arena = Arena.ofShared();
        long rowBytes = (long) COLS / f.size * f.bytes;
        w = arena.allocate(rowBytes * ROWS, 64);
        Random rnd = new Random(42);
        float[] row = new float[COLS];
        for (int r = 0; r < ROWS; r++) {
            for (int c = 0; c < COLS; c++) row[c] = (float) rnd.nextGaussian();
            f.quantize(row, 0, COLS, w, r * rowBytes);
        }
        x = new float[COLS];
        out = new float[ROWS];
        for (int i = 0; i < COLS; i++) x[i] = (float) rnd.nextGaussian();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float[] matvec() {
        QuantizedMatvec.matvec(f, w, 0, x, out, ROWS, COLS);
        return out;
    }
}
