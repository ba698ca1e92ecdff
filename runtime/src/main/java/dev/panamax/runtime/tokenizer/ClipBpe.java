package dev.panamax.runtime.tokenizer;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CLIP's tokenizer (Radford et al., 2021; transformers' {@code CLIPTokenizer}): the text's
 * whitespace collapsed and lower-cased, split into words, numbers one digit each and punctuation
 * runs, each word's UTF-8 bytes as GPT-2's printable characters with {@code </w>} on the last, byte
 * pairs merged by rank from {@code merges.txt}, ids from {@code vocab.json};
 * {@code <|startoftext|>} and {@code <|endoftext|>} around the text.
 */
public final class ClipBpe implements Tokenizer {
    private static final String START = "<|startoftext|>", END = "<|endoftext|>", WORD_END = "</w>";
    private static final Pattern WORDS = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+");

    private final Map<String, Integer> vocab;
    private final String[] pieces;
    private final Map<String, Integer> ranks = new HashMap<>();
    private final int bos, eos;

    private ClipBpe(Map<String, Integer> vocab, List<String> merges) {
        this.vocab = vocab;
        int n = 0;
        for (int id : vocab.values()) n = Math.max(n, id + 1);
        pieces = new String[n];
        vocab.forEach((piece, id) -> pieces[id] = piece);
        for (int i = 0; i < merges.size(); i++) ranks.putIfAbsent(merges.get(i), i);
        Integer s = vocab.get(START), e = vocab.get(END);
        if (s == null || e == null) throw new ModelException("vocab.json lacks " + START + " or " + END);
        bos = s;
        eos = e;
    }

    /** From a directory's {@code vocab.json} and {@code merges.txt}. */
    public static ClipBpe read(Path dir) {
        try {
            Map<String, Object> json = Json.object(Json.parse(Files.readString(dir.resolve("vocab.json"))), "vocab.json");
            Map<String, Integer> vocab = new HashMap<>();
            for (var e : json.entrySet()) {
                if (!(e.getValue() instanceof Number id) || id.intValue() < 0) throw new ModelException("vocab.json: " + e.getKey() + " has no id");
                vocab.put(e.getKey(), id.intValue());
            }
            List<String> merges = new ArrayList<>();
            for (String line : Files.readAllLines(dir.resolve("merges.txt"))) {
                if (line.isBlank() || line.startsWith("#version")) continue;
                if (line.split(" ").length != 2) throw new ModelException("merges.txt: '" + line + "' is not a pair");
                merges.add(line);
            }
            return new ClipBpe(vocab, merges);
        } catch (IOException | Json.JsonException e) {
            throw new ModelException(dir + ": cannot read CLIP's vocab.json and merges.txt (" + e.getMessage() + ")", e);
        }
    }

    @Override
    public int[] encode(String text, boolean addSpecial) {
        String clean = text.strip().replaceAll("\\s+", " ").toLowerCase(Locale.ROOT);
        List<Integer> ids = new ArrayList<>();
        if (addSpecial) ids.add(bos);
        Matcher m = WORDS.matcher(clean);
        while (m.find()) {
            String word = m.group();
            if (word.equals(START) || word.equals(END)) {
                ids.add(word.equals(START) ? bos : eos);
                continue;
            }
            for (String piece : bpe(word)) {
                Integer id = vocab.get(piece);
                if (id == null) throw new ModelException("the piece '" + piece + "' of '" + word + "' is not in vocab.json");
                ids.add(id);
            }
        }
        if (addSpecial) ids.add(eos);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** A word's pieces: its bytes as printable characters, the last with {@code </w>}, merged by rank. */
    private List<String> bpe(String word) {
        byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
        List<String> sym = new ArrayList<>();
        for (byte b : bytes) sym.add(new String(Character.toChars(ByteLevelBpe.BYTE_TO_CHAR[b & 0xff])));
        sym.set(sym.size() - 1, sym.get(sym.size() - 1) + WORD_END);
        while (sym.size() > 1) {
            int best = -1, bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < sym.size(); i++) {
                Integer r = ranks.get(sym.get(i) + " " + sym.get(i + 1));
                if (r != null && r < bestRank) {
                    bestRank = r;
                    best = i;
                }
            }
            if (best < 0) break;
            // Merge every occurrence of the best pair, left to right.
            String a = sym.get(best), b = sym.get(best + 1);
            List<String> merged = new ArrayList<>();
            for (int i = 0; i < sym.size(); i++) {
                if (i + 1 < sym.size() && sym.get(i).equals(a) && sym.get(i + 1).equals(b)) {
                    merged.add(a + b);
                    i++;
                } else {
                    merged.add(sym.get(i));
                }
            }
            sym = merged;
        }
        return sym;
    }

    @Override
    public byte[] decode(int id) {
        if (id < 0 || id >= pieces.length || pieces[id] == null) return new byte[0];
        if (id == bos || id == eos) return new byte[0];
        String p = pieces[id];
        boolean end = p.endsWith(WORD_END);
        if (end) p = p.substring(0, p.length() - WORD_END.length());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        p.codePoints().forEach(cp -> {
            Integer b = ByteLevelBpe.CHAR_TO_BYTE.get(cp);
            if (b != null) out.write(b);
        });
        if (end) out.write(' ');
        return out.toByteArray();
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public int bos() {
        return bos;
    }

    @Override
    public int eos() {
        return eos;
    }

    @Override
    public String piece(int id) {
        return id >= 0 && id < pieces.length && pieces[id] != null ? pieces[id] : "";
    }
}
