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

    /** What happened, with timings for tokens/s. */
    public record Result(int[] promptIds, int[] generatedIds, String text, String stoppedBy, long promptNanos, long generateNanos) {
        public double promptTokensPerSecond() {
            return promptIds.length / Math.max(1e-9, promptNanos / 1e9);
        }

        public double generatedTokensPerSecond() {
            return generatedIds.length / Math.max(1e-9, generateNanos / 1e9);
        }
    }

    /** Receives each generated token id as it is chosen (for {@code --print-ids} and tests). */
    public interface TokenListener {
        void token(int id);
    }

    public static Result generate(LanguageModel model, int[] prompt, GenerationOptions o, Consumer<String> onText, TokenListener onToken) {
        if (prompt.length == 0) throw new ModelException("the prompt is empty: give some text or --ids");
        int ctx = model.contextLength();
        if (prompt.length >= ctx) {
            throw new ModelException("the prompt is " + prompt.length + " tokens; the model's context holds " + ctx + " (leave room for at least one more)");
        }
        Tokenizer tok = model.tokenizer();
        LanguageModel.Session s = model.newSession();
        int[] history = Arrays.copyOf(prompt, Math.min(ctx, prompt.length + o.maxTokens()));
        long t0 = System.nanoTime();
        float[] logits = s.prefill(prompt, false);
        long t1 = System.nanoTime();
        Sampler sampler = new Sampler(o);
        int[] ends = model.endIds();
        Utf8Stream utf8 = new Utf8Stream();
        StringBuilder text = new StringBuilder();
        int emitted = 0; // chars of text already given to onText
        int n = prompt.length, generated = 0;
        String stoppedBy = "max-tokens";
        int longestStop = o.stop().stream().mapToInt(String::length).max().orElse(0);
        while (generated < o.maxTokens()) {
            if (n >= ctx) {
                stoppedBy = "context";
                break;
            }
            int next = sampler.sample(logits, history, n);
            if (isEnd(next, ends)) {
                stoppedBy = "eos";
                break;
            }
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
                    stoppedBy = "stop";
                    break;
                }
                // Hold back what could still become the start of a stop string.
                int safe = Math.max(emitted, text.length() - Math.max(0, longestStop - 1));
                if (onText != null && safe > emitted) onText.accept(text.substring(emitted, safe));
                emitted = safe;
            }
            if (generated < o.maxTokens() && n < ctx) logits = s.forward(next);
        }
        if (tok != null && !stoppedBy.equals("stop")) {
            text.append(utf8.flush());
            if (onText != null && text.length() > emitted) onText.accept(text.substring(emitted));
        }
        long t2 = System.nanoTime();
        return new Result(prompt, Arrays.copyOfRange(history, prompt.length, n), text.toString(), stoppedBy, t1 - t0, t2 - t1);
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
