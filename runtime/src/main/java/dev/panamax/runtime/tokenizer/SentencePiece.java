package dev.panamax.runtime.tokenizer;

import dev.panamax.runtime.ModelException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * SentencePiece BPE with byte fallback, as llama.cpp runs it for the {@code llama} tokenizer model:
 *
 * <ol>
 * <li>spaces become {@code ▁}, and one {@code ▁} is put in front of the text (add_space_prefix);</li>
 * <li>the text starts as one symbol per UTF-8 character; repeatedly, the adjacent pair whose
 *     concatenation is a vocabulary piece with the highest score is merged (ties: leftmost);</li>
 * <li>each final symbol is its piece's id, or, when it is not a piece, one {@code <0xNN>} byte token
 *     per UTF-8 byte.</li>
 * </ol>
 *
 * User-defined pieces are matched in the text first, as whole tokens; control pieces such as
 * {@code <s>} only when asked to parse special tokens.
 */
public final class SentencePiece extends Vocabulary {

    /** Piece types, as in sentencepiece's ModelProto and GGUF's tokenizer.ggml.token_type. */
    public static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;

    private final float[] scores;
    private final Map<String, Integer> ids = new HashMap<>();
    private final int[] byteTokens = new int[256];
    private final int bos, eos, unk;
    private final boolean addBos, addEos, addSpacePrefix;
    private final Specials specials;

    public SentencePiece(String[] pieces, float[] scores, int[] types, int bos, int eos, int unk, boolean addBos, boolean addEos, boolean addSpacePrefix) {
        super(pieces, types, bos, eos);
        if (pieces.length != scores.length) throw new ModelException("tokenizer: " + pieces.length + " pieces but " + scores.length + " scores");
        if (unk < 0 || unk >= pieces.length) throw new ModelException("tokenizer: the unknown token id " + unk + " is outside the vocabulary (0.." + (pieces.length - 1) + ")");
        this.scores = scores;
        this.bos = bos;
        this.eos = eos;
        this.unk = unk;
        this.addBos = addBos;
        this.addEos = addEos;
        this.addSpacePrefix = addSpacePrefix;
        java.util.Arrays.fill(byteTokens, -1);
        for (int i = 0; i < pieces.length; i++) {
            ids.putIfAbsent(pieces[i], i);
            if (types[i] == BYTE && pieces[i].length() == 6 && pieces[i].startsWith("<0x") && pieces[i].endsWith(">")) {
                int hi = Character.digit(pieces[i].charAt(3), 16), lo = Character.digit(pieces[i].charAt(4), 16);
                if (hi < 0 || lo < 0) throw new ModelException("tokenizer: byte token " + i + " is " + pieces[i] + ", not <0xHH>");
                int b = hi * 16 + lo;
                byteTokens[b] = i;
                decoded[i] = new byte[] {(byte) b};
            } else if (types[i] == CONTROL || types[i] == UNKNOWN || types[i] == UNUSED) {
                decoded[i] = new byte[0];
            } else {
                decoded[i] = pieces[i].replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
            }
        }
        specials = new Specials(pieces, types);
    }

    // ---- construction from files -----------------------------------------------------------------

    /** From GGUF metadata ({@code tokenizer.ggml.tokens/scores/token_type} and the special ids). */
    public static SentencePiece fromGguf(Map<String, Object> m) {
        String[] pieces = ggufPieces(m);
        int n = pieces.length;
        float[] scores = new float[n];
        if (m.get("tokenizer.ggml.scores") instanceof List<?> sc) {
            if (sc.size() != n) throw new ModelException("tokenizer.ggml.scores has " + sc.size() + " entries for " + n + " tokens");
            for (int i = 0; i < n; i++) {
                if (!(sc.get(i) instanceof Number v)) throw new ModelException("tokenizer.ggml.scores holds a non-number at " + i);
                scores[i] = v.floatValue();
            }
        }
        return new SentencePiece(pieces, scores, ggufTypes(m, n), ggufId(m, "tokenizer.ggml.bos_token_id", 1), ggufId(m, "tokenizer.ggml.eos_token_id", 2),
                ggufId(m, "tokenizer.ggml.unknown_token_id", 0), ggufFlag(m, "tokenizer.ggml.add_bos_token", true),
                ggufFlag(m, "tokenizer.ggml.add_eos_token", false), ggufFlag(m, "tokenizer.ggml.add_space_prefix", true));
    }

    /**
     * From a sentencepiece {@code tokenizer.model} (a ModelProto protobuf: field 1 the pieces
     * {piece, score, type}, field 2 the trainer spec with the special ids, field 3 the normalizer
     * spec with add_dummy_prefix). {@code config} (config.json) overrides the special ids when set.
     */
    public static SentencePiece fromModelFile(Path file, Map<String, Object> config) {
        byte[] data;
        try {
            data = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ModelException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        int[] special = {0, 1, 2}; // unk, bos, eos: sentencepiece's defaults
        boolean[] addDummyPrefix = {true};
        try {
            Proto p = new Proto(data, 0, data.length);
            while (p.more()) {
                int tag = p.varint32();
                int field = tag >>> 3;
                if (field == 1 && (tag & 7) == 2) {
                    Proto piece = p.sub();
                    String text = "";
                    float score = 0;
                    int type = NORMAL;
                    while (piece.more()) {
                        int t = piece.varint32();
                        switch (t) {
                            case (1 << 3) | 2 -> text = piece.string();
                            case (2 << 3) | 5 -> score = piece.float32();
                            case (3 << 3) -> type = piece.varint32();
                            default -> piece.skip(t);
                        }
                    }
                    pieces.add(text);
                    scores.add(score);
                    types.add(type);
                } else if (field == 2 && (tag & 7) == 2) {
                    Proto trainer = p.sub();
                    while (trainer.more()) {
                        int t = trainer.varint32();
                        switch (t) {
                            case (40 << 3) -> special[0] = trainer.varint32();
                            case (41 << 3) -> special[1] = trainer.varint32();
                            case (42 << 3) -> special[2] = trainer.varint32();
                            default -> trainer.skip(t);
                        }
                    }
                } else if (field == 3 && (tag & 7) == 2) {
                    Proto norm = p.sub();
                    while (norm.more()) {
                        int t = norm.varint32();
                        if (t == (3 << 3)) addDummyPrefix[0] = norm.varint32() != 0;
                        else norm.skip(t);
                    }
                } else {
                    p.skip(tag);
                }
            }
        } catch (IndexOutOfBoundsException | IllegalStateException e) {
            throw new ModelException(file + ": not a valid sentencepiece model (" + e.getMessage() + ")", e);
        }
        if (pieces.isEmpty()) throw new ModelException(file + ": the sentencepiece model has no pieces");
        int n = pieces.size();
        float[] s = new float[n];
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            s[i] = scores.get(i);
            t[i] = types.get(i);
        }
        int bos = config != null && config.get("bos_token_id") instanceof Number b ? b.intValue() : special[1];
        int eos = config != null && config.get("eos_token_id") instanceof Number e ? e.intValue() : special[2];
        return new SentencePiece(pieces.toArray(String[]::new), s, t, bos, eos, Math.max(0, special[0]), true, false, addDummyPrefix[0]);
    }

    /** Minimal protobuf wire-format reader over a byte range. */
    private static final class Proto {
        final byte[] b;
        int pos;
        final int end;

        Proto(byte[] b, int pos, int end) {
            this.b = b;
            this.pos = pos;
            this.end = end;
        }

        boolean more() {
            return pos < end;
        }

        long varint() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) throw new IllegalStateException("truncated varint");
                int c = b[pos++] & 0xff;
                v |= (long) (c & 0x7f) << shift;
                if (c < 0x80) return v;
            }
            throw new IllegalStateException("varint too long");
        }

        int varint32() {
            return (int) varint();
        }

        Proto sub() {
            long n = varint();
            if (n < 0 || n > end - pos) throw new IllegalStateException("length " + n + " runs past the end");
            Proto p = new Proto(b, pos, pos + (int) n);
            pos += (int) n;
            return p;
        }

        String string() {
            Proto s = sub();
            return new String(b, s.pos, s.end - s.pos, StandardCharsets.UTF_8);
        }

        float float32() {
            if (end - pos < 4) throw new IllegalStateException("truncated float");
            int bits = (b[pos] & 0xff) | (b[pos + 1] & 0xff) << 8 | (b[pos + 2] & 0xff) << 16 | (b[pos + 3] & 0xff) << 24;
            pos += 4;
            return Float.intBitsToFloat(bits);
        }

        void skip(int tag) {
            switch (tag & 7) {
                case 0 -> varint();
                case 1 -> pos += 8;
                case 2 -> sub();
                case 5 -> pos += 4;
                default -> throw new IllegalStateException("unsupported wire type " + (tag & 7));
            }
            if (pos > end) throw new IllegalStateException("field runs past the end");
        }
    }

    // ---- encoding ------------------------------------------------------------------------------------

    @Override
    public int[] encode(String text, boolean addSpecial) {
        return encode(text, addSpecial, addSpecial);
    }

    /**
     * @param addSpecial add BOS (and EOS when the model asks for it)
     * @param parseSpecial match control pieces such as {@code <s>} in the text as tokens
     */
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        List<Integer> out = new ArrayList<>();
        if (addSpecial && addBos && bos >= 0) out.add(bos);
        boolean prevSpecial = true;
        for (Specials.Fragment f : specials.split(text, parseSpecial)) {
            if (f.id() >= 0) {
                out.add(f.id());
                prevSpecial = true;
            } else {
                encodeFragment(f.text(), prevSpecial, out);
                prevSpecial = false;
            }
        }
        if (addSpecial && addEos && eos >= 0) out.add(eos);
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private static final class Symbol {
        String text;
        int prev, next;
        boolean alive = true;
    }

    private record Bigram(int left, int right, float score, int length) {}

    private void encodeFragment(String fragment, boolean prevSpecial, List<Integer> out) {
        String text = ((addSpacePrefix && prevSpecial) ? " " : "") + fragment;
        text = text.replace(' ', '\u2581');
        // One symbol per code point.
        List<Symbol> syms = new ArrayList<>();
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int len = Character.charCount(cp);
            Symbol s = new Symbol();
            s.text = text.substring(i, i + len);
            s.prev = syms.size() - 1;
            s.next = syms.size() + 1;
            syms.add(s);
            i += len;
        }
        if (syms.isEmpty()) return;
        syms.get(syms.size() - 1).next = -1;
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) -> a.score != b.score ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        for (int i = 1; i < syms.size(); i++) tryAdd(syms, i - 1, i, queue);
        while (!queue.isEmpty()) {
            Bigram bg = queue.poll();
            Symbol l = syms.get(bg.left), r = syms.get(bg.right);
            // Stale entry: one side was merged away or changed since it was queued.
            if (!l.alive || !r.alive || l.text.length() + r.text.length() != bg.length || l.next != bg.right) continue;
            l.text = l.text + r.text;
            r.alive = false;
            l.next = r.next;
            if (r.next >= 0) syms.get(r.next).prev = bg.left;
            if (l.prev >= 0) tryAdd(syms, l.prev, bg.left, queue);
            if (l.next >= 0) tryAdd(syms, bg.left, l.next, queue);
        }
        for (int i = 0; i >= 0; i = syms.get(i).next) {
            Symbol s = syms.get(i);
            Integer id = ids.get(s.text);
            if (id != null) {
                out.add(id);
            } else {
                for (byte b : s.text.getBytes(StandardCharsets.UTF_8)) {
                    int t = byteTokens[b & 0xff];
                    out.add(t >= 0 ? t : unk);
                }
            }
        }
    }

    private void tryAdd(List<Symbol> syms, int left, int right, PriorityQueue<Bigram> queue) {
        String merged = syms.get(left).text + syms.get(right).text;
        Integer id = ids.get(merged);
        if (id == null) return;
        queue.add(new Bigram(left, right, scores[id], merged.length()));
    }

    // ---- queries ------------------------------------------------------------------------------------------

    public float score(int id) {
        return scores[id];
    }

    public boolean addBos() {
        return addBos;
    }

    public boolean addSpacePrefix() {
        return addSpacePrefix;
    }
}
