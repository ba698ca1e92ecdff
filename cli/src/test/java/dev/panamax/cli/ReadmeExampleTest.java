package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java example in README.md (the block after {@code <!-- api-example -->}), compiled and run as
 * written, its output checked; {@code scripts/readme-example.sh} builds it again as a user's own Maven project.
 */
class ReadmeExampleTest {

    @Test
    void theReadmeExampleCompilesAndRuns(@TempDir Path tmp) throws Exception {
        Path readme = Path.of("../README.md"); // surefire runs in cli/
        String text = Files.readString(readme);
        Matcher m = Pattern.compile("<!-- api-example -->\\s*```java\\n(.*?)```", Pattern.DOTALL).matcher(text);
        assertTrue(m.find(), "README.md has a ```java block after <!-- api-example -->");
        String source = m.group(1);
        Matcher name = Pattern.compile("public class (\\w+)").matcher(source);
        assertTrue(name.find(), "the README example is a whole class with a main method");
        Path src = tmp.resolve(name.group(1) + ".java");
        Files.writeString(src, source);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int rc = javac.run(null, diagnostics, diagnostics, "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                "-d", tmp.toString(), src.toString());
        assertEquals(0, rc, "the README example must compile:\n" + source + "\n" + diagnostics.toString(StandardCharsets.UTF_8));

        PrintStream saved = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {tmp.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            loader.loadClass(name.group(1)).getMethod("main", String[].class).invoke(null, (Object) new String[0]);
        } finally {
            System.setOut(saved);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        String[] lines = out.split("\n");
        assertTrue(lines[0].startsWith("ModelInfo[architecture=llama, kind=decoder, parameters=5401856,"), out);
        assertTrue(lines[1].startsWith(", and the third day of the month"), "greedy text of the embedded model, got: " + out);
        assertEquals("16 tokens, stopped by MAX_TOKENS", lines[2], out);
        assertEquals("embedding: 256 floats", lines[3], out);
        Matcher fed = Pattern.compile("\nsecond turn: (\\d+) new prompt tokens\n").matcher(out);
        assertTrue(fed.find(), out);
        assertTrue(Integer.parseInt(fed.group(1)) < 40, "the second turn feeds its own tokens, not the history: " + out);
        assertTrue(out.endsWith(".\nstopped by CANCELLED\n"), "the listener cancels at the first full stop: " + out);
    }
}
