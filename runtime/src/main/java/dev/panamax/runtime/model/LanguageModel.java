package dev.panamax.runtime.model;

/**
 * A loaded causal language model. Thread-safe: the weights are shared and read-only; each
 * {@link Session} (one conversation, with its own KV or state cache) belongs to one thread at a time.
 */
public interface LanguageModel extends Model {

    int vocabSize();

    /** Longest sequence a session can hold. */
    int contextLength();

    /** A fresh session at position 0. */
    Session newSession();

    /** One sequence being decoded: its position and its cache. */
    interface Session {
        /**
         * Feeds {@code token} at the next position and returns the logits for the position after
         * it (length {@link #vocabSize()}; the array is reused by the next call).
         */
        float[] forward(int token);

        /** Number of tokens fed so far. */
        int position();
    }
}
