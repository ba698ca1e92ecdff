package dev.panamax.runtime.generate;

/**
 * A handle that stops a running generation from another thread: pass it to {@code generate} (or a
 * chat's {@code send}), call {@link #cancel} from anywhere, and the generation returns before its
 * next token with {@link StopReason#CANCELLED} and the text so far — no exception. A prompt being
 * fed finishes its forward pass first. One handle may serve several generations; once cancelled it
 * stays cancelled.
 *
 * <pre>{@code
 * var cancel = new Cancellation();
 * executor.submit(() -> model.generate("In the beginning", GenerationOptions.defaults(), System.out::print, cancel));
 * ...
 * cancel.cancel();   // e.g. when the user presses Stop
 * }</pre>
 */
public final class Cancellation {
    private volatile boolean cancelled;

    /** Asks every generation holding this handle to stop before its next token. */
    public void cancel() {
        cancelled = true;
    }

    public boolean isCancelled() {
        return cancelled;
    }
}
