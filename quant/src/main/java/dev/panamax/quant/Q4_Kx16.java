package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q4_K weights with sixteen rows interleaved: Panamax's decode layout, made from {@link Q4_KBlock}
 * rows at load (not a GGUF type). The codes move as {@link Q8_0x16}'s do — a row's code bytes in
 * pairs, byte 2j + e of a 64-value chunk landing at 2r + e of that chunk's j-th 32-byte piece —
 * so a matrix × vector step is two 16-bit multiplies (low nibbles, high nibbles) by broadcast activation pairs,
 * accumulated in shorts over a 32-value sub-block. The 6-bit scales and mins are unpacked to bytes,
 * sixteen rows side by side, so each sub-block's are one widening load: that costs 4 bytes per row
 * and super-block more than the file (148 against 144).
 *
 * <pre>
 * per group of 16 rows (g), per super-block of 256 columns (b), 2368 bytes:
 * offset 0     f16  d[16], then dmin[16]   row r's super-block scales
 * offset 64    u8   sc[8][16]             sub-block j's 6-bit scale of row r at 64 + 16j + r
 * offset 192   u8   m[8][16]              its 6-bit min at 192 + 16j + r
 * offset 320   u8   qs[4][16][16][2]      chunk c (64 values), piece j (32 bytes at 320 + 512c + 32j), byte 2r + e:
 *                                         row r's Q4_K code byte 32c + 2j + e — low nibble = value 64c + 2j + e,
 *                                         high nibble = value 64c + 32 + 2j + e
 *                                         x = d·sc·code − dmin·m, sub-block j = (value / 32)
 * </pre>
 */
public final class Q4_Kx16 {
    private Q4_Kx16() {}

    public static final int ROWS = 16;
    /** Bytes per group-superblock. */
    public static final int BYTES = 2368;
    /** Bytes per row and super-block (148: the file's 144 plus the unpacked scales' 4). */
    public static final int ROW_BYTES = BYTES / ROWS;

    /** As {@link Q8_0x16#interleave}, for Q4_K (padding rows: zero scales, mins and codes). */
    static void interleave(MemorySegment src, long srcOff, int rows, int cols, MemorySegment dst, long dstOff, int r0, int r1) {
        int blocks = cols / 256, rowBytes = blocks * Q4_KBlock.BYTES;
        byte[] in = new byte[ROWS * rowBytes], out = new byte[blocks * BYTES];
        for (int g = r0 / ROWS; g < r1 / ROWS; g++) {
            Q8_0x16.readGroup(src, srcOff, rows, rowBytes, g, in);
            for (int r = 0; r < ROWS; r++) {
                for (int b = 0, i = r * rowBytes, o = 0; b < blocks; b++, i += Q4_KBlock.BYTES, o += BYTES) {
                    out[o + 2 * r] = in[i];
                    out[o + 2 * r + 1] = in[i + 1];
                    out[o + 32 + 2 * r] = in[i + 2];
                    out[o + 33 + 2 * r] = in[i + 3];
                    for (int j = 0; j < 8; j++) { // Q4_KBlock.scaleMin's unpacking, on the array
                        int q = i + 4, sc, m;
                        if (j < 4) {
                            sc = in[q + j] & 63;
                            m = in[q + j + 4] & 63;
                        } else {
                            sc = (in[q + j + 4] & 0x0f) | ((in[q + j - 4] & 0xff) >>> 6) << 4;
                            m = ((in[q + j + 4] & 0xff) >>> 4) | ((in[q + j] & 0xff) >>> 6) << 4;
                        }
                        out[o + 64 + 16 * j + r] = (byte) sc;
                        out[o + 192 + 16 * j + r] = (byte) m;
                    }
                    for (int c = 0; c < 4; c++) Q8_0x16.movePairs(in, i + 16 + 32 * c, 16, out, o + 320 + 512 * c, r);
                }
            }
            MemorySegment.copy(out, 0, dst, ValueLayout.JAVA_BYTE, dstOff + (long) g * out.length, out.length);
        }
    }

    /** Code of value v (0..255) of row rr (0..15) in the group-superblock at o. */
    static int code(MemorySegment w, long o, int rr, int v) {
        int c = v / 64, i = v % 32;
        int q = w.get(ValueLayout.JAVA_BYTE, o + 320 + 512L * c + 32L * (i / 2) + 2 * rr + (i & 1)) & 0xff;
        return v % 64 < 32 ? q & 0x0f : q >>> 4;
    }

    static int scale(MemorySegment w, long o, int rr, int j) {
        return w.get(ValueLayout.JAVA_BYTE, o + 64 + 16 * j + rr);
    }

    static int min(MemorySegment w, long o, int rr, int j) {
        return w.get(ValueLayout.JAVA_BYTE, o + 192 + 16 * j + rr);
    }

    /** Reference dequantizer ({@link Q4_KBlock#dequantize}'s arithmetic): row r (of the whole matrix) into y[yOff, yOff + cols). */
    public static void dequantizeRow(MemorySegment w, long off, int cols, int r, float[] y, int yOff) {
        int blocks = cols / 256;
        long o = off + (long) (r / ROWS) * blocks * BYTES;
        int rr = r % ROWS;
        for (int b = 0; b < blocks; b++, o += BYTES) {
            float d = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 2 * rr)), dmin = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 32 + 2 * rr));
            for (int v = 0; v < 256; v++) {
                int j = v / 32;
                float dj = d * scale(w, o, rr, j), mj = dmin * min(w, o, rr, j);
                y[yOff + 256 * b + v] = dj * code(w, o, rr, v) - mj;
            }
        }
    }

    /**
     * Reference matrix × vector for groups [g0, g1), the vector kernel's scalar twin (bit for bit):
     * activations quantized per super-block ({@code xq}, {@code xd}) with their sums per 32
     * ({@code xsum32}); per row and super-block the integers Σ_j sc_j·Σ code·x and Σ_j m_j·Σ x,
     * then two fused multiply-adds, by d·xd and by −dmin·xd.
     */
    static void matvecReference(MemorySegment w, long off, byte[] xq, float[] xd, int[] xsum32, int cols, float[] out, int g0, int g1) {
        int blocks = cols / 256;
        for (int g = g0; g < g1; g++) {
            for (int r = 0; r < ROWS; r++) {
                float acc = 0;
                long o = off + (long) g * blocks * BYTES;
                for (int b = 0; b < blocks; b++, o += BYTES) {
                    int scaled = 0, mins = 0;
                    for (int j = 0; j < 8; j++) {
                        int sum = 0;
                        for (int v = 32 * j; v < 32 * j + 32; v++) sum += code(w, o, r, v) * xq[256 * b + v];
                        scaled += scale(w, o, r, j) * sum;
                        mins += min(w, o, r, j) * xsum32[8 * b + j];
                    }
                    float d = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 2 * r)), dmin = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 32 + 2 * r));
                    acc = Math.fma((float) scaled, d * xd[b], acc);
                    acc = Math.fma((float) mins, dmin * -xd[b], acc);
                }
                out[ROWS * g + r] = acc;
            }
        }
    }
}
