package dev.panamax.jmh;

import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.generate.Sampler;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What picking one sampled token costs: {@link Sampler#sample} over a vocabulary of random logits
 * (Gaussian, σ 3) at the CLI's and server's defaults (top-k 40) and with top-k off (0), the logits
 * copied first as the generation loop hands the sampler a fresh array each token. Results in
 * docs/benchmarks.md (nineteenth session: 4.9 ms → 0.08 ms a token at 32 000 ids).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseSerialGC"})
@State(Scope.Benchmark)
public class SamplerBenchmark {
    @Param({"32000", "128256"})
    int vocab;

    @Param({"40", "0"})
    int topK;

    float[] logits, work;
    Sampler sampler;

    @Setup
    public void setup() {
        Random r = new Random(1);
        logits = new float[vocab];
        for (int i = 0; i < vocab; i++) logits[i] = (float) r.nextGaussian() * 3;
        work = new float[vocab];
        sampler = new Sampler(GenerationOptions.defaults().withTopK(topK).withSeed(1));
    }

    @Benchmark
    public int sample() {
        System.arraycopy(logits, 0, work, 0, vocab);
        return sampler.sample(work, new int[0], 0);
    }
}
