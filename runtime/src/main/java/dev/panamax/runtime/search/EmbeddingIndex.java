package dev.panamax.runtime.search;

import dev.panamax.quant.BinaryCodes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * A corpus of unit-length sentence embeddings, searchable three ways:
 *
 * <ul>
 * <li>{@code FLOAT}: exact dot products (cosine, since the vectors are unit length);</li>
 * <li>{@code INT8}: dot products of absmax int8 codes;</li>
 * <li>{@code BINARY}: Hamming distance between sign bits (32× smaller than float), then the best
 *     {@code rescore} candidates re-ranked by the int8 codes against the float query — binary
 *     quantization with rescoring, as sentence-transformers describes it.</li>
 * </ul>
 */
public final class EmbeddingIndex {

    public enum Precision { FLOAT, INT8, BINARY }

    /** One result: the document's index in the corpus and its score (higher is closer). */
    public record Hit(int doc, double score) {}

    private final int dims;
    private final List<float[]> floats = new ArrayList<>();
    private final List<byte[]> int8 = new ArrayList<>();
    private final List<Float> int8Scale = new ArrayList<>();
    private final List<long[]> bits = new ArrayList<>();

    public EmbeddingIndex(int dims) {
        this.dims = dims;
    }

    public void add(float[] embedding) {
        if (embedding.length != dims) throw new IllegalArgumentException("embedding of " + embedding.length + " values in an index of " + dims);
        floats.add(embedding.clone());
        byte[] q = new byte[dims];
        int8Scale.add(BinaryCodes.int8(embedding, q));
        int8.add(q);
        bits.add(BinaryCodes.pack(embedding));
    }

    public int size() {
        return floats.size();
    }

    /** The k best documents for {@code query}; {@code rescore} is the number of binary candidates re-ranked. */
    public List<Hit> search(float[] query, int k, Precision precision, int rescore) {
        int n = size();
        return switch (precision) {
            case FLOAT -> top(n, k, d -> dot(query, floats.get(d)));
            case INT8 -> {
                byte[] q = new byte[dims];
                float qs = BinaryCodes.int8(query, q);
                yield top(n, k, d -> {
                    byte[] x = int8.get(d);
                    long s = 0;
                    for (int i = 0; i < dims; i++) s += q[i] * x[i];
                    return s * (double) qs * int8Scale.get(d);
                });
            }
            case BINARY -> {
                long[] qb = BinaryCodes.pack(query);
                int words = BinaryCodes.words(dims);
                List<Hit> candidates = top(n, Math.max(k, rescore), d -> -(double) BinaryCodes.hamming(qb, bits.get(d), words));
                List<Hit> rescored = new ArrayList<>();
                for (Hit h : candidates) {
                    byte[] x = int8.get(h.doc());
                    double s = 0;
                    for (int i = 0; i < dims; i++) s += query[i] * x[i];
                    rescored.add(new Hit(h.doc(), s * int8Scale.get(h.doc())));
                }
                rescored.sort(Comparator.comparingDouble(Hit::score).reversed());
                yield rescored.subList(0, Math.min(k, rescored.size()));
            }
        };
    }

    private interface Score {
        double of(int doc);
    }

    private static List<Hit> top(int n, int k, Score score) {
        PriorityQueue<Hit> heap = new PriorityQueue<>(Comparator.comparingDouble(Hit::score));
        for (int d = 0; d < n; d++) {
            heap.add(new Hit(d, score.of(d)));
            if (heap.size() > k) heap.poll();
        }
        Hit[] out = heap.toArray(Hit[]::new);
        Arrays.sort(out, Comparator.comparingDouble(Hit::score).reversed());
        return List.of(out);
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    /** The fraction of {@code reference}'s documents that {@code found} also returned. */
    public static double recall(List<Hit> found, List<Hit> reference) {
        if (reference.isEmpty()) return 1;
        long hit = found.stream().filter(f -> reference.stream().anyMatch(r -> r.doc() == f.doc())).count();
        return hit / (double) reference.size();
    }
}
