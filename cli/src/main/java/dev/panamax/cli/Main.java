package dev.panamax.cli;

import dev.panamax.simd.Parallel;
import dev.panamax.simd.Simd;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.Properties;

/**
 * {@code panamax}: the command line. Errors are one line on stderr and a non-zero exit status;
 * {@code --verbose} adds the stack trace.
 */
public final class Main {

    static final String USAGE = """
            Usage: panamax [--version] [--help] [--verbose] [--threads N]

            Panamax runs small transformer and state-space language models on the JVM,
            in pure Java (Vector API kernels, memory-mapped weights, no native code).

            Options:
              --version      print the version, the Java runtime, the SIMD path in use
                             (Vector API width, or the scalar path and why) and the thread count
              --threads N    number of threads for the kernels (default: the number of cores)
              --verbose      print stack traces with errors
              -h, --help     this help

            Environment:
              PANAMAX_SIMD=scalar   run the plain-Java kernels instead of the Vector API
              JAVA_OPTS             extra JVM options for ./panamax
            """;

    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the command line; returns the exit status. */
    static int run(String[] args, PrintStream out, PrintStream err) {
        boolean verbose = false;
        try {
            boolean version = false;
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--version", "-V" -> version = true;
                    case "--help", "-h" -> {
                        out.print(USAGE);
                        return 0;
                    }
                    case "--verbose", "-v" -> verbose = true;
                    case "--threads", "-t" -> {
                        if (i + 1 >= args.length) throw new UsageException("--threads needs a number");
                        Parallel.setThreads(positiveInt("--threads", args[++i]));
                    }
                    default -> throw new UsageException(a.startsWith("-")
                            ? "unknown option '" + a + "' (see panamax --help)"
                            : "unknown command '" + a + "' (see panamax --help)");
                }
            }
            if (version) {
                out.print(versionText());
                return 0;
            }
            out.print(USAGE);
            return 0;
        } catch (UsageException e) {
            err.println("panamax: " + e.getMessage());
            return 2;
        } catch (RuntimeException e) {
            err.println("panamax: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            if (verbose) e.printStackTrace(err);
            return 1;
        }
    }

    static String versionText() {
        return "Panamax " + version() + "\n"
                + "Java " + System.getProperty("java.runtime.version") + " (" + System.getProperty("java.vendor") + "), "
                + System.getProperty("os.name") + " " + System.getProperty("os.arch") + "\n"
                + "SIMD: " + Simd.description() + "\n"
                + "Threads: " + Parallel.threads() + "\n";
    }

    static String version() {
        try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
            if (in == null) return "unknown";
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    static int positiveInt(String flag, String value) {
        try {
            int v = Integer.parseInt(value.trim());
            if (v < 1) throw new UsageException(flag + " must be at least 1, got " + value);
            return v;
        } catch (NumberFormatException e) {
            throw new UsageException(flag + " needs a whole number, got '" + value + "'");
        }
    }

    /** A mistake in the command line: reported as one line, exit status 2. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }
}
