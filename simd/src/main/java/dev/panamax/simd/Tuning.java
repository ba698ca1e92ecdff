package dev.panamax.simd;

import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every {@code -Dpanamax.*} system property the library reads goes through here; none is needed.
 * What a model computes, and where, is set by {@code LoadOptions} (quantize type, KV cache, device,
 * threads...), never by a property. The properties are benchmark switches of two kinds:
 *
 * <ul>
 *   <li><b>Speed switches</b> ({@link #speed}, {@link #flag}) change how fast, never what: the pool's
 *       size and spinning, block sizes that only reorder independent work, where the weights live.
 *   <li><b>Kernel experiments</b> ({@link #experiment}, {@link #experimentFlag}) move the crossover
 *       between two kernels that add in different orders, so the last bits of a result move with
 *       them. They are read only when {@code -Dpanamax.experiments=true} is given too (the tools that
 *       compare kernels say so); without it the shipped default holds and a one-line note on stderr
 *       says the switch was ignored. A result is thus a function of the input, the {@code LoadOptions}
 *       and the path ({@link Simd#kernels}: the Vector API or the scalar twin) — never of a stray
 *       property.
 * </ul>
 *
 * The table of all of them, with their defaults, is in {@code docs/kernels.md} ("Tuning switches").
 */
public final class Tuning {
    /** The property that unlocks the kernel experiments. */
    public static final String EXPERIMENTS = "panamax.experiments";

    private static final Set<String> NOTED = ConcurrentHashMap.newKeySet();

    private Tuning() {}

    /** A speed switch: {@code -Dpanamax.NAME}, an integer, else {@code fallback}. */
    public static int speed(String name, int fallback) {
        return toInt(name, parse(name, System.getProperty("panamax." + name), fallback));
    }

    /** A speed switch that is a long. */
    public static long speed(String name, long fallback) {
        return parse(name, System.getProperty("panamax." + name), fallback);
    }

    /** A speed switch that is a word ({@code null} when not given). */
    public static String word(String name) {
        String v = System.getProperty("panamax." + name);
        return v == null || v.isBlank() ? null : v.trim().toLowerCase(Locale.ROOT);
    }

    /** A speed switch that is text, as given ({@code null} when not given): a directory, say. */
    public static String text(String name) {
        String v = System.getProperty("panamax." + name);
        return v == null || v.isBlank() ? null : v;
    }

    /** A speed switch that is on with {@code -Dpanamax.NAME=true} (and off otherwise). */
    public static boolean flag(String name) {
        return Boolean.parseBoolean(System.getProperty("panamax." + name, "false").trim());
    }

    /** A speed switch that is on unless {@code -Dpanamax.NAME=false}. */
    public static boolean flagOn(String name) {
        return !"false".equalsIgnoreCase(System.getProperty("panamax." + name, "true").trim());
    }

    /** A kernel experiment: {@code -Dpanamax.NAME} where experiments are on, else {@code fallback}. */
    public static int experiment(String name, int fallback) {
        String v = System.getProperty("panamax." + name);
        if (v == null || !experimentsOn(name)) return fallback;
        return toInt(name, parse(name, v, fallback));
    }

    /** A kernel experiment that is a flag, off unless {@code -Dpanamax.NAME=true} with experiments on. */
    public static boolean experimentFlag(String name) {
        String v = System.getProperty("panamax." + name);
        return v != null && experimentsOn(name) && Boolean.parseBoolean(v.trim());
    }

    /** A kernel experiment that is a word ({@code null} when not given or not on). */
    public static String experimentWord(String name) {
        String v = System.getProperty("panamax." + name);
        if (v == null || v.isBlank() || !experimentsOn(name)) return null;
        return v.trim().toLowerCase(Locale.ROOT);
    }

    private static boolean experimentsOn(String name) {
        if (Boolean.parseBoolean(System.getProperty(EXPERIMENTS, "false").trim())) return true;
        if (NOTED.add(name)) {
            System.err.println("panamax: ignoring -Dpanamax." + name + ": it changes results in the last bits and is read only with -D"
                    + EXPERIMENTS + "=true");
        }
        return false;
    }

    private static int toInt(String name, long v) {
        if (v != (int) v) throw new IllegalArgumentException("-Dpanamax." + name + " is out of range: " + v);
        return (int) v;
    }

    private static long parse(String name, String v, long fallback) {
        if (v == null || v.isBlank()) return fallback;
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-Dpanamax." + name + " must be an integer, got '" + v + "'");
        }
    }
}
