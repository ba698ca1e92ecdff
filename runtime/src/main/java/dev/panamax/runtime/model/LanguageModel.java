package dev.panamax.runtime.model;

import dev.panamax.runtime.tokenizer.Tokenizer;

/**
 * A loaded causal language model. Thread-safe: the weights are shared and read-only; each
 * {@link Session} (one conversation, with its own KV or state cache) belongs to one thread at a time.
 */
public interface LanguageModel extends AutoCloseable {

    /** The architecture family, e.g. "llama". */
    String architecture();

    int vocabSize();

    /** Longest sequence a session can hold. */
    int contextLength();

    /** The model's tokenizer; null when the source had none (then only token ids work). */
    Tokenizer tokenizer();

    /** A fresh session at position 0. */
    Session newSession();

    @Override
    void close();

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
