package dev.panamax.runtime.model;

import dev.panamax.runtime.ModelException;

/**
 * Size checks for the buffers a model allocates from its hyper-parameters (KV caches, recurrent
 * states, activations), so that a file that lies about them, or a sequence longer than memory
 * allows, ends in a {@link ModelException} naming the buffer instead of an int overflow or an
 * {@link OutOfMemoryError}.
 */
public final class Memory {
    private Memory() {}

    /** The most elements one Java array may hold on HotSpot. */
    public static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

    /**
     * {@code count} as an int, after checking that {@code parts} float arrays of {@code count}
     * elements each can exist: each within {@link #MAX_ARRAY}, all of them within the Java heap's
     * limit ({@code -Xmx}).
     */
    public static int floats(String what, long count, long parts) {
        if (count < 0 || parts < 0) throw new ModelException(what + ": a negative size (" + count + " × " + parts + ")");
        long bytes = 4 * count * parts;
        long max = Runtime.getRuntime().maxMemory();
        if (count > MAX_ARRAY || (parts > 0 && count > Long.MAX_VALUE / 4 / parts) || bytes > max) {
            throw new ModelException(String.format(java.util.Locale.ROOT, "%s would need %s, more than the Java heap's %.1f GB (JAVA_OPTS=-Xmx raises it)",
                    what, parts > 0 && count <= Long.MAX_VALUE / 4 / parts ? String.format(java.util.Locale.ROOT, "%.1f GB", bytes / 1e9) : "more than 2^63 bytes", max / 1e9));
        }
        return (int) count;
    }
}
