package dev.panamax.runtime.generate;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.tokenizer.Tokenizer;
import dev.panamax.runtime.tokenizer.Utf8Stream;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * The generation loop: feed the prompt, then sample, stream and feed one token at a time until
 * EOS, a stop string, {@code maxTokens} or the context length. Text is streamed in whole
 * characters; a stop string is held back until it can be ruled out, and never printed.
 */
public final class Generator {
    private Generator() {}

    /**
     * What happened, with timings for tokens/s.
     *
     * @param promptIds       the whole prompt (a chat turn: the whole conversation so far)
     * @param generatedIds    the tokens chosen, the end token excluded
     * @param text            their text, a stop string excluded
     * @param stopReason      why it ended
     * @param promptTokensFed prompt tokens fed to the model in this call (a chat turn feeds only what its session did not hold)
     */
    public record Result(int[] promptIds, int[] generatedIds, String text, StopReason stopReason, long promptNanos, long generateNanos, int promptTokensFed) {
        /** {@link #stopReason}'s label: "eos", "max-tokens", "stop", "context" or "cancelled". */
        public String stoppedBy() {
            return stopReason.label;
        }

        /** Prompt and generated token counts, as an OpenAI-style usage block reports them. */
        public int totalTokens() {
            return promptIds.length + generatedIds.length;
        }

        /** Prompt tokens fed per second (a chat turn feeds only what its session did not hold yet). */
        public double promptTokensPerSecond() {
            return promptTokensFed / Math.max(1e-9, promptNanos / 1e9);
        }

        public double generatedTokensPerSecond() {
            return generatedIds.length / Math.max(1e-9, generateNanos / 1e9);
        }
    }

    /** Receives each generated token id as it is chosen (for {@code --print-ids} and tests). */
    public interface TokenListener {
        void token(int id);
    }

    /**
     * Runs generation from {@code prompt} in a new session. An empty prompt starts from the model's
     * BOS token. Ends with a {@link ModelException} when the model computes a NaN or infinite logit
     * (weights or inputs that hold one).
     */
    public static Result generate(LanguageModel model, int[] prompt, GenerationOptions o, Consumer<String> onText, TokenListener onToken) {
        return generate(model, prompt, o, onText, onToken, null);
    }

    /**
     * As above; {@code stopReason} (may be null) is asked before each forward pass, and generation
     * ends with a {@link ModelException} carrying its answer when that is not null.
     */
    public static Result generate(LanguageModel model, int[] prompt, GenerationOptions o, Consumer<String> onText, TokenListener onToken,
                                  java.util.function.Supplier<String> stopReason) {
        return generate(model, prompt, o, onText, onToken, stopReason, null);
    }

    /** As above; {@code cancel} (may be null) ends the generation before its next token, with {@link StopReason#CANCELLED}. */
    public static Result generate(LanguageModel model, int[] prompt, GenerationOptions o, Consumer<String> onText, TokenListener onToken,
                                  java.util.function.Supplier<String> stopReason, Cancellation cancel) {
        Tokenizer tok = model.tokenizer();
        if (prompt.length == 0) {
            if (tok == null || tok.bos() < 0) throw new ModelException("the prompt is empty and this model has no BOS token to start from: give some text or --ids");
            prompt = new int[] {tok.bos()};
        }
        int ctx = model.contextLength();
        if (prompt.length >= ctx) {
            throw new ModelException("the prompt is " + prompt.length + " tokens; the model's context holds " + ctx + " (leave room for at least one more)");
        }
        LanguageModel.Session s = model.newSession();
        try {
            return continueIn(model, s, prompt, o, onText, onToken, stopReason, cancel);
        } finally {
            if (s instanceof AutoCloseable c) closeQuietly(c); // a BatchedDecoder's session leaves its steps
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing a session failed", e);
        }
    }

    /**
     * Generates in session {@code s}, which has already been fed the first {@code s.position()}
     * tokens of {@code prompt} (fewer than all of them): feeds the rest, then samples as
     * {@link #generate} does. A conversation keeps its session from turn to turn this way ({@link Chat}).
     * Afterwards the session has been fed the prompt and the generated tokens but the last one.
     */
    public static Result continueIn(LanguageModel model, LanguageModel.Session s, int[] prompt, GenerationOptions o, Consumer<String> onText,
                                    TokenListener onToken, java.util.function.Supplier<String> stopReason, Cancellation cancel) {
        Tokenizer tok = model.tokenizer();
        int ctx = model.contextLength();
        int fed = s.position();
        if (fed >= prompt.length) throw new IllegalArgumentException("the session already holds " + fed + " of the prompt's " + prompt.length + " tokens");
        // Room for the prompt and the first tokens; grown as tokens come (never sized from maxTokens,
        // which may be far larger than what is ever generated).
        int[] history = Arrays.copyOf(prompt, (int) Math.min(ctx, prompt.length + (long) Math.min(o.maxTokens(), 256)));
        long t0 = System.nanoTime();
        checkStop(stopReason);
        if (cancel != null && cancel.isCancelled()) return new Result(prompt, new int[0], "", StopReason.CANCELLED, 0, 0, 0);
        float[] logits = finite(s.prefill(Arrays.copyOfRange(prompt, fed, prompt.length), false), prompt.length);
        long t1 = System.nanoTime();
        Sampler sampler = new Sampler(o);
        int[] ends = model.endIds();
        Utf8Stream utf8 = new Utf8Stream();
        StringBuilder text = new StringBuilder();
        int emitted = 0; // chars of text already given to onText
        int n = prompt.length, generated = 0;
        StopReason stoppedBy = StopReason.MAX_TOKENS;
        int longestStop = o.stop().stream().mapToInt(String::length).max().orElse(0);
        while (generated < o.maxTokens()) {
            if (n >= ctx) {
                stoppedBy = StopReason.CONTEXT_FULL;
                break;
            }
            int next = sampler.sample(logits, history, n);
            if (isEnd(next, ends)) {
                stoppedBy = StopReason.END_OF_TEXT;
                break;
            }
            if (n == history.length) history = Arrays.copyOf(history, (int) Math.min(ctx, 2L * history.length));
            history[n++] = next;
            generated++;
            if (onToken != null) onToken.token(next);
            if (tok != null) {
                text.append(utf8.push(tok.decode(next)));
                int stopAt = findStop(text, o, emitted);
                if (stopAt >= 0) {
                    text.setLength(stopAt);
                    if (onText != null && stopAt > emitted) onText.accept(text.substring(emitted));
                    emitted = text.length();
                    stoppedBy = StopReason.STOP_STRING;
                    break;
                }
                // Hold back what could still become the start of a stop string.
                int safe = Math.max(emitted, text.length() - Math.max(0, longestStop - 1));
                if (onText != null && safe > emitted) onText.accept(text.substring(emitted, safe));
                emitted = safe;
            }
            if (generated < o.maxTokens() && n < ctx) {
                if (cancel != null && cancel.isCancelled()) {
                    stoppedBy = StopReason.CANCELLED;
                    break;
                }
                checkStop(stopReason);
                logits = finite(s.forward(next), n);
            }
        }
        if (tok != null && stoppedBy != StopReason.STOP_STRING) {
            text.append(utf8.flush());
            if (onText != null && text.length() > emitted) onText.accept(text.substring(emitted));
        }
        long t2 = System.nanoTime();
        return new Result(prompt, Arrays.copyOfRange(history, prompt.length, n), text.toString(), stoppedBy, t1 - t0, t2 - t1, prompt.length - fed);
    }

    private static void checkStop(java.util.function.Supplier<String> stopReason) {
        String why = stopReason == null ? null : stopReason.get();
        if (why != null) throw new ModelException(why);
    }

    /**
     * The logits, after checking that none is NaN or infinite: a model with such weights would
     * otherwise sample the same token forever (the argmax of NaNs is 0: {@code <unk>}).
     */
    static float[] finite(float[] logits, int position) {
        for (int i = 0; i < logits.length; i++) {
            float v = logits[i];
            if (v - v != 0) { // NaN or ±infinity
                throw new ModelException("the model computed a non-finite logit (" + v + " for token " + i + ") at position " + position
                        + ": its weights or its input hold NaN or infinite values");
            }
        }
        return logits;
    }

    private static boolean isEnd(int id, int[] ends) {
        for (int e : ends) if (e == id) return true;
        return false;
    }

    private static int findStop(CharSequence text, GenerationOptions o, int from) {
        int best = -1;
        for (String stop : o.stop()) {
            if (stop.isEmpty()) continue;
            int i = text.toString().indexOf(stop, Math.max(0, from - stop.length()));
            if (i >= 0 && (best < 0 || i < best)) best = i;
        }
        return best;
    }
}
