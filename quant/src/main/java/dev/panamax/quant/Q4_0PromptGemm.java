package dev.panamax.quant;

import dev.panamax.simd.Parallel;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * A prompt's block of tokens × an interleaved Q4_0 matrix ({@link Q4_0x64}) in 16-bit integers,
 * the vector lanes running over tokens. Each token's activations are quantized to Q8_0 codes xq
 * and scales xd exactly as decoding quantizes them, and
 *
 * <pre>
 * out[t, r] = Σ_b  (d[r, b]·xd[t, b]) · Σ_{c in block b} (code[r, c] − 8)·xq[t, c]     (fused multiply-add per block, b ascending)
 * </pre>
 *
 * — the decode kernel's operations in its order, so each token's row equals
 * {@link QuantizedMatvec#matvecInterleaved} for that token bit for bit.
 *
 * <p>A tile is 4 weight rows × 64 tokens. Per column c it loads two 32-lane short vectors
 * xq[t0 .. t0 + 63][c] and multiplies them by four broadcast codes (code − 8), adding into eight
 * short accumulators; a block's sums fit 16 bits (|Σ| ≤ 32·8·127 = 32512). After each block of 32
 * columns the shorts are split into even and odd tokens (the int view's v ≪ 16 ≫ 16 and v ≫ 16),
 * converted to float and added into the tile as fma(Σ, xd·d, acc). The tile's rows therefore hold
 * tokens in the order of {@link #slot}.
 *
 * <p>Why: widened to float, a Q4_0 prompt ran at the float GEMM's speed plus the widening, while
 * llama.cpp multiplies it in int8 dot products (VNNI), faster than its own float GEMM. The Vector
 * API of JDK 25 has no integer dot product, but a 512-bit short multiply and add make 32 products
 * where a float FMA makes 16. 64 tokens against TinyLlama's shapes on one Zen 4 thread, this runs
 * 1.3–1.4× faster than the rows widened for the float GEMM (2048 × 2048: 115 GFLOP/s, above the
 * float FMA's peak; {@code QuantPromptGemmBenchmark}); the multiply loop alone is faster still, and the
 * block ends take about a quarter of the time. Only for 512-bit vectors; loaded through
 * {@link QuantizedMatvec#matmulInterleaved}.
 */
final class Q4_0PromptGemm {
    private Q4_0PromptGemm() {}

    /** Tokens per panel and tile. */
    static final int W = 64;
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_512;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /**
     * A thread's unpacked sixteen rows (codes − 8 and scales), its tile, and a narrow tile's block
     * sums on their way to float; on the calling thread also the prompt's quantized panels.
     */
    private static final class Scratch {
        short[] codes = new short[0], panels = new short[0];
        float[] d = new float[0], scales = new float[0];
        final float[] tile = new float[4 * W];
        final short[] sums = new short[4 * W];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Where token t (0..63) of a panel sits in a tile row: its half of 32 tokens, even tokens before odd ones. */
    static int slot(int t) {
        return (t & ~31) + 16 * (t & 1) + (t & 31) / 2;
    }

    /** out[t·rows + r] for t < m, r < rows: x [m, cols] (floats) times the interleaved Q4_0 matrix at w. */
    static void multiply(MemorySegment w, int rows, int cols, float[] x, int m, float[] out) {
        int blocks = cols / 32, panels = (m + W - 1) / W;
        Scratch caller = SCRATCH.get();
        if (caller.panels.length < panels * W * cols) caller.panels = new short[panels * W * cols];
        if (caller.scales.length < panels * W * blocks) caller.scales = new float[panels * W * blocks];
        // Panel p, column c, token lane l: xq at p·W·cols + c·W + l; xd of block b at (p·blocks + b)·W + slot(l).
        // Lanes past m in the last panel hold stale values: lanes never mix, and theirs are never written.
        short[] xq = caller.panels;
        float[] xd = caller.scales;
        // Split by blocks of columns, not by tokens: a cache line of a panel holds 32 tokens of one column.
        Parallel.forRange(blocks, 1, (b0, b1) -> {
            int[] q = new int[32];
            for (int t = 0; t < m; t++) {
                int p = t / W, lane = t % W, at = p * W * cols + lane;
                for (int b = b0; b < b1; b++) {
                    xd[(p * blocks + b) * W + slot(lane)] = quantizeBlock(x, t * cols + 32 * b, q);
                    for (int i = 0; i < 32; i++) xq[at + (32 * b + i) * W] = (short) q[i];
                }
            }
        });
        // Sixteen rows at a time (rows 16u … 16u + 15: one nibble of a group's lanes), unpacked once, then their four quads.
        Parallel.forRange((rows + 15) / 16, 1, (u0, u1) -> {
            Scratch s = SCRATCH.get();
            if (s.codes.length < 16 * cols) {
                s.codes = new short[16 * cols];
                s.d = new float[16 * blocks];
            }
            for (int u = u0; u < u1; u++) {
                int first = 16 * u;
                unpack(w, (long) (first / Q4_0x64.ROWS) * blocks * Q4_0x64.BYTES, first % Q4_0x64.ROWS, blocks, s.codes, s.d);
                for (int quad = 0; quad < 4 && first + 4 * quad < rows; quad++) {
                    int r0 = first + 4 * quad, count = Math.min(4, rows - r0);
                    for (int p = 0; p < panels; p++) {
                        int width = Math.min(W, m - p * W);
                        if (width > 32) tile4x64(xq, p * W * cols, xd, p * blocks * W, s.codes, 8 * quad, s.d, 4 * quad, blocks, s.tile);
                        else tile4x32(xq, p * W * cols, xd, p * blocks * W, s.codes, 8 * quad, s.d, 4 * quad, blocks, s.tile, s.sums);
                        for (int rr = 0; rr < count; rr++) {
                            for (int t = 0, o = p * W * rows + r0 + rr; t < width; t++, o += rows) out[o] = s.tile[rr * W + slot(t)];
                        }
                    }
                }
            }
        });
    }

    /** 1.5·2²³: v + it − it is v rounded to the nearest integer, ties to even, for |v| ≤ 2²² (as {@link Math#rint}). */
    private static final float ROUND = 12582912f;

    /**
     * {@link Q8_KBlock#quantizeBlock} of the 32 values at x[from] on vectors, the same codes and
     * scale: max|x| by a lane reduction (order does not matter to a maximum), x·(127/max) in float,
     * rounded half to even.
     */
    private static float quantizeBlock(float[] x, int from, int[] q) {
        FloatVector a = FloatVector.fromArray(F, x, from), b = FloatVector.fromArray(F, x, from + 16);
        float amax = a.abs().max(b.abs()).reduceLanes(VectorOperators.MAX);
        float id = amax != 0 ? 127f / amax : 0f;
        ((IntVector) a.mul(id).add(ROUND).sub(ROUND).convert(VectorOperators.F2I, 0)).intoArray(q, 0);
        ((IntVector) b.mul(id).add(ROUND).sub(ROUND).convert(VectorOperators.F2I, 0)).intoArray(q, 16);
        return Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
    }

    /**
     * Rows i … i + 15 (i a multiple of 16: one nibble of the group's lanes) of the group at byte o as
     * codes − 8 in shorts, a block's 512 after another: column c of row i + 4q + k at
     * 32·(c / 2) + 8q + 2k + c % 2 — chunk j's 32 shorts shifted to the nibble, so quad q's codes are
     * the same as {@link VectorInterleaved#q4Quad} gives, at stride 32 instead of 8. Their scales:
     * row i + k of block b at d[16b + k].
     */
    private static void unpack(MemorySegment w, long o, int i, int blocks, short[] codes, float[] d) {
        int shift = 4 * (i / 16);
        for (int b = 0; b < blocks; b++, o += Q4_0x64.BYTES) {
            for (int k = 0; k < 16; k++) d[16 * b + k] = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 2 * (i + k)));
            for (int j = 0; j < 16; j++) {
                ShortVector.fromMemorySegment(S, w, o + 128 + 64L * j, LE).lanewise(VectorOperators.LSHR, shift).and((short) 0x0f).sub((short) 8)
                        .intoArray(codes, 512 * b + 32 * j);
            }
        }
    }

    private static ShortVector load(short[] xq, int index) {
        return ShortVector.fromArray(S, xq, index);
    }

    private static ShortVector broadcast(short[] codes, int index) {
        return ShortVector.broadcast(S, codes[index]);
    }

    /** Quad c0 / 8 of the unpacked rows × the 64 tokens of the panel at xq[xo], two columns (a pair of codes) a step. */
    private static void tile4x64(short[] xq, int xo, float[] xd, int dOff, short[] codes, int c0, float[] d, int d0, int blocks, float[] tile) {
        Arrays.fill(tile, 0f);
        for (int b = 0; b < blocks; b++) {
            ShortVector s00 = ShortVector.zero(S), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00, s31 = s00;
            for (int pair = 16 * b; pair < 16 * b + 16; pair++) {
                int o = xo + 2 * pair * W, k = c0 + 32 * pair;
                ShortVector x0 = load(xq, o), x1 = load(xq, o + 32);
                ShortVector v = broadcast(codes, k);
                s00 = s00.add(x0.mul(v)); s01 = s01.add(x1.mul(v));
                v = broadcast(codes, k + 2);
                s10 = s10.add(x0.mul(v)); s11 = s11.add(x1.mul(v));
                v = broadcast(codes, k + 4);
                s20 = s20.add(x0.mul(v)); s21 = s21.add(x1.mul(v));
                v = broadcast(codes, k + 6);
                s30 = s30.add(x0.mul(v)); s31 = s31.add(x1.mul(v));
                x0 = load(xq, o + W);
                x1 = load(xq, o + W + 32);
                v = broadcast(codes, k + 1);
                s00 = s00.add(x0.mul(v)); s01 = s01.add(x1.mul(v));
                v = broadcast(codes, k + 3);
                s10 = s10.add(x0.mul(v)); s11 = s11.add(x1.mul(v));
                v = broadcast(codes, k + 5);
                s20 = s20.add(x0.mul(v)); s21 = s21.add(x1.mul(v));
                v = broadcast(codes, k + 7);
                s30 = s30.add(x0.mul(v)); s31 = s31.add(x1.mul(v));
            }
            // The block's sums into the tile, written out: a helper taking vectors that C2 did not
            // inline (it had compiled it apart, too big to inline) boxed them on every call.
            int xb = dOff + b * W;
            IntVector v;
            v = s00.reinterpretAsInts();
            ((FloatVector) v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb).mul(d[d0 + 16 * b]), FloatVector.fromArray(F, tile, 0)).intoArray(tile, 0);
            ((FloatVector) v.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb + 16).mul(d[d0 + 16 * b]), FloatVector.fromArray(F, tile, 16)).intoArray(tile, 16);
            v = s01.reinterpretAsInts();
            ((FloatVector) v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb + 32).mul(d[d0 + 16 * b]), FloatVector.fromArray(F, tile, 32)).intoArray(tile, 32);
            ((FloatVector) v.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb + 48).mul(d[d0 + 16 * b]), FloatVector.fromArray(F, tile, 48)).intoArray(tile, 48);
            v = s10.reinterpretAsInts();
            ((FloatVector) v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb).mul(d[d0 + 16 * b + 1]), FloatVector.fromArray(F, tile, 64)).intoArray(tile, 64);
            ((FloatVector) v.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb + 16).mul(d[d0 + 16 * b + 1]), FloatVector.fromArray(F, tile, 80)).intoArray(tile, 80);
            v = s11.reinterpretAsInts();
            ((FloatVector) v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb + 32).mul(d[d0 + 16 * b + 1]), FloatVector.fromArray(F, tile, 96)).intoArray(tile, 96);
            ((FloatVector) v.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb + 48).mul(d[d0 + 16 * b + 1]), FloatVector.fromArray(F, tile, 112)).intoArray(tile, 112);
            v = s20.reinterpretAsInts();
            ((FloatVector) v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb).mul(d[d0 + 16 * b + 2]), FloatVector.fromArray(F, tile, 128)).intoArray(tile, 128);
            ((FloatVector) v.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb + 16).mul(d[d0 + 16 * b + 2]), FloatVector.fromArray(F, tile, 144)).intoArray(tile, 144);
            v = s21.reinterpretAsInts();
            ((FloatVector) v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb + 32).mul(d[d0 + 16 * b + 2]), FloatVector.fromArray(F, tile, 160)).intoArray(tile, 160);
            ((FloatVector) v.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb + 48).mul(d[d0 + 16 * b + 2]), FloatVector.fromArray(F, tile, 176)).intoArray(tile, 176);
            v = s30.reinterpretAsInts();
            ((FloatVector) v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb).mul(d[d0 + 16 * b + 3]), FloatVector.fromArray(F, tile, 192)).intoArray(tile, 192);
            ((FloatVector) v.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb + 16).mul(d[d0 + 16 * b + 3]), FloatVector.fromArray(F, tile, 208)).intoArray(tile, 208);
            v = s31.reinterpretAsInts();
            ((FloatVector) v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb + 32).mul(d[d0 + 16 * b + 3]), FloatVector.fromArray(F, tile, 224)).intoArray(tile, 224);
            ((FloatVector) v.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, xd, xb + 48).mul(d[d0 + 16 * b + 3]), FloatVector.fromArray(F, tile, 240)).intoArray(tile, 240);
        }
    }

    /** {@link #tile4x64} for the first 32 tokens of a panel (a prompt's last panel, when no wider). */
    private static void tile4x32(short[] xq, int xo, float[] xd, int dOff, short[] codes, int c0, float[] d, int d0, int blocks, float[] tile, short[] sums) {
        Arrays.fill(tile, 0f);
        for (int b = 0; b < blocks; b++) {
            ShortVector s0 = ShortVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
            for (int pair = 16 * b; pair < 16 * b + 16; pair++) {
                int o = xo + 2 * pair * W, k = c0 + 32 * pair;
                ShortVector x0 = load(xq, o), x1 = load(xq, o + W);
                s0 = s0.add(x0.mul(broadcast(codes, k))).add(x1.mul(broadcast(codes, k + 1)));
                s1 = s1.add(x0.mul(broadcast(codes, k + 2))).add(x1.mul(broadcast(codes, k + 3)));
                s2 = s2.add(x0.mul(broadcast(codes, k + 4))).add(x1.mul(broadcast(codes, k + 5)));
                s3 = s3.add(x0.mul(broadcast(codes, k + 6))).add(x1.mul(broadcast(codes, k + 7)));
            }
            s0.intoArray(sums, 0); s1.intoArray(sums, 64); s2.intoArray(sums, 128); s3.intoArray(sums, 192);
            flush(sums, xd, dOff + b * W, d, d0 + 16 * b, tile);
        }
    }

    /**
     * A narrow tile's block sums (row r's 32 tokens at sums[64r]) into the tile: tile += float(Σ)·(xd·d),
     * even tokens then odd ones. Kept out of the tile's loop (arrays in, arrays out), so no vector
     * crosses a call.
     */
    private static void flush(short[] sums, float[] xd, int xb, float[] d, int di, float[] tile) {
        for (int r = 0; r < 4; r++) {
            float dr = d[di + r];
            int at = 64 * r;
            IntVector v = ShortVector.fromArray(S, sums, at).reinterpretAsInts();
            FloatVector even = (FloatVector) v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
            FloatVector odd = (FloatVector) v.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
            even.fma(FloatVector.fromArray(F, xd, xb).mul(dr), FloatVector.fromArray(F, tile, at)).intoArray(tile, at);
            odd.fma(FloatVector.fromArray(F, xd, xb + 16).mul(dr), FloatVector.fromArray(F, tile, at + 16)).intoArray(tile, at + 16);
        }
    }
}
