package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.cli.GenerateCommandTest.Result;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The command line's answers to bad numbers, bad paths and a reader that goes away: one line, the right status. */
class ReliabilityCommandTest {

    static Result run(String stdin, String... args) {
        return GenerateCommandTest.run(stdin, args);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "--temperature|-1|--temperature must be 0 (greedy) or more, got -1",
            "--top-p|2|--top-p must be above 0 and at most 1, got 2",
            "--max-tokens|-1|--max-tokens must be 0 or more, got -1",
            "--min-p|1|--min-p must be at least 0 and below 1, got 1",
            "--top-k|-5|--top-k must be 0 (off) or more, got -5",
            "--repeat-penalty|0|--repeat-penalty must be above 0 (1 = off), got 0",
            "--temperature|NaN|--temperature must be 0 (greedy) or more, got NaN",
            "--threads|100000|--threads 100000 is more than",
    })
    void aBadOptionIsACommandLineErrorNamingTheOption(String option, String value, String message) {
        // Before: exit 1 with the API's field names ("maxTokens must be >= 0"); --threads 100000 started 100000 threads.
        Result r = run("", "generate", "hi", option, value);
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().startsWith("panamax: " + message), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void serveSaysWhatIsWrongWithItsFlagsAndWhenItsPortIsTaken() throws Exception {
        Result r = run("", "serve", "--port", "99999");
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("--port must be 0 to 65535, got '99999'"), r.err());
        r = run("", "serve", "--parallel", "0");
        assertEquals(2, r.status(), r.err());
        r = run("", "serve", "--warmup", "-1");
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("--warmup must be between 0 and 600 seconds"), r.err());
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            r = run("", "serve", "--port", Integer.toString(taken.getLocalPort()));
            assertEquals(1, r.status(), r.err());
            assertTrue(r.err().contains("cannot listen on 127.0.0.1:" + taken.getLocalPort()), r.err());
        }
    }

    @Test
    void anEmptyPromptGeneratesFromBos() {
        // Before: "" was taken for the model path (the current directory) and failed on config.json.
        Result r = run("", "generate", "", "--temperature", "0", "--max-tokens", "8", "--print-ids");
        assertEquals(0, r.status(), r.err());
        String ids = r.out().strip().lines().reduce((a, b) -> b).orElseThrow();
        assertTrue(ids.startsWith("1,") && ids.split(",").length == 9, ids);
    }

    @Test
    void aHugeMaxTokensRunsToTheContext() {
        // Before: NegativeArraySizeException (prompt + max tokens overflowed an int).
        Result r = run("", "generate", "hi", "--max-tokens", "2147483647", "--temperature", "0");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.err().contains("stopped by context") || r.err().contains("stopped by eos"), r.err());
    }

    @Test
    void anUnwritableOutputFileSaysWhy(@TempDir Path tmp) {
        // Before: "panamax: /nonexistent/dir/x.f32" and nothing else.
        Result r = run("", "forward", GenerateCommandTest.kjv().toString(), "--ids", "1,2", "--out", "/nonexistent/dir/x.f32");
        assertEquals(1, r.status());
        assertEquals("panamax: cannot write --out /nonexistent/dir/x.f32: the directory /nonexistent/dir does not exist", r.err().strip());
        Result dir = run("", "forward", GenerateCommandTest.kjv().toString(), "--ids", "1,2", "--out", tmp.toString());
        assertEquals("panamax: cannot write --out " + tmp + ": it is a directory", dir.err().strip());
    }

    @Test
    void aModelPathThatIsNotAFileSaysSo() {
        Result r = run("", "generate", "/dev/null", "hi");
        assertEquals(1, r.status());
        assertTrue(r.err().contains("/dev/null: not a regular file or a directory"), r.err());
    }

    @Test
    void inspectRunsTheLoadersChecks(@TempDir Path tmp) throws Exception {
        // Before: inspect said nothing was wrong with a file that generate rejects.
        Path gguf = tmp.resolve("kjv.gguf");
        assertEquals(0, run("", "convert", GenerateCommandTest.kjv().toString(), gguf.toString(), "--type", "q8_0").status());
        Result ok = run("", "inspect", gguf.toString());
        assertEquals(0, ok.status(), ok.err());
        assertTrue(ok.out().strip().endsWith("valid: loads as llama (context 512, vocabulary 2048)"), ok.out());
        // The same file without one layer's ffn_down.weight.
        byte[] all = Files.readAllBytes(gguf);
        String renamed = new String(all, StandardCharsets.ISO_8859_1).replace("blk.3.ffn_down.weight", "blk.3.ffn_dawn.weight");
        Path broken = Files.write(tmp.resolve("broken.gguf"), renamed.getBytes(StandardCharsets.ISO_8859_1));
        Result bad = run("", "inspect", broken.toString());
        assertEquals(1, bad.status());
        assertTrue(bad.err().contains("blk.3.ffn_down.weight"), bad.err());
        assertTrue(bad.out().contains("blk.3.ffn_dawn.weight"), "what was read is printed first");
        Result gen = run("", "generate", broken.toString(), "hi");
        assertEquals(bad.err(), gen.err(), "inspect and generate reject it alike");
    }

    @Test
    void generationStopsWhenStandardOutputIsClosed() {
        // Before: `panamax generate ... | head -c 10` generated on to the end of the context.
        AtomicInteger writes = new AtomicInteger();
        OutputStream closedAfterTenBytes = new OutputStream() {
            int bytes;

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                writes.incrementAndGet();
                bytes += len;
                if (bytes > 10) throw new IOException("Broken pipe");
            }
        };
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(new String[] {"generate", "In the beginning", "--max-tokens", "400", "--temperature", "0"},
                new PrintStream(closedAfterTenBytes, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                new ByteArrayInputStream(new byte[0]));
        assertEquals(0, status, err.toString(StandardCharsets.UTF_8));
        assertTrue(writes.get() < 10, "stopped after " + writes.get() + " writes");
        assertTrue(!err.toString(StandardCharsets.UTF_8).contains("generated"), "no summary after the reader left: " + err);
    }

    @Test
    void stopStringsUnderstandEscapes() {
        assertEquals("\n\n", Cli.unescape("\\n\\n"));
        assertEquals("a\tb\\c\\x", Cli.unescape("a\\tb\\\\c\\x"));
        Result r = run("", "generate", "In the beginning", "--temperature", "0", "--max-tokens", "30", "--stop", "\\x, the");
        assertEquals(0, r.status(), r.err());
        Result s = run("", "generate", "In the beginning", "--temperature", "0", "--max-tokens", "30", "--stop", "third");
        assertEquals("In the beginning, and the", s.out().strip());
    }

    @Test
    void aLongChatDropsItsOldestTurnsInsteadOfFailing() {
        // Before: the conversation outgrew the 512-token context and chat exited with status 1.
        String lines = "And the LORD spake unto Moses, saying\n".repeat(25);
        Result r = run(lines, "chat", "--max-tokens", "30", "--temperature", "0");
        assertEquals(0, r.status(), r.err());
        assertEquals(1, r.err().lines().filter(l -> l.contains("dropping the oldest turns")).count(), r.err());
        assertEquals(25, r.err().lines().filter(l -> l.contains("generated at")).count(), r.err());
    }
}
