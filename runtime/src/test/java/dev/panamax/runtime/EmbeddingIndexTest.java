package dev.panamax.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.quant.BinaryCodes;
import dev.panamax.runtime.search.EmbeddingIndex;
import dev.panamax.runtime.search.EmbeddingIndex.Precision;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class EmbeddingIndexTest {

    static float[] unit(float[] v) {
        double n = 0;
        for (float f : v) n += f * f;
        float inv = (float) (1 / Math.sqrt(n));
        for (int i = 0; i < v.length; i++) v[i] *= inv;
        return v;
    }

    static float[] near(float[] center, double noise, Random r) {
        float[] v = center.clone();
        for (int i = 0; i < v.length; i++) v[i] += (float) (noise * r.nextGaussian() / Math.sqrt(v.length));
        return unit(v);
    }

    /**
     * A corpus built to have real neighbours: 300 topics of 10 paraphrases each (noisy copies of a
     * topic vector, 384 dimensions, noise comparable to the vector itself). Queries are fresh paraphrases of 100 topics.
     */
    @Test
    void binaryWithRescoringRecallsWhatFloatSearchFinds() {
        Random r = new Random(11);
        int dims = 384;
        float[][] topics = new float[300][];
        EmbeddingIndex index = new EmbeddingIndex(dims);
        for (int t = 0; t < topics.length; t++) {
            float[] c = new float[dims];
            for (int i = 0; i < dims; i++) c[i] = (float) r.nextGaussian();
            topics[t] = unit(c);
            for (int p = 0; p < 10; p++) index.add(near(topics[t], 1.6, r));
        }
        double binary = 0, binaryNoRescore = 0, binary100 = 0, int8 = 0;
        int queries = 100;
        for (int q = 0; q < queries; q++) {
            float[] query = near(topics[q * 3], 1.6, r);
            List<EmbeddingIndex.Hit> exact = index.search(query, 10, Precision.FLOAT, 0);
            binary += EmbeddingIndex.recall(index.search(query, 10, Precision.BINARY, 40), exact);
            binaryNoRescore += EmbeddingIndex.recall(index.search(query, 10, Precision.BINARY, 10), exact);
            binary100 += EmbeddingIndex.recall(index.search(query, 10, Precision.BINARY, 100), exact);
            int8 += EmbeddingIndex.recall(index.search(query, 10, Precision.INT8, 0), exact);
        }
        binary /= queries;
        binaryNoRescore /= queries;
        binary100 /= queries;
        int8 /= queries;
        System.out.printf("recall@10 vs float: binary+rescore(10) %.3f, (40) %.3f, (100) %.3f; int8 %.3f%n", binaryNoRescore, binary, binary100, int8);
        // Seeded, so these are fixed numbers (0.700, 0.898, 0.958 and 0.998 when written); the bounds leave a little room.
        assertTrue(binary >= 0.85, "binary + rescoring recall@10 " + binary);
        assertTrue(binary100 >= binary, "more candidates cannot recall less");
        assertTrue(int8 >= 0.98, "int8 recall@10 " + int8);
        assertTrue(binary >= binaryNoRescore, "more candidates cannot recall less");
    }

    @Test
    void hammingAndSignedDotsOfKnownCodes() {
        float[] a = new float[130], b = new float[130];
        for (int i = 0; i < 130; i++) {
            a[i] = i % 2 == 0 ? 1 : -1;
            b[i] = i < 65 ? 1 : -1;
        }
        long[] pa = BinaryCodes.pack(a), pb = BinaryCodes.pack(b);
        assertEquals(3, pa.length);
        // a and b differ where exactly one of "i even" and "i < 65" holds: 32 odd i < 65, 32 even i in [65, 130).
        assertEquals(64, BinaryCodes.hamming(pa, pb, 3));
        assertEquals(BinaryCodes.hammingReference(pa, pb, 3), BinaryCodes.hamming(pa, pb, 3));
        byte[] x = new byte[130];
        java.util.Arrays.fill(x, (byte) 2);
        assertEquals(2 * (65 - 65), BinaryCodes.dotInt8(pb, x, 130)); // 65 set, 65 clear
    }
}
