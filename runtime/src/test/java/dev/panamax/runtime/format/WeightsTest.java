package dev.panamax.runtime.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Weights#map}: the file's bytes, in a segment of the class the kernels see for copies, unloadable, gone with the arena. */
class WeightsTest {

    @Test
    void aMappedFileIsAPlainNativeSegmentOverTheFilesBytes(@TempDir Path tmp) throws Exception {
        assumeTrue(Weights.class.getModule().isNativeAccessEnabled(), "runs with --enable-native-access (the build's flags)");
        byte[] bytes = new byte[3 * 4096 + 17];
        for (int i = 0; i < bytes.length; i++) bytes[i] = (byte) (i * 31 + 7);
        Path file = Files.write(tmp.resolve("w.bin"), bytes);
        MemorySegment seg;
        try (Weights w = new Weights(); Arena other = Arena.ofConfined()) {
            seg = w.map(file);
            assertEquals(other.allocate(64, 64).getClass(), seg.getClass(), "the class of an allocated copy, not a mapped-segment class");
            assertEquals(bytes.length, seg.byteSize());
            for (int i = 0; i < bytes.length; i++) assertEquals(bytes[i], seg.get(ValueLayout.JAVA_BYTE, i), "byte " + i);
            w.unload(seg.asSlice(4096 + 5, 8000)); // through the mapping behind the view: no error, the bytes still read
            assertEquals(bytes[9000], seg.get(ValueLayout.JAVA_BYTE, 9000));
            w.unload(other.allocate(16)); // not from a file: nothing to do
        }
        MemorySegment closed = seg;
        assertThrows(IllegalStateException.class, () -> closed.get(ValueLayout.JAVA_BYTE, 0), "unmapped with the weights' arena");
    }
}
