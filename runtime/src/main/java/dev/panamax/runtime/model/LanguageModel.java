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
         * The most tokens {@link #prefill} computes as one block: a longer prompt is computed as
         * consecutive blocks of at most this many tokens from its first ({@link #blockLengths}), each exactly as {@code prefill} of
         * that block alone would compute it, so a caller may feed a long prompt block by block (a
         * batched decoder does, between its decoding steps) and get the bits of the whole. 0 (the
         * default) where the architecture does not promise it.
         */
        default int prefillChunk() {
            return 0;
        }

        /** One block of a prompt through the model: what {@link #inBlocks} feeds each block to. */
        @FunctionalInterface
        interface Block {
            float[] prefill(int[] tokens, boolean allLogits);
        }

        /**
         * {@link #prefill} for an architecture with a {@link #prefillChunk}: a prompt longer than
         * {@code chunk} tokens (when {@code chunk} > 0) is checked whole — every id inside the
         * vocabulary, the sequence within {@code context} positions after it, so it cannot fail
         * halfway with its first blocks in the cache — and fed to {@code block} as consecutive
         * blocks of at most {@code chunk} tokens ({@link #blockLengths}); a shorter one is one block. Returns
         * the logits after the last token, or with {@code allLogits} after each, as {@code prefill} does.
         */
        static float[] inBlocks(int[] tokens, boolean allLogits, int chunk, int vocab, int position, int context, Block block) {
            if (chunk <= 0 || tokens.length <= chunk) return block.prefill(tokens, allLogits);
            if ((long) position + tokens.length > context) {
                throw new dev.panamax.runtime.ModelException("the sequence (" + ((long) position + tokens.length) + " tokens) is longer than the context length of " + context + " tokens");
            }
            for (int t : tokens) {
                if (t < 0 || t >= vocab) throw new dev.panamax.runtime.ModelException("token id " + t + " is outside the vocabulary (0.." + (vocab - 1) + ")");
            }
            float[] all = null, last = null;
            int from = 0;
            for (int n : blockLengths(tokens.length, chunk)) {
                last = block.prefill(java.util.Arrays.copyOfRange(tokens, from, from + n), allLogits);
                if (allLogits) {
                    int width = last.length / n;
                    if (all == null) all = new float[tokens.length * width];
                    System.arraycopy(last, 0, all, from * width, n * width);
                }
                from += n;
            }
            return allLogits ? all : last;
        }

        /**
         * How {@link #inBlocks} splits a prompt of {@code tokens} tokens: into ⌈tokens / chunk⌉ blocks
         * of nearly equal length (the first {@code tokens mod blocks} one longer), at most {@code chunk}
         * each. Equal blocks rather than whole ones and a remainder: a short last block would take
         * other kernels than the rest (the prompt GEMM's dot-product tiles below 32 rows), which a
         * fresh process then runs before the JIT has compiled them (kjv-llama, 281 tokens: 0.3 s more).
         */
        static int[] blockLengths(int tokens, int chunk) {
            if (chunk <= 0 || tokens <= chunk) return new int[] {tokens};
            int blocks = (tokens + chunk - 1) / chunk;
            int[] lengths = new int[blocks];
            for (int i = 0; i < blocks; i++) lengths[i] = tokens / blocks + (i < tokens % blocks ? 1 : 0);
            return lengths;
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
