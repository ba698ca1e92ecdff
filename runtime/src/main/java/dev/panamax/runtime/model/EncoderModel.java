package dev.panamax.runtime.model;

/** A bidirectional encoder (BERT): token ids in, one hidden vector per token out. */
public interface EncoderModel extends Model {

    int hiddenSize();

    /** Longest input. */
    int maxPositions();

    /** The last hidden state, row-major [ids.length × hiddenSize()]. */
    float[] encode(int[] ids);

    /** Sentence embedding: the mean of the last hidden states, scaled to unit length. */
    default float[] embed(int[] ids) {
        int h = hiddenSize();
        float[] states = encode(ids), mean = new float[h];
        for (int t = 0; t < ids.length; t++)
            for (int i = 0; i < h; i++) mean[i] += states[t * h + i];
        double norm = 0;
        for (int i = 0; i < h; i++) {
            mean[i] /= ids.length;
            norm += (double) mean[i] * mean[i];
        }
        float inv = (float) (1 / Math.max(Math.sqrt(norm), 1e-12));
        for (int i = 0; i < h; i++) mean[i] *= inv;
        return mean;
    }
}
