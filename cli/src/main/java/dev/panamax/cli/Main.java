package dev.panamax.cli;

import static dev.panamax.cli.Cli.*;

import dev.panamax.runtime.ModelException;
import dev.panamax.simd.Parallel;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code panamax}: the command line — a dispatcher to one class per command ({@link Command}).
 * Errors are one line on stderr and a non-zero exit status (2 for a wrong command line, 1 for a
 * model or file problem); {@code --verbose} adds the stack trace.
 */
public final class Main {

    /** Every command, in the order the help lists them. */
    static final List<Command> COMMANDS = List.of(new GenerateCommand(), new ChatCommand(), new EmbedCommand(), new SearchCommand(),
            new ServeCommand(), new BenchCommand(), new TokenizeCommand(), new ForwardCommand(), new ClassifyCommand(), new InspectCommand(), new ConvertCommand(), new QuantizeCommand());

    private static final Map<String, Command> BY_NAME = new LinkedHashMap<>();

    static {
        for (Command c : COMMANDS) BY_NAME.put(c.name, c);
    }

    /** The top-level help, its command list made from the commands themselves. */
    static final String USAGE = usage();

    private static String usage() {
        StringBuilder b = new StringBuilder("""
                Usage: panamax [--version] [--help] COMMAND [ARGS]

                Panamax runs small transformer and state-space language models on the JVM,
                in pure Java (Vector API kernels, memory-mapped weights, no native code).

                Commands:
                """);
        for (Command c : COMMANDS) b.append(String.format("  %-10s %s%n", c.name, c.summary));
        b.append("""

                MODEL is a .gguf file, a llama2.c .bin or a Hugging Face directory (config.json,
                *.safetensors, tokenizer). `panamax COMMAND --help` explains each command.

                Options:
                  --version      print the version, the Java runtime, the SIMD path in use
                                 (Vector API width, or the scalar path and why) and the thread count
                  --threads N    number of threads for the kernels (default: the number of cores)
                  --verbose      print stack traces with errors
                  -h, --help     this help

                Environment:
                  PANAMAX_SIMD=scalar   run the plain-Java kernels instead of the Vector API
                  JAVA_OPTS             extra JVM options for ./panamax
                """);
        return b.toString();
    }

    private Main() {}

    public static void main(String[] args) {
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        PrintStream err = stderr();
        System.setErr(err); // the library's notes too
        int status = run(args, out, err, System.in);
        out.flush();
        System.exit(status);
    }

    /**
     * Where this process's messages go: the file PANAMAX_STDERR names — ./panamax sets it to the
     * script's own stderr when that is a terminal or a pipe, since the JVM's fd 2 passes through a filter
     * (for the JVM's incubator warning) and lines sent that way could land after the text that follows
     * them on stdout — else fd 2.
     */
    static PrintStream stderr() {
        String direct = System.getenv("PANAMAX_STDERR");
        if (direct != null && !direct.isEmpty()) {
            try {
                return new PrintStream(new java.io.FileOutputStream(direct, true), true, StandardCharsets.UTF_8);
            } catch (IOException | SecurityException e) {
                // not there (a script of another version, a closed fd): fd 2 below
            }
        }
        return new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.err), true, StandardCharsets.UTF_8);
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, out, err, InputStream.nullInputStream());
    }

    /** Runs the command line; returns the exit status. */
    static int run(String[] args, PrintStream out, PrintStream err, InputStream in) {
        boolean verbose = false;
        for (String a : args) if (a.equals("--verbose") || a.equals("-v")) verbose = true;
        try {
            int i = 0;
            for (; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--version", "-V" -> {
                        out.print(versionText());
                        return 0;
                    }
                    case "--help", "-h" -> {
                        out.print(USAGE);
                        return 0;
                    }
                    case "--verbose", "-v" -> { }
                    case "--threads", "-t" -> {
                        if (i + 1 >= args.length) throw new UsageException("--threads needs a number");
                        Parallel.setThreads(threadCount(args[++i]));
                    }
                    default -> {
                        if (a.startsWith("-")) throw new UsageException("unknown option '" + a + "' (see panamax --help)");
                        return command(a, args, i + 1, out, err, in);
                    }
                }
            }
            out.print(USAGE);
            return 0;
        } catch (UsageException e) {
            err.println("panamax: " + e.getMessage());
            return 2;
        } catch (OutputClosed e) {
            return 0; // the reader went away (| head): stop quietly, as a pipeline expects
        } catch (java.nio.charset.CharacterCodingException e) {
            err.println("panamax: the input is not valid UTF-8 (" + e.getMessage() + ")");
            return 1;
        } catch (IOException e) {
            err.println("panamax: " + describe(e));
            if (verbose) e.printStackTrace(err);
            return 1;
        } catch (java.io.UncheckedIOException e) {
            err.println("panamax: " + describe(e.getCause()));
            if (verbose) e.printStackTrace(err);
            return 1;
        } catch (ModelException | IllegalArgumentException e) {
            err.println("panamax: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            if (verbose) e.printStackTrace(err);
            return 1;
        } catch (OutOfMemoryError e) {
            err.println("panamax: out of memory (" + e.getMessage() + "); give the JVM more with JAVA_OPTS=-Xmx8g");
            return 1;
        } catch (RuntimeException e) {
            err.println("panamax: internal error: " + e + (verbose ? "" : " (run with --verbose for the stack trace)"));
            if (verbose) e.printStackTrace(err);
            return 1;
        }
    }

    private static int command(String name, String[] argv, int from, PrintStream out, PrintStream err, InputStream in) throws IOException {
        Command c = BY_NAME.get(name);
        if (c == null) throw new UsageException("unknown command '" + name + "' (see panamax --help)");
        Args a = c.parse(argv, from);
        if (a.has("--help")) {
            out.print(c.help());
            return 0;
        }
        return c.run(a, out, err, in);
    }
}
