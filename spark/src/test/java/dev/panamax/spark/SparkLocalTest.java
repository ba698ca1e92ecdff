package dev.panamax.spark;

import static org.apache.spark.sql.functions.col;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.EmbeddingOptions;
import dev.panamax.runtime.Panamax;
import dev.panamax.runtime.Vision;
import dev.panamax.runtime.generate.GenerationOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Spark in local mode ({@code local[2]}: two task threads, as an executor with two slots) running
 * Panamax's functions: every row's result equals the library's own for that row, bit for bit,
 * whatever partition and thread it ran in; bad rows give null and a count; a model an executor
 * cannot read fails the job naming the path and the executor.
 */
class SparkLocalTest {
    static SparkSession spark;

    static Path shared() {
        return Path.of(System.getProperty("panamax.shared", "../../shared")).normalize();
    }

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("panamax-test").config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    /** Lines of a few words each, all different. */
    static List<String> lines(int n) {
        String[] words = {"In", "the", "beginning", "God", "created", "heaven", "and", "earth", "light", "darkness", "waters", "firmament",
                          "LORD", "said", "Let", "there", "be", "day", "night", "evening", "morning", "seed", "fruit", "tree"};
        Random r = new Random(11);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder b = new StringBuilder();
            for (int w = 0, k = 3 + r.nextInt(12); w < k; w++) b.append(w > 0 ? " " : "").append(words[r.nextInt(words.length)]);
            out.add(b.append(' ').append(i).toString());
        }
        return out;
    }

    @Test
    void theDefaultModelsEmbeddingsEqualTheLibrarysRowForRow() {
        List<String> texts = lines(300);
        PanamaxSpark.Functions f = PanamaxSpark.register(spark, "kjv-llama");
        Dataset<Row> df = spark.createDataset(texts, Encoders.STRING()).toDF("text").repartition(5);
        df.createOrReplaceTempView("lines");
        List<Row> rows = spark.sql("SELECT text, panamax_embed(text) AS v FROM lines").collectAsList();
        assertEquals(300, rows.size());
        try (Panamax p = Panamax.loadDefault()) {
            for (Row r : rows) {
                float[] want = p.embed(List.of(r.getString(0))).get(0);
                assertArrayEquals(want, floats(r.getList(1)), r.getString(0));
            }
        }
        assertEquals(0, f.skipped());
    }

    /** The BERT fixture shipped with the job (SparkContext.addFile, as spark-submit --files does) and named by its file name. */
    @Test
    void bertEmbeddingsOfTokenIdsEqualTheLibrarys() {
        Path bert = shared().resolve("fixtures/hf/bert");
        Random r = new Random(5);
        List<Row> data = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            int[] ids = r.ints(2 + r.nextInt(14), 0, 256).toArray(); // the fixture's vocabulary
            ids[0] = 101; // [CLS]
            ids[ids.length - 1] = 102; // [SEP]
            List<Integer> boxed = new ArrayList<>();
            for (int id : ids) boxed.add(id);
            data.add(RowFactory.create(i, boxed));
        }
        StructType schema = new StructType().add("i", DataTypes.IntegerType).add("ids", DataTypes.createArrayType(DataTypes.IntegerType));
        spark.sparkContext().addFile(bert.toString(), true); // distributed with the job: the executors find it by its name
        PanamaxSpark.Functions f = PanamaxSpark.functions(spark, "bert", PanamaxSpark.Settings.defaults());
        List<Row> rows = spark.createDataFrame(data, schema).repartition(4).select(col("ids"), f.embedIds(col("ids"))).collectAsList();
        try (Panamax p = Panamax.load(bert)) {
            for (Row row : rows) {
                List<Integer> ids = row.getList(0);
                int[] a = ids.stream().mapToInt(Integer::intValue).toArray();
                assertArrayEquals(p.embedIds(List.of(a), EmbeddingOptions.defaults()).get(0), floats(row.getList(1)), ids.toString());
            }
        }
        assertEquals(200, rows.size());
        assertEquals(0, f.skipped());
    }

    /** Rows of a partition generated together, and one at a time through the SQL function: each the text it gives alone. */
    @Test
    void generatedTextsEqualEachPromptsTextAlone() {
        List<String> prompts = lines(24);
        PanamaxSpark.Settings greedy = PanamaxSpark.Settings.defaults().withMaxTokens(12).withBatch(8);
        PanamaxSpark.Settings sampled = greedy.withTemperature(0.8f).withSeed(5);
        Dataset<Row> df = spark.createDataset(prompts, Encoders.STRING()).toDF("prompt").repartition(3);
        Map<String, String> together = new HashMap<>(), sampledTogether = new HashMap<>();
        for (Row r : PanamaxSpark.generate(df, "prompt", "text", "kjv-llama", greedy).collectAsList()) together.put(r.getString(0), r.getString(1));
        for (Row r : PanamaxSpark.generate(df, "prompt", "text", "kjv-llama", sampled).collectAsList()) sampledTogether.put(r.getString(0), r.getString(1));
        PanamaxSpark.register(spark, "g", "kjv-llama", greedy);
        df.createOrReplaceTempView("prompts");
        Map<String, String> viaSql = new HashMap<>();
        for (Row r : spark.sql("SELECT prompt, g_generate(prompt) FROM prompts").collectAsList()) viaSql.put(r.getString(0), r.getString(1));
        try (Panamax p = Panamax.loadDefault()) {
            for (String prompt : prompts) {
                GenerationOptions o = greedy.generation(), s = sampled.generation();
                String alone = p.generate(prompt, o, null).text();
                assertTrue(!alone.isEmpty(), prompt);
                assertEquals(alone, together.get(prompt), "batched in its partition: " + prompt);
                assertEquals(alone, viaSql.get(prompt), "g_generate: " + prompt);
                assertEquals(p.generate(prompt, s, null).text(), sampledTogether.get(prompt), "sampled with seed 5: " + prompt);
            }
        }
    }

    @Test
    void nullAndOverlongRowsGiveNullAndAreCounted() {
        String tooLong = String.join(" ", java.util.Collections.nCopies(3000, "beginning"));
        List<String> texts = new ArrayList<>(List.of("In the beginning", "And God said"));
        texts.add(null);
        texts.add(tooLong);
        PanamaxSpark.Functions f = PanamaxSpark.functions(spark, "kjv-llama", PanamaxSpark.Settings.defaults().withMaxTokens(4));
        Dataset<Row> df = spark.createDataset(texts, Encoders.STRING()).toDF("t");
        List<Row> rows = df.select(col("t"), f.embed(col("t")), f.generate(col("t"))).collectAsList();
        int nulls = 0;
        for (Row r : rows) {
            boolean bad = r.isNullAt(0) || r.getString(0).equals(tooLong);
            assertEquals(bad, r.isNullAt(1), "embedding of " + (r.isNullAt(0) ? "null" : r.getString(0).length() + " chars"));
            assertEquals(bad, r.isNullAt(2), "generation of " + (r.isNullAt(0) ? "null" : r.getString(0).length() + " chars"));
            if (bad) nulls += 2;
        }
        assertEquals(4, nulls);
        assertEquals(4, f.skipped(), "two bad rows, two functions each");
    }

    @Test
    void aModelTheExecutorCannotReadFailsTheJobNamingPathAndExecutor(@org.junit.jupiter.api.io.TempDir Path tmp) {
        String missing = tmp.resolve("no-such-model.gguf").toString();
        PanamaxSpark.Functions f = PanamaxSpark.functions(spark, missing, PanamaxSpark.Settings.defaults());
        Dataset<Row> df = spark.createDataset(List.of("a", "b"), Encoders.STRING()).toDF("t");
        Exception e = assertThrows(Exception.class, () -> df.select(f.embed(col("t"))).collectAsList());
        String all = messages(e);
        assertTrue(all.contains(missing) && all.contains("executor"), all);
    }

    /** Image bytes as Spark's binaryFile source reads them: ViT's label and CLIP's image embedding equal the library's. */
    @Test
    void imagesReadByTheBinaryFileSourceClassifyAndEmbedAsTheLibraryDoes() throws Exception {
        Path vit = shared().resolve("fixtures/vision/vit"), clip = shared().resolve("fixtures/vision/clip");
        PanamaxSpark.Functions v = PanamaxSpark.functions(spark, vit.toString(), PanamaxSpark.Settings.defaults());
        PanamaxSpark.Functions c = PanamaxSpark.functions(spark, clip.toString(), PanamaxSpark.Settings.defaults());
        Dataset<Row> images = spark.read().format("binaryFile").load(vit.resolve("image.png").toString(), clip.resolve("image.png").toString());
        List<Row> rows = images.select(col("path"), v.classify(col("content")), c.embedImage(col("content")), c.embed(org.apache.spark.sql.functions.lit("a photo of a cat")))
                .collectAsList();
        assertEquals(2, rows.size());
        try (Vision vv = Vision.load(vit); Vision cv = Vision.load(clip)) {
            for (Row r : rows) {
                Path file = Path.of(java.net.URI.create(r.getString(0)));
                assertEquals(vv.classify(file, 1).get(0).label(), r.getString(1), file.toString());
                assertArrayEquals(cv.embedImage(file), floats(r.getList(2)), file.toString());
                assertArrayEquals(cv.embedText("a photo of a cat"), floats(r.getList(3)));
            }
        }
        Dataset<Row> broken = spark.createDataFrame(List.of(RowFactory.create((Object) new byte[] {1, 2, 3})),
                new StructType().add("content", DataTypes.BinaryType));
        assertTrue(broken.select(v.classify(col("content"))).collectAsList().get(0).isNullAt(0), "bytes that are no image: null");
        assertEquals(1, v.skipped());
        assertTrue(Files.isRegularFile(vit.resolve("image.png")));
        // Asking a model for what it cannot do fails the job, naming the model: not a column of nulls.
        String vitEmbeds = messages(assertThrows(Exception.class, () -> images.select(v.embedImage(col("content"))).collectAsList()));
        assertTrue(vitEmbeds.contains("vit model at " + vit) && vitEmbeds.contains("does not embed images"), vitEmbeds);
        String clipClassifies = messages(assertThrows(Exception.class, () -> images.select(c.classify(col("content"))).collectAsList()));
        assertTrue(clipClassifies.contains("clip model at " + clip) && clipClassifies.contains("no classifier"), clipClassifies);
    }

    static float[] floats(List<Object> list) {
        assertNotNull(list);
        float[] a = new float[list.size()];
        for (int i = 0; i < a.length; i++) a[i] = ((Number) list.get(i)).floatValue();
        return a;
    }

    static String messages(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) b.append(t.getMessage()).append(" | ");
        return b.toString();
    }

    @Test
    void settingsRefuseNonsense() {
        assertThrows(IllegalArgumentException.class, () -> PanamaxSpark.Settings.defaults().withBatch(0));
        assertThrows(IllegalArgumentException.class, () -> PanamaxSpark.Settings.defaults().withMaxTokens(0));
        assertThrows(IllegalArgumentException.class, () -> PanamaxSpark.Settings.defaults().withTemperature(Float.NaN));
    }
}
