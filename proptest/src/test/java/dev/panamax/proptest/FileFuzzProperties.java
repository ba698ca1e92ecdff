package dev.panamax.proptest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.panamax.models.GgufExport;
import dev.panamax.models.QuantPlan;
import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.ModelLoader;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * The model file parsers fuzzed: valid files — a GGUF (F32 and Q8_0, and kjv-llama in Q4_0 for a
 * real vocabulary in its metadata), a Hugging Face directory
 * (safetensors + config.json) and a llama2.c checkpoint, all of the tiny llama fixture's shape —
 * mutated and loaded, then run one token if they load. Mutations: truncation at every structural
 * boundary (each field of the GGUF header and directory, each JSON token of the safetensors header,
 * each tensor of the llama2.c file), each integer field set to 0, −1, 2³¹, 2⁶², 2⁶³ − 1 or a random
 * value, each number of config.json and of the safetensors header replaced the same way, and
 * random byte flips in the headers.
 *
 * <p>Every outcome must be a {@link ModelException} with a one-line message, or a load that runs;
 * never another exception, never more than {@link #ALLOCATION_LIMIT} bytes allocated by the loading
 * thread, never more than {@link #TIME_LIMIT_S} seconds.
 *
 * <p>CI runs a short budget (the tries below). A long run: {@code ./run-tests -pl proptest -am
 * -Dtest=FileFuzzProperties -Dsurefire.failIfNoSpecifiedTests=false -Dpanamax.fuzz.rounds=200}
 * — each try then also runs 199 more mutations drawn from its seed (docs/testing.md).
 */
class FileFuzzProperties {

    static final long ALLOCATION_LIMIT = 256L << 20;
    static final int TIME_LIMIT_S = 20;
    static final int ROUNDS = Integer.getInteger("panamax.fuzz.rounds", 1);

    static Path dir;
    static byte[] ggufF32, ggufQ8, ggufKjv, safetensors, config, llama2c;
    /** Structural boundaries (offsets) and integer fields (offset, width) of each seed. */
    static List<long[]> ggufF32Fields, ggufQ8Fields, ggufKjvFields, llama2cFields;
    static long[] ggufF32Bounds, ggufQ8Bounds, ggufKjvBounds, llama2cBounds, safetensorsBounds;
    static ExecutorService worker;

    @BeforeContainer
    static void seeds() throws Exception {
        dir = Files.createTempDirectory("panamax-fuzz");
        Path llama = Path.of(System.getProperty("panamax.shared", "../../shared")).resolve("fixtures/hf/llama");
        Path f32 = dir.resolve("seed-f32.gguf"), q8 = dir.resolve("seed-q8.gguf");
        GgufExport.convert(llama, f32, QuantPlan.parse("f32"));
        GgufExport.convert(llama, q8, QuantPlan.parse("q8_0"));
        // kjv-llama in Q4_0: a real SentencePiece vocabulary in the metadata (2048 tokens, scores, types).
        Path kjv = dir.resolve("seed-kjv.gguf");
        GgufExport.convert(Path.of(System.getProperty("panamax.shared", "../../shared")).resolve("models/kjv-llama"), kjv, QuantPlan.parse("q4_0"));
        ggufKjv = Files.readAllBytes(kjv);
        ggufF32 = Files.readAllBytes(f32);
        ggufQ8 = Files.readAllBytes(q8);
        safetensors = Files.readAllBytes(llama.resolve("model.safetensors"));
        config = Files.readAllBytes(llama.resolve("config.json"));
        llama2c = llama2c(16, 40, 2, 2, 1, 32, 24);
        ggufF32Fields = new ArrayList<>();
        ggufF32Bounds = ggufLayout(ggufF32, ggufF32Fields);
        ggufQ8Fields = new ArrayList<>();
        ggufQ8Bounds = ggufLayout(ggufQ8, ggufQ8Fields);
        ggufKjvFields = new ArrayList<>();
        ggufKjvBounds = ggufLayout(ggufKjv, ggufKjvFields);
        llama2cFields = new ArrayList<>();
        llama2cBounds = llama2cLayout(16, 40, 2, 2, 1, 32, 24, llama2cFields);
        safetensorsBounds = jsonTokens(safetensors);
        worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-load");
            t.setDaemon(true);
            return t;
        });
        // The seeds themselves load and run.
        check(f32, "seed GGUF F32");
        check(q8, "seed GGUF Q8_0");
        check(kjv, "seed GGUF kjv Q4_0");
        Path hf = hfDir("seed", safetensors, config);
        check(hf, "seed safetensors");
        check(Files.write(dir.resolve("seed.bin"), llama2c), "seed llama2.c");
    }

    @AfterContainer
    static void cleanUp() throws IOException {
        worker.shutdownNow();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    // ---- the properties ------------------------------------------------------------------------

    /** What to do to a file: cut it, set an integer field, or flip bytes; {@code pick} chooses where. */
    enum Kind { TRUNCATE, SET_INTEGER, FLIP_BYTES }

    record Mutation(Kind kind, int pick, int value, long seed) {
        static final long[] VALUES = {0, -1, 1L << 31, 1L << 62, Long.MAX_VALUE, 1, 255, 65535};
    }

    @Provide
    Arbitrary<Mutation> mutations() {
        return Combinators.combine(Arbitraries.of(Kind.class), Arbitraries.integers().between(0, 1 << 20),
                Arbitraries.integers().between(0, Mutation.VALUES.length), Arbitraries.longs()).as(Mutation::new);
    }

    @Property(tries = 150)
    void ggufMutationsLoadOrFailCleanly(@ForAll("mutations") Mutation m, @ForAll boolean quantized) throws Exception {
        byte[] seed = quantized ? ggufQ8 : ggufF32;
        List<long[]> fields = quantized ? ggufQ8Fields : ggufF32Fields;
        long[] bounds = quantized ? ggufQ8Bounds : ggufF32Bounds;
        Random r = new Random(m.seed());
        Mutation next = m;
        for (int round = 0; round < ROUNDS; round++, next = random(r)) {
            byte[] b = binaryMutation(seed, fields, bounds, headerEnd(bounds), next, r);
            Path p = Files.write(dir.resolve("fuzz.gguf"), b);
            check(p, "GGUF " + (quantized ? "Q8_0" : "F32") + " " + next + describe(next, fields, bounds));
        }
    }

    @Property(tries = 60)
    void ggufWithAVocabularyMutationsLoadOrFailCleanly(@ForAll("mutations") Mutation m) throws Exception {
        Random r = new Random(m.seed());
        Mutation next = m;
        for (int round = 0; round < ROUNDS; round++, next = random(r)) {
            byte[] b = binaryMutation(ggufKjv, ggufKjvFields, ggufKjvBounds, headerEnd(ggufKjvBounds), next, r);
            check(Files.write(dir.resolve("fuzz-kjv.gguf"), b), "GGUF kjv Q4_0 " + next + describe(next, ggufKjvFields, ggufKjvBounds));
        }
    }

    @Property(tries = 150)
    void safetensorsAndConfigMutationsLoadOrFailCleanly(@ForAll("mutations") Mutation m, @ForAll boolean inConfig) throws Exception {
        Random r = new Random(m.seed());
        Mutation next = m;
        for (int round = 0; round < ROUNDS; round++, next = random(r)) {
            byte[] st = safetensors, cfg = config;
            String what;
            if (inConfig) {
                cfg = jsonMutation(config, 0, config.length, next, r);
                what = "config.json " + next;
            } else {
                long headerLength = ByteBuffer.wrap(safetensors).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
                st = switch (next.kind()) {
                    case TRUNCATE -> Arrays.copyOf(safetensors, (int) at(safetensorsBounds, next.pick()));
                    case SET_INTEGER -> next.pick() % 4 == 0 ? withLong(safetensors, 0, Mutation.VALUES[next.value() % Mutation.VALUES.length])
                            : jsonMutation(safetensors, 8, (int) (8 + headerLength), next, r);
                    case FLIP_BYTES -> flip(safetensors, 8, 8 + headerLength, r);
                };
                what = "safetensors " + next;
            }
            check(hfDir("fuzz", st, cfg), what);
        }
    }

    @Property(tries = 100)
    void llama2cMutationsLoadOrFailCleanly(@ForAll("mutations") Mutation m) throws Exception {
        Random r = new Random(m.seed());
        Mutation next = m;
        for (int round = 0; round < ROUNDS; round++, next = random(r)) {
            byte[] b = binaryMutation(llama2c, llama2cFields, llama2cBounds, 28, next, r);
            check(Files.write(dir.resolve("fuzz.bin"), b), "llama2.c " + next + describe(next, llama2cFields, llama2cBounds));
        }
    }

    // ---- the check -----------------------------------------------------------------------------

    /** Loads {@code model} on the worker thread, runs a token if it loads, and judges the outcome. */
    static void check(Path model, String what) throws Exception {
        Future<long[]> f = worker.submit(() -> {
            var bean = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long before = bean.getCurrentThreadAllocatedBytes();
            try (Model loaded = ModelLoader.load(model)) {
                if (loaded instanceof LanguageModel lm) {
                    float[] logits = lm.newSession().prefill(new int[] {0, Math.min(1, lm.vocabSize() - 1)}, false);
                    assertThat(logits).hasSize(lm.vocabSize());
                }
            } catch (ModelException e) {
                String message = e.getMessage();
                // One line for a person: not empty, no raw exception dumped into it.
                assertThat(message).as(what + ": the error's message").isNotBlank().doesNotContain("\n").doesNotContain("java.lang.")
                        .doesNotContain("Exception").isNotEqualTo("null");
            }
            return new long[] {bean.getCurrentThreadAllocatedBytes() - before};
        });
        long allocated;
        try {
            allocated = f.get(TIME_LIMIT_S, TimeUnit.SECONDS)[0];
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new AssertionError(what + ": still loading after " + TIME_LIMIT_S + " s");
        } catch (java.util.concurrent.ExecutionException e) {
            throw new AssertionError(what + ": " + e.getCause(), e.getCause());
        }
        assertThat(allocated).as(what + ": bytes allocated").isLessThan(ALLOCATION_LIMIT);
    }

    static Mutation random(Random r) {
        return new Mutation(Kind.values()[r.nextInt(3)], r.nextInt(1 << 20), r.nextInt(Mutation.VALUES.length + 1), r.nextLong());
    }

    static String describe(Mutation m, List<long[]> fields, long[] bounds) {
        return switch (m.kind()) {
            case TRUNCATE -> " (cut at byte " + at(bounds, m.pick()) + ")";
            case SET_INTEGER -> {
                long[] fw = fields.get(m.pick() % fields.size());
                yield " (field at byte " + fw[0] + ", " + fw[1] + " bytes)";
            }
            case FLIP_BYTES -> "";
        };
    }

    static long at(long[] bounds, int pick) {
        return bounds[pick % bounds.length];
    }

    /** The last boundary before the tensor data: the header. */
    static long headerEnd(long[] bounds) {
        return bounds[bounds.length - 1];
    }

    static byte[] binaryMutation(byte[] seed, List<long[]> fields, long[] bounds, long header, Mutation m, Random r) {
        return switch (m.kind()) {
            case TRUNCATE -> Arrays.copyOf(seed, (int) at(bounds, m.pick()));
            case SET_INTEGER -> {
                long[] field = fields.get(m.pick() % fields.size());
                long v = m.value() < Mutation.VALUES.length ? Mutation.VALUES[m.value()] : r.nextLong();
                byte[] b = seed.clone();
                ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
                if (field[1] == 8) bb.putLong((int) field[0], v);
                else bb.putInt((int) field[0], (int) v);
                yield b;
            }
            case FLIP_BYTES -> flip(seed, 0, header, r);
        };
    }

    static byte[] flip(byte[] seed, long from, long to, Random r) {
        byte[] b = seed.clone();
        int flips = 1 + r.nextInt(8);
        for (int i = 0; i < flips; i++) b[(int) (from + r.nextInt((int) (to - from)))] ^= (byte) (1 << r.nextInt(8));
        return b;
    }

    static byte[] withLong(byte[] seed, int at, long v) {
        byte[] b = seed.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(at, v);
        return b;
    }

    private static final Pattern NUMBER = Pattern.compile("-?[0-9][0-9.eE+-]*");

    /**
     * One number in the JSON text between {@code from} and {@code to} replaced by another (0, −1,
     * 2³¹, 2⁶², …, a random one, a fraction, or a huge exponent); for a safetensors file ({@code from}
     * = 8) the header length is updated, so the data section stays where the offsets say.
     */
    static byte[] jsonMutation(byte[] file, int from, int to, Mutation m, Random r) {
        String text = new String(file, from, to - from, StandardCharsets.ISO_8859_1);
        if (m.kind() == Kind.TRUNCATE && from == 0) return Arrays.copyOf(file, m.pick() % (file.length + 1));
        if (m.kind() == Kind.FLIP_BYTES && from == 0) return flip(file, 0, file.length, r);
        Matcher mt = NUMBER.matcher(text);
        List<int[]> numbers = new ArrayList<>();
        while (mt.find()) numbers.add(new int[] {mt.start(), mt.end()});
        if (numbers.isEmpty()) return file;
        int[] n = numbers.get(m.pick() % numbers.size());
        String[] extra = {"0.5", "1e308", "-1e308", Long.toString(r.nextLong()), "NaN"};
        String v = m.value() < Mutation.VALUES.length ? Long.toString(Mutation.VALUES[m.value()]) : extra[r.nextInt(extra.length)];
        String mutated = text.substring(0, n[0]) + v + text.substring(n[1]);
        byte[] body = mutated.getBytes(StandardCharsets.ISO_8859_1);
        byte[] out = new byte[from + body.length + (file.length - to)];
        System.arraycopy(file, 0, out, 0, from);
        System.arraycopy(body, 0, out, from, body.length);
        System.arraycopy(file, to, out, from + body.length, file.length - to);
        if (from == 8) ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(0, body.length);
        return out;
    }

    static Path hfDir(String name, byte[] st, byte[] cfg) throws IOException {
        Path d = Files.createDirectories(dir.resolve(name));
        Files.write(d.resolve("model.safetensors"), st);
        Files.write(d.resolve("config.json"), cfg);
        return d;
    }

    // ---- the seeds' layouts ----------------------------------------------------------------------

    /** Offsets of every field of a GGUF's header and directory (and where its data starts), and its integer fields. */
    static long[] ggufLayout(byte[] f, List<long[]> fields) {
        ByteBuffer b = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN);
        List<Long> bounds = new ArrayList<>(List.of(0L, 4L));
        int pos = 4;
        fields.add(new long[] {pos, 4});
        pos += 4;
        long tensors = b.getLong(pos);
        fields.add(new long[] {pos, 8});
        pos += 8;
        long kvs = b.getLong(pos);
        fields.add(new long[] {pos, 8});
        pos += 8;
        for (long i = 0; i < kvs; i++) {
            bounds.add((long) pos);
            fields.add(new long[] {pos, 8});
            pos += 8 + (int) b.getLong(pos); // key
            bounds.add((long) pos);
            fields.add(new long[] {pos, 4});
            int type = b.getInt(pos);
            pos += 4;
            bounds.add((long) pos);
            pos = skipValue(b, pos, type, fields, bounds);
        }
        for (long i = 0; i < tensors; i++) {
            bounds.add((long) pos);
            fields.add(new long[] {pos, 8});
            pos += 8 + (int) b.getLong(pos);
            bounds.add((long) pos);
            fields.add(new long[] {pos, 4});
            int dims = b.getInt(pos);
            pos += 4;
            for (int d = 0; d < dims; d++) {
                fields.add(new long[] {pos, 8});
                pos += 8;
            }
            bounds.add((long) pos);
            fields.add(new long[] {pos, 4}); // type
            pos += 4;
            fields.add(new long[] {pos, 8}); // offset
            pos += 8;
        }
        bounds.add((long) pos);
        bounds.add((long) (pos + 31) / 32 * 32 + 1);
        bounds.add((long) f.length - 1);
        bounds.add((long) pos); // last: the end of the header (flips stay before it)
        return bounds.stream().mapToLong(Long::longValue).toArray();
    }

    static int skipValue(ByteBuffer b, int pos, int type, List<long[]> fields, List<Long> bounds) {
        return switch (type) {
            case 0, 1, 7 -> pos + 1;
            case 2, 3 -> pos + 2;
            case 4, 5, 6 -> {
                fields.add(new long[] {pos, 4});
                yield pos + 4;
            }
            case 10, 11, 12 -> {
                fields.add(new long[] {pos, 8});
                yield pos + 8;
            }
            case 8 -> {
                fields.add(new long[] {pos, 8});
                yield pos + 8 + (int) b.getLong(pos);
            }
            case 9 -> {
                fields.add(new long[] {pos, 4});
                int et = b.getInt(pos);
                fields.add(new long[] {pos + 4, 8});
                long n = b.getLong(pos + 4);
                int p = pos + 12;
                for (long i = 0; i < n; i++) {
                    if (i < 4) bounds.add((long) p);
                    p = skipValue(b, p, et, i < 4 ? fields : new ArrayList<>(), bounds);
                }
                yield p;
            }
            default -> throw new IllegalStateException("type " + type);
        };
    }

    /** Offsets of the start of every JSON token in a safetensors header. */
    static long[] jsonTokens(byte[] st) {
        long n = ByteBuffer.wrap(st).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        List<Long> bounds = new ArrayList<>(List.of(0L, 4L, 8L));
        for (int i = 8; i < 8 + n; i++) {
            char c = (char) st[i];
            if ("{}[],:\"".indexOf(c) >= 0 || (Character.isDigit(c) && !Character.isDigit((char) st[i - 1]))) bounds.add((long) i);
        }
        bounds.add(8 + n);
        bounds.add(8 + n + 1);
        bounds.add((long) st.length - 1);
        return bounds.stream().mapToLong(Long::longValue).toArray();
    }

    /** A llama2.c checkpoint of random weights: the 7 header ints, then run.c's tensors in order. */
    static byte[] llama2c(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen) {
        int head = dim / heads, kvDim = kvHeads * head;
        long floats = (long) vocab * dim + layers * (2L * dim + 2L * dim * dim + 2L * kvDim * dim + 3L * hidden * dim) + dim + (long) seqLen * head;
        ByteBuffer b = ByteBuffer.allocate((int) (28 + 4 * floats)).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : new int[] {dim, hidden, layers, heads, kvHeads, vocab, seqLen}) b.putInt(v);
        Random r = new Random(5);
        while (b.hasRemaining()) b.putFloat((float) (r.nextGaussian() * 0.1));
        return b.array();
    }

    static long[] llama2cLayout(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen, List<long[]> fields) {
        for (int i = 0; i < 7; i++) fields.add(new long[] {4L * i, 4});
        int head = dim / heads, kvDim = kvHeads * head;
        long[] sizes = {(long) vocab * dim, (long) layers * dim, (long) layers * dim * dim, (long) layers * kvDim * dim, (long) layers * kvDim * dim,
                (long) layers * dim * dim, (long) layers * dim, (long) layers * hidden * dim, (long) layers * dim * hidden, (long) layers * hidden * dim,
                dim, (long) seqLen * head / 2, (long) seqLen * head / 2};
        List<Long> bounds = new ArrayList<>(List.of(0L, 4L, 27L, 28L));
        long pos = 28;
        for (long s : sizes) {
            pos += 4 * s;
            bounds.add(pos - 1);
            bounds.add(pos);
        }
        return bounds.stream().mapToLong(Long::longValue).toArray();
    }
}
