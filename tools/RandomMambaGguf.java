import dev.panamax.runtime.format.GgufWriter;
import dev.panamax.runtime.tensor.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Random;

/**
 * Writes a random-weight Mamba GGUF of a given shape with Panamax's GGUF writer, for speed
 * measurements (speed does not depend on the weight values). Default: Mamba-130M's shape
 * (d_model 768, 24 layers, d_inner 1536, d_state 16, d_conv 4, dt_rank 48, vocab 50280).
 * With {@code --mamba2}: Mamba2-130M's shape (d_model 768, 24 layers, d_inner 1536 in 24 heads of 64,
 * d_state 128, 1 group, d_conv 4, vocab 50288), with llama.cpp's mamba2 names.
 * Usage: java -cp cli/target/panamax.jar tools/RandomMambaGguf.java OUT.gguf [d_model layers vocab] [--mamba2]
 */
public class RandomMambaGguf {
    public static void main(String[] args) throws Exception {
        boolean mamba2 = java.util.Arrays.asList(args).contains("--mamba2");
        String[] a = java.util.Arrays.stream(args).filter(x -> !x.equals("--mamba2")).toArray(String[]::new);
        if (mamba2) {
            mamba2(a);
            return;
        }
        int dim = a.length > 1 ? Integer.parseInt(a[1]) : 768, layers = a.length > 2 ? Integer.parseInt(a[2]) : 24;
        int vocab = a.length > 3 ? Integer.parseInt(a[3]) : 50280, inner = 2 * dim, state = 16, conv = 4, dtRank = (dim + 15) / 16;
        Random r = new Random(1);
        GgufWriter w = new GgufWriter();
        w.put("general.architecture", GgufWriter.string("mamba"));
        w.put("general.name", GgufWriter.string("random-mamba"));
        w.put("mamba.context_length", GgufWriter.u32(1 << 20));
        w.put("mamba.embedding_length", GgufWriter.u32(dim));
        w.put("mamba.block_count", GgufWriter.u32(layers));
        w.put("mamba.ssm.conv_kernel", GgufWriter.u32(conv));
        w.put("mamba.ssm.inner_size", GgufWriter.u32(inner));
        w.put("mamba.ssm.state_size", GgufWriter.u32(state));
        w.put("mamba.ssm.time_step_rank", GgufWriter.u32(dtRank));
        w.put("mamba.attention.layer_norm_rms_epsilon", GgufWriter.f32(1e-5));
        tensor(w, r, "token_embd.weight", 0.02f, 0, vocab, dim);
        for (int i = 0; i < layers; i++) {
            String p = "blk." + i + ".";
            tensor(w, r, p + "attn_norm.weight", 0.02f, 1, dim);
            tensor(w, r, p + "ssm_in.weight", 0.02f, 0, 2 * inner, dim);
            tensor(w, r, p + "ssm_conv1d.weight", 0.2f, 0, inner, conv);
            tensor(w, r, p + "ssm_conv1d.bias", 0.02f, 0, inner);
            tensor(w, r, p + "ssm_x.weight", 0.02f, 0, dtRank + 2 * state, inner);
            tensor(w, r, p + "ssm_dt.weight", 0.1f, 0, inner, dtRank);
            tensor(w, r, p + "ssm_dt.bias", 0.5f, -4, inner);
            tensor(w, r, p + "ssm_a", 0.5f, -1, inner, state);
            tensor(w, r, p + "ssm_d", 0.1f, 1, inner);
            tensor(w, r, p + "ssm_out.weight", 0.02f, 0, dim, inner);
        }
        tensor(w, r, "output_norm.weight", 0.02f, 1, dim);
        w.write(Path.of(a[0]));
    }

    static void mamba2(String[] a) throws Exception {
        int dim = a.length > 1 ? Integer.parseInt(a[1]) : 768, layers = a.length > 2 ? Integer.parseInt(a[2]) : 24;
        int vocab = a.length > 3 ? Integer.parseInt(a[3]) : 50288, inner = 2 * dim, headDim = 64, heads = inner / headDim, state = 128, groups = 1, conv = 4;
        int convDim = inner + 2 * groups * state, proj = inner + convDim + heads;
        Random r = new Random(1);
        GgufWriter w = new GgufWriter();
        w.put("general.architecture", GgufWriter.string("mamba2"));
        w.put("general.name", GgufWriter.string("random-mamba2"));
        w.put("mamba2.context_length", GgufWriter.u32(1 << 20));
        w.put("mamba2.embedding_length", GgufWriter.u32(dim));
        w.put("mamba2.block_count", GgufWriter.u32(layers));
        w.put("mamba2.ssm.conv_kernel", GgufWriter.u32(conv));
        w.put("mamba2.ssm.inner_size", GgufWriter.u32(inner));
        w.put("mamba2.ssm.state_size", GgufWriter.u32(state));
        w.put("mamba2.ssm.time_step_rank", GgufWriter.u32(heads));
        w.put("mamba2.ssm.group_count", GgufWriter.u32(groups));
        w.put("mamba2.attention.layer_norm_rms_epsilon", GgufWriter.f32(1e-5));
        tensor(w, r, "token_embd.weight", 0.02f, 0, vocab, dim);
        for (int i = 0; i < layers; i++) {
            String p = "blk." + i + ".";
            tensor(w, r, p + "attn_norm.weight", 0.02f, 1, dim);
            tensor(w, r, p + "ssm_in.weight", 0.02f, 0, proj, dim);
            tensor(w, r, p + "ssm_conv1d.weight", 0.2f, 0, convDim, conv);
            tensor(w, r, p + "ssm_conv1d.bias", 0.02f, 0, convDim);
            tensor(w, r, p + "ssm_dt.bias", 0.5f, -4, heads);
            tensor(w, r, p + "ssm_a", 0.5f, -1, heads, 1);
            tensor(w, r, p + "ssm_d", 0.1f, 1, heads, 1);
            tensor(w, r, p + "ssm_norm.weight", 0.02f, 1, groups, inner / groups);
            tensor(w, r, p + "ssm_out.weight", 0.02f, 0, dim, inner);
        }
        tensor(w, r, "output_norm.weight", 0.02f, 1, dim);
        w.write(Path.of(a[0]));
    }

    /** Gaussian values around {@code mean}, F32. */
    static void tensor(GgufWriter w, Random r, String name, float sd, float mean, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(4 * n)).order(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < n; i++) b.putFloat(mean + sd * (float) r.nextGaussian());
        w.tensor(name, DType.F32, shape, b.array());
    }
}
