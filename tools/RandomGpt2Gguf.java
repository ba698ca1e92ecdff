import dev.panamax.runtime.format.GgufWriter;
import dev.panamax.runtime.tensor.DType;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Writes a random-weight GPT-2 GGUF (llama.cpp's {@code gpt2} tensor names) of a given shape, for
 * speed measurements: weights as {@link RandomLlamaGguf}'s, LayerNorm gains 1 and every bias 0,
 * no tokenizer (benchmarks feed token ids). Runs beside RandomLlamaGguf.java (JDK 22+ finds it).
 * Usage: java -cp panamax.jar tools/RandomGpt2Gguf.java OUT.gguf DIM LAYERS HEADS CONTEXT VOCAB [f32|f16]
 *   gpt2 (124M): 768 12 12 1024 50257
 */
public class RandomGpt2Gguf {
    public static void main(String[] a) throws Exception {
        if (a.length < 6) {
            System.err.println("usage: RandomGpt2Gguf OUT.gguf DIM LAYERS HEADS CONTEXT VOCAB [f32|f16]");
            System.exit(2);
        }
        int dim = Integer.parseInt(a[1]), layers = Integer.parseInt(a[2]), heads = Integer.parseInt(a[3]);
        int context = Integer.parseInt(a[4]), vocab = Integer.parseInt(a[5]), ffn = 4 * dim;
        DType type = a.length > 6 && a[6].equalsIgnoreCase("f16") ? DType.F16 : DType.F32;
        SplittableRandom r = new SplittableRandom(0);
        GgufWriter w = new GgufWriter();
        w.put("general.architecture", GgufWriter.string("gpt2"));
        w.put("general.name", GgufWriter.string("random-gpt2-" + layers + "x" + dim));
        w.put("gpt2.context_length", GgufWriter.u32(context));
        w.put("gpt2.embedding_length", GgufWriter.u32(dim));
        w.put("gpt2.block_count", GgufWriter.u32(layers));
        w.put("gpt2.feed_forward_length", GgufWriter.u32(ffn));
        w.put("gpt2.attention.head_count", GgufWriter.u32(heads));
        w.put("gpt2.attention.layer_norm_epsilon", GgufWriter.f32(1e-5));
        w.put("tokenizer.ggml.model", GgufWriter.string("no_vocab"));
        RandomLlamaGguf.matrix(w, r, type, "token_embd.weight", vocab, dim);
        RandomLlamaGguf.matrix(w, r, DType.F32, "position_embd.weight", context, dim);
        for (int i = 0; i < layers; i++) {
            String p = "blk." + i + ".";
            RandomLlamaGguf.ones(w, p + "attn_norm.weight", dim);
            zeros(w, p + "attn_norm.bias", dim);
            RandomLlamaGguf.matrix(w, r, type, p + "attn_qkv.weight", 3L * dim, dim);
            zeros(w, p + "attn_qkv.bias", 3 * dim);
            RandomLlamaGguf.matrix(w, r, type, p + "attn_output.weight", dim, dim);
            zeros(w, p + "attn_output.bias", dim);
            RandomLlamaGguf.ones(w, p + "ffn_norm.weight", dim);
            zeros(w, p + "ffn_norm.bias", dim);
            RandomLlamaGguf.matrix(w, r, type, p + "ffn_up.weight", ffn, dim);
            zeros(w, p + "ffn_up.bias", ffn);
            RandomLlamaGguf.matrix(w, r, type, p + "ffn_down.weight", dim, ffn);
            zeros(w, p + "ffn_down.bias", dim);
        }
        RandomLlamaGguf.ones(w, "output_norm.weight", dim);
        zeros(w, "output_norm.bias", dim);
        w.write(Path.of(a[0]));
    }

    static void zeros(GgufWriter w, String name, int n) {
        w.tensor(name, DType.F32, new long[] {n}, new byte[4 * n]);
    }
}
