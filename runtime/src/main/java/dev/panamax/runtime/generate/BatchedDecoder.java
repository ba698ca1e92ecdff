package dev.panamax.runtime.generate;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.tokenizer.Tokenizer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching: a {@link LanguageModel} whose sessions, used from many threads at once, decode
 * together. Each session's {@link Session#forward forward} hands its token to one stepping thread
 * and waits; that thread runs all the tokens waiting as one {@link LanguageModel#decodeStep} — every
 * weight matrix read once for the whole step — and hands each caller its logits. A sequence can
 * join or leave between any two steps. A short prompt (one the model feeds token by token) rides in
 * a step as rows of its own, the short prompts of one step up to one block's worth of rows (the rest
 * wait for the next step). A longer one is fed a block at a time
 * ({@link Session#prefillChunk}, {@link dev.panamax.runtime.LoadOptions#promptChunk}) by the stepping
 * thread after each step, at most one block's worth of tokens a step (a long prompt's next block, or
 * several short prompts) — chunked prefill: the others wait at most about one block for their next
 * token, and the model computes the blocks exactly as it computes a prompt alone. Models whose
 * sessions promise no blocks (the GPU's) run a long prompt whole on a prompt thread beside the steps.
 *
 * <p>Because {@code decodeStep} gives each sequence exactly the logits it would get alone, a
 * generation through this decoder gives the same tokens as through the model itself, whatever else
 * runs beside it. The generation loop needs no change:
 *
 * <pre>{@code
 * try (BatchedDecoder batched = new BatchedDecoder(model, 16, Duration.ofMillis(2), null)) {
 *     // from each of many threads:
 *     Generator.Result r = Generator.generate(batched, promptIds, options, onText, null);
 * }
 * }</pre>
 *
 * <p>A step starts when every sequence of the previous step has sent its next token, when
 * {@code maxBatch} tokens wait, or {@code maxWait} after the first token came — so a caller that
 * is slow to come back (a client reading slowly) delays the others by at most {@code maxWait}, and
 * then decodes in the next step. Closing a session ({@link Generator#generate} closes the ones it
 * opens) tells the decoder not to wait for it. Closing the decoder stops the stepping thread; it
 * does not close the model underneath.
 */
public final class BatchedDecoder implements LanguageModel {

    /** Told after each step: how many rows (tokens) it fed and how long it took. */
    @FunctionalInterface
    public interface StepListener {
        void step(int rows, long nanos);
    }

    private final LanguageModel model;
    private final int maxBatch;
    private final long maxWaitNanos;
    private final StepListener listener;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();
    /**
     * Blocks of prompts, fed after each step in arrival order, one block's worth of tokens a step (a long
     * prompt's block, or several short prompts); each prompt's next block joins at the back: turns.
     */
    private final ArrayDeque<Pending> blocks = new ArrayDeque<>();
    /** The previous step's sequences, not closed since: a step waits for these (up to maxWait). */
    private final Set<Batched> expected = Collections.newSetFromMap(new IdentityHashMap<>());
    private boolean closed;
    private final Thread stepper;
    /**
     * Prompts run here, one at a time in arrival order, on a platform thread: a caller on a virtual
     * thread (the server's) would otherwise hold its carrier for the whole prompt, and with every
     * carrier busy feeding prompts the decoding sequences' threads could not run to take their
     * logits and send their next tokens (measured: gaps of 3 s between tokens at 16 streams).
     */
    private final java.util.concurrent.ExecutorService prompts = java.util.concurrent.Executors.newSingleThreadExecutor(
            Thread.ofPlatform().daemon().name("panamax-batched-decoder-prompts").factory());

    /** A session's next token, or its short prompt's tokens (rows of one step, in order). */
    private record Pending(Batched session, int[] tokens, CompletableFuture<float[]> logits) {}

    /** Most rows in one step (short prompts bring several each). */
    private static final int MAX_ROWS = 512;

    /**
     * @param model    the model whose sessions decode together
     * @param maxBatch most sequences in one step (≥ 1)
     * @param maxWait  longest a step waits for the previous step's sequences to come back
     * @param listener told of each step (may be null)
     */
    public BatchedDecoder(LanguageModel model, int maxBatch, Duration maxWait, StepListener listener) {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be at least 1, got " + maxBatch);
        if (maxWait.isNegative()) throw new IllegalArgumentException("maxWait must not be negative, got " + maxWait);
        this.model = model;
        this.maxBatch = maxBatch;
        this.maxWaitNanos = maxWait.toNanos();
        this.listener = listener;
        this.stepper = Thread.ofPlatform().daemon().name("panamax-batched-decoder").start(this::run);
    }

    /** The model underneath. */
    public LanguageModel model() {
        return model;
    }

    /** One sequence of this decoder: its prompt in the caller's thread, its decoding steps shared. */
    private final class Batched implements Session, AutoCloseable {
        final Session inner;
        boolean done;

        Batched(Session inner) {
            this.inner = inner;
        }

        @Override
        public float[] forward(int token) {
            return step(new int[] {token});
        }

        /** {@code tokens} of this session into {@code queue} (the next step's, or the prompts' blocks), the stepping thread woken. */
        private Pending enqueue(ArrayDeque<Pending> queue, int[] tokens) {
            Pending p = new Pending(this, tokens, new CompletableFuture<>());
            lock.lock();
            try {
                if (closed) throw new ModelException("the batched decoder has been closed");
                if (done) throw new IllegalStateException("this session has been closed");
                queue.add(p);
                arrived.signal();
            } finally {
                lock.unlock();
            }
            return p;
        }

        /** Hands {@code tokens} to the next step and waits for the logits after the last. */
        private float[] step(int[] tokens) {
            Pending p = enqueue(pending, tokens);
            try {
                return p.logits.join();
            } catch (CompletionException e) {
                if (e.getCause() instanceof RuntimeException r) throw r;
                if (e.getCause() instanceof Error err) throw err;
                throw e;
            }
        }

        /**
         * A prompt the model feeds token by token anyway ({@link Session#prefillsTokenByToken}: a short
         * one) rides in the next step as rows of its own, the same bits at a batched step's cost;
         * a longer one runs on the decoder's prompt thread, in arrival order, beside the steps.
         */
        @Override
        public float[] prefill(int[] tokens, boolean allLogits) {
            if (!allLogits && tokens.length > 0 && tokens.length <= MAX_ROWS && inner.prefillsTokenByToken(tokens.length)) return step(tokens.clone());
            int chunk = inner.prefillChunk();
            if (!allLogits && tokens.length > 0 && chunk > 0) return inBlocks(tokens, chunk);
            java.util.concurrent.Future<float[]> f;
            try {
                f = prompts.submit(() -> inner.prefill(tokens, allLogits));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                throw new ModelException("the batched decoder has been closed");
            }
            try {
                return f.get();
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) throw r;
                if (e.getCause() instanceof Error err) throw err;
                throw new IllegalStateException(e.getCause());
            } catch (InterruptedException e) {
                f.cancel(true);
                Thread.currentThread().interrupt();
                throw new ModelException("interrupted while the prompt was fed");
            }
        }

        /**
         * A long prompt as the model's own blocks, each fed by the stepping thread after a step (or,
         * when the model feeds a block token by token, as rows of the next step): the blocks and
         * their arithmetic are the ones {@code inner.prefill(tokens)} would run, so are the bits.
         */
        private float[] inBlocks(int[] tokens, int chunk) {
            return Session.inBlocks(tokens, false, chunk, model.vocabSize(), inner.position(), model.contextLength(),
                    (block, all) -> block.length <= MAX_ROWS && inner.prefillsTokenByToken(block.length) ? step(block) : feedBlock(block));
        }

        /** Hands one block of a prompt to the stepping thread and waits for the logits after it. */
        private float[] feedBlock(int[] block) {
            Pending p = enqueue(blocks, block);
            try {
                return p.logits.get();
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) throw r;
                if (e.getCause() instanceof Error err) throw err;
                throw new IllegalStateException(e.getCause());
            } catch (InterruptedException e) {
                boolean queued;
                lock.lock();
                try {
                    queued = blocks.remove(p);
                } finally {
                    lock.unlock();
                }
                if (!queued) p.logits.exceptionally(t -> null).join(); // being fed: the session is not left to its caller mid-block
                Thread.currentThread().interrupt();
                throw new ModelException("interrupted while the prompt was fed");
            }
        }

        @Override
        public boolean prefillsTokenByToken(int tokens) {
            return inner.prefillsTokenByToken(tokens);
        }

        @Override
        public int prefillChunk() {
            return inner.prefillChunk();
        }

        @Override
        public int position() {
            return inner.position();
        }

        @Override
        public boolean rewind(int position) {
            return inner.rewind(position);
        }

        /**
         * Leaves the decoder: the next steps do not wait for this sequence. A session of the model
         * that holds resources of its own (a GPU session's device memory) is closed too — on the
         * prompt thread, after any prompt of its still running there.
         */
        @Override
        public void close() {
            lock.lock();
            try {
                if (done) return;
                done = true;
                if (expected.remove(this)) arrived.signal();
            } finally {
                lock.unlock();
            }
            if (inner instanceof AutoCloseable c) {
                try {
                    prompts.execute(() -> closeQuietly(c));
                } catch (java.util.concurrent.RejectedExecutionException e) { // the decoder is closed: nothing runs it any more
                    closeQuietly(c);
                }
            }
        }
    }

    private void run() {
        try {
            while (true) {
                List<Pending> batch = next();
                if (batch == null) return;
                if (!batch.isEmpty()) step(batch);
                // Prompt blocks up to one block's worth of tokens (the first one's prefillChunk) after the
                // step: one long prompt's block, or several short prompts together.
                int budget = -1;
                while (true) {
                    Pending block;
                    lock.lock();
                    try {
                        block = blocks.peek();
                        if (block != null && budget >= 0 && block.tokens.length > budget) block = null;
                        if (block != null) blocks.poll();
                    } finally {
                        lock.unlock();
                    }
                    if (block == null) break;
                    if (budget < 0) budget = Math.max(block.session.inner.prefillChunk(), block.tokens.length);
                    budget -= block.tokens.length;
                    feed(block);
                }
            }
        } catch (InterruptedException e) {
            failPending(new ModelException("the batched decoder was interrupted"));
        }
    }

    /**
     * The next step's tokens, once the previous step's sequences are back (or maxWait passed); empty
     * when only a prompt's block waits; null when closed.
     */
    private List<Pending> next() throws InterruptedException {
        lock.lock();
        try {
            while (!closed && pending.isEmpty() && blocks.isEmpty()) arrived.await();
            if (closed) return null;
            if (pending.isEmpty()) return List.of();
            long deadline = System.nanoTime() + maxWaitNanos;
            while (!closed && pending.size() < maxBatch && !everyExpectedArrived()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) break;
                arrived.awaitNanos(left);
            }
            if (closed) return null;
            // In arrival order, up to MAX_ROWS rows; short prompts riding as rows up to one block's worth
            // (their sessions' prefillChunk; the first always) a step — the others keep their place, first in
            // line for the next step, so
            // sixteen prompts arriving together get their first tokens in turn, not all after one long step.
            List<Pending> batch = new ArrayList<>();
            int rows = 0, promptRows = 0;
            for (java.util.Iterator<Pending> it = pending.iterator(); it.hasNext() && batch.size() < maxBatch; ) {
                Pending p = it.next();
                int len = p.tokens.length;
                if (!batch.isEmpty() && rows + len > MAX_ROWS) break;
                if (len > 1) {
                    int chunk = p.session.inner.prefillChunk();
                    if (promptRows > 0 && chunk > 0 && promptRows + len > chunk) continue;
                    promptRows += len;
                }
                rows += len;
                batch.add(p);
                it.remove();
            }
            expected.clear();
            for (Pending p : batch) expected.add(p.session);
            return batch;
        } finally {
            lock.unlock();
        }
    }

    private boolean everyExpectedArrived() {
        int back = 0;
        for (Pending p : pending) if (expected.contains(p.session)) back++;
        for (Pending p : blocks) if (expected.contains(p.session)) back++; // came back with a prompt's block instead
        return back >= expected.size();
    }

    private void step(List<Pending> batch) {
        long t0 = System.nanoTime();
        int rows = 0;
        for (Pending p : batch) rows += p.tokens.length;
        Session[] sessions = new Session[rows];
        int[] tokens = new int[rows], last = new int[batch.size()];
        int r = 0;
        for (int i = 0; i < batch.size(); i++) {
            for (int token : batch.get(i).tokens) {
                sessions[r] = batch.get(i).session.inner;
                tokens[r++] = token;
            }
            last[i] = r - 1;
        }
        try {
            float[][] logits = model.decodeStep(sessions, tokens);
            for (int i = 0; i < batch.size(); i++) batch.get(i).logits.complete(logits[last[i]]);
        } catch (RuntimeException | Error e) {
            if (batch.size() == 1) {
                batch.get(0).logits.completeExceptionally(e);
            } else {
                // One sequence's fault (the checks run before any work) must not fail its batch mates: each alone.
                for (Pending p : batch) {
                    try {
                        float[] out = null;
                        for (int token : p.tokens) out = p.session.inner.forward(token);
                        p.logits.complete(out);
                    } catch (RuntimeException | Error alone) {
                        p.logits.completeExceptionally(alone);
                    }
                }
            }
        }
        if (listener != null) listener.step(rows, System.nanoTime() - t0);
    }

    /** One block of a long prompt, on the stepping thread (not a decoding step: the listener is not told). */
    private static void feed(Pending block) {
        try {
            block.logits.complete(block.session.inner.prefill(block.tokens, false));
        } catch (RuntimeException | Error e) {
            block.logits.completeExceptionally(e);
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            System.getLogger(BatchedDecoder.class.getName()).log(System.Logger.Level.WARNING, "closing a session failed", e);
        }
    }

    private void failPending(RuntimeException why) {
        lock.lock();
        try {
            for (Pending p : pending) p.logits.completeExceptionally(why);
            pending.clear();
            for (Pending p : blocks) p.logits.completeExceptionally(why);
            blocks.clear();
        } finally {
            lock.unlock();
        }
    }

    /** Stops the stepping thread; tokens still waiting fail with a {@link ModelException}. The model stays open. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
        failPending(new ModelException("the batched decoder has been closed"));
        for (Runnable left : prompts.shutdownNow()) {
            if (!(left instanceof java.util.concurrent.Future<?>)) left.run(); // a session's close; prompts (futures) are dropped
        }
        try {
            stepper.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- the model underneath ---------------------------------------------------------------

    @Override
    public Session newSession() {
        return new Batched(model.newSession());
    }

    /** A step of this decoder's own sessions, run now in the caller's thread. */
    @Override
    public float[][] decodeStep(Session[] sessions, int[] tokens) {
        Session[] inner = new Session[sessions.length];
        for (int i = 0; i < sessions.length; i++) inner[i] = sessions[i] instanceof Batched b ? b.inner : sessions[i];
        return model.decodeStep(inner, tokens);
    }

    @Override
    public int vocabSize() {
        return model.vocabSize();
    }

    @Override
    public int contextLength() {
        return model.contextLength();
    }

    @Override
    public int hiddenSize() {
        return model.hiddenSize();
    }

    @Override
    public float[] hiddenStates(int[] ids) {
        return model.hiddenStates(ids);
    }

    @Override
    public void prepare() {
        model.prepare();
    }

    @Override
    public String preparedNote() {
        return model.preparedNote();
    }

    @Override
    public long sessionBytes(int positions) {
        return model.sessionBytes(positions);
    }

    @Override
    public String architecture() {
        return model.architecture();
    }

    @Override
    public Tokenizer tokenizer() {
        return model.tokenizer();
    }

    @Override
    public String chatTemplate() {
        return model.chatTemplate();
    }

    @Override
    public int[] endIds() {
        return model.endIds();
    }

    @Override
    public Map<String, Long> parametersByType() {
        return model.parametersByType();
    }

    @Override
    public String device() {
        return model.device();
    }
}
