package dev.panamax.runtime.tokenizer;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The tokenizer of a Hugging Face directory, from whichever file it has, in this order:
 * {@code tokenizer.model} (sentencepiece), {@code tokenizer.json} (the {@code tokenizers} library:
 * BPE with byte fallback, byte-level BPE, or WordPiece), {@code vocab.txt} (WordPiece),
 * {@code vocab.json} + {@code merges.txt} (byte-level BPE). Each is turned into the same
 * tokenizer classes the GGUF vocabularies use, in llama.cpp's conventions.
 */
public final class HfTokenizers {
    private HfTokenizers() {}

    /** The directory's tokenizer, or null when it has none. */
    public static Tokenizer load(Path dir, Map<String, Object> config) {
        try {
            // CLIP's own BPE (words end in </w>), whatever tokenizer.json says.
            if ("clip".equals(config.get("model_type")) && Files.isRegularFile(dir.resolve("vocab.json")) && Files.isRegularFile(dir.resolve("merges.txt"))) {
                return ClipBpe.read(dir);
            }
            if (Files.isRegularFile(dir.resolve("tokenizer.model"))) return SentencePiece.fromModelFile(dir.resolve("tokenizer.model"), config);
            if (Files.isRegularFile(dir.resolve("tokenizer.json"))) return fromTokenizerJson(dir.resolve("tokenizer.json"), config);
            if (Files.isRegularFile(dir.resolve("vocab.txt"))) return fromVocabTxt(Files.readAllLines(dir.resolve("vocab.txt")));
            if (Files.isRegularFile(dir.resolve("vocab.json")) && Files.isRegularFile(dir.resolve("merges.txt"))) {
                Map<String, Object> vocab = Json.object(Json.parse(Files.readString(dir.resolve("vocab.json"))), "vocab.json");
                List<String> merges = new ArrayList<>();
                for (String line : Files.readAllLines(dir.resolve("merges.txt"))) {
                    if (!line.isBlank() && !line.startsWith("#version")) merges.add(line);
                }
                return byteLevel(vocab, List.of(), merges, List.of(ByteLevelBpe.preTokenizerFor(null).get(0)), config);
            }
            return null;
        } catch (IOException e) {
            throw new ModelException(dir + ": cannot read the tokenizer (" + e.getMessage() + ")", e);
        } catch (Json.JsonException | ClassCastException e) {
            throw new ModelException(dir + ": malformed tokenizer file: " + e.getMessage(), e);
        }
    }

    static Tokenizer fromTokenizerJson(Path file, Map<String, Object> config) throws IOException {
        Map<String, Object> root = Json.object(Json.parse(Files.readString(file)), "tokenizer.json");
        Map<String, Object> model = Json.object(root.get("model"), "model");
        String type = model.get("type") instanceof String s ? s : (model.containsKey("merges") ? "BPE" : "WordPiece");
        Map<String, Object> vocab = Json.object(model.get("vocab"), "model.vocab");
        List<Object> added = root.get("added_tokens") instanceof List<?> l ? Json.array(l, "added_tokens") : List.of();
        switch (type) {
            case "WordPiece" -> {
                String prefix = model.get("continuing_subword_prefix") instanceof String p ? p : "##";
                String[] pieces = dense(vocab, added);
                return wordPiece(pieces, specialFlags(pieces, added), prefix);
            }
            case "BPE" -> {
                List<String> merges = new ArrayList<>();
                for (Object m : Json.array(model.getOrDefault("merges", List.of()), "model.merges")) {
                    if (m instanceof String s) merges.add(s);
                    else merges.add(String.join(" ", Json.array(m, "merge").stream().map(Object::toString).toList()));
                }
                if (Boolean.TRUE.equals(model.get("byte_fallback")) || usesMetaspace(root)) return sentencePieceStyle(vocab, added, merges, config);
                return byteLevel(vocab, added, merges, splitRegexes(root.get("pre_tokenizer")), config);
            }
            default -> throw new ModelException(file + ": tokenizer model type '" + type + "' is not supported (BPE, WordPiece)");
        }
    }

    /** Token strings indexed by id, from the vocabulary map and the added tokens. */
    private static String[] dense(Map<String, Object> vocab, List<Object> added) {
        int n = 0;
        for (Object v : vocab.values()) n = Math.max(n, ((Number) v).intValue() + 1);
        for (Object a : added) n = Math.max(n, ((Number) Json.object(a, "added token").get("id")).intValue() + 1);
        String[] pieces = new String[n];
        for (Map.Entry<String, Object> e : vocab.entrySet()) pieces[((Number) e.getValue()).intValue()] = e.getKey();
        for (Object a : added) {
            Map<String, Object> t = Json.object(a, "added token");
            pieces[((Number) t.get("id")).intValue()] = (String) t.get("content");
        }
        for (int i = 0; i < n; i++) if (pieces[i] == null) pieces[i] = "<unused" + i + ">";
        return pieces;
    }

    /** Token types: added special tokens are CONTROL, other added tokens USER_DEFINED. */
    private static int[] specialFlags(String[] pieces, List<Object> added) {
        int[] types = new int[pieces.length];
        Arrays.fill(types, SentencePiece.NORMAL);
        for (Object a : added) {
            Map<String, Object> t = Json.object(a, "added token");
            types[((Number) t.get("id")).intValue()] = Boolean.TRUE.equals(t.get("special")) ? SentencePiece.CONTROL : SentencePiece.USER_DEFINED;
        }
        return types;
    }

    private static boolean usesMetaspace(Map<String, Object> root) {
        return String.valueOf(root.get("pre_tokenizer")).contains("Metaspace") || String.valueOf(root.get("normalizer")).contains("▁");
    }

    /** SentencePiece-converted BPE: merge priority from the merge list, byte fallback, ▁ for spaces. */
    private static Tokenizer sentencePieceStyle(Map<String, Object> vocab, List<Object> added, List<String> merges, Map<String, Object> config) {
        String[] pieces = dense(vocab, added);
        int[] types = specialFlags(pieces, added);
        float[] scores = new float[pieces.length];
        Arrays.fill(scores, Float.NEGATIVE_INFINITY);
        java.util.Map<String, Integer> ids = new java.util.HashMap<>();
        for (int i = 0; i < pieces.length; i++) ids.putIfAbsent(pieces[i], i);
        // Earlier merges win: score a merged piece by minus the rank of the first merge producing it.
        for (int r = 0; r < merges.size(); r++) {
            String m = merges.get(r);
            int sp = m.indexOf(' ', 1);
            Integer id = ids.get(m.substring(0, sp) + m.substring(sp + 1));
            if (id != null && scores[id] == Float.NEGATIVE_INFINITY) scores[id] = -r;
        }
        int unk = 0;
        for (int i = 0; i < pieces.length; i++) {
            if (scores[i] == Float.NEGATIVE_INFINITY) scores[i] = -merges.size() - 1;
            if (pieces[i].matches("<0x[0-9A-Fa-f]{2}>")) types[i] = SentencePiece.BYTE;
            if (pieces[i].equals("<unk>")) {
                types[i] = SentencePiece.UNKNOWN;
                unk = i;
            }
        }
        int bos = config != null && config.get("bos_token_id") instanceof Number b ? b.intValue() : ids.getOrDefault("<s>", -1);
        int eos = config != null && config.get("eos_token_id") instanceof Number e ? e.intValue() : ids.getOrDefault("</s>", -1);
        return new SentencePiece(pieces, scores, types, bos, eos, unk, bos >= 0, false, true);
    }

    private static Tokenizer byteLevel(Map<String, Object> vocab, List<Object> added, List<String> merges, List<String> regexes, Map<String, Object> config) {
        String[] pieces = dense(vocab, added);
        int[] types = specialFlags(pieces, added);
        int bos = config != null && config.get("bos_token_id") instanceof Number b ? b.intValue() : -1;
        int eos = config != null && config.get("eos_token_id") instanceof Number e ? e.intValue() : -1;
        return new ByteLevelBpe(pieces, types, merges, regexes, bos, eos, false, false);
    }

    /** The Split regexes of a pre_tokenizer (Sequence or single); GPT-2's when it is a plain ByteLevel. */
    private static List<String> splitRegexes(Object pre) {
        List<String> out = new ArrayList<>();
        collect(pre, out);
        return out.isEmpty() ? ByteLevelBpe.preTokenizerFor(null) : out;
    }

    private static void collect(Object pre, List<String> out) {
        if (!(pre instanceof Map<?, ?> m)) return;
        if ("Split".equals(m.get("type")) && m.get("pattern") instanceof Map<?, ?> p && p.get("Regex") instanceof String r) out.add(r);
        if (m.get("pretokenizers") instanceof List<?> l) for (Object o : l) collect(o, out);
    }

    /** BERT's vocab.txt: one token per line, continuations marked "##". */
    public static WordPiece fromVocabTxt(List<String> lines) {
        String[] pieces = lines.toArray(String[]::new);
        int[] types = new int[pieces.length];
        Arrays.fill(types, SentencePiece.NORMAL);
        for (int i = 0; i < pieces.length; i++) {
            if (pieces[i].matches("\\[(PAD|UNK|CLS|SEP|MASK)]")) types[i] = SentencePiece.CONTROL;
        }
        return wordPiece(pieces, types, "##");
    }

    /** Rewrites Hugging Face's "##" convention into llama.cpp's "▁ starts a word" one. */
    private static WordPiece wordPiece(String[] hf, int[] types, String prefix) {
        String[] pieces = new String[hf.length];
        int unk = -1, cls = -1, sep = -1;
        for (int i = 0; i < hf.length; i++) {
            String t = hf[i];
            if (types[i] == SentencePiece.CONTROL) pieces[i] = t;
            else if (t.startsWith(prefix)) pieces[i] = t.substring(prefix.length());
            else pieces[i] = "\u2581" + t;
            switch (t) {
                case "[UNK]" -> unk = i;
                case "[CLS]" -> cls = i;
                case "[SEP]" -> sep = i;
                default -> { }
            }
        }
        return new WordPiece(pieces, types, unk, cls, sep);
    }
}
