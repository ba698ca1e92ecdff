package dev.panamax.models;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.format.GgufWriter;
import dev.panamax.runtime.model.ModelLoader;
import dev.panamax.runtime.model.ModelSource;
import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.runtime.tokenizer.SentencePiece;
import dev.panamax.simd.Kernels;
import dev.panamax.simd.Simd;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Converts a Hugging Face Llama-family directory to a GGUF file llama.cpp loads, as its
 * {@code convert_hf_to_gguf.py} would: llama.cpp's tensor names and metadata keys, matrices in the
 * requested type (1-D tensors stay F32), and Q/K rows permuted from Hugging Face's rotate-half RoPE
 * layout to the interleaved pairs llama.cpp's {@code llama} architecture rotates.
 */
public final class GgufExport {
    private GgufExport() {}

    public static void convert(Path hfDir, Path out, DType type) throws IOException {
        convert(hfDir, out, QuantPlan.of(type));
    }

    /** As {@link #convert(Path, Path, DType)}, each matrix in the type {@code plan} gives it. */
    public static void convert(Path hfDir, Path out, QuantPlan plan) throws IOException {
        ModelSource src = ModelLoader.readHuggingFace(hfDir);
        plan = plan.withLayers(Cfg.integerOr(src.config(), "num_hidden_layers", 0));
        try (var weights = src.weights()) {
            if (src.architecture().equals("mamba")) {
                writeMamba(src, out, plan);
                return;
            }
            if (src.architecture().equals("bert")) {
                writeBert(src, out, plan);
                return;
            }
            if (src.architecture().equals("mamba2")) {
                writeMamba2(src, out, plan);
                return;
            }
            if (!List.of("llama", "mistral").contains(src.architecture())) {
                throw new ModelException("GGUF export supports llama, mistral and mamba directories so far, not " + src.architecture());
            }
            Llama.Config c = Llama.Config.fromHuggingFace(src.config(), src.architecture());
            if (c.slidingWindow() > 0) throw new ModelException("GGUF export of sliding-window attention is not supported yet");
            if (src.tokenizer() != null && !(src.tokenizer() instanceof SentencePiece)) {
                throw new ModelException(hfDir + ": GGUF export writes SentencePiece vocabularies so far");
            }
            Kernels k = Simd.kernels();
            GgufWriter w = new GgufWriter();
            String a = "llama.";
            w.put("general.architecture", GgufWriter.string("llama"));
            w.put("general.name", GgufWriter.string(hfDir.getFileName().toString()));
            w.put("general.file_type", GgufWriter.u32(plan.fileType()));
            w.put(a + "context_length", GgufWriter.u32(c.context()));
            w.put(a + "embedding_length", GgufWriter.u32(c.dim()));
            w.put(a + "block_count", GgufWriter.u32(c.layers()));
            w.put(a + "feed_forward_length", GgufWriter.u32(c.ffnDim()));
            w.put(a + "rope.dimension_count", GgufWriter.u32(c.headDim()));
            w.put(a + "attention.head_count", GgufWriter.u32(c.heads()));
            w.put(a + "attention.head_count_kv", GgufWriter.u32(c.kvHeads()));
            w.put(a + "attention.key_length", GgufWriter.u32(c.headDim()));
            w.put(a + "attention.value_length", GgufWriter.u32(c.headDim()));
            w.put(a + "attention.layer_norm_rms_epsilon", GgufWriter.f32(c.normEps()));
            w.put(a + "rope.freq_base", GgufWriter.f32(c.ropeTheta()));
            w.put(a + "vocab_size", GgufWriter.u32(c.vocab()));
            if (src.tokenizer() instanceof SentencePiece tok) {
                int n = tok.vocabSize();
                List<String> pieces = new ArrayList<>(n);
                float[] scores = new float[n];
                int[] types = new int[n];
                for (int i = 0; i < n; i++) {
                    pieces.add(tok.piece(i));
                    scores[i] = tok.score(i);
                    types[i] = tok.type(i);
                }
                w.put("tokenizer.ggml.model", GgufWriter.string("llama"));
                w.put("tokenizer.ggml.tokens", GgufWriter.strings(pieces));
                w.put("tokenizer.ggml.scores", GgufWriter.f32s(scores));
                w.put("tokenizer.ggml.token_type", GgufWriter.i32s(types));
                w.put("tokenizer.ggml.bos_token_id", GgufWriter.u32(tok.bos()));
                w.put("tokenizer.ggml.eos_token_id", GgufWriter.u32(tok.eos()));
                w.put("tokenizer.ggml.unknown_token_id", GgufWriter.u32(0));
                w.put("tokenizer.ggml.add_bos_token", GgufWriter.bool(tok.addBos()));
                w.put("tokenizer.ggml.add_space_prefix", GgufWriter.bool(tok.addSpacePrefix()));
            }
            if (src.chatTemplate() != null) w.put("tokenizer.chat_template", GgufWriter.string(src.chatTemplate()));
            if (c.ropeScaling() != null) {
                // As llama.cpp's converter: Llama 3 scaling as one divisor per rotated pair.
                float[] base = Llama.Model.ropeFrequencies(new Llama.Config(c.type(), c.dim(), c.layers(), c.heads(), c.kvHeads(), c.headDim(),
                        c.ffnDim(), c.vocab(), c.context(), c.normEps(), c.ropeTheta(), null, false, 0, false, false));
                float[] scaled = Llama.Model.ropeFrequencies(c);
                float[] factors = new float[base.length];
                for (int j = 0; j < factors.length; j++) factors[j] = base[j] / scaled[j];
                ByteBuffer b = ByteBuffer.allocate(4 * factors.length).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(factors);
                w.tensor("rope_freqs.weight", DType.F32, new long[] {factors.length}, b.array());
            }

            Map<String, Tensor> all = weights.all();
            put(w, k, all.get("model.embed_tokens.weight"), "token_embd.weight", plan, 0);
            for (int i = 0; i < c.layers(); i++) {
                String h = "model.layers." + i + ".", g = "blk." + i + ".";
                put(w, k, need(all, h + "input_layernorm.weight"), g + "attn_norm.weight", F32, 0);
                put(w, k, need(all, h + "self_attn.q_proj.weight"), g + "attn_q.weight", plan, c.heads());
                put(w, k, need(all, h + "self_attn.k_proj.weight"), g + "attn_k.weight", plan, c.kvHeads());
                put(w, k, need(all, h + "self_attn.v_proj.weight"), g + "attn_v.weight", plan, 0);
                put(w, k, need(all, h + "self_attn.o_proj.weight"), g + "attn_output.weight", plan, 0);
                put(w, k, need(all, h + "post_attention_layernorm.weight"), g + "ffn_norm.weight", F32, 0);
                put(w, k, need(all, h + "mlp.gate_proj.weight"), g + "ffn_gate.weight", plan, 0);
                put(w, k, need(all, h + "mlp.up_proj.weight"), g + "ffn_up.weight", plan, 0);
                put(w, k, need(all, h + "mlp.down_proj.weight"), g + "ffn_down.weight", plan, 0);
            }
            put(w, k, need(all, "model.norm.weight"), "output_norm.weight", F32, 0);
            Tensor head = all.get("lm_head.weight");
            if (head != null) put(w, k, head, "output.weight", plan, 0);
            w.write(out);
        }
    }

    /**
     * {@code panamax quantize}: a Hugging Face directory is converted as {@link #convert} does; a GGUF
     * file is rewritten with the same metadata (general.file_type updated) and every float matrix
     * whose rows are whole blocks quantized to {@code type}; other tensors are copied as they are.
     * {@code progress} hears (tensors done, tensors in all).
     */
    public static void quantize(Path in, Path out, QuantPlan plan, java.util.function.BiConsumer<Integer, Integer> progress) throws IOException {
        if (java.nio.file.Files.isDirectory(in)) {
            convert(in, out, plan);
            return;
        }
        var gguf = dev.panamax.runtime.format.Gguf.read(in);
        try (var weights = gguf.weights()) {
            int layers = 0;
            for (String name : weights.all().keySet()) {
                if (name.startsWith("blk.")) layers = Math.max(layers, Integer.parseInt(name.substring(4, name.indexOf('.', 4))) + 1);
            }
            plan = plan.withLayers(layers);
            Kernels k = Simd.kernels();
            GgufWriter w = new GgufWriter();
            for (var e : gguf.metadata().entrySet()) {
                if (e.getKey().equals("general.file_type") || e.getKey().equals("general.alignment")) continue;
                w.put(e.getKey(), GgufWriter.read(gguf.metadataTypes().get(e.getKey()), e.getValue()));
            }
            w.put("general.file_type", GgufWriter.u32(plan.fileType()));
            int done = 0, all = weights.all().size();
            for (Tensor t : weights.all().values()) {
                boolean floatMatrix = !t.type().quantized() && t.rank() == 2;
                if (floatMatrix) {
                    put(w, k, t, t.name(), plan, 0);
                } else {
                    w.tensor(t.name(), t.type(), t.shape(), t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                }
                if (progress != null) progress.accept(++done, all);
            }
            w.write(out);
        }
    }

    /** Mamba with llama.cpp's names and keys; its ssm_a holds A = −exp(A_log), as llama.cpp's converter writes it. */
    private static void writeMamba(ModelSource src, Path out, QuantPlan plan) throws IOException {
        Map<String, Object> m = src.config();
        Kernels k = Simd.kernels();
        int dim = Cfg.integer(m, "hidden_size"), layers = Cfg.integer(m, "num_hidden_layers");
        int inner = Cfg.integerOr(m, "intermediate_size", 2 * dim);
        GgufWriter w = new GgufWriter();
        w.put("general.architecture", GgufWriter.string("mamba"));
        w.put("general.name", GgufWriter.string(src.path().getFileName().toString()));
        w.put("general.file_type", GgufWriter.u32(plan.fileType()));
        w.put("mamba.context_length", GgufWriter.u32(1 << 20));
        w.put("mamba.embedding_length", GgufWriter.u32(dim));
        w.put("mamba.feed_forward_length", GgufWriter.u32(0));
        w.put("mamba.attention.head_count", GgufWriter.u32(0));
        w.put("mamba.block_count", GgufWriter.u32(layers));
        w.put("mamba.ssm.conv_kernel", GgufWriter.u32(Cfg.integer(m, "conv_kernel")));
        w.put("mamba.ssm.inner_size", GgufWriter.u32(inner));
        w.put("mamba.ssm.state_size", GgufWriter.u32(Cfg.integer(m, "state_size")));
        w.put("mamba.ssm.time_step_rank", GgufWriter.u32(Cfg.integer(m, "time_step_rank")));
        w.put("mamba.attention.layer_norm_rms_epsilon", GgufWriter.f32(Cfg.numberOr(m, "layer_norm_epsilon", 1e-5)));
        Map<String, Tensor> all = src.weights().all();
        put(w, k, need(all, "backbone.embeddings.weight"), "token_embd.weight", plan, 0);
        for (int i = 0; i < layers; i++) {
            String h = "backbone.layers." + i + ".", g = "blk." + i + ".";
            put(w, k, need(all, h + "norm.weight"), g + "attn_norm.weight", F32, 0);
            put(w, k, need(all, h + "mixer.in_proj.weight"), g + "ssm_in.weight", plan, 0);
            Tensor conv = need(all, h + "mixer.conv1d.weight");
            writeF32(w, g + "ssm_conv1d.weight", new long[] {conv.rows(), conv.cols()}, conv.toFloats(k)); // [inner, 1, kc] → [inner, kc]
            if (all.containsKey(h + "mixer.conv1d.bias")) put(w, k, all.get(h + "mixer.conv1d.bias"), g + "ssm_conv1d.bias", F32, 0);
            put(w, k, need(all, h + "mixer.x_proj.weight"), g + "ssm_x.weight", plan, 0);
            put(w, k, need(all, h + "mixer.dt_proj.weight"), g + "ssm_dt.weight", F32, 0);
            put(w, k, need(all, h + "mixer.dt_proj.bias"), g + "ssm_dt.bias", F32, 0);
            Tensor aLog = need(all, h + "mixer.A_log");
            float[] a = aLog.toFloats(k);
            for (int j = 0; j < a.length; j++) a[j] = (float) -Math.exp(a[j]);
            writeF32(w, g + "ssm_a", aLog.shape(), a);
            put(w, k, need(all, h + "mixer.D"), g + "ssm_d", F32, 0);
            put(w, k, need(all, h + "mixer.out_proj.weight"), g + "ssm_out.weight", plan, 0);
        }
        put(w, k, need(all, "backbone.norm_f.weight"), "output_norm.weight", F32, 0);
        if (all.containsKey("lm_head.weight") && !Boolean.TRUE.equals(m.get("tie_word_embeddings"))) put(w, k, all.get("lm_head.weight"), "output.weight", plan, 0);
        w.write(out);
    }

    /**
     * Mamba-2 with the names, keys and shapes of llama.cpp's converter: A = −exp(A_log) as ssm_a and
     * D as [heads, 1], dt_bias as ssm_dt.bias, the conv as [channels, taps], the gated norm's weight as
     * [groups, inner/groups]. (GGUF has no key for time_step_limit: a model that clamps Δ is refused.)
     */
    private static void writeMamba2(ModelSource src, Path out, QuantPlan plan) throws IOException {
        Map<String, Object> m = src.config();
        Kernels k = Simd.kernels();
        int dim = Cfg.integer(m, "hidden_size"), layers = Cfg.integer(m, "num_hidden_layers");
        int heads = Cfg.integer(m, "num_heads"), inner = heads * Cfg.integer(m, "head_dim"), groups = Cfg.integerOr(m, "n_groups", 1);
        if (m.get("time_step_limit") instanceof List<?> l && l.size() == 2
                && (dev.panamax.runtime.json.Json.number(l.get(0), "time_step_limit") > 0
                    || Double.isFinite(dev.panamax.runtime.json.Json.number(l.get(1), "time_step_limit")))) {
            throw new ModelException("mamba2: GGUF has no key for time_step_limit " + l + "; this model cannot be written without changing it");
        }
        GgufWriter w = new GgufWriter();
        w.put("general.architecture", GgufWriter.string("mamba2"));
        w.put("general.name", GgufWriter.string(src.path().getFileName().toString()));
        w.put("general.file_type", GgufWriter.u32(plan.fileType()));
        w.put("mamba2.context_length", GgufWriter.u32(1 << 20));
        w.put("mamba2.embedding_length", GgufWriter.u32(dim));
        w.put("mamba2.feed_forward_length", GgufWriter.u32(0));
        w.put("mamba2.attention.head_count", GgufWriter.u32(0));
        w.put("mamba2.block_count", GgufWriter.u32(layers));
        w.put("mamba2.ssm.conv_kernel", GgufWriter.u32(Cfg.integer(m, "conv_kernel")));
        w.put("mamba2.ssm.inner_size", GgufWriter.u32(inner));
        w.put("mamba2.ssm.state_size", GgufWriter.u32(Cfg.integer(m, "state_size")));
        w.put("mamba2.ssm.time_step_rank", GgufWriter.u32(heads));
        w.put("mamba2.ssm.group_count", GgufWriter.u32(groups));
        w.put("mamba2.attention.layer_norm_rms_epsilon", GgufWriter.f32(Cfg.numberOr(m, "layer_norm_epsilon", 1e-5)));
        Map<String, Tensor> all = src.weights().all();
        put(w, k, need(all, "backbone.embeddings.weight"), "token_embd.weight", plan, 0);
        for (int i = 0; i < layers; i++) {
            String h = "backbone.layers." + i + ".", g = "blk." + i + ".";
            put(w, k, need(all, h + "norm.weight"), g + "attn_norm.weight", F32, 0);
            put(w, k, need(all, h + "mixer.in_proj.weight"), g + "ssm_in.weight", plan, 0);
            Tensor conv = need(all, h + "mixer.conv1d.weight");
            writeF32(w, g + "ssm_conv1d.weight", new long[] {conv.shape()[0], conv.shape()[2]}, conv.toFloats(k));
            if (all.containsKey(h + "mixer.conv1d.bias")) put(w, k, all.get(h + "mixer.conv1d.bias"), g + "ssm_conv1d.bias", F32, 0);
            put(w, k, need(all, h + "mixer.dt_bias"), g + "ssm_dt.bias", F32, 0);
            float[] a = need(all, h + "mixer.A_log").toFloats(k);
            for (int j = 0; j < a.length; j++) a[j] = (float) -Math.exp(a[j]);
            writeF32(w, g + "ssm_a", new long[] {heads, 1}, a);
            writeF32(w, g + "ssm_d", new long[] {heads, 1}, need(all, h + "mixer.D").toFloats(k));
            writeF32(w, g + "ssm_norm.weight", new long[] {groups, inner / groups}, need(all, h + "mixer.norm.weight").toFloats(k));
            put(w, k, need(all, h + "mixer.out_proj.weight"), g + "ssm_out.weight", plan, 0);
        }
        put(w, k, need(all, "backbone.norm_f.weight"), "output_norm.weight", F32, 0);
        if (all.containsKey("lm_head.weight") && !Boolean.TRUE.equals(m.get("tie_word_embeddings"))) put(w, k, all.get("lm_head.weight"), "output.weight", plan, 0);
        w.write(out);
    }

    /** BERT with llama.cpp's names and keys (vocabulary written when the directory has a WordPiece tokenizer). */
    private static void writeBert(ModelSource src, Path out, QuantPlan plan) throws IOException {
        Map<String, Object> m = src.config();
        Kernels k = Simd.kernels();
        int layers = Cfg.integer(m, "num_hidden_layers");
        GgufWriter w = new GgufWriter();
        w.put("general.architecture", GgufWriter.string("bert"));
        w.put("general.name", GgufWriter.string(src.path().getFileName().toString()));
        w.put("general.file_type", GgufWriter.u32(plan.fileType()));
        w.put("bert.context_length", GgufWriter.u32(Cfg.integer(m, "max_position_embeddings")));
        w.put("bert.embedding_length", GgufWriter.u32(Cfg.integer(m, "hidden_size")));
        w.put("bert.feed_forward_length", GgufWriter.u32(Cfg.integer(m, "intermediate_size")));
        w.put("bert.block_count", GgufWriter.u32(layers));
        w.put("bert.attention.head_count", GgufWriter.u32(Cfg.integer(m, "num_attention_heads")));
        w.put("bert.attention.layer_norm_epsilon", GgufWriter.f32(Cfg.numberOr(m, "layer_norm_eps", 1e-12)));
        w.put("bert.attention.causal", GgufWriter.bool(false));
        w.put("bert.pooling_type", GgufWriter.u32(1)); // mean
        if (src.tokenizer() instanceof dev.panamax.runtime.tokenizer.WordPiece tok) {
            List<String> pieces = new ArrayList<>();
            int[] types = new int[tok.vocabSize()];
            for (int i = 0; i < tok.vocabSize(); i++) {
                pieces.add(tok.piece(i));
                types[i] = tok.type(i);
            }
            w.put("tokenizer.ggml.model", GgufWriter.string("bert"));
            w.put("tokenizer.ggml.tokens", GgufWriter.strings(pieces));
            w.put("tokenizer.ggml.token_type", GgufWriter.i32s(types));
            w.put("tokenizer.ggml.cls_token_id", GgufWriter.u32(tok.bos()));
            w.put("tokenizer.ggml.seperator_token_id", GgufWriter.u32(tok.eos()));
        }
        Map<String, Tensor> all = src.weights().all();
        String e = all.containsKey("embeddings.word_embeddings.weight") ? "" : "bert.";
        put(w, k, need(all, e + "embeddings.word_embeddings.weight"), "token_embd.weight", plan, 0);
        put(w, k, need(all, e + "embeddings.token_type_embeddings.weight"), "token_types.weight", F32, 0);
        put(w, k, need(all, e + "embeddings.position_embeddings.weight"), "position_embd.weight", F32, 0);
        put(w, k, need(all, e + "embeddings.LayerNorm.weight"), "token_embd_norm.weight", F32, 0);
        put(w, k, need(all, e + "embeddings.LayerNorm.bias"), "token_embd_norm.bias", F32, 0);
        String[][] map = {{"attention.self.query", "attn_q"}, {"attention.self.key", "attn_k"}, {"attention.self.value", "attn_v"},
                {"attention.output.dense", "attn_output"}, {"attention.output.LayerNorm", "attn_output_norm"},
                {"intermediate.dense", "ffn_up"}, {"output.dense", "ffn_down"}, {"output.LayerNorm", "layer_output_norm"}};
        for (int i = 0; i < layers; i++) {
            for (String[] pair : map) {
                String h = e + "encoder.layer." + i + "." + pair[0], g = "blk." + i + "." + pair[1];
                Tensor weight = need(all, h + ".weight");
                put(w, k, weight, g + ".weight", weight.rank() == 2 ? plan : F32, 0);
                put(w, k, need(all, h + ".bias"), g + ".bias", F32, 0);
            }
        }
        w.write(out);
    }

    private static void writeF32(GgufWriter w, String name, long[] shape, float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        w.tensor(name, DType.F32, shape, b.array());
    }

    /** 1-D tensors and norms: always F32. */
    private static final QuantPlan F32 = QuantPlan.of(DType.F32);

    private static Tensor need(Map<String, Tensor> all, String name) {
        Tensor t = all.get(name);
        if (t == null) throw new ModelException("the model has no tensor named " + name);
        return t;
    }

    /**
     * Adds {@code t} as {@code name} in {@code type}; heads &gt; 0 permutes rows for interleaved RoPE.
     * The plan picks the type (falling back for rows that are not whole blocks).
     */
    private static void put(GgufWriter w, Kernels k, Tensor t, String name, QuantPlan plan, int heads) {
        float[] v = t.toFloats(k);
        if (heads > 0) v = permuteForInterleavedRope(v, heads, t.rows() / heads, t.cols());
        DType type = t.rank() == 2 ? plan.typeFor(name, t.cols()) : plan.typeFor(name, 1);
        byte[] bytes = new byte[Math.toIntExact(type.bytesFor(v.length))];
        MemorySegment seg = MemorySegment.ofArray(bytes);
        switch (type) {
            case F32 -> ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(v);
            case F16 -> k.f32ToF16(v, 0, seg, 0, v.length);
            case BF16 -> k.f32ToBf16(v, 0, seg, 0, v.length);
            default -> {
                if (type.format == null || !type.format.canQuantize()) throw new ModelException("Panamax cannot write " + type + " tensors");
                type.format.quantize(v, 0, v.length, seg, 0);
            }
        }
        w.tensor(name, type, t.shape(), bytes);
    }

    /** Row h·d + 2b + a of the result is row h·d + a·d/2 + b of the input (a ∈ {0, 1}, b &lt; d/2). */
    static float[] permuteForInterleavedRope(float[] w, int heads, int headDim, int cols) {
        float[] out = new float[w.length];
        int half = headDim / 2;
        for (int h = 0; h < heads; h++)
            for (int b = 0; b < half; b++)
                for (int a = 0; a < 2; a++)
                    System.arraycopy(w, (h * headDim + a * half + b) * cols, out, (h * headDim + 2 * b + a) * cols, cols);
        return out;
    }
}
