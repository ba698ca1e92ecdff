import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * A Hugging Face ViT directory with random F32 weights (N(0, 0.02), norms 1 and 0), for benchmarks:
 *   java tools/RandomVit.java DIR [hidden layers heads ffn image patch labels] [f16]
 * The defaults are ViT-B/16 (768, 12, 12, 3072, 224, 16, 1000: 86M parameters, 346 MB); {@code f16}
 * writes every tensor in half precision (173 MB), as checkpoints saved in float16 are.
 */
public class RandomVit {
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        int[] v = {768, 12, 12, 3072, 224, 16, 1000};
        boolean f16 = args.length > 1 && args[args.length - 1].equalsIgnoreCase("f16");
        int numbers = args.length - (f16 ? 1 : 0);
        for (int i = 1; i < numbers && i <= v.length; i++) v[i - 1] = Integer.parseInt(args[i]);
        int size = f16 ? 2 : 4;
        int h = v[0], layers = v[1], heads = v[2], ffn = v[3], image = v[4], patch = v[5], labels = v[6];
        int tokens = (image / patch) * (image / patch) + 1;
        Files.createDirectories(dir);
        StringBuilder id2label = new StringBuilder();
        for (int i = 0; i < labels; i++) id2label.append(i > 0 ? ", " : "").append("\"").append(i).append("\": \"label_").append(i).append("\"");
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["ViTForImageClassification"], "model_type": "vit", "hidden_size": %d, "num_hidden_layers": %d,
                 "num_attention_heads": %d, "intermediate_size": %d, "image_size": %d, "patch_size": %d, "num_channels": 3,
                 "hidden_act": "gelu", "layer_norm_eps": 1e-12, "qkv_bias": true, "id2label": {%s}}
                """.formatted(h, layers, heads, ffn, image, patch, id2label));
        Files.writeString(dir.resolve("preprocessor_config.json"), """
                {"do_normalize": true, "do_rescale": true, "do_resize": true, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
                 "image_processor_type": "ViTImageProcessor", "resample": 2, "rescale_factor": 0.00392156862745098, "size": {"height": %d, "width": %d}}
                """.formatted(image, image));
        Map<String, long[]> t = new LinkedHashMap<>();
        t.put("vit.embeddings.cls_token", new long[] {1, 1, h});
        t.put("vit.embeddings.position_embeddings", new long[] {1, tokens, h});
        t.put("vit.embeddings.patch_embeddings.projection.weight", new long[] {h, 3, patch, patch});
        t.put("vit.embeddings.patch_embeddings.projection.bias", new long[] {h});
        for (int l = 0; l < layers; l++) {
            String p = "vit.encoder.layer." + l + ".";
            for (String n : new String[] {"query", "key", "value"}) {
                t.put(p + "attention.attention." + n + ".weight", new long[] {h, h});
                t.put(p + "attention.attention." + n + ".bias", new long[] {h});
            }
            t.put(p + "attention.output.dense.weight", new long[] {h, h});
            t.put(p + "attention.output.dense.bias", new long[] {h});
            t.put(p + "intermediate.dense.weight", new long[] {ffn, h});
            t.put(p + "intermediate.dense.bias", new long[] {ffn});
            t.put(p + "output.dense.weight", new long[] {h, ffn});
            t.put(p + "output.dense.bias", new long[] {h});
            t.put(p + "layernorm_before.weight", new long[] {h});
            t.put(p + "layernorm_before.bias", new long[] {h});
            t.put(p + "layernorm_after.weight", new long[] {h});
            t.put(p + "layernorm_after.bias", new long[] {h});
        }
        t.put("vit.layernorm.weight", new long[] {h});
        t.put("vit.layernorm.bias", new long[] {h});
        t.put("classifier.weight", new long[] {labels, h});
        t.put("classifier.bias", new long[] {labels});
        StringBuilder header = new StringBuilder("{");
        long off = 0;
        for (var e : t.entrySet()) {
            long n = 1;
            StringBuilder shape = new StringBuilder();
            for (long d : e.getValue()) { n *= d; shape.append(shape.length() > 0 ? "," : "").append(d); }
            header.append(header.length() > 1 ? "," : "").append('"').append(e.getKey()).append("\":{\"dtype\":\"").append(f16 ? "F16" : "F32").append("\",\"shape\":[").append(shape)
                  .append("],\"data_offsets\":[").append(off).append(',').append(off + size * n).append("]}");
            off += size * n;
        }
        header.append('}');
        while (header.length() % 8 != 0) header.append(' ');
        byte[] hb = header.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Random r = new Random(7);
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(dir.resolve("model.safetensors")), 1 << 20)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length).array());
            out.write(hb);
            ByteBuffer buf = ByteBuffer.allocate(4 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (var e : t.entrySet()) {
                long n = 1;
                for (long d : e.getValue()) n *= d;
                boolean norm = e.getKey().contains("layernorm"), ones = norm && e.getKey().endsWith("weight");
                for (long i = 0; i < n; i++) {
                    float w = ones ? 1f : norm ? 0f : (float) (r.nextGaussian() * 0.02);
                    if (f16) buf.putShort(Float.floatToFloat16(w));
                    else buf.putFloat(w);
                    if (!buf.hasRemaining()) { out.write(buf.array(), 0, buf.position()); buf.clear(); }
                }
            }
            out.write(buf.array(), 0, buf.position());
        }
        System.out.println(dir + ": ViT " + (f16 ? "F16 " : "") + h + "×" + layers + " layers, " + tokens + " tokens, " + off / 1_000_000 + " MB");
    }
}
