package dev.panamax.runtime.format;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.model.ModelSource;
import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.runtime.tokenizer.SentencePiece;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Karpathy's llama2.c checkpoints ({@code run.c}'s format, little-endian):
 *
 * <pre>
 * int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len   (vocab_size &lt; 0: separate classifier)
 * float32 token_embedding[vocab][dim]
 *         rms_att[L][dim], wq[L][dim][dim], wk[L][kv_dim][dim], wv[L][kv_dim][dim], wo[L][dim][dim]
 *         rms_ffn[L][dim], w1[L][hidden][dim], w2[L][dim][hidden], w3[L][hidden][dim]
 *         rms_final[dim], freq_cis_real[seq_len][head/2], freq_cis_imag[seq_len][head/2]
 *         wcls[vocab][dim]                                                          (only when vocab_size &lt; 0)
 * </pre>
 *
 * and its {@code tokenizer.bin}: int32 max_token_length, then per token float32 score, int32 length,
 * bytes. The weights become a {@code llama} model with llama.cpp's tensor names (the Q/K layout is
 * Meta's, rotated in interleaved pairs, as in GGUF).
 */
public final class Llama2c {
    private Llama2c() {}

    public static ModelSource read(Path file) {
        Weights w = new Weights();
        try {
            MemorySegment seg = w.map(file);
            if (seg.byteSize() < 28) throw new ModelException(file + ": " + seg.byteSize() + " bytes is too short for a llama2.c checkpoint");
            ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            int dim = seg.get(I32, 0), hidden = seg.get(I32, 4), layers = seg.get(I32, 8), heads = seg.get(I32, 12),
                    kvHeads = seg.get(I32, 16), vocabSigned = seg.get(I32, 20), seqLen = seg.get(I32, 24);
            boolean shared = vocabSigned > 0;
            int vocab = Math.abs(vocabSigned);
            if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab <= 0 || seqLen <= 0
                    || dim % heads != 0 || heads % kvHeads != 0 || dim > 1 << 16 || layers > 1024 || seqLen > 1 << 20) {
                throw new ModelException(file + ": not a llama2.c checkpoint (header dim=" + dim + " hidden=" + hidden + " layers=" + layers
                        + " heads=" + heads + " kv_heads=" + kvHeads + " vocab=" + vocabSigned + " seq_len=" + seqLen + ")");
            }
            int head = dim / heads, kvDim = kvHeads * head;
            long need = 28 + 4L * ((long) vocab * dim + layers * (2L * dim + 2L * dim * dim + 2L * kvDim * dim + 3L * hidden * dim)
                    + dim + (long) seqLen * head + (shared ? 0 : (long) vocab * dim));
            if (seg.byteSize() < need) {
                throw new ModelException(file + ": truncated: the header's shapes need " + need + " bytes, the file has " + seg.byteSize());
            }
            long[] pos = {28};
            add(w, seg, pos, "token_embd.weight", vocab, dim);
            long attNorm = pos[0];
            pos[0] += 4L * layers * dim;
            long wq = pos[0];
            pos[0] += 4L * layers * dim * dim;
            long wk = pos[0];
            pos[0] += 4L * layers * kvDim * dim;
            long wv = pos[0];
            pos[0] += 4L * layers * kvDim * dim;
            long wo = pos[0];
            pos[0] += 4L * layers * dim * dim;
            long ffnNorm = pos[0];
            pos[0] += 4L * layers * dim;
            long w1 = pos[0];
            pos[0] += 4L * layers * hidden * dim;
            long w2 = pos[0];
            pos[0] += 4L * layers * dim * hidden;
            long w3 = pos[0];
            pos[0] += 4L * layers * hidden * dim;
            for (int l = 0; l < layers; l++) {
                String p = "blk." + l + ".";
                w.add(tensor(seg, p + "attn_norm.weight", attNorm + 4L * l * dim, dim));
                w.add(tensor(seg, p + "attn_q.weight", wq + 4L * l * dim * dim, dim, dim));
                w.add(tensor(seg, p + "attn_k.weight", wk + 4L * l * kvDim * dim, kvDim, dim));
                w.add(tensor(seg, p + "attn_v.weight", wv + 4L * l * kvDim * dim, kvDim, dim));
                w.add(tensor(seg, p + "attn_output.weight", wo + 4L * l * dim * dim, dim, dim));
                w.add(tensor(seg, p + "ffn_norm.weight", ffnNorm + 4L * l * dim, dim));
                w.add(tensor(seg, p + "ffn_gate.weight", w1 + 4L * l * hidden * dim, hidden, dim));
                w.add(tensor(seg, p + "ffn_down.weight", w2 + 4L * l * dim * hidden, dim, hidden));
                w.add(tensor(seg, p + "ffn_up.weight", w3 + 4L * l * hidden * dim, hidden, dim));
            }
            add(w, seg, pos, "output_norm.weight", dim);
            pos[0] += 2L * 4L * seqLen * (head / 2); // precomputed RoPE tables: recomputed instead
            if (!shared) add(w, seg, pos, "output.weight", vocab, dim);

            Map<String, Object> meta = new LinkedHashMap<>();
            meta.put("general.architecture", "llama");
            meta.put("llama.embedding_length", (long) dim);
            meta.put("llama.feed_forward_length", (long) hidden);
            meta.put("llama.block_count", (long) layers);
            meta.put("llama.attention.head_count", (long) heads);
            meta.put("llama.attention.head_count_kv", (long) kvHeads);
            meta.put("llama.context_length", (long) seqLen);
            meta.put("llama.vocab_size", (long) vocab);
            meta.put("llama.attention.layer_norm_rms_epsilon", 1e-5f);
            meta.put("llama.rope.freq_base", 10000f);
            Path tokFile = file.resolveSibling("tokenizer.bin");
            SentencePiece tok = Files.isRegularFile(tokFile) ? readTokenizer(tokFile, vocab) : null;
            return new ModelSource(file, "gguf", "llama", meta, w, tok, null, new int[] {2});
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    private static Tensor tensor(MemorySegment seg, String name, long off, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return new Tensor(name, DType.F32, shape, seg.asSlice(off, 4 * n));
    }

    private static void add(Weights w, MemorySegment seg, long[] pos, String name, long... shape) {
        Tensor t = tensor(seg, name, pos[0], shape);
        w.add(t);
        pos[0] += t.data().byteSize();
    }

    /**
     * llama2.c's tokenizer.bin: pieces with spaces as ' ' (sentencepiece's '▁' restored here),
     * ids 0-2 unk/BOS/EOS and 3-258 the byte tokens {@code <0x00>}…{@code <0xFF>}, as run.c assumes.
     */
    public static SentencePiece readTokenizer(Path file, int vocab) {
        try {
            byte[] all = Files.readAllBytes(file);
            ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
            if (b.remaining() < 4) throw new ModelException(file + ": too short for a tokenizer.bin");
            b.getInt(); // max_token_length
            String[] pieces = new String[vocab];
            float[] scores = new float[vocab];
            int[] types = new int[vocab];
            for (int i = 0; i < vocab; i++) {
                if (b.remaining() < 8) throw new ModelException(file + ": truncated at token " + i + " of " + vocab);
                scores[i] = b.getFloat();
                int len = b.getInt();
                if (len < 0 || len > b.remaining()) throw new ModelException(file + ": token " + i + " claims " + len + " bytes, " + b.remaining() + " left");
                byte[] s = new byte[len];
                b.get(s);
                pieces[i] = new String(s, StandardCharsets.UTF_8).replace(' ', '\u2581');
                types[i] = i == 0 ? SentencePiece.UNKNOWN : i <= 2 ? SentencePiece.CONTROL
                        : pieces[i].matches("<0x[0-9A-F]{2}>") ? SentencePiece.BYTE : SentencePiece.NORMAL;
            }
            return new SentencePiece(pieces, scores, types, 1, 2, 0, true, false, true);
        } catch (IOException e) {
            throw new ModelException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }
}
