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
        return dev.panamax.runtime.EmbeddingOptions.defaults().pool(encode(ids), ids.length, hiddenSize());
    }
}
