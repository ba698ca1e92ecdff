package dev.panamax.runtime.tensor;

import dev.panamax.quant.BlockFormat;

/**
 * Element types of weight tensors. Floating types are one element per block; the quantized block
 * formats (quantization issue) join as block types — {@link #blockSize} elements stored in
 * {@link #blockBytes} bytes — so every size computation already goes through blocks.
 */
public enum DType {
    F32(1, 4, 0, null),
    F16(1, 2, 1, null),
    BF16(1, 2, 30, null),
    Q4_0(BlockFormat.Q4_0),
    Q4_1(BlockFormat.Q4_1),
    Q5_0(BlockFormat.Q5_0),
    Q5_1(BlockFormat.Q5_1),
    Q8_0(BlockFormat.Q8_0),
    Q2_K(BlockFormat.Q2_K),
    Q3_K(BlockFormat.Q3_K),
    Q4_K(BlockFormat.Q4_K),
    Q5_K(BlockFormat.Q5_K),
    Q6_K(BlockFormat.Q6_K),
    IQ4_NL(BlockFormat.IQ4_NL),
    TQ1_0(BlockFormat.TQ1_0),
    TQ2_0(BlockFormat.TQ2_0),
    /** Panamax's BitNet ternary blocks, made at load ({@code --quantize ternary}); not a GGUF type. */
    TERNARY(BlockFormat.TERNARY),
    /** Panamax's 1-bit sign blocks with a scale per 64, made at load ({@code --quantize binary}); not a GGUF type. */
    BINARY(BlockFormat.BINARY);

    /** The quantized block format (layout, dequantizer), or null for the float types. */
    public final BlockFormat format;

    /** Elements per block. */
    public final int blockSize;
    /** Bytes per block. */
    public final int blockBytes;
    /** ggml's type id in GGUF files. */
    public final int ggmlType;

    DType(int blockSize, int blockBytes, int ggmlType, BlockFormat format) {
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
        this.ggmlType = ggmlType;
        this.format = format;
    }

    DType(BlockFormat f) {
        this(f.size, f.bytes, f.ggmlType, f);
    }

    /** Bytes taken by {@code elements} values; -1 when it is not a whole number of blocks. */
    public long bytesFor(long elements) {
        if (elements < 0 || elements % blockSize != 0) return -1;
        long blocks = elements / blockSize;
        if (blocks > Long.MAX_VALUE / blockBytes) return -1;
        return blocks * blockBytes;
    }

    public static DType fromGgml(int id) {
        for (DType t : values()) if (t.ggmlType == id && id >= 0) return t;
        return null;
    }

    public boolean quantized() {
        return blockSize > 1;
    }

    /** safetensors dtype names. */
    public static DType fromSafetensors(String name) {
        return switch (name) {
            case "F32" -> F32;
            case "F16" -> F16;
            case "BF16" -> BF16;
            default -> null;
        };
    }
}
