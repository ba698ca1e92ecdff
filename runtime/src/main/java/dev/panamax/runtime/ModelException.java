package dev.panamax.runtime;

/**
 * A model that cannot be loaded or run as asked: a truncated or inconsistent file, an unknown
 * architecture, a prompt longer than the context. The message names the file or the limit and
 * the problem, and is meant to be shown to a person as it is.
 */
public class ModelException extends RuntimeException {
    public ModelException(String message) {
        super(message);
    }

    public ModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
