package dev.panamax.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One {@code panamax} command: its name, what it takes, what it does, its options — declared once,
 * from which both its parser ({@link #parse}) and its help ({@link #help}) are made — and
 * {@link #run}. {@code --help} and {@code --verbose} every command takes.
 */
abstract class Command {
    /** The command's word, e.g. "generate". */
    final String name;
    /** What follows the name in its usage line, e.g. "[MODEL] [PROMPT] [options]". */
    final String synopsis;
    /** One line for the top-level help. */
    final String summary;
    /** What it does, a paragraph or two. */
    final String description;
    final List<Option> options;

    Command(String name, String synopsis, String summary, String description, List<Option> options) {
        this.name = name;
        this.synopsis = synopsis;
        this.summary = summary;
        this.description = description;
        this.options = List.copyOf(options);
    }

    /** Runs the command on its parsed arguments; returns the exit status. */
    abstract int run(Args a, PrintStream out, PrintStream err, InputStream in) throws IOException;

    /** The arguments after the command's name, checked against the declared options. */
    Args parse(String[] argv, int from) {
        Set<String> valued = new HashSet<>(), switches = new HashSet<>(Set.of("--help", "--verbose"));
        for (Option o : options) (o.value() == null ? switches : valued).add(o.name());
        return Args.parse(name, argv, from, valued, switches);
    }

    private static final int COLUMN = 24, WIDTH = 100;

    /** One option's lines: its name and value, then its help from column {@value #COLUMN}, wrapped at {@value #WIDTH}. */
    private static void option(StringBuilder b, String head, String help) {
        StringBuilder line = new StringBuilder("  " + head);
        if (line.length() >= COLUMN - 1) {
            b.append(line).append('\n');
            line.setLength(0);
        }
        for (String paragraph : help.strip().split("\n")) {
            for (String word : paragraph.strip().split(" +")) {
                if (line.length() > COLUMN && line.length() + 1 + word.length() > WIDTH) {
                    b.append(line).append('\n');
                    line.setLength(0);
                }
                if (line.length() < COLUMN) line.append(" ".repeat(COLUMN - line.length()));
                else line.append(' ');
                line.append(word);
            }
            b.append(line).append('\n');
            line.setLength(0);
        }
    }

    /** The help text, generated from the declarations. */
    String help() {
        StringBuilder b = new StringBuilder("Usage: panamax ").append(name).append(' ').append(synopsis).append("\n\n");
        b.append(description.strip()).append('\n');
        b.append("\nOptions:\n");
        for (Option o : options) option(b, o.name() + (o.value() == null ? "" : " " + o.value()), o.help());
        option(b, "--verbose", "stack traces with errors");
        return b.toString();
    }
}
