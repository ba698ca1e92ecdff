package dev.panamax.spark;

import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Rows per second of Panamax's Spark functions in local mode, {@code local[1]} against
 * {@code local[2]} in the same run (tools/spark-bench.sh runs it): a warm-up pass, then three timed
 * passes over the same rows, the median reported. Not a test: nothing here is asserted.
 *
 * <pre>SparkBench MODEL embed|generate ROWS [MAX_TOKENS] [BATCH]</pre>
 */
public final class SparkBench {
    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "kjv-llama", task = args.length > 1 ? args[1] : "embed";
        int rows = args.length > 2 ? Integer.parseInt(args[2]) : 2000, tokens = args.length > 3 ? Integer.parseInt(args[3]) : 16;
        int batch = args.length > 4 ? Integer.parseInt(args[4]) : 16;
        List<String> texts = SparkLocalTest.lines(rows);
        for (String master : new String[] {"local[1]", "local[2]"}) {
            SparkSession spark = SparkSession.builder().master(master).appName("panamax-bench").config("spark.ui.enabled", "false").getOrCreate();
            spark.sparkContext().setLogLevel("WARN");
            int slots = master.equals("local[1]") ? 1 : 2;
            PanamaxSpark.Settings s = PanamaxSpark.Settings.defaults().withMaxTokens(tokens).withBatch(batch).withThreads(slots);
            PanamaxSpark.Functions f = PanamaxSpark.functions(spark, model, s);
            Dataset<Row> df = spark.createDataset(texts, Encoders.STRING()).toDF("t").repartition(4 * slots).cache();
            df.count();
            double[] rate = new double[4];
            for (int pass = 0; pass < rate.length; pass++) {
                long t0 = System.nanoTime();
                long n = task.equals("generate") ? PanamaxSpark.generate(df, "t", "out", model, s).filter("out IS NOT NULL").count()
                        : df.select(f.embed(org.apache.spark.sql.functions.col("t")).as("v")).filter("v IS NOT NULL").count();
                rate[pass] = n / ((System.nanoTime() - t0) / 1e9);
            }
            double[] timed = java.util.Arrays.copyOfRange(rate, 1, rate.length); // pass 0: the warm-up
            java.util.Arrays.sort(timed);
            System.out.printf(java.util.Locale.ROOT, "%s %s %s: %d rows, %.1f rows/s (median of 3 after a warm-up; passes %s)%n", master, task, model,
                    rows, timed[1], java.util.Arrays.toString(java.util.Arrays.stream(rate).mapToLong(Math::round).toArray()));
            spark.stop();
        }
    }
}
