package dev.panamax.models;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.json.Json;
import java.util.Map;

/**
 * Typed reads of hyper-parameters (config.json or GGUF metadata) with errors that name the key.
 * Every integer read here is checked: a size or count must be at least 1 (except the few keys
 * where 0 means "none", {@link #MAY_BE_ZERO}) and at most {@link #MAX_SIZE}, a context length at
 * most 2³¹ − 1; a number must not be NaN, and an epsilon, a RoPE base or a scaling factor must be
 * finite and non-negative. A file that lies about them is refused at load, by name, before any
 * division or allocation uses them.
 */
final class Cfg {
    private Cfg() {}

    /** The largest size or count a hyper-parameter may have (2²⁴: far above any real model's). */
    static final int MAX_SIZE = 1 << 24;

    /** Keys (by their last part) whose value may be 0, meaning "none". */
    private static final java.util.Set<String> MAY_BE_ZERO = java.util.Set.of("sliding_window", "attention.sliding_window", "num_experts",
            "shared_expert_intermediate_size");

    /** Context lengths: any positive int (buffers grow with the sequence, never to this size at once). */
    private static boolean isContext(String key) {
        return key.endsWith("context_length") || key.endsWith("max_position_embeddings") || key.endsWith("n_positions")
                || key.endsWith("original_context_length");
    }

    private static boolean isNonNegativeReal(String key) {
        return key.contains("eps") || key.contains("freq_base") || key.contains("theta") || key.contains("factor");
    }

    static double number(Map<String, Object> c, String key) {
        Object v = c.get(key);
        if (v == null) throw new ModelException("the model's configuration has no '" + key + "'");
        double d;
        try {
            d = Json.number(v, key);
        } catch (Json.JsonException e) {
            throw new ModelException(e.getMessage());
        }
        if (Double.isNaN(d)) throw new ModelException("'" + key + "' is NaN");
        if (isNonNegativeReal(key) && !(d >= 0 && d < Double.POSITIVE_INFINITY)) {
            throw new ModelException("'" + key + "' must be a finite number of 0 or more, found " + d);
        }
        return d;
    }

    static double numberOr(Map<String, Object> c, String key, double fallback) {
        return c.get(key) == null ? fallback : number(c, key);
    }

    static int integer(Map<String, Object> c, String key) {
        double d = number(c, key);
        if (d != Math.floor(d)) throw new ModelException("'" + key + "' should be a whole number, found " + d);
        int least = MAY_BE_ZERO.stream().anyMatch(z -> key.equals(z) || key.endsWith("." + z)) ? 0 : 1;
        long most = isContext(key) ? Integer.MAX_VALUE : MAX_SIZE;
        if (d < least || d > most) {
            String found = Math.abs(d) < 1e18 ? Long.toString((long) d) : Double.toString(d);
            throw new ModelException("'" + key + "' must be " + (d < least ? "at least " + least : "at most " + most) + ", found " + found);
        }
        return (int) d;
    }

    /** {@code a · b} for hyper-parameters whose product is a size: an error naming both when it is more than {@link #MAX_SIZE}. */
    static int product(int a, String aKey, int b, String bKey) {
        long p = (long) a * b;
        if (p > MAX_SIZE) throw new ModelException("'" + aKey + "' × '" + bKey + "' (" + a + " × " + b + ") is more than any model's (at most " + MAX_SIZE + ")");
        return (int) p;
    }

    /** {@code a / b} for hyper-parameters that must divide: an error naming both keys when they do not. */
    static int divide(int a, String aKey, int b, String bKey) {
        if (a % b != 0) throw new ModelException("'" + aKey + "' (" + a + ") is not a multiple of '" + bKey + "' (" + b + ")");
        return a / b;
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
