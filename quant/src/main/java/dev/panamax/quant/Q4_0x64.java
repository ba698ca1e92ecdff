package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q4_0 weights with sixty-four rows interleaved: Panamax's decode layout, made from {@link Q4_0Block}
 * rows at load (not a GGUF type). One 64-byte load is 32 little-endian shorts, and each short holds
 * four rows' codes of one column, a nibble each: lane 2r + e of chunk j carries column 2j + e of
 * rows r, 16 + r, 32 + r and 48 + r. A matrix × vector step multiplies the whole short, and the
 * short shifted right by 4, 8 and 12, by the activation pair (x[2j], x[2j + 1]) broadcast — four
 * 16-bit multiplies for 128 products, with no masking and no widening. Each product of the unshifted
 * short is code₀·x + 16·(the rest), so at the block's end the sums of nibble k alone come out as
 * Σ_k − 16·Σ_{k+1} in 16-bit arithmetic: exact, because each lane's true sum fits 16 bits
 * (|Σ| ≤ 16·15·127 < 2¹⁵) and wrapping subtraction loses nothing modulo 2¹⁶.
 *
 * <pre>
 * per group of 64 rows (g), per block of 32 columns (b), 1152 bytes:
 * offset 0     f16  d[64]            row 64g + i's Q4_0 scale
 * offset 128   u16  qs[16][16][2]    chunk j (64 bytes), short 2r + e (bytes 4r + 2e, 4r + 2e + 1):
 *                                    bits 4k … 4k + 3 = code of row 64g + 16k + r, column 32b + 2j + e
 *                                    x[64g + i][c] ≈ d[i] · (code − 8)
 * </pre>
 *
 * Group g's blocks follow each other, then group g + 1's: rows [64g, 64g + 64) are a slice of the
 * bytes. Four consecutive rows 16k + r … 16k + r + 3 (r a multiple of 4) are 16 contiguous bytes
 * of every chunk, nibble k: the quads a prompt's GEMM unpacks.
 */
public final class Q4_0x64 {
    private Q4_0x64() {}

    public static final int ROWS = 64;
    /** Bytes per group-block: sixty-four Q4_0 blocks. */
    public static final int BYTES = ROWS * Q4_0Block.BYTES;

    /**
     * Groups of rows [r0, r1) (multiples of 64) of a Q4_0 matrix of {@code rows} rows into the
     * interleaved layout at {@code dst}; rows from {@code rows} on become zeros (zero scales and
     * codes). Plain array loops over a group's rows copied into the heap, as {@link Q8_0x16#interleave}.
     * Returns whether every scale it moved is finite.
     */
    static boolean interleave(MemorySegment src, long srcOff, int rows, int cols, MemorySegment dst, long dstOff, int r0, int r1) {
        int blocks = cols / 32, rowBytes = blocks * Q4_0Block.BYTES;
        byte[] in = new byte[ROWS * rowBytes], out = new byte[blocks * BYTES];
        int[] chunks = new int[16 * 16];
        boolean finite = true;
        for (int g = r0 / ROWS; g < r1 / ROWS; g++) {
            int real = Math.min(ROWS, rows - ROWS * g);
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcOff + (long) ROWS * g * rowBytes, in, 0, real * rowBytes);
            java.util.Arrays.fill(in, real * rowBytes, in.length, (byte) 0);
            for (int b = 0, o = 0; b < blocks; b++, o += BYTES) {
                for (int i = 0, at = b * Q4_0Block.BYTES; i < ROWS; i++, at += rowBytes) {
                    out[o + 2 * i] = in[at];
                    out[o + 2 * i + 1] = in[at + 1];
                    finite &= (in[at + 1] & 0x7c) != 0x7c;
                }
                // A row's code bytes 2p and 2p + 1 hold columns 2p, 2p + 1 (low nibbles: chunk p) and
                // 16 + 2p, 17 + 2p (high nibbles: chunk 8 + p). Lane r of a chunk, as an int: the four
                // rows 16k + r of its first column in bits 4k, of its second in bits 16 + 4k.
                for (int p = 0; p < 8; p++) {
                    for (int r = 0; r < 16; r++) {
                        int lo = 0, hi = 0;
                        for (int k = 0, at = (16 * k + r) * rowBytes + b * Q4_0Block.BYTES + 2 + 2 * p; k < 4; k++, at += 16 * rowBytes) {
                            int u = (in[at] & 0xff) | (in[at + 1] & 0xff) << 16; // the pair's bytes 16 bits apart
                            lo |= (u & 0x000f000f) << 4 * k;
                            hi |= ((u >>> 4) & 0x000f000f) << 4 * k;
                        }
                        chunks[16 * p + r] = lo;
                        chunks[16 * (8 + p) + r] = hi;
                    }
                }
                MemorySegment.copy(chunks, 0, MemorySegment.ofArray(out), I32, o + 128, chunks.length);
            }
            MemorySegment.copy(out, 0, dst, ValueLayout.JAVA_BYTE, dstOff + (long) g * out.length, out.length);
        }
        return finite;
    }

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** Code of column c (0..31) of row i (0..63) in the group-block at o. */
    static int code(MemorySegment w, long o, int i, int c) {
        int s = w.get(Q8_0Block.F16, o + 128 + 64 * (c / 2) + 4 * (i % 16) + 2 * (c % 2)) & 0xffff;
        return (s >>> 4 * (i / 16)) & 0x0f;
    }

    /** Reference dequantizer: row r (of the whole matrix) into y[yOff, yOff + cols). */
    public static void dequantizeRow(MemorySegment w, long off, int cols, int r, float[] y, int yOff) {
        int blocks = cols / 32;
        long o = off + (long) (r / ROWS) * blocks * BYTES;
        int i = r % ROWS;
        for (int b = 0; b < blocks; b++, o += BYTES) {
            float d = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 2 * i));
            for (int c = 0; c < 32; c++) y[yOff + 32 * b + c] = d * (code(w, o, i, c) - 8);
        }
    }

    /**
     * Reference matrix × vector for groups [g0, g1), the vector kernel's scalar twin (bit for bit):
     * per block the unsigned codes' integer sum against the activations, minus 8·Σx in float (both
     * exact), times d[i]·xd[b] in a fused multiply-add.
     */
    static void matvecReference(MemorySegment w, long off, byte[] xq, float[] xd, int cols, float[] out, int g0, int g1) {
        int blocks = cols / 32;
        for (int g = g0; g < g1; g++) {
            for (int i = 0; i < ROWS; i++) {
                float acc = 0;
                long o = off + (long) g * blocks * BYTES;
                for (int b = 0; b < blocks; b++, o += BYTES) {
                    int sum = 0, xs = 0;
                    for (int c = 0; c < 32; c++) {
                        sum += code(w, o, i, c) * xq[32 * b + c];
                        xs += xq[32 * b + c];
                    }
                    acc = Math.fma((float) sum - (float) (8 * xs), Float.float16ToFloat(w.get(Q8_0Block.F16, o + 2 * i)) * xd[b], acc);
                }
                out[ROWS * g + i] = acc;
            }
        }
    }
}
