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
 * The same Q8_0, Q4_0 or Q4_K matrix (8192 × 4096 by default, beyond the caches; {@code shape}) × vector in the file's layout
 * and in the CPU's decode layout with its rows interleaved ({@code QuantizedMatvec.interleave}),
 * in one run so the two compare on the same machine state.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseSerialGC"})
@State(Scope.Benchmark)
public class InterleavedMatvecBenchmark {

    /** rows x cols: 8192x4096 is beyond the caches; TinyLlama's decode shapes are 2048x2048, 2560x2048, 11264x2048, 2048x5632. */
    @Param({"8192x4096"})
    public String shape;

    private int ROWS, COLS;

    /**
     * Copies of the matrix taken in turn, one a call: enough of them (a model's worth, ~600 MB) and no
     * call finds its matrix in a cache, as a decode step never does.
     */
    @Param({"1"})
    public int copies;

    private MemorySegment[] all;
    private int next;

    @Param({"Q8_0", "Q4_0", "Q4_K"})
    public String format;

    @Param({"file", "interleaved"})
    public String layout;

    @Param({"1", "2"})
    public int threads;

    private BlockFormat f;
    private Arena arena;
    private MemorySegment w;
    private boolean interleaved;
    private float[] x, out;

    @Setup(Level.Trial)
    public void setUp() {
        f = BlockFormat.valueOf(format);
        ROWS = Integer.parseInt(shape.substring(0, shape.indexOf('x')));
        COLS = Integer.parseInt(shape.substring(shape.indexOf('x') + 1));
        Parallel.setThreads(threads);
        arena = Arena.ofShared();
        long rowBytes = (long) COLS / f.size * f.bytes;
        MemorySegment file = arena.allocate(rowBytes * ROWS, 64);
        Random rnd = new Random(42);
        float[] row = new float[COLS];
        for (int r = 0; r < ROWS; r++) {
            for (int c = 0; c < COLS; c++) row[c] = (float) rnd.nextGaussian();
            f.quantize(row, 0, COLS, file, r * rowBytes);
        }
        interleaved = layout.equals("interleaved");
        if (interleaved) {
            if (!QuantizedMatvec.interleaves(f, ROWS, COLS)) throw new IllegalStateException(f + " does not interleave on this JVM");
            w = arena.allocate(QuantizedMatvec.interleavedBytes(f, ROWS, COLS), 64);
            if (!QuantizedMatvec.interleave(f, file, 0, ROWS, COLS, w)) throw new IllegalStateException("non-finite scale");
        } else {
            w = file;
        }
        all = new MemorySegment[copies];
        all[0] = w;
        for (int i = 1; i < copies; i++) {
            all[i] = arena.allocate(w.byteSize(), 64);
            all[i].copyFrom(w);
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
        w = all[next];
        next = (next + 1) % copies;
        if (interleaved) QuantizedMatvec.matvecInterleaved(f, w, x, out, ROWS, COLS);
        else QuantizedMatvec.matvec(f, w, 0, x, out, ROWS, COLS);
        return out;
    }
}
