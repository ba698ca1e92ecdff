package dev.panamax.runtime.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Turns a stream of token bytes into text without ever splitting a multi-byte character: bytes of
 * an unfinished UTF-8 sequence are held until the sequence completes. Invalid bytes become U+FFFD,
 * as a decoder would show them, once it is certain they cannot complete.
 */
public final class Utf8Stream {
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    /** Adds bytes; returns the text that is now complete (possibly empty). */
    public String push(byte[] bytes) {
        pending.writeBytes(bytes);
        byte[] all = pending.toByteArray();
        int complete = completePrefix(all);
        pending.reset();
        pending.write(all, complete, all.length - complete);
        return new String(all, 0, complete, StandardCharsets.UTF_8);
    }

    /** Whatever is left (an unfinished sequence becomes U+FFFD). */
    public String flush() {
        byte[] rest = pending.toByteArray();
        pending.reset();
        return new String(rest, StandardCharsets.UTF_8);
    }

    /** Length of the longest prefix that does not end inside a possibly-valid multi-byte sequence. */
    static int completePrefix(byte[] b) {
        int n = b.length;
        // Look back at most 3 bytes for the start of a sequence that is still open.
        for (int back = 1; back <= Math.min(3, n); back++) {
            int c = b[n - back] & 0xff;
            if ((c & 0xc0) == 0x80) continue; // continuation byte: keep looking for the lead
            int need = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
            return need > back ? n - back : n;
        }
        return n;
    }
}
