package dev.panamax.runtime.generate;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * A conversation with a language model: messages formatted with the model's chat template, one
 * session kept from turn to turn. A turn feeds only the tokens its session does not hold yet (the
 * new user message, and whatever of the last answer re-tokenizes differently), so turn N costs its
 * own tokens, not the whole history; memory stays that of one session, bounded by the context.
 * When the conversation outgrows the context the oldest turns are dropped (the system message
 * stays), and {@code notes} hears so once.
 *
 * <pre>{@code
 * Chat chat = panamax.chat("You are terse.");               // or new Chat(languageModel, system, notes)
 * chat.send("Hello", GenerationOptions.defaults(), System.out::print);
 * chat.send("And then?", GenerationOptions.defaults(), System.out::print);
 * }</pre>
 *
 * Not thread-safe: one conversation belongs to one thread at a time.
 */
public final class Chat {
    private final LanguageModel model;
    private final ChatTemplate template;
    private final Consumer<String> notes;
    private final List<ChatTemplate.Message> messages = new ArrayList<>();
    private LanguageModel.Session session;
    /** The tokens the session has been fed, in order (its first session.position()). */
    private int[] fed = new int[0];
    private boolean toldOfDropping;
    private final Guard guard;

    /**
     * What the model's owner wraps each turn in ({@link dev.panamax.runtime.Panamax#chat}): {@link #enter}
     * before (it may refuse: a closed model), {@link #exit} after, and {@link #stopReason} asked before
     * each token (non-null ends the turn with a {@link ModelException} carrying it).
     */
    public interface Guard {
        void enter();

        void exit();

        String stopReason();
    }

    private static final Guard NONE = new Guard() {
        public void enter() {}

        public void exit() {}

        public String stopReason() {
            return null;
        }
    };

    /** A conversation with {@code model}; {@code system} (may be null) is kept as its first message. */
    public Chat(LanguageModel model, String system, Consumer<String> notes) {
        this(model, system, notes, NONE);
    }

    /** As above, each turn inside {@code guard}. */
    public Chat(LanguageModel model, String system, Consumer<String> notes, Guard guard) {
        if (model.tokenizer() == null) throw new ModelException("this model has no tokenizer: chat needs one");
        this.guard = guard;
        this.model = model;
        this.template = ChatTemplate.detect(model.chatTemplate());
        this.notes = notes == null ? n -> {} : notes;
        if (system != null) messages.add(new ChatTemplate.Message("system", system));
    }

    /** The template recognised from the model's own ({@link ChatTemplate#NONE}: plain continuation). */
    public ChatTemplate template() {
        return template;
    }

    /** The conversation so far (system, user, assistant messages), the dropped turns excluded. */
    public List<ChatTemplate.Message> messages() {
        return List.copyOf(messages);
    }

    /**
     * Adds the user's message, generates the answer (streamed to {@code onText}, may be null) and
     * adds it. {@code o}'s stop strings are joined by the template's end-of-turn marker.
     */
    public Generator.Result send(String user, GenerationOptions o, Consumer<String> onText) {
        return send(user, o, onText, null, null);
    }

    /** As above; {@code cancel} (may be null) ends the answer before its next token ({@link StopReason#CANCELLED}; the partial answer is kept). */
    public Generator.Result send(String user, GenerationOptions o, Consumer<String> onText, Cancellation cancel) {
        return send(user, o, onText, null, cancel);
    }

    /** As above; {@code stopReason} as in {@link Generator#generate(LanguageModel, int[], GenerationOptions, Consumer, Generator.TokenListener, java.util.function.Supplier)}. */
    public Generator.Result send(String user, GenerationOptions o, Consumer<String> onText, java.util.function.Supplier<String> stopReason, Cancellation cancel) {
        guard.enter();
        try {
            java.util.function.Supplier<String> why = () -> {
                String g = guard.stopReason();
                return g != null ? g : stopReason == null ? null : stopReason.get();
            };
            return turn(user, o, onText, why, cancel);
        } finally {
            guard.exit();
        }
    }

    private Generator.Result turn(String user, GenerationOptions o, Consumer<String> onText, java.util.function.Supplier<String> stopReason, Cancellation cancel) {
        if (!template.endOfTurn.isEmpty() && !o.stop().contains(template.endOfTurn)) {
            List<String> stops = new ArrayList<>(o.stop());
            stops.add(template.endOfTurn);
            o = o.withStop(stops);
        }
        messages.add(new ChatTemplate.Message("user", user));
        int[] prompt = fit(o);
        if (session == null || !reuse(prompt)) {
            session = model.newSession();
            fed = new int[0];
        }
        Generator.Result r;
        try {
            r = Generator.continueIn(model, session, prompt, o, onText, null, stopReason, cancel);
        } catch (RuntimeException e) {
            messages.removeLast(); // the turn did not happen; the session is rebuilt next time
            session = null;
            throw e;
        }
        int[] all = Arrays.copyOf(prompt, prompt.length + r.generatedIds().length);
        System.arraycopy(r.generatedIds(), 0, all, prompt.length, r.generatedIds().length);
        fed = Arrays.copyOf(all, session.position());
        messages.add(new ChatTemplate.Message("assistant", r.text()));
        return r;
    }

    /**
     * The prompt for the conversation. When it leaves less than the room an answer needs (its max
     * tokens, at most a quarter of the context), the oldest turns are dropped until it takes at
     * most half the context.
     */
    private int[] fit(GenerationOptions o) {
        Tokenizer tok = model.tokenizer();
        int ctx = model.contextLength();
        int room = Math.max(1, Math.min(o.maxTokens(), ctx / 4));
        // Once it overflows, drop down to half the context: the turns after that reuse the session
        // again, instead of each re-feeding a full context from a new first turn.
        int limit = ctx;
        while (true) {
            int[] ids = tok.encode(template.format(messages), true);
            if (ids.length + room <= limit) return ids;
            limit = ctx / 2;
            int first = !messages.isEmpty() && messages.getFirst().role().equals("system") ? 1 : 0;
            if (messages.size() - first <= 1) {
                messages.removeLast();
                throw new ModelException("this message makes a prompt of " + ids.length + " tokens" + (first == 1 ? " with the system message" : "")
                        + "; with room for an answer (" + room + " tokens) that is more than the model's context of " + ctx);
            }
            // Drop the oldest exchange: the user message and the answer after it.
            messages.remove(first);
            if (messages.size() - first > 1 && messages.get(first).role().equals("assistant")) messages.remove(first);
            if (!toldOfDropping) {
                notes.accept("the conversation outgrew the model's context of " + ctx + " tokens: dropping the oldest turns (the system message stays)");
                toldOfDropping = true;
            }
        }
    }

    /** Rewinds the session to where {@code prompt} departs from what it was fed; false if it cannot. */
    private boolean reuse(int[] prompt) {
        int common = 0, max = Math.min(fed.length, prompt.length - 1); // feed at least one token: its logits start the answer
        while (common < max && fed[common] == prompt[common]) common++;
        return session.rewind(common);
    }
}
