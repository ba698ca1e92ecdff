package dev.panamax.models;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.json.Json;
import java.util.Map;

/** Typed reads of hyper-parameters (config.json or GGUF metadata) with errors that name the key. */
final class Cfg {
    private Cfg() {}

    static double number(Map<String, Object> c, String key) {
        Object v = c.get(key);
        if (v == null) throw new ModelException("the model's configuration has no '" + key + "'");
        try {
            return Json.number(v, key);
        } catch (Json.JsonException e) {
            throw new ModelException(e.getMessage());
        }
    }

    static double numberOr(Map<String, Object> c, String key, double fallback) {
        return c.get(key) == null ? fallback : number(c, key);
    }

    static int integer(Map<String, Object> c, String key) {
        double d = number(c, key);
        if (d != Math.floor(d) || d < Integer.MIN_VALUE || d > Integer.MAX_VALUE) {
            throw new ModelException("'" + key + "' should be a whole number, found " + d);
        }
        return (int) d;
    }

    static int integerOr(Map<String, Object> c, String key, int fallback) {
        return c.get(key) == null ? fallback : integer(c, key);
    }

    static String stringOr(Map<String, Object> c, String key, String fallback) {
        Object v = c.get(key);
        return v instanceof String s ? s : fallback;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> objectOr(Map<String, Object> c, String key, Map<String, Object> fallback) {
        Object v = c.get(key);
        return v instanceof Map<?, ?> m ? (Map<String, Object>) m : fallback;
    }
}
