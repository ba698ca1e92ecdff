package dev.panamax.runtime.tensor;

/**
 * Element types of weight tensors. Floating types are one element per block; the quantized block
 * formats (quantization issue) join as block types — {@link #blockSize} elements stored in
 * {@link #blockBytes} bytes — so every size computation already goes through blocks.
 */
public enum DType {
    F32(1, 4, 0),
    F16(1, 2, 1),
    BF16(1, 2, 30),
    /** ggml Q8_0: 32 values in 34 bytes ({@link dev.panamax.quant.Q8_0Block}). */
    Q8_0(32, 34, 8),
    /** ggml Q4_0: 32 values in 18 bytes ({@link dev.panamax.quant.Q4_0Block}). */
    Q4_0(32, 18, 2);

    /** Elements per block. */
    public final int blockSize;
    /** Bytes per block. */
    public final int blockBytes;
    /** ggml's type id in GGUF files. */
    public final int ggmlType;

    DType(int blockSize, int blockBytes, int ggmlType) {
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
        this.ggmlType = ggmlType;
    }

    /** Bytes taken by {@code elements} values; -1 when it is not a whole number of blocks. */
    public long bytesFor(long elements) {
        if (elements < 0 || elements % blockSize != 0) return -1;
        long blocks = elements / blockSize;
        if (blocks > Long.MAX_VALUE / blockBytes) return -1;
        return blocks * blockBytes;
    }

    public static DType fromGgml(int id) {
        for (DType t : values()) if (t.ggmlType == id) return t;
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
