package dev.panamax.runtime.format;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Reader for Hugging Face safetensors files:
 *
 * <pre>
 * u64 LE   N             header length
 * N bytes  JSON          {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}
 * ...      data          tensor bytes; offsets are relative to the end of the header
 * </pre>
 *
 * Every length and offset is checked against the file before a tensor is made.
 */
public final class Safetensors {
    private Safetensors() {}

    /** The largest header read (safetensors' own limit is 100 MB). */
    static final long MAX_HEADER = 100_000_000;

    /**
     * Maps {@code file} into {@code weights} and adds its tensors (names as in the file). The
     * header is parsed straight from the mapped bytes into tensors, one at a time — no JSON tree
     * of it is built, so memory is the tensors' own; a name given twice is an error.
     */
    public static void read(Path file, Weights weights) {
        MemorySegment seg = weights.map(file);
        long size = seg.byteSize();
        if (size < 8) throw new ModelException(file + ": " + size + " bytes is too short for a safetensors file");
        long n = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (n > MAX_HEADER && n <= size - 8) {
            throw new ModelException(file + ": the safetensors header is " + n + " bytes, more than the " + MAX_HEADER + " Panamax reads (safetensors' own limit)");
        }
        if (n <= 0 || n > size - 8) {
            throw new ModelException(file + ": header length " + n + " does not fit in the file's " + size + " bytes (truncated or not safetensors)");
        }
        long dataStart = 8 + n, dataSize = size - dataStart;
        Header h = new Header(file, seg, 8, 8 + n);
        try {
            h.ws();
            h.expect('{');
            h.ws();
            if (h.peek() == '}') {
                h.pos++;
            } else {
                while (true) {
                    h.ws();
                    String name = h.string();
                    h.ws();
                    h.expect(':');
                    h.ws();
                    if (name.equals("__metadata__")) h.skipValue(0);
                    else weights.add(h.tensor(name, seg, dataStart, dataSize));
                    h.ws();
                    int c = h.next();
                    if (c == '}') break;
                    if (c != ',') throw h.error("expected ',' or '}' after tensor " + name);
                }
            }
            h.ws();
            if (h.pos != h.end) throw h.error("unexpected text after the header's object");
        } catch (ModelException e) {
            throw e.getMessage().startsWith(file.toString()) ? e : new ModelException(file + ": " + e.getMessage(), e);
        }
    }

    /** A cursor over the header's bytes (UTF-8 JSON), every read checked against its end. */
    private static final class Header {
        final Path file;
        final MemorySegment seg;
        final long end;
        long pos;
        byte[] scratch = new byte[256];

        Header(Path file, MemorySegment seg, long start, long end) {
            this.file = file;
            this.seg = seg;
            this.pos = start;
            this.end = end;
        }

        ModelException error(String what) {
            return new ModelException(file + ": bad safetensors header: " + what + " at byte " + pos);
        }

        int peek() {
            if (pos >= end) throw error("unexpected end of the header");
            return seg.get(ValueLayout.JAVA_BYTE, pos) & 0xff;
        }

        int next() {
            int c = peek();
            pos++;
            return c;
        }

        void expect(char c) {
            if (next() != c) {
                pos--;
                throw error("expected '" + c + "'");
            }
        }

        void ws() {
            while (pos < end) {
                int c = seg.get(ValueLayout.JAVA_BYTE, pos) & 0xff;
                if (c == ' ' || c == '\n' || c == '\r' || c == '\t') pos++;
                else break;
            }
        }

        /** A JSON string (UTF-8 bytes, escapes decoded). */
        String string() {
            expect('"');
            // The common case, ASCII without escapes: one copy of the bytes into the String.
            long start = pos;
            while (pos < end) {
                int c = seg.get(ValueLayout.JAVA_BYTE, pos) & 0xff;
                if (c == '"') {
                    int len = (int) (pos - start);
                    if (scratch.length < len) scratch = new byte[Math.max(len, 2 * scratch.length)];
                    MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, start, scratch, 0, len);
                    pos++;
                    return new String(scratch, 0, len, StandardCharsets.ISO_8859_1);
                }
                if (c == '\\' || c < 0x20 || c >= 0x80) break;
                pos++;
            }
            pos = start;
            java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
            while (true) {
                int c = next();
                if (c == '"') break;
                if (c < 0x20) throw error("control character in a string");
                if (c != '\\') {
                    b.write(c);
                    continue;
                }
                int e = next();
                switch (e) {
                    case '"', '\\', '/' -> b.write(e);
                    case 'b' -> b.write('\b');
                    case 'f' -> b.write('\f');
                    case 'n' -> b.write('\n');
                    case 'r' -> b.write('\r');
                    case 't' -> b.write('\t');
                    case 'u' -> {
                        int cp = 0;
                        for (int i = 0; i < 4; i++) {
                            int d = Character.digit(next(), 16);
                            if (d < 0) throw error("bad \\u escape");
                            cp = cp * 16 + d;
                        }
                        byte[] u = String.valueOf((char) cp).getBytes(StandardCharsets.UTF_8);
                        b.write(u, 0, u.length);
                    }
                    default -> throw error("bad escape");
                }
            }
            try {
                return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(b.toByteArray())).toString();
            } catch (java.nio.charset.CharacterCodingException e) {
                throw error("a string that is not UTF-8");
            }
        }

        /** Whether the next bytes are {@code quoted} (ASCII, quotes included); if so they are read. */
        boolean key(String quoted) {
            if (pos + quoted.length() > end) return false;
            for (int i = 0; i < quoted.length(); i++) {
                if (seg.get(ValueLayout.JAVA_BYTE, pos + i) != quoted.charAt(i)) return false;
            }
            pos += quoted.length();
            return true;
        }

        /** A non-negative whole number that fits a long. */
        long whole(String whatOf, String name) {
            long v = 0;
            int digits = 0;
            while (pos < end) {
                int c = seg.get(ValueLayout.JAVA_BYTE, pos) & 0xff;
                if (c < '0' || c > '9') break;
                if (v > (Long.MAX_VALUE - (c - '0')) / 10) throw error(whatOf + name + " is too large");
                v = v * 10 + (c - '0');
                pos++;
                digits++;
            }
            if (digits == 0) throw error(whatOf + name + " should be a whole number of 0 or more");
            int c = pos < end ? seg.get(ValueLayout.JAVA_BYTE, pos) & 0xff : ' ';
            if (c == '.' || c == 'e' || c == 'E') throw error(whatOf + name + " should be a whole number");
            return v;
        }

        /** [a, b, ...] of whole numbers, at most {@code max} of them. */
        long[] wholes(String whatOf, String name, int max) {
            expect('[');
            long[] out = new long[max];
            int n = 0;
            ws();
            if (peek() == ']') {
                pos++;
                return new long[0];
            }
            while (true) {
                ws();
                if (n == max) throw error(whatOf + name + " has more than " + max + " entries");
                out[n++] = whole(whatOf, name);
                ws();
                int c = next();
                if (c == ']') return n == max ? out : java.util.Arrays.copyOf(out, n);
                if (c != ',') throw error("expected ',' or ']' in " + whatOf + name);
            }
        }

        /** Skips any JSON value (the __metadata__ object, keys this reader does not know). */
        void skipValue(int depth) {
            if (depth > 64) throw error("values nested deeper than 64");
            int c = peek();
            switch (c) {
                case '"' -> string();
                case '{', '[' -> {
                    int close = c == '{' ? '}' : ']';
                    pos++;
                    ws();
                    if (peek() == close) {
                        pos++;
                        return;
                    }
                    while (true) {
                        ws();
                        if (close == '}') {
                            string();
                            ws();
                            expect(':');
                            ws();
                        }
                        skipValue(depth + 1);
                        ws();
                        int d = next();
                        if (d == close) return;
                        if (d != ',') throw error("expected ',' or '" + (char) close + "'");
                    }
                }
                default -> {
                    long from = pos;
                    while (pos < end) {
                        int d = seg.get(ValueLayout.JAVA_BYTE, pos) & 0xff;
                        if (d == ',' || d == '}' || d == ']' || d == ' ' || d == '\n' || d == '\r' || d == '\t') break;
                        pos++;
                    }
                    if (pos == from) throw error("expected a value");
                }
            }
        }

        /** One tensor's entry: {"dtype": ..., "shape": [...], "data_offsets": [begin, end]} in any order. */
        Tensor tensor(String name, MemorySegment file, long dataStart, long dataSize) {
            String dtypeName = null;
            long[] shape = null, offsets = null;
            expect('{');
            ws();
            if (peek() != '}') {
                while (true) {
                    ws();
                    // The three keys every entry has are matched in place; others are read and skipped.
                    int key = key("\"dtype\"") ? 0 : key("\"shape\"") ? 1 : key("\"data_offsets\"") ? 2 : 3;
                    if (key == 3) string();
                    ws();
                    expect(':');
                    ws();
                    switch (key) {
                        case 0 -> dtypeName = string();
                        case 1 -> shape = wholes("the shape of ", name, 8);
                        case 2 -> offsets = wholes("the data_offsets of ", name, 2);
                        default -> skipValue(0);
                    }
                    ws();
                    int c = next();
                    if (c == '}') break;
                    if (c != ',') throw error("expected ',' or '}' in tensor " + name);
                }
            } else {
                pos++;
            }
            if (dtypeName == null || shape == null || offsets == null) {
                throw new ModelException("tensor " + name + " lacks " + (dtypeName == null ? "its dtype" : shape == null ? "its shape" : "its data_offsets"));
            }
            DType type = DType.fromSafetensors(dtypeName);
            if (type == null) throw new ModelException("tensor " + name + " has dtype " + dtypeName + ", which is not supported (F32, F16, BF16)");
            if (offsets.length != 2) throw new ModelException("tensor " + name + ": data_offsets must have two entries");
            for (long d : shape) if (d > Integer.MAX_VALUE) throw new ModelException("tensor " + name + " has a bad dimension " + d);
            long begin = offsets[0], stop = offsets[1];
            if (stop < begin || stop > dataSize) {
                throw new ModelException("tensor " + name + " claims bytes [" + begin + ", " + stop + ") but the data section has " + dataSize + " bytes (truncated file?)");
            }
            long elements = 1;
            for (long d : shape) {
                if (d != 0 && elements > Long.MAX_VALUE / d) throw new ModelException("tensor " + name + " is impossibly large");
                elements *= d;
            }
            if (elements > Long.MAX_VALUE / 8 || type.bytesFor(elements) != stop - begin) {
                throw new ModelException("tensor " + name + ": shape " + java.util.Arrays.toString(shape) + " of " + type + " needs "
                        + type.bytesFor(elements) + " bytes, the offsets give " + (stop - begin));
            }
            return new Tensor(name, type, shape, file.asSlice(dataStart + begin, stop - begin));
        }
    }
}
