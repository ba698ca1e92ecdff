package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * Every block format Panamax reads, with ggml's type id. The layouts are documented in the
 * format's own class; this enum only dispatches to them.
 */
public enum BlockFormat {
    Q4_0(32, Q4_0Block.BYTES, 2, Q4_0Block::dequantize),
    Q4_1(32, Q4_1Block.BYTES, 3, Q4_1Block::dequantize),
    Q5_0(32, Q5_0Block.BYTES, 6, Q5_0Block::dequantize),
    Q5_1(32, Q5_1Block.BYTES, 7, Q5_1Block::dequantize),
    Q8_0(32, Q8_0Block.BYTES, 8, Q8_0Block::dequantize),
    Q2_K(256, Q2_KBlock.BYTES, 10, Q2_KBlock::dequantize),
    Q3_K(256, Q3_KBlock.BYTES, 11, Q3_KBlock::dequantize),
    Q4_K(256, Q4_KBlock.BYTES, 12, Q4_KBlock::dequantize),
    Q5_K(256, Q5_KBlock.BYTES, 13, Q5_KBlock::dequantize),
    Q6_K(256, Q6_KBlock.BYTES, 14, Q6_KBlock::dequantize),
    IQ4_NL(32, IQ4_NLBlock.BYTES, 20, IQ4_NLBlock::dequantize),
    TQ1_0(256, TQ1_0Block.BYTES, 34, TQ1_0Block::dequantize),
    TQ2_0(256, TQ2_0Block.BYTES, 35, TQ2_0Block::dequantize),
    /** Panamax's own, for BitNet weights ternarized at load; never written to GGUF (no ggml id). */
    TERNARY(16, TernaryBlock.BYTES, -1, TernaryBlock::dequantize);

    /** Values per block, and bytes per block. */
    public final int size, bytes;
    /** ggml_type in GGUF files. */
    public final int ggmlType;
    private final Dequantizer dequantizer;

    @FunctionalInterface
    interface Dequantizer {
        void dequantize(MemorySegment src, long off, float[] y, int yOff, int n);
    }

    BlockFormat(int size, int bytes, int ggmlType, Dequantizer dequantizer) {
        this.size = size;
        this.bytes = bytes;
        this.ggmlType = ggmlType;
        this.dequantizer = dequantizer;
    }

    /** n values (whole blocks) from the blocks at byte {@code off}. */
    public void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        if (n % size != 0) throw new IllegalArgumentException(this + " dequantizes whole blocks of " + size + ", asked for " + n);
        dequantizer.dequantize(src, off, y, yOff, n);
    }
}
