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
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Java example in README.md (the block after {@code <!-- api-example -->}), compiled and run as written. */
class ReadmeExampleTest {

    @Test
    void theReadmeExampleCompilesAndGenerates(@TempDir Path tmp) throws Exception {
        Path readme = Path.of("../README.md"); // surefire runs in cli/
        String text = Files.readString(readme);
        Matcher m = Pattern.compile("<!-- api-example -->\\s*```java\\n(.*?)```", Pattern.DOTALL).matcher(text);
        assertTrue(m.find(), "README.md has a ```java block after <!-- api-example -->");
        List<String> imports = new ArrayList<>(), body = new ArrayList<>();
        for (String line : m.group(1).split("\n")) (line.startsWith("import ") ? imports : body).add(line);
        String source = String.join("\n", imports) + "\npublic class ReadmeExample {\n  public static void main(String[] args) throws Exception {\n"
                + String.join("\n", body) + "\n  }\n}\n";
        Path src = tmp.resolve("ReadmeExample.java");
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
            loader.loadClass("ReadmeExample").getMethod("main", String[].class).invoke(null, (Object) new String[0]);
        } finally {
            System.setOut(saved);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        assertTrue(out.startsWith(", and the third day of the month"), "greedy text of the embedded model, got: " + out);
    }
}
