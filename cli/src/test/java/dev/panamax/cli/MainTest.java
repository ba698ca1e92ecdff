package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class MainTest {

    private record Result(int status, String out, String err) {}

    private static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int status = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void versionNamesTheSimdPathThisJvmRuns() {
        Result r = run("--version");
        assertEquals(0, r.status());
        assertTrue(r.out().startsWith("Panamax 0.2.0\n"), r.out());
        // Surefire runs this module with --add-modules jdk.incubator.vector on an AVX-512/AVX2 machine.
        assertTrue(r.out().contains("SIMD: vector (Vector API, "), r.out());
        assertTrue(r.out().matches("(?s).*Threads: \\d+\\n"), r.out());
    }

    @Test
    void unknownCommandIsOneLineAndStatusTwo() {
        Result r = run("frobnicate");
        assertEquals(2, r.status());
        assertEquals("panamax: unknown command 'frobnicate' (see panamax --help)\n", r.err());
        assertEquals("", r.out());
    }

    @Test
    void badThreadCountIsAClearError() {
        Result r = run("--threads", "zero", "--version");
        assertEquals(2, r.status());
        assertEquals("panamax: --threads needs a whole number, got 'zero'\n", r.err());
    }

    @Test
    void helpExplainsTheOptions() {
        Result r = run("--help");
        assertEquals(0, r.status());
        assertTrue(r.out().contains("--threads N"));
        assertTrue(r.out().contains("PANAMAX_SIMD=scalar"));
    }

    @Test
    void deviceChoicesAreCheckedAndExplained() {
        Result bad = run("generate", "--device", "tpu", "--max-tokens", "1");
        assertEquals(2, bad.status());
        assertEquals("panamax: --device must be cpu, cuda or auto, got 'tpu'\n", bad.err());
        String why = new dev.panamax.cuda.CudaBackend().unavailableReason();
        org.junit.jupiter.api.Assumptions.assumeTrue(why != null, "this machine has a usable GPU");
        Result cuda = run("generate", "--device", "cuda", "--max-tokens", "1");
        assertEquals(1, cuda.status());
        assertTrue(cuda.err().contains("cannot run on cuda: " + why), cuda.err());
        Result auto = run("generate", "--device", "auto", "--max-tokens", "2", "--temperature", "0");
        assertEquals(0, auto.status(), auto.err());
        assertTrue(auto.err().contains("panamax: device: cpu (cuda: " + why + ")"), auto.err());
        assertTrue(auto.out().startsWith("In the beginning"), auto.out());
        // Encoders take --device too (embed): auto keeps the CPU and says why, cuda is the error.
        String bert = java.nio.file.Path.of(System.getProperty("panamax.shared", "../../shared")).resolve("fixtures/hf/bert").toString();
        Result embedAuto = run("embed", bert, "--ids", "5,6,7", "--device", "auto");
        assertEquals(0, embedAuto.status(), embedAuto.err());
        assertTrue(embedAuto.err().contains("panamax: device: cpu (cuda: " + why + ")"), embedAuto.err());
        assertEquals(64, embedAuto.out().strip().split(" ").length, embedAuto.out());
        Result embedCuda = run("embed", bert, "--ids", "5,6,7", "--device", "cuda");
        assertEquals(1, embedCuda.status());
        assertTrue(embedCuda.err().contains("cannot run on cuda: " + why), embedCuda.err());
    }

    /** Help is made from each command's declared options, and the parser takes exactly those: they cannot drift apart. */
    @Test
    void everyCommandsHelpListsExactlyTheOptionsItTakes() {
        Result top = run("--help");
        for (Command c : Main.COMMANDS) {
            assertTrue(top.out().contains("  " + c.name + " "), "the top-level help lists " + c.name);
            Result help = run(c.name, "--help");
            assertEquals(0, help.status(), c.name);
            assertEquals(c.help(), help.out());
            for (Option o : c.options) {
                assertTrue(help.out().contains("  " + o.name()), c.name + " --help names " + o.name());
                String[] argv = o.value() == null ? new String[] {o.name()} : new String[] {o.name(), "x"};
                c.parse(argv, 0); // accepted: no UsageException
            }
            Result unknown = run(c.name, "--no-such-option");
            assertEquals(2, unknown.status(), c.name);
            assertEquals("panamax: unknown option '--no-such-option' for " + c.name + " (see panamax " + c.name + " --help)\n", unknown.err());
        }
    }
}
