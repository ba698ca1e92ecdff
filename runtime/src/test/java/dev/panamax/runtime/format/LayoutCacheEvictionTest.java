package dev.panamax.runtime.format;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The layout cache's bound: the least recently used files go first, only as many as make room. */
class LayoutCacheEvictionTest {

    @Test
    void theLeastRecentlyUsedGoUntilTheNewFileFits(@TempDir Path dir) throws Exception {
        long now = System.currentTimeMillis();
        String[] names = {"a.layout", "b.layout", "c.layout", "d.layout"};
        long[] ages = {4000, 1000, 3000, 2000}; // a is the least recently used, then c, d, b
        for (int i = 0; i < names.length; i++) {
            Path f = dir.resolve(names[i]);
            Files.write(f, new byte[100]);
            Files.setLastModifiedTime(f, FileTime.fromMillis(now - ages[i]));
        }
        Files.write(dir.resolve("other.gguf"), new byte[1000]); // not a cache file: never touched
        LayoutCache.evict(dir, 150, 400); // 400 + 150 > 400: a and c go (the two oldest), leaving 200 + 150
        assertEquals(List.of("b.layout", "d.layout", "other.gguf"), list(dir));
        LayoutCache.evict(dir, 100, 400); // fits: nothing goes
        assertEquals(List.of("b.layout", "d.layout", "other.gguf"), list(dir));
        LayoutCache.evict(dir, 500, 400); // larger than the bound alone: everything else goes, the new file still comes
        assertEquals(List.of("other.gguf"), list(dir));
    }

    private static List<String> list(Path dir) throws Exception {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
