package dev.panamax.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * Load-time copies' memory ({@link LargeMemory}): the size asked for, 64-byte aligned (on Linux with
 * native access, huge-page aligned, from mmap), zeros, every byte writable and read back, gone with
 * its arena; small requests from the arena itself.
 */
class LargeMemoryTest {

    @Test
    void givesZeroedWritableMemoryOfTheSizeAskedThatItsArenaFrees() {
        long bytes = (5L << 20) + 123;
        MemorySegment m;
        try (Arena arena = Arena.ofShared()) {
            m = LargeMemory.allocate(arena, bytes);
            assertEquals(bytes, m.byteSize());
            assertEquals(0, m.address() % 64);
            if (System.getProperty("os.name").equals("Linux") && LargeMemory.class.getModule().isNativeAccessEnabled()) {
                assertEquals(0, m.address() % (2L << 20), "mmap'd and started on a 2 MiB boundary");
            }
            for (long i = 0; i < bytes; i += 4096) assertEquals(0, m.get(ValueLayout.JAVA_BYTE, i));
            for (long i = 0; i + 8 <= bytes; i += 8) m.set(ValueLayout.JAVA_LONG_UNALIGNED, i, i * 31 + 7);
            m.set(ValueLayout.JAVA_BYTE, bytes - 1, (byte) 42);
            for (long i = 0; i + 8 <= bytes; i += 8) {
                if (m.get(ValueLayout.JAVA_LONG_UNALIGNED, i) != i * 31 + 7) throw new AssertionError("byte " + i);
            }
            assertEquals(42, m.get(ValueLayout.JAVA_BYTE, bytes - 1));
            MemorySegment small = LargeMemory.allocate(arena, 1000);
            assertEquals(1000, small.byteSize());
            assertEquals(0, small.address() % 64);
        }
        assertTrue(!m.scope().isAlive(), "closed with its arena");
    }
}
