package dev.panamax.runtime.format;

import dev.panamax.quant.DecodeLayout;
import dev.panamax.runtime.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The CPU's decode copies of a model's matrices — interleaved ({@link DecodeLayout}), or 16-bit
 * matrices widened to F32 ({@link Weights#matrix}) — kept in one file
 * that a later start memory-maps instead of copying the matrices again: on a 1.1 GB Q8_0 file the
 * copy is ~2 s of a fresh process (mostly the kernel handing out fresh pages), the mapping a few
 * milliseconds, the pages then read from the page cache as llama.cpp reads its mapped file.
 *
 * <p>A cache file is named by a hash of its key and holds the key itself, so it is used only for
 * what made it: the source files (absolute path, size, modification time), the options that change
 * the matrices (quantized at load), the layout version, the vector width, and every matrix's name,
 * type and shape. Anything else — another file, a changed file, a truncated or foreign cache file —
 * is a miss: the copies are made again and the file rewritten. Everything read from the file is
 * checked against its size and against the matrices it claims to hold before a byte is used.
 *
 * <pre>
 *   offset  size   field
 *   0       8      magic "PMXLAYO1"
 *   8       4      n, bytes of the header text (little-endian int)
 *   12      n      header, UTF-8 lines: the key's lines, then "copy INDEX LAYOUT OFFSET BYTES" per copy
 *                  (INDEX into the key's "matrix" lines; LAYOUT a {@link DecodeLayout} name, or F32 for a
 *                  16-bit matrix widened; the matrices without a line keep the file's layout)
 *   D              D = 12 + n rounded up to 4096: each copy at D + OFFSET (a multiple of 4096), in the
 *                  order of its lines
 *   end − 8 8      magic "PMXLAYOK" (written last; the file is renamed into place only when whole)
 * </pre>
 */
public final class LayoutCache {

    /** Bump when a layout's bytes change ({@link DecodeLayout}'s interleaving), so old files miss. */
    static final int VERSION = 2;
    private static final byte[] MAGIC = "PMXLAYO1".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] END = "PMXLAYOK".getBytes(StandardCharsets.US_ASCII);
    private static final int ALIGN = 4096;
    /** A copy line's LAYOUT for a 16-bit matrix widened to F32. */
    private static final String WIDENED = "F32";
    /** A header is a few lines per matrix: a larger length field is a foreign or damaged file. */
    private static final int MAX_HEADER = 16 << 20;

    private LayoutCache() {}

    /** What {@link #key} is made from: one model's sources and matrices as the loader prepared them. */
    record Source(Path file, long size, long modifiedNanos) {}

    /**
     * The key of a model's decode copies: one line per source file, the options that change the
     * matrices' bytes, the layout version and vector width, one line per matrix.
     */
    static String key(List<Source> sources, String options, int vectorBits, List<Tensor> matrices) {
        StringBuilder k = new StringBuilder();
        k.append("version ").append(VERSION).append('\n');
        k.append("vector-bits ").append(vectorBits).append('\n');
        k.append("options ").append(options).append('\n');
        for (Source s : sources) k.append("source ").append(s.size).append(' ').append(s.modifiedNanos).append(' ').append(s.file).append('\n');
        for (int i = 0; i < matrices.size(); i++) {
            Tensor t = matrices.get(i);
            k.append("matrix ").append(i).append(' ').append(t.type()).append(' ').append(t.rows()).append(' ').append(t.cols())
                    .append(' ').append(t.name().replace('\n', ' ')).append('\n');
        }
        return k.toString();
    }

    /** The source's identity as {@link #key} takes it, or null when it cannot be read. */
    static Source source(Path file) {
        try {
            Path real = file.toRealPath();
            return new Source(real, Files.size(real), Files.getLastModifiedTime(real).to(java.util.concurrent.TimeUnit.NANOSECONDS));
        } catch (IOException | SecurityException e) {
            return null;
        }
    }

    /**
     * The cache file for {@code key} in {@code dir}: 128 bits of two FNV-1a hashes of the key, forwards
     * and backwards. Not a cryptographic digest, and it need not be one: the file's header holds the
     * whole key and {@link #read} takes nothing whose key differs; the hash only spreads the names.
     * (SHA-256 cost a fresh JVM ~15 ms before its first token: the security providers' start-up.)
     */
    static Path file(Path dir, String key) {
        byte[] b = key.getBytes(StandardCharsets.UTF_8);
        long forwards = 0xcbf29ce484222325L, backwards = 0x84222325cbf29ce4L;
        for (int i = 0; i < b.length; i++) {
            forwards = (forwards ^ (b[i] & 0xff)) * 0x100000001b3L;
            backwards = (backwards ^ (b[b.length - 1 - i] & 0xff)) * 0x100000001b3L;
        }
        return dir.resolve(java.util.HexFormat.of().toHexDigits(forwards) + java.util.HexFormat.of().toHexDigits(backwards) + ".layout");
    }

    /**
     * The copies a cache file holds for {@code matrices} (each matrix to its copy, or to itself where
     * the file has none), the file mapped by {@code map}; null when there is no valid file for {@code key}.
     */
    static Map<Tensor, Tensor> read(Path file, String key, List<Tensor> matrices, java.util.function.Function<Path, MemorySegment> map) {
        String header;
        try {
            header = Files.isRegularFile(file) ? headerOf(file) : null;
        } catch (IOException e) {
            return null;
        }
        if (header == null || !header.startsWith(key)) return null; // not mapped: a miss costs a header read
        MemorySegment all;
        try {
            all = map.apply(file);
        } catch (RuntimeException e) {
            return null;
        }
        long size = all.byteSize();
        byte[] head = headerBytes(header);
        int n = head.length - MAGIC.length - 4;
        if (size < head.length + END.length || all.asSlice(0, head.length).mismatch(MemorySegment.ofArray(head)) != -1) return null; // the file read is the file mapped
        if (all.asSlice(size - END.length, END.length).mismatch(MemorySegment.ofArray(END)) != -1) return null;
        Map<Tensor, Tensor> out = new IdentityHashMap<>();
        for (Tensor m : matrices) out.put(m, m);
        long base = align(MAGIC.length + 4L + n), end = base;
        for (String line : header.substring(key.length()).split("\n")) {
            if (line.isEmpty()) continue;
            String[] f = line.split(" ");
            if (f.length != 5 || !f[0].equals("copy")) return null;
            int index;
            DecodeLayout layout;
            long offset, bytes;
            boolean widened = f[2].equals(WIDENED);
            try {
                index = Integer.parseInt(f[1]);
                layout = widened ? null : DecodeLayout.valueOf(f[2]);
                offset = Long.parseLong(f[3]);
                bytes = Long.parseLong(f[4]);
            } catch (IllegalArgumentException e) {
                return null;
            }
            if (index < 0 || index >= matrices.size()) return null;
            Tensor m = matrices.get(index);
            if (out.get(m) != m) return null; // two copies of one matrix
            if (widened) {
                if ((m.type() != dev.panamax.runtime.tensor.DType.F16 && m.type() != dev.panamax.runtime.tensor.DType.BF16) || m.layout() != null
                        || bytes != 4 * m.elements()) return null;
            } else if (m.type().format == null || DecodeLayout.of(m.type().format) != layout || bytes != layout.bytes(m.rows(), m.cols())) {
                return null;
            }
            if (offset < 0 || offset % ALIGN != 0 || offset > size) return null;
            offset += base;
            if (offset < end || offset > size - END.length - bytes) return null;
            end = offset + bytes;
            out.put(m, widened ? new Tensor(m.name(), dev.panamax.runtime.tensor.DType.F32, m.shape(), all.asSlice(offset, bytes))
                    : new Tensor(m.name(), m.type(), m.shape(), all.asSlice(offset, bytes), layout));
        }
        try {
            Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis())); // used: last to go
        } catch (IOException | RuntimeException e) {
            // a read-only cache still serves
        }
        return out;
    }

    /**
     * Writes {@code copies} (each of {@code matrices} to its decode copy or itself) for {@code key} to
     * {@code file}: into a temporary file beside it, renamed into place when whole, so a reader sees
     * a complete file or none. Returns the bytes written.
     */
    static long write(Path file, String key, List<Tensor> matrices, Map<Tensor, Tensor> copies) throws IOException {
        StringBuilder header = new StringBuilder(key);
        List<MemorySegment> data = new ArrayList<>();
        List<Long> offsets = new ArrayList<>();
        long at = 0;
        for (int i = 0; i < matrices.size(); i++) {
            Tensor c = copies.get(matrices.get(i));
            if (c == null || c == matrices.get(i)) continue;
            header.append("copy ").append(i).append(' ').append(c.layout() != null ? c.layout().name() : WIDENED).append(' ').append(at).append(' ').append(c.data().byteSize()).append('\n');
            data.add(c.data());
            offsets.add(at);
            at = align(at + c.data().byteSize());
        }
        if (data.isEmpty()) return 0;
        byte[] head = headerBytes(header.toString());
        long base = align(head.length);
        Files.createDirectories(file.getParent());
        removeStale(file.getParent(), key);
        evict(file.getParent(), base + at + END.length, MAX_BYTES);
        String noRoom = noRoom(file.getParent(), base + at + END.length);
        if (noRoom != null) throw new IOException(noRoom);
        Path tmp = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".part");
        long written = 0;
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            writeFully(ch, ByteBuffer.wrap(head), 0);
            long last = base;
            for (int i = 0; i < data.size(); i++) {
                MemorySegment seg = data.get(i);
                for (long o = 0; o < seg.byteSize(); o += 1 << 30) {
                    writeFully(ch, seg.asSlice(o, Math.min(1 << 30, seg.byteSize() - o)).asByteBuffer(), base + offsets.get(i) + o);
                }
                last = base + offsets.get(i) + seg.byteSize();
                written += seg.byteSize();
            }
            writeFully(ch, ByteBuffer.wrap(END), last);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        try {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        return written;
    }

    /**
     * The cache folder's bound: before a file is written, the least recently used others go until it
     * fits within this (or the new file alone, when that is larger). A start that maps a file marks it used.
     */
    static final long MAX_BYTES = 16L << 30;

    /**
     * Deletes the least recently used cache files in {@code dir} (by modification time, which a read
     * renews) until those left and {@code incoming} more bytes fit {@code max}; the newest survive.
     */
    static void evict(Path dir, long incoming, long max) {
        List<Path> files = new ArrayList<>();
        try (var s = Files.list(dir)) {
            s.filter(f -> f.getFileName().toString().endsWith(".layout") && Files.isRegularFile(f)).forEach(files::add);
        } catch (IOException e) {
            return;
        }
        Map<Path, Long> used = new java.util.HashMap<>(), size = new java.util.HashMap<>();
        long total = incoming;
        for (Path f : files) {
            try {
                used.put(f, Files.getLastModifiedTime(f).toMillis());
                size.put(f, Files.size(f));
                total += size.get(f);
            } catch (IOException e) {
                used.put(f, Long.MIN_VALUE);
                size.put(f, 0L);
            }
        }
        files.sort(java.util.Comparator.comparingLong(used::get));
        for (Path f : files) {
            if (total <= max) break;
            try {
                Files.deleteIfExists(f); // a process that maps it keeps its pages until it ends
                total -= size.get(f);
            } catch (IOException e) {
                // leave it
            }
        }
    }

    /** A cache file is not written where it would leave less than this free on the disk. */
    static final long MIN_FREE = 1L << 30;

    /** Why {@code bytes} more in {@code dir} would leave too little free (null when they fit; the folder is made if missing). */
    static String noRoom(Path dir, long bytes) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) return "it is a file, not a folder";
        try {
            Files.createDirectories(dir);
            long free = Files.getFileStore(dir).getUsableSpace();
            if (free - bytes >= MIN_FREE) return null;
            return String.format(java.util.Locale.ROOT, "%.2f GB needed, %.2f GB free (1 GB is always left)", bytes / 1e9, free / 1e9);
        } catch (IOException | RuntimeException e) {
            return "cannot write there (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")";
        }
    }

    /**
     * Removes what no start will read again: cache files for the same source files as {@code key}
     * whose key differs (a model file changed or replaced; other options of the same file stay), and
     * temporary files of writes that did not finish more than an hour ago.
     */
    static void removeStale(Path dir, String key) {
        java.util.Set<String> paths = new java.util.HashSet<>();
        for (String line : key.split("\n")) if (line.startsWith("source ")) paths.add(line.split(" ", 4)[3]);
        String options = key.lines().filter(l -> l.startsWith("options ")).findFirst().orElse("");
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String name = f.getFileName().toString();
                try {
                    if (name.endsWith(".part")) {
                        if (Files.getLastModifiedTime(f).toMillis() < System.currentTimeMillis() - 3_600_000L) Files.deleteIfExists(f);
                    } else if (name.endsWith(".layout")) {
                        String other = headerOf(f);
                        if (other == null || other.startsWith(key)) continue;
                        boolean sameSources = other.lines().filter(l -> l.startsWith("source ")).anyMatch(l -> paths.contains(l.split(" ", 4)[3]));
                        boolean sameOptions = other.lines().anyMatch(options::equals);
                        if (sameSources && sameOptions) Files.deleteIfExists(f);
                    }
                } catch (IOException | RuntimeException e) {
                    // another process's file, or gone meanwhile: leave it
                }
            }
        } catch (IOException e) {
            // nothing to clean
        }
    }

    /** The file's first bytes for a header text: the magic, the text's length, the text. */
    private static byte[] headerBytes(String header) {
        byte[] text = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(MAGIC.length + 4 + text.length).order(ByteOrder.LITTLE_ENDIAN).put(MAGIC).putInt(text.length).put(text).array();
    }

    /** A cache file's header text, or null when it is not one. */
    private static String headerOf(Path f) throws IOException {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(MAGIC.length + 4).order(ByteOrder.LITTLE_ENDIAN);
            if (ch.read(b, 0) != b.capacity() || !java.util.Arrays.equals(java.util.Arrays.copyOf(b.array(), MAGIC.length), MAGIC)) return null;
            int n = b.getInt(MAGIC.length);
            if (n < 0 || n > MAX_HEADER || MAGIC.length + 4L + n > ch.size()) return null;
            ByteBuffer h = ByteBuffer.allocate(n);
            while (h.hasRemaining() && ch.read(h, MAGIC.length + 4L + h.position()) > 0) { }
            return new String(h.array(), StandardCharsets.UTF_8);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) at += ch.write(b, at);
    }

    private static long align(long at) {
        return (at + ALIGN - 1) / ALIGN * ALIGN;
    }
}
