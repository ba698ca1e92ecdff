package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q8_0 weights with sixteen rows interleaved: Panamax's decode layout, made from {@link Q8_0Block}
 * rows at load (not a GGUF type). The same bytes as sixteen Q8_0 blocks, reordered so that one
 * 32-byte load holds two columns of sixteen rows: a matrix × vector step widens it to 32 shorts,
 * multiplies by the activations' pair (x[c], x[c + 1]) broadcast — as two pairs of nibbles,
 * {@link #nibblePairs} — and sums adjacent products into sixteen int lanes, one per row, with no
 * horizontal reduction until the row ends. Prompts take
 * rows four at a time: a quad of rows is 8 contiguous bytes of every chunk.
 *
 * <pre>
 * per group of 16 rows (g), per block of 32 columns (b), 544 bytes:
 * offset 0    f16  d[16]          row r's Q8_0 scale
 * offset 32   i8   qs[16][16][2]  chunk j (32 bytes): row r's codes of columns 32b + 2j and 32b + 2j + 1 at bytes 2r, 2r + 1
 *                                 x[16g + r][32b + 2j + e] ≈ d[r] · qs[j][r][e]
 * </pre>
 *
 * Group g's blocks follow each other (b = 0 … cols/32 − 1), then group g + 1's: a group is
 * contiguous, and rows [16g, 16g + 16) of the matrix are a slice of the bytes.
 */
public final class Q8_0x16 {
    private Q8_0x16() {}

    public static final int ROWS = 16;
    /** Bytes per group-block: sixteen Q8_0 blocks. */
    public static final int BYTES = ROWS * Q8_0Block.BYTES;

    /**
     * Groups of rows [r0, r1) (multiples of 16) of a Q8_0 matrix of {@code rows} rows and
     * {@code cols} columns at {@code src} into the interleaved layout at {@code dst}; rows from
     * {@code rows} on (the last group's padding) become zeros. A group's rows are bulk-copied into
     * a heap array and its interleaved bytes built in another, then bulk-copied out: plain array
     * loops, which even the interpreter runs quickly (the copy happens at start-up, cold). Returns
     * whether every scale it moved is finite (exponent bits not all ones).
     */
    static boolean interleave(MemorySegment src, long srcOff, int rows, int cols, MemorySegment dst, long dstOff, int r0, int r1) {
        return interleaveBlocksOf32(src, srcOff, rows, cols, Q8_0Block.BYTES, dst, dstOff, r0, r1);
    }

    /**
     * The move Q8_0 and Q4_0 share: blocks of 32 values in {@code blockBytes} bytes, an f16 scale
     * then the code bytes; each row's scale to bytes 2r, 2r + 1 of the group-block's first 32, its
     * code bytes in pairs to 32-byte pieces after them. Returns whether every scale is finite.
     */
    static boolean interleaveBlocksOf32(MemorySegment src, long srcOff, int rows, int cols, int blockBytes, MemorySegment dst, long dstOff,
                                     int r0, int r1) {
        int blocks = cols / 32, rowBytes = blocks * blockBytes, groupBytes = ROWS * blockBytes;
        byte[] in = new byte[ROWS * rowBytes], out = new byte[blocks * groupBytes];
        boolean finite = true; // no scale's high byte has all five exponent bits set (0x7c)
        for (int g = r0 / ROWS; g < r1 / ROWS; g++) {
            readGroup(src, srcOff, rows, rowBytes, g, in);
            for (int r = 0; r < ROWS; r++) {
                for (int b = 0, i = r * rowBytes, o = 0; b < blocks; b++, i += blockBytes, o += groupBytes) {
                    out[o + 2 * r] = in[i];
                    out[o + 2 * r + 1] = in[i + 1];
                    finite &= (in[i + 1] & 0x7c) != 0x7c;
                    movePairs(in, i + 2, (blockBytes - 2) / 2, out, o + 32, r);
                }
            }
            MemorySegment.copy(out, 0, dst, ValueLayout.JAVA_BYTE, dstOff + (long) g * out.length, out.length);
        }
        return finite;
    }

    /**
     * Q5_0 or IQ4_NL rows into this layout: each block's values are d times an int8 code — Q5_0's
     * code − 16 (−16…15), IQ4_NL's table level (−127…113) — so they become Q8_0 code bytes under the
     * same f16 scale, exactly the values the file holds ({@link Q5_0Block}, {@link IQ4_NLBlock}),
     * then move as Q8_0's.
     */
    static void interleaveAsQ8_0(BlockFormat f, MemorySegment src, long srcOff, int rows, int cols, MemorySegment dst, long dstOff, int r0, int r1) {
        if (f != BlockFormat.Q5_0 && f != BlockFormat.IQ4_NL) throw new IllegalArgumentException(f + " has no Q8_0 form");
        int blocks = cols / 32, rowBytes = blocks * f.bytes, groupBytes = ROWS * Q8_0Block.BYTES;
        byte[] in = new byte[ROWS * rowBytes], out = new byte[blocks * groupBytes], codes = new byte[32];
        MemorySegment group = MemorySegment.ofArray(in);
        int[] scale = new int[2], min = new int[2];
        float[] ab = new float[2];
        for (int g = r0 / ROWS; g < r1 / ROWS; g++) {
            readGroup(src, srcOff, rows, rowBytes, g, in);
            for (int r = 0; r < ROWS; r++) {
                for (int b = 0, i = r * rowBytes, o = 0; b < blocks; b++, i += f.bytes, o += groupBytes) {
                    out[o + 2 * r] = in[i];
                    out[o + 2 * r + 1] = in[i + 1];
                    f.unpack(group, i, codes, scale, min, ab); // the codes each block class defines
                    movePairs(codes, 0, 16, out, o + 32, r);
                }
            }
            MemorySegment.copy(out, 0, dst, ValueLayout.JAVA_BYTE, dstOff + (long) g * out.length, out.length);
        }
    }

    /** Group g's rows (16 of them, those past {@code rows} as zeros) from the file into {@code in}, one after another. */
    static void readGroup(MemorySegment src, long srcOff, int rows, int rowBytes, int g, byte[] in) {
        int real = Math.min(ROWS, rows - ROWS * g);
        MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcOff + (long) ROWS * g * rowBytes, in, 0, real * rowBytes);
        java.util.Arrays.fill(in, real * rowBytes, in.length, (byte) 0);
    }

    /**
     * {@code pairs} pairs of a row's code bytes from in[i…] to bytes 2r, 2r + 1 of consecutive
     * 32-byte pieces from out[o…]: the move every interleaved layout makes of its codes.
     */
    static void movePairs(byte[] in, int i, int pairs, byte[] out, int o, int r) {
        for (int j = 0; j < pairs; j++) {
            out[o + 32 * j + 2 * r] = in[i + 2 * j];
            out[o + 32 * j + 2 * r + 1] = in[i + 2 * j + 1];
        }
    }

    /** Reference dequantizer: row r (of the whole matrix) into y[yOff, yOff + cols). */
    public static void dequantizeRow(MemorySegment w, long off, int cols, int r, float[] y, int yOff) {
        int blocks = cols / 32;
        long o = off + (long) (r / ROWS) * blocks * BYTES;
        int rr = r % ROWS;
        for (int b = 0; b < blocks; b++, o += BYTES) {
            float d = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 2 * rr));
            for (int c = 0; c < 32; c++) {
                y[yOff + 32 * b + c] = d * w.get(ValueLayout.JAVA_BYTE, o + 32 + 32 * (c / 2) + 2 * rr + (c & 1));
            }
        }
    }

    /**
     * Reference matrix × vector for groups [g0, g1), the vector kernel's scalar twin (bit for bit:
     * the same integer sums, the same fused multiply-adds in the same order): activations as
     * quantized per block of 32 ({@code xq}, {@code xd}), per row Σ_b fma(Σ q·x, d[r]·xd[b], ·).
     */
    /**
     * The activation operand of the vector kernel: x's int8 codes split into nibbles, x = 16·(x ≫ 4)
     * + (x & 15), each nibble pair of columns 2i, 2i + 1 in one int — {@code [2i]} the low nibbles
     * (0…15), {@code [2i + 1]} the high ones (−8…7), column 2i in the low 16 bits. Products of a
     * code with a nibble are small enough to add up in 16 bits over a whole block.
     */
    static int[] nibblePairs(byte[] xq, int cols) {
        int[] xn = new int[cols];
        for (int i = 0; i < cols / 2; i++) {
            int a = xq[2 * i], b = xq[2 * i + 1];
            xn[2 * i] = (a & 15) | (b & 15) << 16;
            xn[2 * i + 1] = (a >> 4 & 0xffff) | (b >> 4) << 16;
        }
        return xn;
    }

    static void matvecReference(MemorySegment w, long off, byte[] xq, float[] xd, int cols, float[] out, int g0, int g1) {
        int blocks = cols / 32;
        for (int g = g0; g < g1; g++) {
            for (int r = 0; r < ROWS; r++) {
                float acc = 0;
                long o = off + (long) g * blocks * BYTES;
                for (int b = 0; b < blocks; b++, o += BYTES) {
                    int sum = 0;
                    for (int c = 0; c < 32; c++) sum += w.get(ValueLayout.JAVA_BYTE, o + 32 + 32 * (c / 2) + 2 * r + (c & 1)) * xq[32 * b + c];
                    acc = Math.fma((float) sum, Float.float16ToFloat(w.get(Q8_0Block.F16, o + 2 * r)) * xd[b], acc);
                }
                out[ROWS * g + r] = acc;
            }
        }
    }
}
