package dev.panamax.quant;

import java.lang.foreign.MemorySegment;

/**
 * Every block format Panamax reads, with ggml's type id. The layouts are documented in the
 * format's own class; this enum only dispatches to them.
 */
public enum BlockFormat {
    //     values, bytes a block,      ggml id, written by Panamax
    Q4_0(32, Q4_0Block.BYTES, 2, true),
    Q4_1(32, Q4_1Block.BYTES, 3, false),
    Q5_0(32, Q5_0Block.BYTES, 6, true),
    Q5_1(32, Q5_1Block.BYTES, 7, false),
    Q8_0(32, Q8_0Block.BYTES, 8, true),
    Q2_K(256, Q2_KBlock.BYTES, 10, false),
    Q3_K(256, Q3_KBlock.BYTES, 11, false),
    Q4_K(256, Q4_KBlock.BYTES, 12, true),
    Q5_K(256, Q5_KBlock.BYTES, 13, true),
    Q6_K(256, Q6_KBlock.BYTES, 14, true),
    IQ4_NL(32, IQ4_NLBlock.BYTES, 20, true),
    TQ1_0(256, TQ1_0Block.BYTES, 34, false),
    TQ2_0(256, TQ2_0Block.BYTES, 35, true),
    /** Panamax's own, for BitNet weights ternarized at load; never written to GGUF (no ggml id). */
    TERNARY(16, TernaryBlock.BYTES, -1, false),
    /** Panamax's own 1-bit signs with a scale per 64 (XNOR-Net), made at load; never written to GGUF. */
    BINARY(64, BinaryBlock.BYTES, -1, true);

    // The operations dispatch by switch to each format's class, not through method references kept in
    // the constants: the 35 references cost a fresh JVM ~8 ms of call-site linking before its first
    // token, and the class archive cannot keep it (docs/benchmarks.md, twelfth session).

    /** Values per block, and bytes per block. */
    public final int size, bytes;
    /** ggml_type in GGUF files. */
    public final int ggmlType;
    private final boolean writes;

    BlockFormat(int size, int bytes, int ggmlType, boolean writes) {
        this.size = size;
        this.bytes = bytes;
        this.ggmlType = ggmlType;
        this.writes = writes;
    }

    /**
     * The block at {@code off} in integer form, for the integer dot products: int8 codes c[size],
     * per 16 values an integer scale s and min m, and float factors ab, with
     * x[i] = ab[0]·s[i/16]·c[i] − ab[1]·m[i/16]. Not for Q8_0, Q4_0 and TERNARY, which have their own kernels.
     */
    void unpack(MemorySegment src, long off, byte[] c, int[] s, int[] m, float[] ab) {
        switch (this) {
            case Q4_1 -> Q4_1Block.unpack(src, off, c, s, m, ab);
            case Q5_0 -> Q5_0Block.unpack(src, off, c, s, m, ab);
            case Q5_1 -> Q5_1Block.unpack(src, off, c, s, m, ab);
            case Q2_K -> Q2_KBlock.unpack(src, off, c, s, m, ab);
            case Q3_K -> Q3_KBlock.unpack(src, off, c, s, m, ab);
            case Q4_K -> Q4_KBlock.unpack(src, off, c, s, m, ab);
            case Q5_K -> Q5_KBlock.unpack(src, off, c, s, m, ab);
            case Q6_K -> Q6_KBlock.unpack(src, off, c, s, m, ab);
            case IQ4_NL -> IQ4_NLBlock.unpack(src, off, c, s, m, ab);
            case TQ1_0 -> TQ1_0Block.unpack(src, off, c, s, m, ab);
            case TQ2_0 -> TQ2_0Block.unpack(src, off, c, s, m, ab);
            case BINARY -> BinaryBlock.unpack(src, off, c, s, m, ab);
            default -> throw new UnsupportedOperationException(this + " has no integer form");
        }
    }

    boolean hasIntegerForm() {
        return this != Q4_0 && this != Q8_0 && this != TERNARY;
    }

    /** Whether Panamax writes this format ({@link #quantize}); the others it only reads. */
    public boolean canQuantize() {
        return writes;
    }

    /** n values (whole blocks) of x from xOff into blocks at byte {@code dstOff} of dst. */
    public void quantize(float[] x, int xOff, int n, MemorySegment dst, long dstOff) {
        if (!writes) throw new UnsupportedOperationException("Panamax reads " + this + " but does not write it");
        if (n % size != 0) throw new IllegalArgumentException(this + " quantizes whole blocks of " + size + ", asked for " + n);
        switch (this) {
            case Q4_0 -> Q4_0Block.quantize(x, xOff, n, dst, dstOff);
            case Q5_0 -> Q5_0Block.quantize(x, xOff, n, dst, dstOff);
            case Q8_0 -> Q8_0Block.quantize(x, xOff, n, dst, dstOff);
            case Q4_K -> Q4_KBlock.quantize(x, xOff, n, dst, dstOff);
            case Q5_K -> Q5_KBlock.quantize(x, xOff, n, dst, dstOff);
            case Q6_K -> Q6_KBlock.quantize(x, xOff, n, dst, dstOff);
            case IQ4_NL -> IQ4_NLBlock.quantize(x, xOff, n, dst, dstOff);
            case TQ2_0 -> TQ2_0Block.quantize(x, xOff, n, dst, dstOff);
            case BINARY -> BinaryBlock.quantize(x, xOff, n, dst, dstOff);
            default -> throw new IllegalStateException(this + " is marked written but has no quantizer");
        }
    }

    /** n values (whole blocks) from the blocks at byte {@code off}. */
    public void dequantize(MemorySegment src, long off, float[] y, int yOff, int n) {
        if (n % size != 0) throw new IllegalArgumentException(this + " dequantizes whole blocks of " + size + ", asked for " + n);
        switch (this) {
            case Q4_0 -> Q4_0Block.dequantize(src, off, y, yOff, n);
            case Q4_1 -> Q4_1Block.dequantize(src, off, y, yOff, n);
            case Q5_0 -> Q5_0Block.dequantize(src, off, y, yOff, n);
            case Q5_1 -> Q5_1Block.dequantize(src, off, y, yOff, n);
            case Q8_0 -> Q8_0Block.dequantize(src, off, y, yOff, n);
            case Q2_K -> Q2_KBlock.dequantize(src, off, y, yOff, n);
            case Q3_K -> Q3_KBlock.dequantize(src, off, y, yOff, n);
            case Q4_K -> Q4_KBlock.dequantize(src, off, y, yOff, n);
            case Q5_K -> Q5_KBlock.dequantize(src, off, y, yOff, n);
            case Q6_K -> Q6_KBlock.dequantize(src, off, y, yOff, n);
            case IQ4_NL -> IQ4_NLBlock.dequantize(src, off, y, yOff, n);
            case TQ1_0 -> TQ1_0Block.dequantize(src, off, y, yOff, n);
            case TQ2_0 -> TQ2_0Block.dequantize(src, off, y, yOff, n);
            case TERNARY -> TernaryBlock.dequantize(src, off, y, yOff, n);
            case BINARY -> BinaryBlock.dequantize(src, off, y, yOff, n);
        }
    }
}
