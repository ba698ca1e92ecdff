package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The {@code ./panamax} script itself, started as a user starts it (after the jar is built: a
 * failsafe test). A signal to the script must end the JVM too: the script used to run java inside a
 * pipeline (to drop the incubator warning), and SIGTERM to the script's pid left the JVM running.
 */
class LauncherIT {

    /**
     * stdout and stderr into one pipe, as {@code 2>&1 | less} or a terminal has them: the "loaded" line
     * comes whole before the prompt's echo, and the JVM's incubator warning not at all. Its stderr passed
     * through the script's filter while stdout did not, and about one run in four printed "In the
     * beginningpanamax: loaded …".
     */
    @org.junit.jupiter.api.Test
    void messagesKeepTheirOrderWithTheText() throws Exception {
        Path script = Path.of("..", "panamax").toAbsolutePath().normalize();
        for (int round = 0; round < 6; round++) { // the old race showed in about one run of four
            ProcessBuilder pb = new ProcessBuilder("bash", script.toString(), "generate", "In the beginning", "--max-tokens", "4", "--temperature", "0")
                    .redirectErrorStream(true);
            pb.environment().put("PANAMAX_AOT", "off");
            Process p = pb.start();
            p.getOutputStream().close();
            String all = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "ended");
            assertEquals(0, p.exitValue(), all);
            List<String> lines = all.lines().toList();
            int loaded = -1, text = -1;
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i).startsWith("panamax: loaded ")) loaded = i;
                if (lines.get(i).startsWith("In the beginning")) text = i;
            }
            assertTrue(loaded >= 0 && text > loaded, "loaded, then the text, each on its own line:\n" + all);
            assertTrue(!lines.get(text).contains("panamax:"), "no message inside the text:\n" + all);
            assertTrue(!all.contains("incubator"), "the incubator warning dropped:\n" + all);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"TERM", "INT", "HUP"})
    void aSignalToTheLauncherEndsTheJvm(String signal) throws Exception {
        Path script = Path.of("..", "panamax").toAbsolutePath().normalize();
        assertTrue(Files.isExecutable(script), script + " is executable");
        // As from a terminal: a job a non-interactive shell starts in the background (a CI run, say)
        // inherits SIGINT ignored, and a shell cannot trap a signal that was ignored when it started;
        // GNU env puts it back to the default first, where it can.
        List<String> command = new java.util.ArrayList<>(List.of("bash", script.toString(), "chat"));
        if (new ProcessBuilder("env", "--default-signal=INT", "true").start().waitFor() == 0) command.addAll(0, List.of("env", "--default-signal=INT"));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("PANAMAX_AOT", "off");
        Process launcher = pb.start(); // stdin stays open: chat waits for a line
        BufferedReader out = new BufferedReader(new InputStreamReader(launcher.getInputStream(), StandardCharsets.UTF_8));
        String line;
        StringBuilder seen = new StringBuilder();
        while ((line = out.readLine()) != null && !line.contains("chatting with")) seen.append(line).append('\n');
        assertTrue(line != null, "chat started: " + seen);
        List<ProcessHandle> jvms = launcher.descendants().filter(p -> p.info().command().orElse("").endsWith("java")).toList();
        assertEquals(1, jvms.size(), "one JVM under the launcher");
        ProcessHandle jvm = jvms.getFirst();
        new ProcessBuilder("kill", "-" + signal, Long.toString(launcher.pid())).start().waitFor();
        assertTrue(launcher.waitFor(30, TimeUnit.SECONDS), "the launcher ended");
        jvm.onExit().get(30, TimeUnit.SECONDS);
        assertTrue(!jvm.isAlive(), "the JVM ended with the launcher");
        assertTrue(launcher.exitValue() != 0, "ended by a signal: " + launcher.exitValue());
    }
}
