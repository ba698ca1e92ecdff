package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * Every block format Panamax reads, with ggml's type id. The layouts are documented in the
 * format's own class; this enum only dispatches to them.
 */
public enum BlockFormat {
    Q4_0(32, Q4_0Block.BYTES, 2, Q4_0Block::dequantize, Q4_0Block::quantize),
    Q4_1(32, Q4_1Block.BYTES, 3, Q4_1Block::dequantize, null, Q4_1Block::unpack),
    Q5_0(32, Q5_0Block.BYTES, 6, Q5_0Block::dequantize, Q5_0Block::quantize, Q5_0Block::unpack),
    Q5_1(32, Q5_1Block.BYTES, 7, Q5_1Block::dequantize, null, Q5_1Block::unpack),
    Q8_0(32, Q8_0Block.BYTES, 8, Q8_0Block::dequantize, Q8_0Block::quantize),
    Q2_K(256, Q2_KBlock.BYTES, 10, Q2_KBlock::dequantize, null, Q2_KBlock::unpack),
    Q3_K(256, Q3_KBlock.BYTES, 11, Q3_KBlock::dequantize, null, Q3_KBlock::unpack),
    Q4_K(256, Q4_KBlock.BYTES, 12, Q4_KBlock::dequantize, Q4_KBlock::quantize, Q4_KBlock::unpack),
    Q5_K(256, Q5_KBlock.BYTES, 13, Q5_KBlock::dequantize, Q5_KBlock::quantize, Q5_KBlock::unpack),
    Q6_K(256, Q6_KBlock.BYTES, 14, Q6_KBlock::dequantize, Q6_KBlock::quantize, Q6_KBlock::unpack),
    IQ4_NL(32, IQ4_NLBlock.BYTES, 20, IQ4_NLBlock::dequantize, IQ4_NLBlock::quantize, IQ4_NLBlock::unpack),
    TQ1_0(256, TQ1_0Block.BYTES, 34, TQ1_0Block::dequantize, null, TQ1_0Block::unpack),
    TQ2_0(256, TQ2_0Block.BYTES, 35, TQ2_0Block::dequantize, TQ2_0Block::quantize, TQ2_0Block::unpack),
    /** Panamax's own, for BitNet weights ternarized at load; never written to GGUF (no ggml id). */
    TERNARY(16, TernaryBlock.BYTES, -1, TernaryBlock::dequantize),
    /** Panamax's own 1-bit signs with a scale per 64 (XNOR-Net), made at load; never written to GGUF. */
    BINARY(64, BinaryBlock.BYTES, -1, BinaryBlock::dequantize, BinaryBlock::quantize, BinaryBlock::unpack);

    /** Values per block, and bytes per block. */
    public final int size, bytes;
    /** ggml_type in GGUF files. */
    public final int ggmlType;
    private final Dequantizer dequantizer;
    private final Quantizer quantizer;

    @FunctionalInterface
    interface Dequantizer {
        void dequantize(MemorySegment src, long off, float[] y, int yOff, int n);
    }

    @FunctionalInterface
    interface Quantizer {
        void quantize(float[] x, int xOff, int n, MemorySegment dst, long dstOff);
    }

    BlockFormat(int size, int bytes, int ggmlType, Dequantizer dequantizer) {
        this(size, bytes, ggmlType, dequantizer, null);
    }

    /** A block in integer form: x[i] = ab[0]·s[i/16]·c[i] − ab[1]·m[i/16]. */
    @FunctionalInterface
    interface Unpacker {
        void unpack(MemorySegment src, long off, byte[] c, int[] s, int[] m, float[] ab);
    }

    private final Unpacker unpacker;

    BlockFormat(int size, int bytes, int ggmlType, Dequantizer dequantizer, Quantizer quantizer) {
        this(size, bytes, ggmlType, dequantizer, quantizer, null);
    }

    BlockFormat(int size, int bytes, int ggmlType, Dequantizer dequantizer, Quantizer quantizer, Unpacker unpacker) {
        this.unpacker = unpacker;
        this.size = size;
        this.bytes = bytes;
        this.ggmlType = ggmlType;
        this.dequantizer = dequantizer;
        this.quantizer = quantizer;
    }

    /**
     * The block at {@code off} in integer form, for the integer dot products: int8 codes c[size],
     * per 16 values an integer scale s and min m, and float factors ab, with
     * x[i] = ab[0]·s[i/16]·c[i] − ab[1]·m[i/16]. Not for Q8_0, Q4_0 and TERNARY, which have their own kernels.
     */
    void unpack(MemorySegment src, long off, byte[] c, int[] s, int[] m, float[] ab) {
        unpacker.unpack(src, off, c, s, m, ab);
    }

    boolean hasIntegerForm() {
        return unpacker != null;
    }

    /** Whether Panamax writes this format ({@link #quantize}); the others it only reads. */
    public boolean canQuantize() {
        return quantizer != null;
    }

    /** n values (whole blocks) of x from xOff into blocks at byte {@code dstOff} of dst. */
    public void quantize(float[] x, int xOff, int n, MemorySegment dst, long dstOff) {
        if (quantizer == null) throw new UnsupportedOperationException("Panamax reads " + this + " but does not write it");
        if (n % size != 0) throw new IllegalArgumentException(this + " quantizes whole blocks of " + size + ", asked for " + n);
        quantizer.quantize(x, xOff, n, dst, dstOff);
    }

    /** n values (whole blocks) from the blocks at byte {@code off}. */
    public void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        if (n % size != 0) throw new IllegalArgumentException(this + " dequantizes whole blocks of " + size + ", asked for " + n);
        dequantizer.dequantize(src, off, y, yOff, n);
    }
}
