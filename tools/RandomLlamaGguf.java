import dev.panamax.runtime.format.GgufWriter;
import dev.panamax.runtime.tensor.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Writes a random-weight Llama GGUF of a given shape with Panamax's GGUF writer, for speed
 * measurements where llama.cpp's gguf-py is not at hand (the GPU machine): the shapes of
 * ../shared/bench/make_random_gguf.py, no tokenizer ("no_vocab": benchmarks feed token ids), weights uniform
 * with standard deviation 0.02, norms 1. Quantize the result with {@code panamax quantize}.
 * Usage: java -cp panamax.jar tools/RandomLlamaGguf.java OUT.gguf DIM LAYERS HEADS KV_HEADS FFN VOCAB [f32|f16 [CONTEXT]]
 * (CONTEXT: the trained context length written, default 2048; VOCAB may be a GGUF file instead of a count:
 * its tokenizer is copied and its vocabulary's size taken, so that text goes in and out — the server's
 * load test on a model of this shape)
 *   smol135:   576 30 9 3 1536 49152        tinyllama: 2048 22 32 4 5632 32000
 */
public class RandomLlamaGguf {
    public static void main(String[] a) throws Exception {
        if (a.length < 7) {
            System.err.println("usage: RandomLlamaGguf OUT.gguf DIM LAYERS HEADS KV_HEADS FFN VOCAB [f32|f16 [CONTEXT]]");
            System.exit(2);
        }
        int dim = Integer.parseInt(a[1]), layers = Integer.parseInt(a[2]), heads = Integer.parseInt(a[3]), kvHeads = Integer.parseInt(a[4]);
        boolean vocabFile = a[6].endsWith(".gguf");
        dev.panamax.runtime.format.Gguf tokenizer = vocabFile ? dev.panamax.runtime.format.Gguf.read(Path.of(a[6])) : null;
        int ffn = Integer.parseInt(a[5]), hd = dim / heads;
        int vocab = vocabFile ? ((java.util.List<?>) tokenizer.metadata().get("tokenizer.ggml.tokens")).size() : Integer.parseInt(a[6]);
        DType type = a.length > 7 && a[7].equalsIgnoreCase("f16") ? DType.F16 : DType.F32;
        SplittableRandom r = new SplittableRandom(0);
        GgufWriter w = new GgufWriter();
        w.put("general.architecture", GgufWriter.string("llama"));
        w.put("general.name", GgufWriter.string("random-llama-" + layers + "x" + dim));
        w.put("llama.context_length", GgufWriter.u32(a.length > 8 ? Integer.parseInt(a[8]) : 2048));
        w.put("llama.embedding_length", GgufWriter.u32(dim));
        w.put("llama.block_count", GgufWriter.u32(layers));
        w.put("llama.feed_forward_length", GgufWriter.u32(ffn));
        w.put("llama.attention.head_count", GgufWriter.u32(heads));
        w.put("llama.attention.head_count_kv", GgufWriter.u32(kvHeads));
        w.put("llama.rope.dimension_count", GgufWriter.u32(hd));
        w.put("llama.attention.layer_norm_rms_epsilon", GgufWriter.f32(1e-5));
        w.put("llama.vocab_size", GgufWriter.u32(vocab));
        if (vocabFile) {
            for (var e : tokenizer.metadata().entrySet()) {
                if (e.getKey().startsWith("tokenizer.")) w.put(e.getKey(), GgufWriter.read(tokenizer.metadataTypes().get(e.getKey()), e.getValue()));
            }
        } else {
            w.put("tokenizer.ggml.model", GgufWriter.string("no_vocab")); // no tokenizer, in llama.cpp's words (so llama-bench loads it)
        }
        matrix(w, r, type, "token_embd.weight", vocab, dim);
        for (int i = 0; i < layers; i++) {
            String p = "blk." + i + ".";
            ones(w, p + "attn_norm.weight", dim);
            ones(w, p + "ffn_norm.weight", dim);
            matrix(w, r, type, p + "attn_q.weight", dim, dim);
            matrix(w, r, type, p + "attn_k.weight", kvHeads * hd, dim);
            matrix(w, r, type, p + "attn_v.weight", kvHeads * hd, dim);
            matrix(w, r, type, p + "attn_output.weight", dim, dim);
            matrix(w, r, type, p + "ffn_gate.weight", ffn, dim);
            matrix(w, r, type, p + "ffn_up.weight", ffn, dim);
            matrix(w, r, type, p + "ffn_down.weight", dim, ffn);
        }
        ones(w, "output_norm.weight", dim);
        matrix(w, r, type, "output.weight", vocab, dim);
        w.write(Path.of(a[0]));
    }

    static void ones(GgufWriter w, String name, int n) {
        ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) b.putFloat(1f);
        w.tensor(name, DType.F32, new long[] {n}, b.array());
    }

    static void matrix(GgufWriter w, SplittableRandom r, DType type, String name, long rows, long cols) {
        long n = rows * cols;
        int bytes = type == DType.F16 ? 2 : 4;
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(bytes * n)).order(ByteOrder.LITTLE_ENDIAN);
        float half = 0.02f * (float) Math.sqrt(3); // uniform on [−h, h] has standard deviation h/√3
        for (long i = 0; i < n; i++) {
            float v = (float) ((r.nextDouble() * 2 - 1) * half);
            if (type == DType.F16) b.putShort(Float.floatToFloat16(v));
            else b.putFloat(v);
        }
        w.tensor(name, type, new long[] {rows, cols}, b.array());
    }
}
