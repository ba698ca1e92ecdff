package dev.panamax.serve;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes the JSON the server answers with: maps (in their iteration order), lists, strings, numbers,
 * booleans, null, and float arrays. Floats are written as Java's shortest round-tripping decimal,
 * so a client reading them as float32 gets the very bits the model computed.
 */
public final class JsonOut {
    private JsonOut() {}

    /** {@code v} as JSON text. */
    public static String write(Object v) {
        StringBuilder b = new StringBuilder();
        write(b, v);
        return b.toString();
    }

    static void write(StringBuilder b, Object v) {
        switch (v) {
            case null -> b.append("null");
            case String s -> string(b, s);
            case Boolean x -> b.append(x);
            case Float f -> number(b, f);
            case Double d -> number(b, d);
            case Number n -> b.append(n);
            case float[] a -> {
                b.append('[');
                for (int i = 0; i < a.length; i++) {
                    if (i > 0) b.append(',');
                    number(b, a[i]);
                }
                b.append(']');
            }
            case Map<?, ?> m -> {
                b.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) b.append(',');
                    first = false;
                    string(b, e.getKey().toString());
                    b.append(':');
                    write(b, e.getValue());
                }
                b.append('}');
            }
            case List<?> l -> {
                b.append('[');
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) b.append(',');
                    write(b, l.get(i));
                }
                b.append(']');
            }
            default -> throw new IllegalArgumentException("cannot write " + v.getClass() + " as JSON");
        }
    }

    private static void number(StringBuilder b, Number x) {
        double d = x.doubleValue();
        if (!Double.isFinite(d)) {
            b.append("null"); // JSON has no NaN or infinity
        } else if (d == 0 && 1 / d < 0) {
            b.append("-0.0");
        } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
            b.append((long) d);
        } else {
            b.append(x instanceof Float f ? Float.toString(f) : Double.toString(d));
        }
    }

    static void string(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c == 0x2028 || c == 0x2029) b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        b.append('"');
    }
}
