package dev.panamax.jmh;

import dev.panamax.simd.Attention;
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
 * Causal attention of a SmolLM-135M-like layer (9 heads over 3 KV heads of 64) at context 512, 2048
 * and 8192: {@code prefill} attends the last 512 positions of the context as new rows over the
 * whole cache (a 512-token prompt chunk), {@code decode} one row at the last position. Each against
 * the naive reference on the same data; threads as given.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseSerialGC"})
@State(Scope.Benchmark)
public class AttentionBenchmark {

    static final int HEADS = 9, KV_HEADS = 3, HEAD_DIM = 64, PROMPT = 512;

    @Param({"512", "2048", "8192"})
    public int context;

    @Param({"1", "2"})
    public int threads;

    private Kernels k;
    private Attention.Shape shape;
    private float[] q, q1, keys, values, out;

    @Setup(Level.Trial)
    public void setUp() {
        k = Simd.vector().orElse(Simd.scalar()); // the vector kernels themselves, never their start-up twins
        Parallel.setThreads(threads);
        shape = new Attention.Shape(HEADS, KV_HEADS, HEAD_DIM, 0, false);
        Random r = new Random(7);
        q = new float[PROMPT * HEADS * HEAD_DIM];
        keys = new float[context * KV_HEADS * HEAD_DIM];
        values = new float[keys.length];
        out = new float[q.length];
        for (int i = 0; i < q.length; i++) q[i] = (float) r.nextGaussian();
        for (int i = 0; i < keys.length; i++) {
            keys[i] = (float) r.nextGaussian();
            values[i] = (float) r.nextGaussian();
        }
        q1 = java.util.Arrays.copyOf(q, HEADS * HEAD_DIM);
    }

    @Benchmark
    public float[] prefillFlash() {
        Attention.flash(k, q, PROMPT, context - PROMPT, keys, values, shape, out);
        return out;
    }

    @Benchmark
    public float[] prefillNaive() {
        Attention.naive(k, q, PROMPT, context - PROMPT, keys, values, shape, out);
        return out;
    }

    @Benchmark
    public float[] decodeSplitK() {
        Attention.splitK(k, q1, context - 1, keys, values, shape, out, 2 * threads);
        return out;
    }

    @Benchmark
    public float[] decodeNaive() {
        Attention.naive(k, q1, 1, context - 1, keys, values, shape, out);
        return out;
    }
}
