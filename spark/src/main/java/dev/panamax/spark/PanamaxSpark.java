package dev.panamax.spark;

import dev.panamax.runtime.EmbeddingOptions;
import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.Vision;
import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.runtime.generate.Generator;
import dev.panamax.runtime.image.RgbImage;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;

/**
 * Panamax on Apache Spark: a model run by the executors over a table's rows, one loaded model per
 * executor JVM shared by all its task threads (loaded on first use from a path every executor can
 * read, or {@code "kjv-llama"}, the embedded default model). Register the functions for SQL (and so
 * for PySpark), or use them as columns:
 *
 * <pre>{@code
 * SparkSession spark = SparkSession.builder().getOrCreate();
 * PanamaxSpark.Functions f = PanamaxSpark.register(spark, "/models/bge-small-en");
 * spark.sql("SELECT id, panamax_embed(body) AS vector FROM docs");      // array<float>, unit length
 * docs.select(f.embed(col("body")));                                    // the same as a column
 * PanamaxSpark.generate(prompts, "prompt", "completion", "/models/tinyllama.gguf", Settings.defaults());
 * }</pre>
 *
 * Every result equals the library's own for that row, bit for bit, on any executor, in any batch.
 * A row that cannot be processed — null, longer than the model takes, an image that does not decode
 * — gives null and counts in the accumulator "panamax rows skipped" ({@link Functions#skipped()});
 * it never fails the job. A model an executor cannot load fails the job with the path and the
 * executor named.
 */
public final class PanamaxSpark {
    private PanamaxSpark() {}

    private static final System.Logger LOG = System.getLogger("dev.panamax.spark");

    /**
     * How the executors run the model.
     *
     * @param threads     kernel threads per executor JVM's model (0: the library's default, every core);
     *                    with several task slots per executor, the slots share them
     * @param maxTokens   tokens generated per row
     * @param temperature sampling temperature (0: greedy, the same text on every run)
     * @param seed        the sampler's seed when temperature &gt; 0 (each row seeds with it: results
     *                    do not depend on which executor or batch a row lands in)
     * @param batch       rows of one partition generated together ({@link #generate}: one decoding
     *                    step reads each weight once for all of them)
     */
    public record Settings(int threads, int maxTokens, float temperature, long seed, int batch) implements Serializable {
        public Settings {
            if (threads < 0 || maxTokens < 1 || !(temperature >= 0) || batch < 1) {
                throw new IllegalArgumentException("threads ≥ 0, maxTokens ≥ 1, temperature ≥ 0 and batch ≥ 1 expected: " + threads + ", "
                        + maxTokens + ", " + temperature + ", " + batch);
            }
        }

        public static Settings defaults() {
            return new Settings(0, 64, 0f, 0L, 16);
        }

        public Settings withThreads(int v) { return new Settings(v, maxTokens, temperature, seed, batch); }
        public Settings withMaxTokens(int v) { return new Settings(threads, v, temperature, seed, batch); }
        public Settings withTemperature(float v) { return new Settings(threads, maxTokens, v, seed, batch); }
        public Settings withSeed(long v) { return new Settings(threads, maxTokens, temperature, v, batch); }
        public Settings withBatch(int v) { return new Settings(threads, maxTokens, temperature, seed, v); }

        GenerationOptions generation() {
            return GenerationOptions.defaults().withMaxTokens(maxTokens).withTemperature(temperature).withSeed(seed);
        }
    }

    /** The functions of one model, as columns; {@link #skipped()} counts the rows that gave null. */
    public static final class Functions implements Serializable {
        private final String model;
        private final Settings settings;
        private final LongAccumulator skipped;

        Functions(String model, Settings settings, LongAccumulator skipped) {
            this.model = model;
            this.settings = settings;
            this.skipped = skipped;
        }

        /** text → array&lt;float&gt;: the library's {@code embed} (mean pooled, unit length); CLIP: its text embedding. */
        public Column embed(Column text) {
            return udf(new Embed(this), FLOATS).apply(text);
        }

        /** array&lt;int&gt; of token ids → array&lt;float&gt;: the library's {@code embedIds} (a model without a tokenizer, ids of one's own). */
        public Column embedIds(Column ids) {
            return udf(new EmbedIds(this), FLOATS).apply(ids);
        }

        /** prompt → string: the generated text (greedy unless the settings say otherwise). */
        public Column generate(Column prompt) {
            return udf(new Generate(this), DataTypes.StringType).apply(prompt);
        }

        /** image bytes (PNG or JPEG, as Spark's binaryFile source reads them) → the classifier's best label. */
        public Column classify(Column image) {
            return udf(new Classify(this), DataTypes.StringType).apply(image);
        }

        /** image bytes → array&lt;float&gt;: CLIP's image embedding, unit length. */
        public Column embedImage(Column image) {
            return udf(new EmbedImage(this), FLOATS).apply(image);
        }

        /** Rows that gave null so far (read on the driver after an action). */
        public long skipped() {
            return skipped.value();
        }

        private static UserDefinedFunction udf(UDF1<?, ?> f, DataType type) {
            return org.apache.spark.sql.functions.udf(f, type);
        }

        ExecutorModels.Loaded loaded() {
            return ExecutorModels.get(model, settings.threads());
        }

        /** Counts a row that gives null, and says why at DEBUG level. */
        <T> T skip(String why) {
            skipped.add(1);
            LOG.log(System.Logger.Level.DEBUG, () -> "panamax: a row gave null: " + why);
            return null;
        }
    }

    private static final DataType FLOATS = DataTypes.createArrayType(DataTypes.FloatType, true);

    /**
     * Registers {@code panamax_embed(text)}, {@code panamax_embed_ids(ids)}, {@code panamax_generate(prompt)},
     * {@code panamax_classify(image)} and {@code panamax_embed_image(image)} for {@code model}.
     */
    public static Functions register(SparkSession spark, String model) {
        return register(spark, "panamax", model, Settings.defaults());
    }

    /** The same with the functions named {@code prefix_embed} and so on (several models in one session). */
    public static Functions register(SparkSession spark, String prefix, String model, Settings settings) {
        Functions f = functions(spark, model, settings);
        spark.udf().register(prefix + "_embed", new Embed(f), FLOATS);
        spark.udf().register(prefix + "_embed_ids", new EmbedIds(f), FLOATS);
        spark.udf().register(prefix + "_generate", new Generate(f), DataTypes.StringType);
        spark.udf().register(prefix + "_classify", new Classify(f), DataTypes.StringType);
        spark.udf().register(prefix + "_embed_image", new EmbedImage(f), FLOATS);
        return f;
    }

    /** The functions as columns only, registering nothing. */
    public static Functions functions(SparkSession spark, String model, Settings settings) {
        LongAccumulator skipped = spark.sparkContext().longAccumulator("panamax rows skipped");
        return new Functions(model, settings, skipped);
    }

    /**
     * {@code df} with {@code output} (string) appended: the text generated from each row's
     * {@code prompt} column, {@link Settings#batch} rows of a partition at a time decoding together
     * (with the other tasks' rows of the executor) — the throughput of batched decoding, each row's
     * text exactly what it would be alone.
     */
    public static Dataset<Row> generate(Dataset<Row> df, String prompt, String output, String model, Settings settings) {
        Functions f = functions(df.sparkSession(), model, settings);
        StructType schema = df.schema().add(output, DataTypes.StringType, true);
        int column = df.schema().fieldIndex(prompt);
        return df.mapPartitions(new GeneratePartition(f, column), Encoders.row(schema));
    }

    static final class Embed implements UDF1<String, float[]> {
        private final Functions f;

        Embed(Functions f) {
            this.f = f;
        }

        @Override
        public float[] call(String text) {
            if (text == null) return f.skip("null");
            ExecutorModels.Loaded m = f.loaded(); // a model that cannot load fails the job
            if (m.vision() != null) requireClip(f, m.vision(), "texts");
            try {
                if (m.vision() != null) return m.vision().embedText(text);
                return m.text().embed(List.of(text), EmbeddingOptions.defaults()).get(0);
            } catch (ModelException e) {
                return f.skip(e.getMessage());
            }
        }
    }

    static final class EmbedIds implements UDF1<scala.collection.Seq<Object>, float[]> {
        private final Functions f;

        EmbedIds(Functions f) {
            this.f = f;
        }

        @Override
        public float[] call(scala.collection.Seq<Object> ids) {
            if (ids == null) return f.skip("null");
            ExecutorModels.Loaded m = f.loaded();
            if (m.text() == null) throw new ModelException(ExecutorModels.where() + ": the model at " + f.model + " takes images, not token ids");
            int[] a = new int[ids.size()];
            for (int i = 0; i < a.length; i++) {
                Object id = ids.apply(i);
                if (id == null) return f.skip("a null token id");
                a[i] = ((Number) id).intValue();
            }
            try {
                return m.text().embedIds(List.of(a), EmbeddingOptions.defaults()).get(0);
            } catch (ModelException e) {
                return f.skip(e.getMessage());
            }
        }
    }

    static final class Generate implements UDF1<String, String> {
        private final Functions f;

        Generate(Functions f) {
            this.f = f;
        }

        @Override
        public String call(String prompt) {
            if (prompt == null) return f.skip("null");
            return generateOne(f, f.loaded(), prompt);
        }
    }

    static String generateOne(Functions f, ExecutorModels.Loaded m, String prompt) {
        if (m.text() == null) throw new ModelException(ExecutorModels.where() + ": the model at " + f.model + " takes images, not prompts");
        try {
            return Generator.generate(m.batched(), m.text().encode(prompt), f.settings.generation(), null, null).text();
        } catch (ModelException e) {
            return f.skip(e.getMessage());
        }
    }

    static final class Classify implements UDF1<byte[], String> {
        private final Functions f;

        Classify(Functions f) {
            this.f = f;
        }

        @Override
        public String call(byte[] image) {
            if (image == null) return f.skip("null");
            Vision v = vision(f);
            if (v.model().labels().isEmpty()) {
                throw new ModelException(ExecutorModels.where() + ": the " + v.model().architecture() + " model at " + f.model
                        + " is no classifier (it has no labels): embed its images with panamax_embed_image");
            }
            try {
                return v.classify(RgbImage.decode(image, "an image of " + image.length + " bytes"), 1).get(0).label();
            } catch (ModelException e) {
                return f.skip(e.getMessage());
            }
        }
    }

    static final class EmbedImage implements UDF1<byte[], float[]> {
        private final Functions f;

        EmbedImage(Functions f) {
            this.f = f;
        }

        @Override
        public float[] call(byte[] image) {
            if (image == null) return f.skip("null");
            Vision v = vision(f);
            requireClip(f, v, "images");
            try {
                return v.embedImage(RgbImage.decode(image, "an image of " + image.length + " bytes"));
            } catch (ModelException e) {
                return f.skip(e.getMessage());
            }
        }
    }

    /** A model that cannot embed at all fails the job, once, with its name — not every row with a null. */
    private static void requireClip(Functions f, Vision v, String what) {
        if (!v.model().architecture().equals("clip")) {
            throw new ModelException(ExecutorModels.where() + ": the " + v.model().architecture() + " model at " + f.model + " does not embed " + what
                    + " (CLIP does)");
        }
    }

    private static Vision vision(Functions f) {
        ExecutorModels.Loaded m = f.loaded();
        if (m.vision() == null) throw new ModelException(ExecutorModels.where() + ": the model at " + f.model + " is not an image model");
        return m.vision();
    }

    /** A partition's rows, {@code batch} at a time, each generated on a thread of its own so their steps are shared. */
    static final class GeneratePartition implements MapPartitionsFunction<Row, Row> {
        private final Functions f;
        private final int column;

        GeneratePartition(Functions f, int column) {
            this.f = f;
            this.column = column;
        }

        @Override
        public Iterator<Row> call(Iterator<Row> rows) {
            ExecutorModels.Loaded m = f.loaded();
            int batch = f.settings.batch();
            return new Iterator<>() {
                private final List<Row> ready = new ArrayList<>();
                private int next;

                @Override
                public boolean hasNext() {
                    if (next < ready.size()) return true;
                    ready.clear();
                    next = 0;
                    List<Row> group = new ArrayList<>(batch);
                    while (group.size() < batch && rows.hasNext()) group.add(rows.next());
                    if (group.isEmpty()) return false;
                    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                        List<Future<String>> texts = new ArrayList<>();
                        for (Row r : group) {
                            String prompt = r.isNullAt(column) ? null : r.getString(column);
                            texts.add(pool.submit(() -> prompt == null ? f.skip("null") : generateOne(f, m, prompt)));
                        }
                        for (int i = 0; i < group.size(); i++) ready.add(appended(group.get(i), texts.get(i).get()));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new ModelException("interrupted while generating", e);
                    } catch (java.util.concurrent.ExecutionException e) {
                        if (e.getCause() instanceof RuntimeException r) throw r;
                        throw new IllegalStateException(e.getCause());
                    }
                    return true;
                }

                @Override
                public Row next() {
                    if (!hasNext()) throw new java.util.NoSuchElementException();
                    return ready.get(next++);
                }
            };
        }

        private static Row appended(Row r, String text) {
            Object[] values = new Object[r.length() + 1];
            for (int i = 0; i < r.length(); i++) values[i] = r.get(i);
            values[r.length()] = text;
            return RowFactory.create(values);
        }
    }
}
