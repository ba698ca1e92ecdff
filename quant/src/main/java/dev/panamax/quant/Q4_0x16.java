package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q4_0 weights with sixteen rows interleaved: Panamax's decode layout, made from {@link Q4_0Block}
 * rows at load (not a GGUF type), as {@link Q8_0x16} is for Q8_0 — and with the same reordering:
 * the file's code bytes move in pairs, so byte 2j + e of a row's block lands at 2r + e of chunk j.
 * One 32-byte load holds four columns of sixteen rows; zero-extended to shorts, its low nibbles are
 * columns 2j, 2j + 1 and its high nibbles 16 + 2j, 17 + 2j, so a matrix × vector step is two 16-bit
 * multiplies by broadcast activation pairs, accumulated in shorts for a whole block
 * (|Σ| ≤ 16·15·127 < 2¹⁵), the −8 subtracted once per block as 8·Σx.
 *
 * <pre>
 * per group of 16 rows (g), per block of 32 columns (b), 288 bytes:
 * offset 0    f16  d[16]          row r's Q4_0 scale
 * offset 32   u8   qs[8][16][2]   chunk j (32 bytes), byte 2r + e: row 16g + r's Q4_0 byte 2j + e —
 *                                 low nibble = code of column 32b + 2j + e, high nibble = of column 32b + 16 + 2j + e
 *                                 x[16g + r][c] ≈ d[r] · (code − 8)
 * </pre>
 */
public final class Q4_0x16 {
    private Q4_0x16() {}

    public static final int ROWS = 16;
    /** Bytes per group-block: sixteen Q4_0 blocks. */
    public static final int BYTES = ROWS * Q4_0Block.BYTES;

    /** As {@link Q8_0x16#interleave}, for Q4_0 (padding rows: zero scales and codes). */
    static void interleave(MemorySegment src, long srcOff, int rows, int cols, MemorySegment dst, long dstOff, int r0, int r1) {
        Q8_0x16.interleaveBlocksOf32(src, srcOff, rows, cols, Q4_0Block.BYTES, dst, dstOff, r0, r1);
    }

    /** Code of column c (0..31) of row rr (0..15) in the group-block at o. */
    static int code(MemorySegment w, long o, int rr, int c) {
        int i = c % 16;
        int q = w.get(ValueLayout.JAVA_BYTE, o + 32 + 32 * (i / 2) + 2 * rr + (i & 1)) & 0xff;
        return c < 16 ? q & 0x0f : q >>> 4;
    }

    /** Reference dequantizer: row r (of the whole matrix) into y[yOff, yOff + cols). */
    public static void dequantizeRow(MemorySegment w, long off, int cols, int r, float[] y, int yOff) {
        int blocks = cols / 32;
        long o = off + (long) (r / ROWS) * blocks * BYTES;
        int rr = r % ROWS;
        for (int b = 0; b < blocks; b++, o += BYTES) {
            float d = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 2 * rr));
            for (int c = 0; c < 32; c++) y[yOff + 32 * b + c] = d * (code(w, o, rr, c) - 8);
        }
    }

    /**
     * Reference matrix × vector for groups [g0, g1), the vector kernel's scalar twin (bit for bit):
     * per block the unsigned codes' integer sum against the activations, minus 8·Σx in float (both
     * exact), times d[r]·xd[b] in a fused multiply-add.
     */
    static void matvecReference(MemorySegment w, long off, byte[] xq, float[] xd, int cols, float[] out, int g0, int g1) {
        int blocks = cols / 32;
        for (int g = g0; g < g1; g++) {
            for (int r = 0; r < ROWS; r++) {
                float acc = 0;
                long o = off + (long) g * blocks * BYTES;
                for (int b = 0; b < blocks; b++, o += BYTES) {
                    int sum = 0, xs = 0;
                    for (int c = 0; c < 32; c++) {
                        sum += code(w, o, r, c) * xq[32 * b + c];
                        xs += xq[32 * b + c];
                    }
                    acc = Math.fma((float) sum - (float) (8 * xs), Float.float16ToFloat(w.get(Q8_0Block.F16, o + 2 * r)) * xd[b], acc);
                }
                out[ROWS * g + r] = acc;
            }
        }
    }
}
