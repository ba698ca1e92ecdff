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

    /** The width of {@link #hiddenStates}' rows; −1 where the model gives none. */
    default int hiddenSize() {
        return -1;
    }

    /**
     * The last layer's output after the final norm for each of {@code ids}, fed as a fresh
     * sequence from position 0, row-major [ids.length × {@link #hiddenSize}]: what the output head
     * would multiply, and what mean pooling averages into a text embedding (as llama.cpp's
     * {@code --pooling mean} does). The Llama family and GPT-2 give them.
     */
    default float[] hiddenStates(int[] ids) {
        throw new dev.panamax.runtime.ModelException(architecture() + " models do not give hidden states, so they cannot embed text here (the Llama family, GPT-2 and BERT can)");
    }

    /**
     * One decoding step of several sequences at once: feeds {@code tokens[i]} to {@code sessions[i]}
     * (this model's own) and returns the logits after each, {@code logits[i]} the array
     * {@code sessions[i].forward(tokens[i])} would have returned. A session may come more than once:
     * its rows are its next tokens in the order given (a short prompt fed through the step), and only
     * its last row has logits (the others null). Each row is bit for bit what {@code forward} gives
     * that token alone: a sequence's logits do not depend on which sequences share the step or how
     * many. Architectures that batch (the Llama family) read each weight matrix once for the whole
     * step; the default feeds the rows one after another.
     */
    default float[][] decodeStep(Session[] sessions, int[] tokens) {
        if (sessions.length != tokens.length) throw new IllegalArgumentException(sessions.length + " sessions, " + tokens.length + " tokens");
        float[][] logits = new float[sessions.length][];
        for (int i = 0; i < sessions.length; i++) {
            logits[i] = sessions[i].forward(tokens[i]);
            for (int j = 0; j < i; j++) if (sessions[j] == sessions[i]) logits[j] = null; // only a session's last row keeps its logits
        }
        return logits;
    }

    /**
     * Bytes a session's caches take once it holds {@code positions} positions (its KV cache, grown as
     * its sequence grows), so a server can bound the memory of its sessions; −1 where the
     * architecture does not say.
     */
    default long sessionBytes(int positions) {
        return -1;
    }

    /**
     * Does now the one-time work the first {@link #newSession} would otherwise do (a Llama with
     * Q8_0 or Q4_0 matrices copies them into the CPU's interleaved decode layout: about a second
     * per GB), so a caller can count it with the load. Idempotent; nothing by default.
     */
    default void prepare() {}

    /**
     * What {@link #prepare} did with {@link dev.panamax.runtime.LoadOptions#layoutCache} (the copies
     * mapped from the cache file, being written to it, or why not), for a user's log; null when nothing.
     */
    default String preparedNote() {
        return null;
    }

    /** One sequence being decoded: its position and its cache. */
    interface Session {
        /**
         * Feeds {@code token} at the next position and returns the logits for the position after
         * it (length {@link #vocabSize()}; the array is reused by the next call).
         */
        float[] forward(int token);

        /** Number of tokens fed so far. */
        int position();

        /**
         * Goes back to {@code position} (≤ {@link #position()}), as if only the first
         * {@code position} tokens had been fed, so a conversation can reuse its cache up to where a
         * new prompt departs from it. Returns false, changing nothing, where the architecture cannot
         * (a state-space model keeps no per-position state): start a new session then.
         */
        default boolean rewind(int position) {
            return false;
        }

        /**
         * Whether {@link #prefill} of this many tokens (without all logits) computes exactly what
         * {@link #forward} of each token in turn would: then a batched decoder may feed such a prompt
         * through its decoding steps ({@link LanguageModel#decodeStep}) with the same bits. False
         * unless the architecture says so.
         */
        default boolean prefillsTokenByToken(int tokens) {
            return false;
        }

        /**
         * Feeds several tokens at once (a prompt) and returns the logits after the last one, or, with
         * {@code allLogits}, after each of them, row-major [tokens.length × vocab]. Architectures that
         * can do it run the tokens through each layer as one matrix (prefill); the default feeds them
         * one at a time. Either way the results equal {@link #forward}'s within float rounding.
         */
        default float[] prefill(int[] tokens, boolean allLogits) {
            float[] all = allLogits ? new float[0] : null;
            float[] last = null;
            for (int i = 0; i < tokens.length; i++) {
                last = forward(tokens[i]);
                if (allLogits) {
                    if (all.length == 0) all = new float[tokens.length * last.length];
                    System.arraycopy(last, 0, all, i * last.length, last.length);
                }
            }
            return allLogits ? all : last;
        }
    }
}
