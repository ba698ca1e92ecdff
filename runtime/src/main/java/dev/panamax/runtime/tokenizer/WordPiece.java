package dev.panamax.runtime.tokenizer;

import dev.panamax.runtime.ModelException;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * WordPiece (BERT), as llama.cpp runs its {@code bert} tokenizer model. The vocabulary is in
 * llama.cpp's converted form: a piece that starts a word carries a leading {@code ▁}, a
 * continuation carries none (Hugging Face's {@code ##} dropped).
 *
 * <ol>
 * <li>NFD-normalise; split on whitespace; drop control characters and accents; lower-case; make every
 *     punctuation mark, ASCII symbol and CJK character a word of its own;</li>
 * <li>for each word, prefix {@code ▁} and take the longest vocabulary piece from the left,
 *     repeatedly; a word with a part no piece covers becomes {@code [UNK]}.</li>
 * </ol>
 */
public final class WordPiece extends Vocabulary {

    private final Map<String, Integer> ids = new HashMap<>();
    private final int maxLength;
    private final int unk, cls, sep;
    private final Specials specials;

    public WordPiece(String[] pieces, int[] types, int unk, int cls, int sep) {
        super(pieces, types, cls, sep);
        this.unk = unk;
        this.cls = cls;
        this.sep = sep;
        int max = 0;
        for (int i = 0; i < pieces.length; i++) {
            ids.putIfAbsent(pieces[i], i);
            max = Math.max(max, pieces[i].length());
            decoded[i] = types[i] == SentencePiece.CONTROL ? new byte[0] : pieces[i].replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
        }
        this.maxLength = max;
        this.specials = new Specials(pieces, types);
    }

    public static WordPiece fromGguf(Map<String, Object> m) {
        String[] pieces = ggufPieces(m);
        return new WordPiece(pieces, ggufTypes(m, pieces.length), ggufId(m, "tokenizer.ggml.unknown_token_id", 100),
                ggufId(m, "tokenizer.ggml.cls_token_id", 101), ggufId(m, "tokenizer.ggml.seperator_token_id", 102));
    }

    @Override
    public int[] encode(String text, boolean addSpecial) {
        return encode(text, addSpecial, addSpecial);
    }

    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        List<Integer> out = new ArrayList<>();
        if (addSpecial && cls >= 0) out.add(cls);
        for (Specials.Fragment f : specials.split(text, parseSpecial)) {
            if (f.id() >= 0) {
                out.add(f.id());
                continue;
            }
            for (String word : words(f.text())) encodeWord(word, out);
        }
        if (addSpecial && sep >= 0) out.add(sep);
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    static List<String> words(String text) {
        String nfd = Normalizer.normalize(text, Normalizer.Form.NFD);
        List<String> words = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int i = 0; i < nfd.length(); ) {
            int cp = nfd.codePointAt(i);
            i += Character.charCount(cp);
            if (Character.isWhitespace(cp) || Character.isSpaceChar(cp)) {
                flush(words, cur);
                continue;
            }
            int type = Character.getType(cp);
            // After NFD, accents are separate combining marks: dropping them strips the accents.
            if (cp == 0 || cp == 0xFFFD || type == Character.CONTROL || type == Character.FORMAT || type == Character.NON_SPACING_MARK) continue;
            String lower = new String(Character.toChars(Character.toLowerCase(cp)));
            if (isPunctuation(type) || (cp < 0x7F && isSymbol(type)) || isChinese(cp)) {
                flush(words, cur);
                words.add(lower);
            } else {
                cur.append(lower);
            }
        }
        flush(words, cur);
        return words;
    }

    private static void flush(List<String> words, StringBuilder cur) {
        if (!cur.isEmpty()) {
            words.add(cur.toString());
            cur.setLength(0);
        }
    }

    private static boolean isPunctuation(int type) {
        return type == Character.CONNECTOR_PUNCTUATION || type == Character.DASH_PUNCTUATION || type == Character.START_PUNCTUATION
                || type == Character.END_PUNCTUATION || type == Character.INITIAL_QUOTE_PUNCTUATION || type == Character.FINAL_QUOTE_PUNCTUATION
                || type == Character.OTHER_PUNCTUATION;
    }

    private static boolean isSymbol(int type) {
        return type == Character.MATH_SYMBOL || type == Character.CURRENCY_SYMBOL || type == Character.MODIFIER_SYMBOL || type == Character.OTHER_SYMBOL;
    }

    private static boolean isChinese(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }

    private void encodeWord(String word, List<Integer> out) {
        String w = "\u2581" + word;
        int start = out.size();
        int n = w.length();
        for (int i = 0; i < n; ) {
            int found = -1, end = -1;
            for (int j = Math.min(n, i + maxLength); j > i; j--) {
                Integer id = ids.get(w.substring(i, j));
                if (id != null) {
                    found = id;
                    end = j;
                    break;
                }
            }
            if (found < 0) {
                while (out.size() > start) out.remove(out.size() - 1);
                out.add(unk);
                return;
            }
            out.add(found);
            i = end;
        }
    }
}
