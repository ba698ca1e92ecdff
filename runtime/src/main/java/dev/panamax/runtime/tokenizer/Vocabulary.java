package dev.panamax.runtime.tokenizer;

import dev.panamax.runtime.ModelException;
import java.util.List;
import java.util.Map;

/**
 * What every tokenizer model here shares: the pieces by id, their types (sentencepiece's numbering,
 * as in GGUF's {@code tokenizer.ggml.token_type}), the bytes each id decodes to, and BOS/EOS.
 */
abstract class Vocabulary implements Tokenizer {

    final String[] pieces;
    final int[] types;
    final byte[][] decoded;
    private final int bos, eos;

    Vocabulary(String[] pieces, int[] types, int bos, int eos) {
        if (pieces.length != types.length) throw new ModelException("tokenizer: " + pieces.length + " pieces but " + types.length + " types");
        for (int id : new int[] {bos, eos}) {
            if (id >= pieces.length) throw new ModelException("tokenizer: special id " + id + " is outside the vocabulary of " + pieces.length);
        }
        this.pieces = pieces;
        this.types = types;
        this.bos = bos;
        this.eos = eos;
        this.decoded = new byte[pieces.length][];
    }

    @Override
    public final byte[] decode(int id) {
        if (id < 0 || id >= pieces.length) throw new ModelException("token id " + id + " is outside the vocabulary of " + pieces.length);
        return decoded[id];
    }

    @Override
    public final int vocabSize() {
        return pieces.length;
    }

    @Override
    public final int bos() {
        return bos;
    }

    @Override
    public final int eos() {
        return eos;
    }

    @Override
    public final String piece(int id) {
        return pieces[id];
    }

    /** The piece's type: NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED or BYTE. */
    public final int type(int id) {
        return types[id];
    }

    // ---- GGUF metadata ---------------------------------------------------------------------------

    static String[] ggufPieces(Map<String, Object> m) {
        if (!(m.get("tokenizer.ggml.tokens") instanceof List<?> l)) throw new ModelException("GGUF metadata has no tokenizer.ggml.tokens");
        String[] pieces = new String[l.size()];
        for (int i = 0; i < pieces.length; i++) {
            if (!(l.get(i) instanceof String s)) throw new ModelException("tokenizer.ggml.tokens holds a non-string at " + i);
            pieces[i] = s;
        }
        return pieces;
    }

    static int[] ggufTypes(Map<String, Object> m, int n) {
        int[] types = new int[n];
        if (!(m.get("tokenizer.ggml.token_type") instanceof List<?> l)) {
            java.util.Arrays.fill(types, SentencePiece.NORMAL);
            return types;
        }
        if (l.size() != n) throw new ModelException("tokenizer.ggml.token_type has " + l.size() + " entries for " + n + " tokens");
        for (int i = 0; i < n; i++) {
            if (!(l.get(i) instanceof Number v)) throw new ModelException("tokenizer.ggml.token_type holds a non-number at " + i);
            types[i] = v.intValue();
        }
        return types;
    }

    static int ggufId(Map<String, Object> m, String key, int fallback) {
        return m.get(key) instanceof Number n ? (int) Math.max(-1, Math.min(Integer.MAX_VALUE, n.longValue())) : fallback;
    }

    static boolean ggufFlag(Map<String, Object> m, String key, boolean fallback) {
        return m.get(key) instanceof Boolean b ? b : fallback;
    }
}
