package dev.panamax.jmh;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.Float16;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Issue 27's other question: what JDK 25 offers for half floats on AVX512-FP16. The Vector API has
 * no species of halves in JDK 25, only the scalar {@code jdk.incubator.vector.Float16}; C2 turns an
 * element-wise loop of {@code Float16.fma} over short arrays into 32-lane half-precision FMAs where
 * the CPU has AVX512-FP16. Against it, 4 096 element-wise FMAs in float (the same loop on float
 * arrays, auto-vectorized; and on the Vector API), and halves widened to float before a float FMA
 * (what the F16 kernels do). Results in docs/benchmarks.md. Half precision accumulates in half
 * precision — 11 significant bits — so it can serve no product compared with float32 references.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseSerialGC"})
@State(Scope.Benchmark)
public class HalfFloatFmaBenchmark {
    static final int N = 4096;
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    short[] ha, hb, hc;
    float[] fa, fb, fc;

    @Setup
    public void setup() {
        Random r = new Random(1);
        ha = new short[N];
        hb = new short[N];
        hc = new short[N];
        fa = new float[N];
        fb = new float[N];
        fc = new float[N];
        for (int i = 0; i < N; i++) {
            fa[i] = (float) r.nextGaussian();
            fb[i] = (float) r.nextGaussian();
            ha[i] = Float.floatToFloat16(fa[i]);
            hb[i] = Float.floatToFloat16(fb[i]);
        }
    }

    @Benchmark
    public short halfFma() {
        short[] a = ha, b = hb, c = hc;
        for (int i = 0; i < N; i++) {
            c[i] = Float16.float16ToRawShortBits(Float16.fma(Float16.shortBitsToFloat16(a[i]), Float16.shortBitsToFloat16(b[i]), Float16.shortBitsToFloat16(c[i])));
        }
        return c[7];
    }

    @Benchmark
    public float floatFma() {
        float[] a = fa, b = fb, c = fc;
        for (int i = 0; i < N; i++) c[i] = Math.fma(a[i], b[i], c[i]);
        return c[7];
    }

    @Benchmark
    public float vectorFma() {
        float[] a = fa, b = fb, c = fc;
        for (int i = 0; i < N; i += F.length()) {
            FloatVector.fromArray(F, a, i).fma(FloatVector.fromArray(F, b, i), FloatVector.fromArray(F, c, i)).intoArray(c, i);
        }
        return c[7];
    }

    @Benchmark
    public float widenedHalvesFma() {
        short[] a = ha, b = hb;
        float[] c = fc;
        for (int i = 0; i < N; i++) c[i] = Math.fma(Float.float16ToFloat(a[i]), Float.float16ToFloat(b[i]), c[i]);
        return c[7];
    }
}
