package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A fresh process runs the lane-order twins of the vector kernels while those warm up, then
 * switches ({@code simd/WarmingKernels}): what a user gets must not depend on when — or whether —
 * it switched. The same greedy generation three ways, as a user starts it: the warm-up starting
 * at once (it switches during the run), never within the run (the twins throughout), and no twins
 * (the vector kernels from the first call); the ids must be the same.
 */
class TwinWarmUpIT {

    /** The ids line of a 480-token greedy generation, and what the warm-up logged. */
    private record Run(String ids, String log) {}

    private static Run run(String javaOpts) throws Exception {
        return run(javaOpts + " -Dpanamax.twinsBelowTokens=100000", 480);
    }

    private static Run run(String javaOpts, int tokens, String... more) throws Exception {
        Path script = Path.of("..", "panamax").toAbsolutePath().normalize();
        List<String> command = new java.util.ArrayList<>(List.of("bash", script.toString(), "generate", "In the beginning", "--max-tokens", String.valueOf(tokens),
                "--temperature", "0", "--print-ids", "--layout-cache", "off"));
        command.addAll(List.of(more));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("PANAMAX_AOT", "off");
        pb.environment().put("JAVA_OPTS", javaOpts + " -Dpanamax.twinWarmUpLog=true");
        Path log = java.nio.file.Files.createTempFile("twin-warm-up", ".log");
        pb.redirectError(log.toFile());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "generate ended");
        assertEquals(0, p.exitValue(), out);
        List<String> lines = out.lines().toList();
        String ids = lines.getLast();
        assertTrue(ids.matches("[0-9]+(,[0-9]+)+"), "the last line is the ids: " + ids);
        String warmUp = java.nio.file.Files.readString(log);
        java.nio.file.Files.delete(log);
        return new Run(ids, warmUp);
    }

    @Test
    void theIdsDoNotDependOnWhenTheKernelsSwitch() throws Exception {
        Run switching = run("-Dpanamax.twinWarmUpDelayMillis=0");
        Run twins = run("-Dpanamax.twinWarmUpDelayMillis=60000");
        Run vector = run("-Dpanamax.twinWarmUp=false");
        assertTrue(switching.ids().split(",").length > 480, "prompt and 480 generated ids: " + switching.ids());
        assertTrue(switching.log().contains("on the vector kernels"), "kernels switched during the run:\n" + switching.log());
        assertTrue(!twins.log().contains("on the vector kernels"), "no kernel switched within the run:\n" + twins.log());
        assertEquals(vector.ids(), twins.ids(), "the twins throughout against the vector kernels throughout");
        assertEquals(vector.ids(), switching.ids(), "switched during the run against the vector kernels throughout");
    }

    /**
     * The quantized decode kernels' twins ({@code quant/InterleavedTwins}): the embedded model
     * quantized to Q8_0, Q4_0 and Q6_K at load, 480 tokens switching during the run against the
     * vector kernels throughout.
     */
    @Test
    void quantizedKernelsSwitchWithTheSameIds() throws Exception {
        for (String type : new String[] {"q8_0", "q4_0", "q6_k"}) {
            // The deadline switches every family 0.8 s in, warm or not, should the JIT not have compiled
            // this family's vector kernel by then (on a busy two-core machine it may take the whole run).
            Run switching = run("-Dpanamax.twinWarmUpDelayMillis=0 -Dpanamax.twinsBelowTokens=100000 -Dpanamax.twinWarmUpDeadlineMillis=800",
                    480, "--quantize", type);
            Run vector = run("-Dpanamax.twinWarmUp=false", 480, "--quantize", type);
            assertTrue(switching.log().contains(type + " on the vector kernels") || switching.log().contains("every family on the vector kernels"),
                    type + ": its family switched during the run:\n" + switching.log());
            assertEquals(vector.ids(), switching.ids(), type + ": switched during the run against the vector kernels throughout");
        }
    }

    /**
     * On two processors or fewer a generation of 300 tokens or more skips the twins (their warm-up
     * shares the machine with the model and costs more than it gives, docs/kernels.md): no warm-up
     * round runs even when told to start at once. With more processors the twins run.
     */
    @Test
    void longGenerationsSkipTheTwinsOnTwoCores() throws Exception {
        Run run = run("-Dpanamax.twinWarmUpDelayMillis=0", 300);
        boolean rounds = run.log().contains("panamax warm-up");
        if (Runtime.getRuntime().availableProcessors() <= 2) assertTrue(!rounds, "no warm-up rounds on two cores:\n" + run.log());
        else assertTrue(rounds, "warm-up rounds with idle cores:\n" + run.log());
    }
}
