package dev.panamax.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A JVM started without {@code jdk.incubator.vector} runs the scalar kernels and says so once, through
 * System.Logger — a fresh JVM, since the choice is made once per process.
 */
class ScalarFallbackTest {

    /** What the child JVM runs: two kernel look-ups and the path they took. */
    public static void main(String[] args) {
        Simd.kernels();
        Simd.kernels();
        System.out.println(Simd.description());
    }

    @Test
    void withoutTheVectorModuleTheScalarPathRunsAndIsLoggedOnce() throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"), ScalarFallbackTest.class.getName())).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), err);
        assertTrue(out.startsWith("scalar"), out);
        String note = "Panamax runs its scalar kernels (same results, slower): jdk.incubator.vector is not in this JVM";
        assertEquals(1, err.split(Pattern.quote(note), -1).length - 1, "said exactly once:\n" + err);
    }
}
