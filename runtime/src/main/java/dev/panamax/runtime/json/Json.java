package dev.panamax.runtime.json;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small, strict JSON reader for the files models ship with ({@code config.json},
 * {@code tokenizer.json}, safetensors headers). Objects become {@link LinkedHashMap}s (key order
 * kept), arrays {@link ArrayList}s, numbers {@link Long} when integral and in range else
 * {@link Double}, plus {@link String}, {@link Boolean} and {@code null}. One pass over a
 * {@code char[]}: a 10 MB tokenizer.json parses in well under a second.
 *
 * <p>transformers writes non-finite floats as {@code {"__float__": "Infinity"}}; {@link #number}
 * reads that form as well as plain numbers.
 */
public final class Json {

    private final String text;
    private int pos;

    private Json(String text) {
        this.text = text;
    }

    /** Parses a whole document; anything but whitespace after the value is an error. */
    public static Object parse(String text) {
        Json p = new Json(text);
        p.skipWs();
        Object v = p.value(0);
        p.skipWs();
        if (p.pos != text.length()) throw p.error("unexpected text after the JSON value");
        return v;
    }

    private JsonException error(String what) {
        int line = 1, col = 1;
        for (int i = 0; i < Math.min(pos, text.length()); i++) {
            if (text.charAt(i) == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return new JsonException(what + " at line " + line + ", column " + col);
    }

    private void skipWs() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') pos++;
            else break;
        }
    }

    private Object value(int depth) {
        if (depth > 512) throw error("nesting deeper than 512");
        if (pos >= text.length()) throw error("unexpected end of input");
        char c = text.charAt(pos);
        switch (c) {
            case '{': return object(depth);
            case '[': return array(depth);
            case '"': return string();
            case 't': return literal("true", Boolean.TRUE);
            case 'f': return literal("false", Boolean.FALSE);
            case 'n': return literal("null", null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return numberLiteral();
                // Python's json writes these unless told not to.
                if (text.startsWith("NaN", pos)) return literal("NaN", Double.NaN);
                if (text.startsWith("Infinity", pos)) return literal("Infinity", Double.POSITIVE_INFINITY);
                throw error("unexpected character '" + c + "'");
        }
    }

    private Object literal(String word, Object v) {
        if (!text.startsWith(word, pos)) throw error("expected " + word);
        pos += word.length();
        return v;
    }

    private Map<String, Object> object(int depth) {
        pos++; // {
        Map<String, Object> m = new LinkedHashMap<>();
        skipWs();
        if (pos < text.length() && text.charAt(pos) == '}') {
            pos++;
            return m;
        }
        while (true) {
            skipWs();
            if (pos >= text.length() || text.charAt(pos) != '"') throw error("expected a string key");
            String key = string();
            skipWs();
            if (pos >= text.length() || text.charAt(pos) != ':') throw error("expected ':'");
            pos++;
            skipWs();
            m.put(key, value(depth + 1));
            skipWs();
            if (pos >= text.length()) throw error("unterminated object");
            char c = text.charAt(pos++);
            if (c == '}') return m;
            if (c != ',') throw error("expected ',' or '}'");
        }
    }

    private List<Object> array(int depth) {
        pos++; // [
        List<Object> list = new ArrayList<>();
        skipWs();
        if (pos < text.length() && text.charAt(pos) == ']') {
            pos++;
            return list;
        }
        while (true) {
            skipWs();
            list.add(value(depth + 1));
            skipWs();
            if (pos >= text.length()) throw error("unterminated array");
            char c = text.charAt(pos++);
            if (c == ']') return list;
            if (c != ',') throw error("expected ',' or ']'");
        }
    }

    private String string() {
        pos++; // opening quote
        int start = pos;
        // Fast path: no escapes.
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c == '"') return text.substring(start, pos++);
            if (c == '\\') break;
            if (c < 0x20) throw error("control character in string");
            pos++;
        }
        StringBuilder sb = new StringBuilder(text.substring(start, pos));
        while (pos < text.length()) {
            char c = text.charAt(pos++);
            if (c == '"') return sb.toString();
            if (c < 0x20) throw error("control character in string");
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (pos >= text.length()) break;
            char e = text.charAt(pos++);
            switch (e) {
                case '"' -> sb.append('"');
                case '\\' -> sb.append('\\');
                case '/' -> sb.append('/');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    if (pos + 4 > text.length()) throw error("truncated \\u escape");
                    int cp = 0;
                    for (int i = 0; i < 4; i++) {
                        int d = Character.digit(text.charAt(pos++), 16);
                        if (d < 0) throw error("bad \\u escape");
                        cp = cp * 16 + d;
                    }
                    sb.append((char) cp);
                }
                default -> throw error("bad escape \\" + e);
            }
        }
        throw error("unterminated string");
    }

    private Object numberLiteral() {
        int start = pos;
        if (text.charAt(pos) == '-') {
            pos++;
            if (text.startsWith("Infinity", pos)) {
                pos += 8;
                return Double.NEGATIVE_INFINITY;
            }
        }
        boolean integral = true;
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c >= '0' && c <= '9') {
                pos++;
            } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
                integral = false;
                pos++;
            } else {
                break;
            }
        }
        String s = text.substring(start, pos);
        try {
            if (integral && s.length() < 19) return Long.parseLong(s);
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw error("bad number '" + s + "'");
        }
    }

    // ---- typed access for config readers -------------------------------------------------------

    /** A number, or transformers' {@code {"__float__": "Infinity"}} form. */
    public static double number(Object v, String what) {
        if (v instanceof Number n) return n.doubleValue();
        if (v instanceof Map<?, ?> m && m.get("__float__") instanceof String s) {
            return switch (s) {
                case "Infinity", "inf" -> Double.POSITIVE_INFINITY;
                case "-Infinity", "-inf" -> Double.NEGATIVE_INFINITY;
                case "NaN", "nan" -> Double.NaN;
                default -> Double.parseDouble(s);
            };
        }
        throw new JsonException(what + " should be a number, found " + describe(v));
    }

    @SuppressWarnings("unchecked")
    public static Map<String, Object> object(Object v, String what) {
        if (v instanceof Map<?, ?> m) return (Map<String, Object>) m;
        throw new JsonException(what + " should be an object, found " + describe(v));
    }

    @SuppressWarnings("unchecked")
    public static List<Object> array(Object v, String what) {
        if (v instanceof List<?> l) return (List<Object>) l;
        throw new JsonException(what + " should be an array, found " + describe(v));
    }

    public static String string(Object v, String what) {
        if (v instanceof String s) return s;
        throw new JsonException(what + " should be a string, found " + describe(v));
    }

    static String describe(Object v) {
        if (v == null) return "null";
        if (v instanceof Map) return "an object";
        if (v instanceof List) return "an array";
        if (v instanceof String s) return "the string \"" + (s.length() > 40 ? s.substring(0, 40) + "…" : s) + "\"";
        return v.toString();
    }

    /** Malformed or unexpected JSON. */
    public static final class JsonException extends RuntimeException {
        public JsonException(String message) {
            super(message);
        }
    }
}
