package dev.panamax.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A subcommand's command line: flags that take a value, switches, and positional arguments.
 * Unknown flags and missing values are {@link Cli.UsageException}s naming the flag.
 */
final class Args {
    final List<String> positional = new ArrayList<>();
    private final Map<String, List<String>> values = new HashMap<>();
    private final Set<String> switches = new java.util.HashSet<>();

    static Args parse(String command, String[] argv, int from, Set<String> valued, Set<String> switchNames) {
        Args a = new Args();
        for (int i = from; i < argv.length; i++) {
            String s = argv[i];
            if (s.equals("-k")) s = "--top"; // the customary short name for "how many results"
            if (s.equals("--")) {
                for (i++; i < argv.length; i++) a.positional.add(argv[i]);
                break;
            }
            if (s.startsWith("--") && s.length() > 2) {
                String name = s, value = null;
                int eq = s.indexOf('=');
                if (eq > 0) {
                    name = s.substring(0, eq);
                    value = s.substring(eq + 1);
                }
                if (valued.contains(name)) {
                    if (value == null) {
                        if (i + 1 >= argv.length) throw new Cli.UsageException(name + " needs a value (see panamax " + command + " --help)");
                        value = argv[++i];
                    }
                    a.values.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
                } else if (switchNames.contains(name) && value == null) {
                    a.switches.add(name);
                } else {
                    throw new Cli.UsageException("unknown option '" + s + "' for " + command + " (see panamax " + command + " --help)");
                }
            } else if (s.equals("-h")) {
                a.switches.add("--help");
            } else {
                a.positional.add(s);
            }
        }
        return a;
    }

    boolean has(String name) {
        return switches.contains(name);
    }

    String value(String name, String fallback) {
        List<String> v = values.get(name);
        return v == null ? fallback : v.get(v.size() - 1);
    }

    List<String> all(String name) {
        return values.getOrDefault(name, List.of());
    }

    int integer(String name, int fallback) {
        String v = value(name, null);
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new Cli.UsageException(name + " needs a whole number, got '" + v + "'");
        }
    }

    long longValue(String name, long fallback) {
        String v = value(name, null);
        if (v == null) return fallback;
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new Cli.UsageException(name + " needs a whole number, got '" + v + "'");
        }
    }

    float number(String name, float fallback) {
        String v = value(name, null);
        if (v == null) return fallback;
        try {
            return Float.parseFloat(v.trim());
        } catch (NumberFormatException e) {
            throw new Cli.UsageException(name + " needs a number, got '" + v + "'");
        }
    }

    /** "1,2,3" → {1, 2, 3}. */
    static int[] ids(String flag, String list) {
        String[] parts = list.split("[,\\s]+");
        List<Integer> out = new ArrayList<>();
        for (String p : parts) {
            if (p.isEmpty()) continue;
            try {
                out.add(Integer.parseInt(p));
            } catch (NumberFormatException e) {
                throw new Cli.UsageException(flag + " needs comma-separated token ids, got '" + p + "'");
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }
}
