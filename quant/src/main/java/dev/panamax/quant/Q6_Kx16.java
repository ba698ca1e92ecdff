package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q6_K weights with sixteen rows interleaved: Panamax's decode layout, made from {@link Q6_KBlock}
 * rows at load (not a GGUF type). Each 6-bit code is stored whole, minus its offset 32, as a
 * signed byte in {@link Q8_0x16}'s piece order — one 32-byte load is two columns of sixteen
 * rows — so a matrix × vector step is Q8_0x16's widen and 16-bit multiply with no bit assembly
 * (putting the file's low nibbles and high bit pairs together costs more than the 30% more bytes
 * read: 274 per row and super-block against the file's 210). The values are the file's exactly:
 * x = d·sc·(code − 32).
 *
 * <pre>
 * per group of 16 rows (g), per super-block of 256 columns (b), 4384 bytes:
 * offset 0    f16  d[16]            row r's super-block scale
 * offset 32   i8   sc[16][16]       sub-block j's (16 columns) scale of row r at 32 + 16j + r
 * offset 288  i8   qs[128][16][2]   piece p (32 bytes at 288 + 32p), byte 2r + e: row r's code − 32 of column 256b + 2p + e
 *                                   x[16g + r][256b + v] = d[r] · sc[v / 16][r] · qs
 * </pre>
 *
 * A sub-block of 16 columns is 8 pieces, so a 16-bit lane sums 8 products of at most 32·127
 * (32512: the activations are never −128) before it is widened.
 */
public final class Q6_Kx16 {
    private Q6_Kx16() {}

    public static final int ROWS = 16;
    /** Bytes per group-superblock. */
    public static final int BYTES = 4384;
    /** Bytes per row and super-block (274: the codes as bytes, the scales, d). */
    public static final int ROW_BYTES = BYTES / ROWS;
    /** Where a group-superblock's code pieces start. */
    static final int CODES = 288;

    /** As {@link Q8_0x16#interleave}, for Q6_K (padding rows: zero scales and codes). */
    static void interleave(MemorySegment src, long srcOff, int rows, int cols, MemorySegment dst, long dstOff, int r0, int r1) {
        int blocks = cols / 256, rowBytes = blocks * Q6_KBlock.BYTES;
        byte[] in = new byte[ROWS * rowBytes], out = new byte[blocks * BYTES], codes = new byte[256];
        for (int g = r0 / ROWS; g < r1 / ROWS; g++) {
            Q8_0x16.readGroup(src, srcOff, rows, rowBytes, g, in);
            for (int r = 0; r < ROWS; r++) {
                for (int b = 0, i = r * rowBytes, o = 0; b < blocks; b++, i += Q6_KBlock.BYTES, o += BYTES) {
                    out[o + 2 * r] = in[i + 208];
                    out[o + 2 * r + 1] = in[i + 209];
                    for (int j = 0; j < 16; j++) out[o + 32 + 16 * j + r] = in[i + 192 + j];
                    for (int half = 0; half < 2; half++) { // Q6_KBlock.dequantize's bit layout, on the array
                        int ql = i + 64 * half, qh = i + 128 + 32 * half, v = 128 * half;
                        for (int l = 0; l < 32; l++) {
                            int a = in[ql + l] & 0xff, c = in[ql + 32 + l] & 0xff, h = in[qh + l] & 0xff;
                            codes[v + l] = (byte) (((a & 0x0f) | (h & 3) << 4) - 32);
                            codes[v + 32 + l] = (byte) (((c & 0x0f) | (h >>> 2 & 3) << 4) - 32);
                            codes[v + 64 + l] = (byte) (((a >>> 4) | (h >>> 4 & 3) << 4) - 32);
                            codes[v + 96 + l] = (byte) (((c >>> 4) | (h >>> 6) << 4) - 32);
                        }
                    }
                    Q8_0x16.movePairs(codes, 0, 128, out, o + CODES, r);
                }
            }
            MemorySegment.copy(out, 0, dst, ValueLayout.JAVA_BYTE, dstOff + (long) g * out.length, out.length);
        }
    }

    /** Code − 32 of value v (0..255) of row rr (0..15) in the group-superblock at o. */
    static int code(MemorySegment w, long o, int rr, int v) {
        return w.get(ValueLayout.JAVA_BYTE, o + CODES + 32L * (v / 2) + 2 * rr + (v & 1));
    }

    static int scale(MemorySegment w, long o, int rr, int j) {
        return w.get(ValueLayout.JAVA_BYTE, o + 32 + 16 * j + rr);
    }

    /** Reference dequantizer ({@link Q6_KBlock#dequantize}'s arithmetic, d·sc then times the code): row r into y[yOff, yOff + cols). */
    public static void dequantizeRow(MemorySegment w, long off, int cols, int r, float[] y, int yOff) {
        int blocks = cols / 256;
        long o = off + (long) (r / ROWS) * blocks * BYTES;
        int rr = r % ROWS;
        for (int b = 0; b < blocks; b++, o += BYTES) {
            float d = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 2 * rr));
            for (int v = 0; v < 256; v++) y[yOff + 256 * b + v] = d * scale(w, o, rr, v / 16) * code(w, o, rr, v);
        }
    }

    /**
     * Reference matrix × vector for groups [g0, g1), the vector kernel's scalar twin (bit for bit):
     * activations quantized per super-block ({@code xq}, {@code xd}); per row and super-block the
     * integer Σ_j sc_j·Σ (code − 32)·x, then one fused multiply-add by d·xd.
     */
    static void matvecReference(MemorySegment w, long off, byte[] xq, float[] xd, int cols, float[] out, int g0, int g1) {
        int blocks = cols / 256;
        for (int g = g0; g < g1; g++) {
            for (int r = 0; r < ROWS; r++) {
                float acc = 0;
                long o = off + (long) g * blocks * BYTES;
                for (int b = 0; b < blocks; b++, o += BYTES) {
                    int scaled = 0;
                    for (int j = 0; j < 16; j++) {
                        int sum = 0;
                        for (int v = 16 * j; v < 16 * j + 16; v++) sum += code(w, o, r, v) * xq[256 * b + v];
                        scaled += scale(w, o, r, j) * sum;
                    }
                    acc = Math.fma((float) scaled, Float.float16ToFloat(w.get(Q8_0Block.F16, o + 2 * r)) * xd[b], acc);
                }
                out[ROWS * g + r] = acc;
            }
        }
    }
}
