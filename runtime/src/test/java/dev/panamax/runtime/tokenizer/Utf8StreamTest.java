package dev.panamax.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class Utf8StreamTest {

    @Test
    void holdsBackAnUnfinishedCharacter() {
        byte[] llama = "🦙".getBytes(StandardCharsets.UTF_8); // 4 bytes, as byte-fallback tokens deliver them
        Utf8Stream s = new Utf8Stream();
        assertEquals("a", s.push(new byte[] {'a', llama[0]}));
        assertEquals("", s.push(new byte[] {llama[1]}));
        assertEquals("", s.push(new byte[] {llama[2]}));
        assertEquals("🦙b", s.push(new byte[] {llama[3], 'b'}));
        assertEquals("", s.flush());
    }

    @Test
    void invalidBytesBecomeReplacementCharacters() {
        Utf8Stream s = new Utf8Stream();
        assertEquals("x\uFFFDy", s.push(new byte[] {'x', (byte) 0x80, 'y'}));   // a stray continuation byte
        assertEquals("", s.push(new byte[] {(byte) 0xE2, (byte) 0x82}));       // two of three bytes of "€"
        assertEquals("\uFFFD", s.flush());                                     // the stream ended inside it
        assertEquals("€", new Utf8Stream().push("€".getBytes(StandardCharsets.UTF_8)));
    }
}
