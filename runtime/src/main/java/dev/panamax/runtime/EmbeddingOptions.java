package dev.panamax.runtime;

/**
 * How {@link Panamax#embed} turns texts into vectors: the mean of the last hidden states over a
 * text's tokens (BOS/CLS and EOS/SEP included, as the tokenizer adds them), then, by default,
 * scaled to unit length.
 *
 * @param normalize scale each vector to unit length (cosine similarity is then a dot product)
 * @param truncate  cut a text longer than the model takes to its first tokens (an encoder keeps
 *                  its final SEP); otherwise such a text is an error naming both lengths
 */
public record EmbeddingOptions(boolean normalize, boolean truncate) {
    /** Unit-length vectors; a text too long for the model is an error. */
    public static EmbeddingOptions defaults() {
        return new EmbeddingOptions(true, false);
    }

    /** The mean of {@code tokens} rows of {@code width} hidden states, scaled to unit length if {@link #normalize}. */
    public float[] pool(float[] states, int tokens, int width) {
        float[] mean = new float[width];
        for (int t = 0; t < tokens; t++)
            for (int i = 0; i < width; i++) mean[i] += states[t * width + i];
        double norm = 0;
        for (int i = 0; i < width; i++) {
            mean[i] /= tokens;
            norm += (double) mean[i] * mean[i];
        }
        if (normalize) {
            float inv = (float) (1 / Math.max(Math.sqrt(norm), 1e-12));
            for (int i = 0; i < width; i++) mean[i] *= inv;
        }
        return mean;
    }

    public EmbeddingOptions withNormalize(boolean v) {
        return new EmbeddingOptions(v, truncate);
    }

    public EmbeddingOptions withTruncate(boolean v) {
        return new EmbeddingOptions(normalize, v);
    }
}
