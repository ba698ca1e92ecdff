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
