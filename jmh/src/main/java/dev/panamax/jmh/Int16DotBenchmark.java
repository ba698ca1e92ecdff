package dev.panamax.jmh;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
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
 * Issue 27's lead, measured: can C2's auto-vectorizer reach the int16 dot-product instructions
 * (vpmaddwd, and vpdpwssd with AVX512-VNNI) that the Vector API does not expose? 4 096 products of
 * 4-bit codes (−8..7) and int8 activations held in shorts, summed to an int:
 * {@code pairsReduction} (C2's MulAddS2I shape as a reduction), {@code pairsIntoArray} (the shape
 * as C2's own test writes it, into an int array), {@code plain}, and the Vector API widening to int
 * lanes ({@code vectorWiden}) or staying in 16-bit lanes ({@code vector16}, what the Q4_0 kernels do
 * per block, where sums are known to fit). Results in docs/benchmarks.md.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseSerialGC"})
@State(Scope.Benchmark)
public class Int16DotBenchmark {
    static final int N = 4096;
    static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    short[] a, b;
    int[] c;

    @Setup
    public void setup() {
        Random r = new Random(1);
        a = new short[N];
        b = new short[N];
        c = new int[N / 2];
        for (int i = 0; i < N; i++) {
            a[i] = (short) (r.nextInt(16) - 8);
            b[i] = (short) (r.nextInt(255) - 127);
        }
    }

    @Benchmark
    public int pairsReduction() {
        int s = 0;
        for (int i = 0; i < N / 2; i++) s += a[2 * i] * b[2 * i] + a[2 * i + 1] * b[2 * i + 1];
        return s;
    }

    @Benchmark
    public int pairsIntoArray() {
        int[] out = c;
        for (int i = 0; i < out.length; i++) out[i] += a[2 * i] * b[2 * i] + a[2 * i + 1] * b[2 * i + 1];
        return out[7];
    }

    @Benchmark
    public int plain() {
        int s = 0;
        for (int i = 0; i < N; i++) s += a[i] * b[i];
        return s;
    }

    @Benchmark
    public int vectorWiden() {
        IntVector acc = IntVector.zero(I);
        for (int i = 0; i < N; i += S.length()) {
            ShortVector x = ShortVector.fromArray(S, a, i), y = ShortVector.fromArray(S, b, i);
            acc = acc.add(((IntVector) x.convertShape(VectorOperators.S2I, I, 0)).mul((IntVector) y.convertShape(VectorOperators.S2I, I, 0)))
                     .add(((IntVector) x.convertShape(VectorOperators.S2I, I, 1)).mul((IntVector) y.convertShape(VectorOperators.S2I, I, 1)));
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Benchmark
    public int vector16() {
        ShortVector acc = ShortVector.zero(S);
        for (int i = 0; i < N; i += S.length()) acc = acc.add(ShortVector.fromArray(S, a, i).mul(ShortVector.fromArray(S, b, i)));
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
