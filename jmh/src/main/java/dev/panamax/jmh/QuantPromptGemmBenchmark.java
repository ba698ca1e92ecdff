package dev.panamax.jmh;

import dev.panamax.quant.BlockFormat;
import dev.panamax.quant.QuantizedMatvec;
import dev.panamax.simd.Kernels;
import dev.panamax.simd.Parallel;
import dev.panamax.simd.Simd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
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
 * A 64-token prompt block against an interleaved Q4_0 weight (the CPU's decode layout) in
 * TinyLlama-1.1B's shapes (q/o 2048 × 2048, gate/up 5632 × 2048, down 2048 × 5632) and SmolLM-135M's
 * (gate/up 1536 × 576): {@code path=integer} is {@code QuantizedMatvec.matmulInterleaved} (the
 * 16-bit integer tiles, what a Q4_0 prompt runs on AVX-512), {@code path=widened} widens four rows
 * at a time to float for the float GEMM (what it ran before, and still runs below 32 tokens).
 * GFLOP/s = 2·64·n·k / (seconds per op) / 1e9.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseSerialGC"})
@State(Scope.Benchmark)
public class QuantPromptGemmBenchmark {

    @Param({"2048x2048", "5632x2048", "2048x5632", "1536x576"})
    public String shape;

    @Param({"1", "2"})
    public int threads;

    @Param({"integer", "widened"})
    public String path;

    private Kernels k;
    private float[] a, c;
    private MemorySegment w;
    private final int m = 64;
    private int n, kk;

    @Setup(Level.Trial)
    public void setUp() {
        k = Simd.vector().orElseThrow();
        Parallel.setThreads(threads);
        String[] nk = shape.split("x");
        n = Integer.parseInt(nk[0]);
        kk = Integer.parseInt(nk[1]);
        if (path.equals("integer") && !QuantizedMatvec.multipliesPrompt(BlockFormat.Q4_0, m)) {
            throw new IllegalStateException("no integer prompt GEMM on this JVM (it needs 512-bit vectors)");
        }
        SplittableRandom rnd = new SplittableRandom(42);
        a = new float[m * kk];
        c = new float[m * n];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        Arena arena = Arena.global();
        long blocks = (long) n * kk / 32;
        MemorySegment file = arena.allocate(blocks * BlockFormat.Q4_0.bytes, 64);
        for (long i = 0; i < file.byteSize(); i++) file.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
        for (long b = 0; b < blocks; b++) file.set(ValueLayout.JAVA_SHORT_UNALIGNED, b * BlockFormat.Q4_0.bytes, Float.floatToFloat16(0.01f));
        w = arena.allocate(QuantizedMatvec.interleavedBytes(BlockFormat.Q4_0, n, kk), 64);
        if (!QuantizedMatvec.interleave(BlockFormat.Q4_0, file, 0, n, kk, w)) throw new IllegalStateException("did not interleave");
    }

    @Benchmark
    public float promptBlock() {
        if (path.equals("integer")) QuantizedMatvec.matmulInterleaved(BlockFormat.Q4_0, w, n, kk, a, m, c);
        else k.matmulTransposedB(a, (r, count, dst, off) -> QuantizedMatvec.dequantizeInterleavedRows(BlockFormat.Q4_0, w, n, kk, r, count, dst, off), c, m, n, kk);
        return c[n + 1];
    }
}
