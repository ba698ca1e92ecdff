package dev.panamax.models;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.tensor.DType;
import java.util.Locale;

/**
 * Which type each weight matrix of a written GGUF gets: one type for every matrix ({@code q8_0},
 * {@code q5_0}, {@code q4_0}, {@code iq4_nl}, {@code q4_k}, {@code q5_k}, {@code q6_k}, {@code tq2_0}, {@code f16}, {@code bf16}, {@code f32}),
 * or a K-quant mix named as llama.cpp names its files. The mixes follow the recipe llama.cpp
 * documents for them: {@code q4_k_m} is Q4_K with Q6_K for the output head and for {@code attn_v}
 * and {@code ffn_down} in the first and last eighth of the layers and every third layer between;
 * {@code q5_k_m} the same over Q5_K.
 *
 * <p>A matrix whose rows are not whole blocks falls back: a K-quant to Q8_0 when its rows are whole
 * blocks of 32, anything else to {@code fallback} (F16 unless asked otherwise). 1-D tensors stay F32.
 *
 * @param name     the name the user gave ({@code q4_k_m})
 * @param base     the type of most matrices
 * @param moreBits the type of the head and the favoured attn_v/ffn_down layers (= base for pure types)
 * @param fallback the float type of matrices no block format fits
 * @param layers   the model's layer count, for the mixes' layer rule
 */
public record QuantPlan(String name, DType base, DType moreBits, DType fallback, int layers) {

    /** Every name {@link #parse} takes. */
    public static final String NAMES = "f32, f16, bf16, q8_0, q5_0, q4_0, iq4_nl, q4_k, q5_k, q6_k, q4_k_m, q5_k_m, tq2_0";

    public static QuantPlan of(DType type) {
        return new QuantPlan(type.name().toLowerCase(Locale.ROOT), type, type, DType.F16, 0);
    }

    public static QuantPlan parse(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return switch (n) {
            case "f32" -> of(DType.F32);
            case "f16" -> of(DType.F16);
            case "bf16" -> of(DType.BF16);
            case "q8_0" -> of(DType.Q8_0);
            case "q5_0" -> of(DType.Q5_0);
            case "iq4_nl" -> of(DType.IQ4_NL);
            case "q4_0" -> of(DType.Q4_0);
            case "q4_k" -> of(DType.Q4_K);
            case "q5_k" -> of(DType.Q5_K);
            case "q6_k" -> of(DType.Q6_K);
            case "tq2_0" -> of(DType.TQ2_0);
            case "q4_k_m" -> new QuantPlan(n, DType.Q4_K, DType.Q6_K, DType.F16, 0);
            case "q5_k_m" -> new QuantPlan(n, DType.Q5_K, DType.Q6_K, DType.F16, 0);
            default -> throw new ModelException("unknown quantization type '" + name + "' (known: " + NAMES + ")");
        };
    }

    public QuantPlan withFallback(DType f) {
        if (f != DType.F16 && f != DType.F32) throw new ModelException("the fallback type must be f16 or f32, got " + f);
        return new QuantPlan(name, base, moreBits, f, layers);
    }

    public QuantPlan withLayers(int n) {
        return new QuantPlan(name, base, moreBits, fallback, n);
    }

    /** The type of the matrix written as GGUF tensor {@code ggufName} with rows of {@code cols} values. */
    public DType typeFor(String ggufName, long cols) {
        DType t = base;
        if (moreBits != base) {
            if (ggufName.equals("output.weight")) t = moreBits;
            else if ((ggufName.endsWith(".attn_v.weight") || ggufName.endsWith(".ffn_down.weight")) && moreBitsLayer(layerOf(ggufName))) t = moreBits;
        }
        if (!t.quantized() || cols % t.blockSize == 0) return t;
        if (t.blockSize == 256 && cols % 32 == 0) return DType.Q8_0;
        return fallback;
    }

    /** llama.cpp's "use more bits" layers: the first and last eighth, and every third between. */
    boolean moreBitsLayer(int i) {
        int n = layers;
        return i >= 0 && (i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2);
    }

    private static int layerOf(String ggufName) {
        if (!ggufName.startsWith("blk.")) return -1;
        int dot = ggufName.indexOf('.', 4);
        try {
            return Integer.parseInt(ggufName.substring(4, dot));
        } catch (RuntimeException e) {
            return -1;
        }
    }

    /** llama.cpp's llama_ftype for general.file_type. */
    public int fileType() {
        return switch (name) {
            case "f32" -> 0;
            case "f16" -> 1;
            case "q4_0" -> 2;
            case "q8_0" -> 7;
            case "q5_0" -> 8;
            case "bf16" -> 32;
            case "iq4_nl" -> 25;
            case "q4_k", "q4_k_m" -> name.equals("q4_k") ? 14 : 15;
            case "q5_k", "q5_k_m" -> name.equals("q5_k") ? 16 : 17;
            case "q6_k" -> 18;
            case "tq2_0" -> 37;
            default -> 0;
        };
    }
}
