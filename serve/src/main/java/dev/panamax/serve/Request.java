package dev.panamax.serve;

import dev.panamax.runtime.generate.ChatTemplate;
import dev.panamax.runtime.generate.GenerationOptions;
import dev.panamax.serve.OpenAiServer.ApiError;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A completion request as OpenAI defines it, checked field by field: a known field of the wrong type
 * or out of range is a 400 naming it; unknown fields are ignored, as OpenAI's own server does.
 * Sampling not given falls back to {@link GenerationOptions#defaults()} (llama-server's defaults).
 */
record Request(List<ChatTemplate.Message> messages, String prompt, GenerationOptions options, boolean stream, boolean includeUsage, String maxTokensName) {

    static Request parse(Map<String, Object> body, boolean chat) {
        GenerationOptions o = GenerationOptions.defaults();
        List<ChatTemplate.Message> messages = List.of();
        String prompt = null;
        if (chat) {
            messages = messages(body.get("messages"));
        } else {
            Object p = body.get("prompt");
            if (p instanceof List<?> l && l.size() == 1 && l.get(0) instanceof String s) p = s;
            if (!(p instanceof String s)) throw ApiError.badRequest("prompt", "prompt should be a string");
            prompt = s;
        }
        Object max = body.containsKey("max_completion_tokens") ? body.get("max_completion_tokens") : body.get("max_tokens");
        String maxName = body.containsKey("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        if (max != null) o = o.withMaxTokens(integer(max, maxName, 0, Integer.MAX_VALUE));
        if (body.get("temperature") != null) o = o.withTemperature((float) number(body.get("temperature"), "temperature", 0, 2));
        if (body.get("top_p") != null) {
            double p = number(body.get("top_p"), "top_p", 0, 1);
            if (p == 0) throw ApiError.badRequest("top_p", "top_p must be above 0 and at most 1");
            o = o.withTopP((float) p);
        }
        if (body.get("top_k") != null) o = o.withTopK(integer(body.get("top_k"), "top_k", 0, Integer.MAX_VALUE));
        if (body.get("min_p") != null) o = o.withMinP((float) number(body.get("min_p"), "min_p", 0, 1));
        if (body.get("seed") != null) o = o.withSeed(integerLong(body.get("seed"), "seed"));
        if (body.get("n") != null && integer(body.get("n"), "n", 1, Integer.MAX_VALUE) != 1) {
            throw ApiError.badRequest("n", "n must be 1 here: send one request per choice");
        }
        Object stop = body.get("stop");
        if (stop instanceof String s) {
            o = o.withStop(s.isEmpty() ? List.of() : List.of(s));
        } else if (stop instanceof List<?> l) {
            if (l.size() > 4) throw ApiError.badRequest("stop", "at most 4 stop sequences");
            List<String> stops = new ArrayList<>();
            for (Object x : l) {
                if (!(x instanceof String s)) throw ApiError.badRequest("stop", "stop should be a string or an array of strings");
                if (!s.isEmpty()) stops.add(s);
            }
            o = o.withStop(stops);
        } else if (stop != null) {
            throw ApiError.badRequest("stop", "stop should be a string or an array of strings");
        }
        boolean stream = bool(body.get("stream"), "stream");
        boolean usage = false;
        Object so = body.get("stream_options");
        if (so instanceof Map<?, ?> m) usage = bool(m.get("include_usage"), "stream_options.include_usage");
        else if (so != null) throw ApiError.badRequest("stream_options", "stream_options should be an object");
        if (body.containsKey("model") && body.get("model") != null && !(body.get("model") instanceof String)) {
            throw ApiError.badRequest("model", "model should be a string");
        }
        return new Request(messages, prompt, o, stream, usage, maxName);
    }

    private static List<ChatTemplate.Message> messages(Object v) {
        if (!(v instanceof List<?> list)) throw ApiError.badRequest("messages", "messages should be an array of {role, content} objects");
        if (list.isEmpty()) throw ApiError.badRequest("messages", "messages is empty: send at least one message");
        List<ChatTemplate.Message> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String at = "messages[" + i + "]";
            if (!(list.get(i) instanceof Map<?, ?> m)) throw ApiError.badRequest(at, at + " should be an object with role and content");
            if (!(m.get("role") instanceof String role)) throw ApiError.badRequest(at + ".role", at + ".role should be a string");
            role = switch (role) {
                case "system", "developer" -> "system";
                case "user", "assistant" -> role;
                default -> throw ApiError.badRequest(at + ".role", at + ".role must be system, developer, user or assistant, got '" + role + "'");
            };
            out.add(new ChatTemplate.Message(role, content(m.get("content"), at + ".content")));
        }
        return out;
    }

    /** A string, or an array of {@code {"type": "text", "text": ...}} parts joined (null: empty, as an assistant's tool call). */
    private static String content(Object v, String at) {
        if (v == null) return "";
        if (v instanceof String s) return s;
        if (v instanceof List<?> parts) {
            StringBuilder b = new StringBuilder();
            for (Object p : parts) {
                if (p instanceof Map<?, ?> m && "text".equals(m.get("type")) && m.get("text") instanceof String s) b.append(s);
                else throw ApiError.badRequest(at, at + " parts must be {\"type\": \"text\", \"text\": ...}: this model reads text only");
            }
            return b.toString();
        }
        throw ApiError.badRequest(at, at + " should be a string or an array of text parts");
    }

    static int[] ids(List<?> l, String at) {
        int[] ids = new int[l.size()];
        for (int i = 0; i < ids.length; i++) ids[i] = integer(l.get(i), at + "[" + i + "]", 0, Integer.MAX_VALUE);
        return ids;
    }

    private static double number(Object v, String name, double min, double max) {
        if (!(v instanceof Number n)) throw ApiError.badRequest(name, name + " should be a number");
        double d = n.doubleValue();
        if (!(d >= min && d <= max)) throw ApiError.badRequest(name, name + " must be from " + fmt(min) + " to " + fmt(max) + ", got " + n);
        return d;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    private static int integer(Object v, String name, int min, int max) {
        long x = integerLong(v, name);
        if (x < min || x > max) throw ApiError.badRequest(name, name + " must be " + (max == Integer.MAX_VALUE ? "at least " + min : "from " + min + " to " + max) + ", got " + x);
        return (int) x;
    }

    private static long integerLong(Object v, String name) {
        if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue()) || Double.isInfinite(n.doubleValue())) {
            throw ApiError.badRequest(name, name + " should be an integer");
        }
        return n.longValue();
    }

    private static boolean bool(Object v, String name) {
        if (v == null) return false;
        if (v instanceof Boolean b) return b;
        throw ApiError.badRequest(name, name + " should be true or false");
    }
}
