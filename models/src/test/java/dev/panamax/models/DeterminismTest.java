package dev.panamax.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.generate.Generator;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.simd.Parallel;
import dev.panamax.simd.Simd;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The reproducibility contract (docs/testing.md, "What is bit-reproducible"), model by model: kjv-llama
 * in every weight format gives the same logits bit for bit
 * <ul>
 *   <li>on the very first call of a freshly loaded model and on each of 10 repeated calls;
 *   <li>from 8 threads calling at once;
 *   <li>with the kernels' pool at 1, 2 and 3 threads;
 *   <li>in another JVM that never compiles with C2 ({@code -XX:TieredStopAtLevel=1}: the Vector API's
 *       Java fallback, as before warm-up) — the first call of that process against this one's calls
 *       after warm-up.
 * </ul>
 * and sampling with a fixed seed gives the same ids every time. Runs on the Vector API path and,
 * in the models module's second surefire execution, on the scalar path.
 *
 * <p>Before the fixed-order lane sums, kjv-llama in Q8_0, Q4_0, Q4_K, Q6_K and TQ2_0 gave logits up to
 * 9e-2 apart between the first call and later ones (the first ran the Vector API's Java fallback,
 * whose float reductions add in another order than C2's).
 */
class DeterminismTest {

    /** A run: a prompt's logits at every position, then six decoding steps. */
    static float[] run(LanguageModel m, int[] ids) {
        LanguageModel.Session s = m.newSession();
        int prompt = 12;
        float[] all = s.prefill(Arrays.copyOf(ids, prompt), true);
        int vocab = m.vocabSize();
        float[] out = Arrays.copyOf(all, all.length + 6 * vocab);
        for (int t = 0; t < 6; t++) System.arraycopy(s.forward(ids[prompt + t]), 0, out, all.length + t * vocab, vocab);
        return out;
    }

    static int[] ids() throws IOException {
        return Fixtures.ints(Fixtures.json(Fixtures.kjv().resolve("expected.json")).get("greedy_ids"));
    }

    private static void assertSameBits(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                throw new AssertionError(what + ": logit " + i + " is " + got[i] + ", the first call's " + want[i]
                        + " (" + Simd.kernels().name() + " kernels)");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k", "q5_0", "iq4_nl", "tq2_0"})
    void everyCallGivesTheSameBits(String type, @TempDir Path tmp) throws Exception {
        Path gguf = tmp.resolve("kjv-" + type + ".gguf");
        GgufExport.convert(Fixtures.kjv(), gguf, QuantPlan.parse(type));
        int[] ids = ids();
        try (LanguageModel m = ModelLoader.loadLanguageModel(gguf, Fixtures.OPTIONS)) {
            float[] first = run(m, ids);
            for (int i = 0; i < 10; i++) assertSameBits(first, run(m, ids), type + ", repeated call " + (i + 1));

            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<float[]>> runs = new ArrayList<>();
                for (int i = 0; i < 8; i++) runs.add(pool.submit((Callable<float[]>) () -> run(m, ids)));
                for (int i = 0; i < runs.size(); i++) assertSameBits(first, runs.get(i).get(5, TimeUnit.MINUTES), type + ", concurrent call " + i);
            } finally {
                pool.shutdownNow();
            }

            int threads = Parallel.threads();
            try {
                for (int t : new int[] {1, 2, 3}) {
                    Parallel.setThreads(t);
                    assertSameBits(first, run(m, ids), type + ", " + t + " kernel threads");
                }
            } finally {
                Parallel.setThreads(threads);
            }

            GenerationOptions sampled = GenerationOptions.defaults().withMaxTokens(24).withTemperature(0.9f).withSeed(1234);
            int[] text = Generator.generate(m, Arrays.copyOf(ids, 4), sampled, null, null).generatedIds();
            for (int i = 0; i < 3; i++) {
                assertArrayEquals(text, Generator.generate(m, Arrays.copyOf(ids, 4), sampled, null, null).generatedIds(), type + ": sampled ids, seed 1234");
            }

            assertSameBits(first, inAnotherJvm(gguf, tmp.resolve("c1.f32"), "-XX:TieredStopAtLevel=1"), type + ", a JVM without C2");
        }
    }

    /** {@link #run} in a fresh JVM with this one's class path, flags and panamax properties plus {@code extra}. */
    static float[] inAnotherJvm(Path gguf, Path out, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) cmd.addAll(List.of("--add-modules", "jdk.incubator.vector"));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        for (String key : System.getProperties().stringPropertyNames()) {
            if (key.startsWith("panamax.")) cmd.add("-D" + key + "=" + System.getProperty(key));
        }
        // The vector shape too (models' vector-256 run): 256- and 512-bit kernels may round differently.
        for (String arg : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("-XX:MaxVectorSize=")) cmd.add(arg);
        }
        cmd.addAll(List.of(extra));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Child.class.getName(), gguf.toString(), out.toString(),
                Fixtures.kjv().resolve("expected.json").toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the child JVM did not finish");
        assertEquals(0, p.exitValue(), () -> "the child JVM failed:\n" + log);
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[b.remaining() / 4];
        b.asFloatBuffer().get(f);
        return f;
    }

    /** The child JVM: loads the model, one {@link #run}, its logits to a file. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            Path expected = Path.of(args[2]);
            var json = dev.panamax.runtime.json.Json.object(dev.panamax.runtime.json.Json.parse(Files.readString(expected)), expected.toString());
            int[] ids = Fixtures.ints(json.get("greedy_ids"));
            try (LanguageModel m = ModelLoader.loadLanguageModel(Path.of(args[0]), Fixtures.OPTIONS)) {
                float[] logits = run(m, ids);
                ByteBuffer b = ByteBuffer.allocate(4 * logits.length).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(logits);
                Files.write(Path.of(args[1]), b.array());
            }
        }
    }
}
