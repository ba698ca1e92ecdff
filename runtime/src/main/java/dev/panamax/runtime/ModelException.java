package dev.panamax.runtime;

/**
 * A model that cannot be loaded or run as asked: a truncated or inconsistent file, an unknown
 * architecture, a prompt longer than the context. The message names the file or the limit and
 * the problem, and is meant to be shown to a person as it is: one line, whatever a lying file put
 * in the names it quotes (control characters are escaped, and the message is cut at
 * {@value #MAX_LENGTH} characters).
 */
public class ModelException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The longest message kept; a file's names can be megabytes long. */
    public static final int MAX_LENGTH = 1000;

    public ModelException(String message) {
        super(oneLine(message));
    }

    public ModelException(String message, Throwable cause) {
        super(oneLine(message), cause);
    }

    /** {@code text} with control and other invisible characters escaped, cut to {@link #MAX_LENGTH}. */
    static String oneLine(String text) {
        if (text == null) return "(no message)";
        StringBuilder b = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean plain = c >= 0x20 && c != 0x7f && !(c >= 0x80 && c < 0xa0) && Character.getType(c) != Character.FORMAT
                    && Character.getType(c) != Character.UNASSIGNED && Character.getType(c) != Character.PRIVATE_USE
                    && c != '\ufffd' && c != '\u2028' && c != '\u2029';
            if (plain && b == null) continue;
            if (b == null) b = new StringBuilder(text.length() + 16).append(text, 0, i);
            if (plain) b.append(c);
            else if (c == '\n') b.append("\\n");
            else if (c == '\t') b.append("\\t");
            else if (c == '\r') b.append("\\r");
            else b.append(String.format("\\u%04x", (int) c));
        }
        String s = b == null ? text : b.toString();
        return s.length() <= MAX_LENGTH ? s : s.substring(0, MAX_LENGTH) + "… (" + s.length() + " characters)";
    }
}
