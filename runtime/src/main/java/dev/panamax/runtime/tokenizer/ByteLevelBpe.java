package dev.panamax.runtime.tokenizer;

import dev.panamax.runtime.ModelException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte-level BPE (GPT-2 and its descendants), as llama.cpp runs its {@code gpt2} tokenizer model:
 *
 * <ol>
 * <li>the text is split into pre-tokens by the family's regular expressions ({@code tokenizer.ggml.pre}),
 *     applied one after another, each splitting every piece the previous one left, keeping both the
 *     matches and the text between them;</li>
 * <li>each pre-token's UTF-8 bytes are mapped to printable characters (GPT-2's bytes_to_unicode);</li>
 * <li>adjacent symbols are merged by merge rank, lowest first (ties: leftmost), until no listed
 *     merge applies; each symbol is then a token (or, failing that, one token per byte).</li>
 * </ol>
 */
public final class ByteLevelBpe extends Vocabulary {

    private final Map<String, Integer> ids = new HashMap<>();
    private final Map<String, Integer> ranks = new HashMap<>();
    private final List<Pattern> preTokenizer;
    private final Specials specials;
    private final int bos, eos;
    private final boolean addBos, addEos;

    /** GPT-2's reversible map from bytes to printable code points, and back. */
    static final int[] BYTE_TO_CHAR = new int[256];
    static final Map<Integer, Integer> CHAR_TO_BYTE = new HashMap<>();

    static {
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            BYTE_TO_CHAR[b] = printable ? b : 256 + n++;
            CHAR_TO_BYTE.put(BYTE_TO_CHAR[b], b);
        }
    }

    // Pre-tokenizer expressions of llama.cpp's llm_tokenizer_bpe, by tokenizer.ggml.pre.
    private static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    private static final String LLAMA3 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static final String QWEN2 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    static List<String> preTokenizerFor(String pre) {
        return switch (pre == null ? "default" : pre) {
            case "llama3", "llama-bpe", "smaug-bpe", "falcon3", "pixtral", "dbrx" -> List.of(LLAMA3);
            case "qwen2", "stablelm2", "deepseek-r1-qwen", "hunyuan" -> List.of(QWEN2);
            case "falcon" -> List.of("[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2, "[0-9][0-9][0-9]");
            case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b" -> List.of("\\p{N}", GPT2);
            case "deepseek-coder" -> List.of("[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}");
            // Three Greek Extended range ends are escaped: normalised to NFC they become
            // look-alike Greek letters from the Greek block, and the ranges would run backwards.
            case "deepseek-llm" -> List.of("[\r\n]",
                    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1F7Dᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
                    "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+");
            case "default", "gpt-2", "gpt2", "mpt", "olmo", "phi-2", "jina-es", "jina-de", "jina-v2-es", "jina-v2-de", "jina-v2-code",
                 "roberta-bpe", "poro-chat", "viking", "jais", "gpt3-finnish" -> List.of(GPT2);
            default -> throw new ModelException("pre-tokenizer '" + pre + "' (tokenizer.ggml.pre) is not supported; supported: gpt-2, mpt, llama3, "
                    + "qwen2, falcon, starcoder, refact, deepseek-llm, deepseek-coder and their aliases");
        };
    }

    public ByteLevelBpe(String[] pieces, int[] types, List<String> merges, List<String> preTokenizer, int bos, int eos, boolean addBos, boolean addEos) {
        super(pieces, types, bos, eos);
        this.bos = bos;
        this.eos = eos;
        this.addBos = addBos;
        this.addEos = addEos;
        for (int i = 0; i < pieces.length; i++) ids.putIfAbsent(pieces[i], i);
        for (int r = 0; r < merges.size(); r++) {
            String m = merges.get(r);
            int sp = m.indexOf(' ', 1);
            if (sp < 0) throw new ModelException("tokenizer merge #" + r + " '" + m + "' has no space");
            ranks.putIfAbsent(m.substring(0, sp) + "\u0000" + m.substring(sp + 1), r);
        }
        this.preTokenizer = preTokenizer.stream().map(p -> Pattern.compile(p, Pattern.UNICODE_CHARACTER_CLASS)).toList();
        this.specials = new Specials(pieces, types);
        for (int i = 0; i < pieces.length; i++) {
            if (types[i] == SentencePiece.CONTROL || types[i] == SentencePiece.UNUSED) {
                decoded[i] = new byte[0];
            } else if (types[i] == SentencePiece.USER_DEFINED) {
                decoded[i] = pieces[i].getBytes(StandardCharsets.UTF_8);
            } else {
                ByteArrayOutputStream b = new ByteArrayOutputStream();
                pieces[i].codePoints().forEach(cp -> {
                    Integer by = CHAR_TO_BYTE.get(cp);
                    if (by != null) b.write(by);
                    else b.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
                });
                decoded[i] = b.toByteArray();
            }
        }
    }

    /** From GGUF metadata: tokens, token types, merges and the pre-tokenizer name. */
    public static ByteLevelBpe fromGguf(Map<String, Object> m) {
        String[] pieces = ggufPieces(m);
        List<String> merges = new ArrayList<>();
        if (m.get("tokenizer.ggml.merges") instanceof List<?> l) {
            for (Object o : l) {
                if (!(o instanceof String merge)) throw new ModelException("tokenizer.ggml.merges holds a non-string");
                merges.add(merge);
            }
        }
        String pre = m.get("tokenizer.ggml.pre") instanceof String s ? s : null;
        return new ByteLevelBpe(pieces, ggufTypes(m, pieces.length), merges, preTokenizerFor(pre), ggufId(m, "tokenizer.ggml.bos_token_id", -1),
                ggufId(m, "tokenizer.ggml.eos_token_id", -1), ggufFlag(m, "tokenizer.ggml.add_bos_token", false),
                ggufFlag(m, "tokenizer.ggml.add_eos_token", false));
    }

    @Override
    public int[] encode(String text, boolean addSpecial) {
        return encode(text, addSpecial, addSpecial);
    }

    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        List<Integer> out = new ArrayList<>();
        if (addSpecial && addBos && bos >= 0) out.add(bos);
        for (Specials.Fragment f : specials.split(text, parseSpecial)) {
            if (f.id() >= 0) {
                out.add(f.id());
                continue;
            }
            for (String word : preTokenize(f.text())) encodeWord(word, out);
        }
        if (addSpecial && addEos && eos >= 0) out.add(eos);
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Applies each expression in turn to every piece, keeping matches and the gaps between them. */
    List<String> preTokenize(String text) {
        List<String> parts = List.of(text);
        for (Pattern p : preTokenizer) {
            List<String> next = new ArrayList<>();
            for (String part : parts) {
                Matcher m = p.matcher(part);
                int last = 0;
                while (m.find()) {
                    if (m.end() == m.start()) continue;
                    if (m.start() > last) next.add(part.substring(last, m.start()));
                    next.add(m.group());
                    last = m.end();
                }
                if (last < part.length()) next.add(part.substring(last));
            }
            parts = next;
        }
        return parts;
    }

    private record Pair(int left, int right, int rank, int length) {}

    private void encodeWord(String word, List<Integer> out) {
        byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
        List<String> sym = new ArrayList<>(bytes.length);
        for (byte b : bytes) sym.add(new String(Character.toChars(BYTE_TO_CHAR[b & 0xff])));
        int n = sym.size();
        int[] prev = new int[n], next = new int[n];
        boolean[] dead = new boolean[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Pair> q = new PriorityQueue<>((a, b) -> a.rank != b.rank ? Integer.compare(a.rank, b.rank) : Integer.compare(a.left, b.left));
        for (int i = 0; i + 1 < n; i++) offer(sym, i, i + 1, q);
        while (!q.isEmpty()) {
            Pair p = q.poll();
            if (dead[p.left] || dead[p.right] || next[p.left] != p.right
                    || sym.get(p.left).length() + sym.get(p.right).length() != p.length) continue;
            sym.set(p.left, sym.get(p.left) + sym.get(p.right));
            dead[p.right] = true;
            next[p.left] = next[p.right];
            if (next[p.right] >= 0) prev[next[p.right]] = p.left;
            if (prev[p.left] >= 0) offer(sym, prev[p.left], p.left, q);
            if (next[p.left] >= 0) offer(sym, p.left, next[p.left], q);
        }
        for (int i = 0; i >= 0 && i < n; i = next[i]) {
            if (dead[i]) continue;
            Integer id = ids.get(sym.get(i));
            if (id != null) {
                out.add(id);
            } else {
                // Not in the vocabulary: one token per byte-character.
                sym.get(i).codePoints().forEach(cp -> {
                    Integer t = ids.get(new String(Character.toChars(cp)));
                    if (t != null) out.add(t);
                });
            }
        }
    }

    private void offer(List<String> sym, int l, int r, PriorityQueue<Pair> q) {
        Integer rank = ranks.get(sym.get(l) + "\u0000" + sym.get(r));
        if (rank != null) q.add(new Pair(l, r, rank, sym.get(l).length() + sym.get(r).length()));
    }
}
