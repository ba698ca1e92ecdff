package dev.panamax.runtime.tokenizer;

/**
 * Text to token ids and back. Decoding is per token into bytes, so that a streaming caller can
 * hold back an incomplete UTF-8 character (see {@link Utf8Stream}).
 */
public interface Tokenizer {

    /** Token ids of {@code text}. With {@code addSpecial}, BOS (and whatever else the model adds) is added. */
    int[] encode(String text, boolean addSpecial);

    /** The bytes token {@code id} stands for (special tokens give their text, or nothing when hidden). */
    byte[] decode(int id);

    int vocabSize();

    /** Beginning-of-sequence id, or -1. */
    int bos();

    /** End-of-sequence id, or -1. */
    int eos();

    /** The token's text as stored in the vocabulary (for inspection). */
    String piece(int id);
}
