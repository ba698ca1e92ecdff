package dev.panamax.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The one reader of {@code -Dpanamax.*}: experiments need the gate, speed switches do not, bad numbers are named. */
class TuningTest {
    @AfterEach
    void clear() {
        for (String p : new String[] {Tuning.EXPERIMENTS, "panamax.test.rows", "panamax.test.flag", "panamax.test.word"}) System.clearProperty(p);
    }

    @Test
    void anExperimentIsIgnoredUnlessExperimentsAreOn() {
        System.setProperty("panamax.test.rows", "7");
        System.setProperty("panamax.test.flag", "true");
        System.setProperty("panamax.test.word", "Tiles");
        assertEquals(32, Tuning.experiment("test.rows", 32), "the default holds without the gate");
        assertFalse(Tuning.experimentFlag("test.flag"));
        assertEquals(null, Tuning.experimentWord("test.word"));
        System.setProperty(Tuning.EXPERIMENTS, "true");
        assertEquals(7, Tuning.experiment("test.rows", 32));
        assertTrue(Tuning.experimentFlag("test.flag"));
        assertEquals("tiles", Tuning.experimentWord("test.word"));
        System.clearProperty("panamax.test.rows");
        assertEquals(32, Tuning.experiment("test.rows", 32), "not given: the default");
    }

    @Test
    void speedSwitchesNeedNoGate() {
        assertEquals(4, Tuning.speed("test.rows", 4));
        assertEquals(200L, Tuning.speed("test.rows", 200L));
        System.setProperty("panamax.test.rows", " 9 ");
        assertEquals(9, Tuning.speed("test.rows", 4));
        assertFalse(Tuning.flag("test.flag"));
        assertTrue(Tuning.flagOn("test.flag"), "on unless false");
        System.setProperty("panamax.test.flag", "false");
        assertFalse(Tuning.flagOn("test.flag"));
        System.setProperty("panamax.test.word", "/Some/Dir");
        assertEquals("/Some/Dir", Tuning.text("test.word"), "text keeps its case");
        assertEquals("/some/dir", Tuning.word("test.word"));
    }

    @Test
    void aBadNumberIsNamed() {
        System.setProperty("panamax.test.rows", "many");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tuning.speed("test.rows", 4));
        assertEquals("-Dpanamax.test.rows must be an integer, got 'many'", e.getMessage());
        System.setProperty("panamax.test.rows", "4294967296");
        assertThrows(IllegalArgumentException.class, () -> Tuning.speed("test.rows", 4));
    }

    /** No main source but Tuning reads a {@code panamax.*} property (the modules sit beside this one). */
    @Test
    void tuningIsTheOnlyReader() throws java.io.IOException {
        java.nio.file.Path root = java.nio.file.Path.of("..").toAbsolutePath().normalize();
        java.util.regex.Pattern read = java.util.regex.Pattern.compile("(getProperty|getInteger|getBoolean|getLong)\\(\\s*\"panamax\\.");
        java.util.List<String> readers = new java.util.ArrayList<>();
        int files = 0;
        try (var paths = java.nio.file.Files.walk(root, 12)) {
            for (java.nio.file.Path f : (Iterable<java.nio.file.Path>) paths::iterator) {
                String s = root.relativize(f).toString().replace('\\', '/');
                if (!s.endsWith(".java") || !s.contains("/src/main/java/") || s.startsWith("target") || s.contains("/target/")) continue;
                files++;
                if (f.getFileName().toString().equals("Tuning.java")) continue;
                if (read.matcher(java.nio.file.Files.readString(f)).find()) readers.add(s);
            }
        }
        assertTrue(files > 50, "found the modules' sources under " + root + " (" + files + " files)");
        assertEquals(java.util.List.of(), readers, "read -Dpanamax.* through Tuning");
    }
}
