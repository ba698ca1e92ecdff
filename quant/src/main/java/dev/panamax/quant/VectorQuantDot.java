package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import dev.panamax.simd.LaneSums;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Integer dot products on the Vector API, for 256-bit (AVX2) and 512-bit (AVX-512) machines: codes
 * are widened byte → short, multiplied, adjacent products summed into int lanes; the block's int
 * lanes are converted to float once and scaled by d_w·d_x into a float accumulator, so there is one
 * horizontal sum per row, not per block. Where a kernel has two shapes, {@link #WIDE} picks the
 * 512-bit one on machines whose vectors are that wide (a 512-bit species on a 256-bit machine is
 * emulated in Java, hundreds of times slower). Loaded only by {@link QuantizedMatvec} after checking
 * the module is there and vectors are at least 256 bits.
 */
final class VectorQuantDot implements QuantizedMatvec.Dot {

    static final VectorQuantDot INSTANCE = new VectorQuantDot();

    private static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Short> S256 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Integer> I512 = IntVector.SPECIES_512;
    private static final VectorSpecies<Float> F512 = FloatVector.SPECIES_512;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort F16 = Q8_0Block.F16;

    /**
     * Whether the 512-bit kernels run: the preferred vectors are that wide, unless
     * {@code -Dpanamax.quant.vectorBits=256} asks for the 256-bit ones (to compare them on one machine).
     */
    static final boolean WIDE = IntVector.SPECIES_PREFERRED.vectorBitSize() >= 512
            && dev.panamax.simd.Tuning.experiment("quant.vectorBits", 512) >= 512;

    private VectorQuantDot() {}

    @Override
    public int vectorBits() {
        return WIDE ? 512 : 256;
    }

    /** Q4_0's prompt GEMM runs on the 512-bit kernels only. */
    @Override
    public boolean q4_0PromptGemm(MemorySegment w, int rows, int cols, float[] x, int tokens, float[] out) {
        if (!WIDE) return false;
        Q4_0PromptGemm.multiply(w, rows, cols, x, tokens, out);
        return true;
    }

    @Override
    public void dequantizeInterleavedRows(BlockFormat f, MemorySegment w, long off, int cols, int r0, int count, float[] y, int yOff) {
        if (r0 % 4 != 0 || count % 4 != 0) {
            QuantizedMatvec.Dot.super.dequantizeInterleavedRows(f, w, off, cols, r0, count, y, yOff);
            return;
        }
        switch (f) {
            case Q4_0 -> VectorInterleaved.q4Rows(WIDE, w, off, cols, r0, count, y, yOff);
            case Q4_K -> VectorInterleaved.q4kRows(WIDE, w, off, cols, r0, count, y, yOff);
            case Q6_K -> VectorInterleaved.q6kRows(WIDE, w, off, cols, r0, count, y, yOff);
            default -> VectorInterleaved.q8Rows(WIDE, w, off, cols, r0, count, y, yOff);
        }
    }

    @Override
    public void matvecInterleaved(BlockFormat f, MemorySegment w, long off, Q8_KBlock x, int[] pairs, float[] xs8, int[] xsum32, int cols,
                                  float[] out, int g0, int g1) {
        switch (f) {
            case Q4_0 -> {
                if (WIDE) VectorInterleaved.q4(w, off, pairs, x.d, xs8, cols / 32, out, g0, g1);
                else VectorInterleaved.q4x256(w, off, pairs, x.d, xs8, cols / 32, out, g0, g1);
            }
            case Q4_K -> {
                if (WIDE) VectorInterleaved.q4k(w, off, pairs, x.d, xsum32, cols / 256, out, g0, g1);
                else VectorInterleaved.q4kx256(w, off, pairs, x.d, xsum32, cols / 256, out, g0, g1);
            }
            case Q6_K -> {
                if (WIDE) VectorInterleaved.q6k(w, off, pairs, x.d, cols / 256, out, g0, g1);
                else VectorInterleaved.q6kx256(w, off, pairs, x.d, cols / 256, out, g0, g1);
            }
            default -> {
                if (WIDE) VectorInterleaved.q8(w, off, pairs, x.d, cols / 32, out, g0, g1);
                else VectorInterleaved.q8x256(w, off, pairs, x.d, cols / 32, out, g0, g1);
            }
        }
    }

    /**
     * Whether a batched step's Q4_K and Q6_K matrices take several vectors at a time (Q4_K two,
     * {@link VectorInterleaved#q4kBatch2}; Q6_K four, {@link VectorInterleaved#q6kBatch4}, and two; the
     * same bits as one at a time); {@code -Dpanamax.quant.kBatch=false}: one at a time, each over the span
     * of groups in cache, as before. Measured in docs/benchmarks.md (twenty-third session).
     */
    static final boolean K_BATCH = dev.panamax.simd.Tuning.flagOn("quant.kBatch");

    /**
     * On 256-bit vectors, whether a batched step's Q8_0 matrices take eight vectors at a time
     * ({@link VectorInterleaved#q8Batch8x256}), Q4_0's, Q4_K's and Q6_K's two ({@link VectorInterleaved#q4Batch2x256},
     * {@link VectorInterleaved#q4kBatch2x256}, {@link VectorInterleaved#q6kBatch2x256}; the K-quants as {@link #K_BATCH} says);
     * {@code -Dpanamax.quant.batch256=false}: one at a time.
     */
    static final boolean BATCH_256 = dev.panamax.simd.Tuning.flagOn("quant.batch256");

    /**
     * The batched kernels that a fresh process's first batched calls would make the JIT compile
     * late — Q4_K's and Q6_K's on 512-bit vectors, every 256-bit one — start once the process has
     * made this many batched calls one vector at a time ({@code -Dpanamax.quant.batchAfter=N}). A
     * fresh `generate`'s short prompt is rows of one batched step (up to ~6 000 calls on TinyLlama's
     * shapes); those rows go through the decode kernel its decoding compiles anyway, where compiling
     * the batched kernel beside it had cost a Q4_K_M file's 32 tokens 0.5 s (and a 256-bit Q4_0 file's
     * 14-token prompt 0.2–0.7 s; docs/benchmarks.md, twenty-third and twenty-fourth sessions). A server
     * passes it in its first few steps, its warm-up's included. Which kernel runs never changes a bit.
     * (Counting one-vector calls instead, as the twenty-third session did, counted the start-up
     * warm-up's calls too, and on 256-bit vectors passed the threshold in the middle of that prompt.)
     */
    static final int BATCH_AFTER = dev.panamax.simd.Tuning.speed("quant.batchAfter", 20_000);

    /** Batched calls so far (unsynchronised, stops at {@link #BATCH_AFTER}: a count for a speed choice only; tests set it). */
    static int batchCalls;

    /**
     * On 512-bit vectors: Q8_0 (and Q5_0 and IQ4_NL as Q8_0) eight vectors at a time
     * ({@link VectorInterleaved#q8Batch8}), the rest four ({@link VectorInterleaved#q8Batch4}); Q6_K four
     * ({@link VectorInterleaved#q6kBatch4}), the rest two; Q4_0 and Q4_K two ({@link VectorInterleaved#q4Batch2},
     * {@link VectorInterleaved#q4kBatch2}).
     */
    @Override
    public boolean matvecInterleavedBatch(BlockFormat f, MemorySegment w, long off, QuantizedMatvec.Activations[] a, int cols, float[][] outs,
                                          int g0, int g1) {
        if (a.length < 2) return false;
        int B = a.length;
        boolean started = batchCalls >= BATCH_AFTER;
        if (!started) batchCalls++; // (then only read: no cache line passed between the threads)
        if (!WIDE && !(BATCH_256 && started)) return false; // 256-bit: every batched kernel waits for BATCH_AFTER
        if (f == BlockFormat.Q4_0) {
            for (int b = 0; b + 1 < B; b += 2) {
                QuantizedMatvec.Activations p = a[b], q = a[b + 1];
                if (WIDE) VectorInterleaved.q4Batch2(w, off, p.pairs(), p.xq().d, p.xs8(), q.pairs(), q.xq().d, q.xs8(), cols / 32, outs[b], outs[b + 1], g0, g1);
                else VectorInterleaved.q4Batch2x256(w, off, p.pairs(), p.xq().d, p.xs8(), q.pairs(), q.xq().d, q.xs8(), cols / 32, outs[b], outs[b + 1], g0, g1);
            }
            if (B % 2 != 0) matvecInterleaved(f, w, off, a[B - 1].xq(), a[B - 1].pairs(), a[B - 1].xs8(), a[B - 1].xsum32(), cols, outs[B - 1], g0, g1);
            return true;
        }
        if ((f == BlockFormat.Q4_K || f == BlockFormat.Q6_K) && K_BATCH && started) {
            int b0 = 0;
            if (WIDE && f == BlockFormat.Q6_K) { // (Q4_K four at a time held too many vectors: C2 compiled it 16× slower)
                int[][] xp = new int[4][];
                float[][] xd = new float[4][], out = new float[4][];
                for (; b0 + 4 <= B; b0 += 4) {
                    for (int k = 0; k < 4; k++) {
                        xp[k] = a[b0 + k].pairs();
                        xd[k] = a[b0 + k].xq().d;
                        out[k] = outs[b0 + k];
                    }
                    VectorInterleaved.q6kBatch4(w, off, xp, xd, cols / 256, out, g0, g1);
                }
            }
            for (int b = b0; b + 1 < B; b += 2) {
                QuantizedMatvec.Activations p = a[b], q = a[b + 1];
                if (f == BlockFormat.Q4_K) {
                    if (WIDE) VectorInterleaved.q4kBatch2(w, off, p.pairs(), p.xq().d, p.xsum32(), q.pairs(), q.xq().d, q.xsum32(), cols / 256, outs[b], outs[b + 1], g0, g1);
                    else VectorInterleaved.q4kBatch2x256(w, off, p.pairs(), p.xq().d, p.xsum32(), q.pairs(), q.xq().d, q.xsum32(), cols / 256, outs[b], outs[b + 1], g0, g1);
                } else {
                    if (WIDE) VectorInterleaved.q6kBatch2(w, off, p.pairs(), p.xq().d, q.pairs(), q.xq().d, cols / 256, outs[b], outs[b + 1], g0, g1);
                    else VectorInterleaved.q6kBatch2x256(w, off, p.pairs(), p.xq().d, q.pairs(), q.xq().d, cols / 256, outs[b], outs[b + 1], g0, g1);
                }
            }
            if ((B - b0) % 2 != 0) matvecInterleaved(f, w, off, a[B - 1].xq(), a[B - 1].pairs(), a[B - 1].xs8(), a[B - 1].xsum32(), cols, outs[B - 1], g0, g1);
            return true;
        }
        if (f == BlockFormat.Q8_0 && !WIDE) {
            if (B < 8) return false;
            float[][] xf = new float[B][], xd = new float[B][];
            for (int b = 0; b < B; b++) {
                xf[b] = a[b].codes();
                xd[b] = a[b].xq().d;
            }
            int b0 = 0;
            for (; b0 + 8 <= B; b0 += 8) VectorInterleaved.q8Batch8x256(w, off, xf, xd, b0, cols / 32, outs, g0, g1);
            for (; b0 < B; b0++) VectorInterleaved.q8x256(w, off, a[b0].pairs(), a[b0].xq().d, cols / 32, outs[b0], g0, g1);
            return true;
        }
        if (f != BlockFormat.Q8_0) return false;
        int b0 = 0;
        if (B >= 8) {
            float[][] xf8 = new float[B][], xd8 = new float[B][];
            for (int b = 0; b < B; b++) {
                xf8[b] = a[b].codes();
                xd8[b] = a[b].xq().d;
            }
            for (; b0 + 8 <= B; b0 += 8) VectorInterleaved.q8Batch8(w, off, xf8, xd8, b0, cols / 32, outs, g0, g1);
        }
        float[][] xf = new float[4][], xd = new float[4][], out = new float[4][];
        float[] spare = null;
        for (; b0 < B; b0 += 4) {
            for (int k = 0; k < 4; k++) {
                int b = Math.min(b0 + k, B - 1); // a short last quad repeats its last vector into a spare output
                xf[k] = a[b].codes();
                xd[k] = a[b].xq().d;
                if (b0 + k < B) {
                    out[k] = outs[b];
                } else {
                    if (spare == null) spare = new float[outs[B - 1].length];
                    out[k] = spare;
                }
            }
            VectorInterleaved.q8Batch4(w, off, xf, xd, cols / 32, out, g0, g1);
        }
        return true;
    }

    /**
     * Once the batched kernels have started ({@link #BATCH_AFTER}; on 256-bit vectors, where {@link #BATCH_256}
     * lets them): {@link VectorActivations} (the same bits; uncompiled, its vector code would slow a fresh
     * process's first batched calls).
     */
    @Override
    public QuantizedMatvec.Activations batchActivations(BlockFormat f, float[] x, int xOff, int cols) {
        if ((WIDE || BATCH_256) && BATCH_ACTIVATIONS && batchCalls >= BATCH_AFTER) return VectorActivations.of(f, x, xOff, cols);
        return QuantizedMatvec.Activations.of(f, x, xOff, cols, true);
    }

    /** {@code -Dpanamax.quant.batchActivations=false}: a batched step's activations by the scalar reference. */
    static final boolean BATCH_ACTIVATIONS = dev.panamax.simd.Tuning.flagOn("quant.batchActivations");

    private static ShortVector widen(ByteVector b) {
        return (ShortVector) b.convertShape(VectorOperators.B2S, S256, 0);
    }


    private static final VectorSpecies<Byte> B256 = ByteVector.SPECIES_256;
    private static final VectorSpecies<Short> S512 = ShortVector.SPECIES_512;

    /**
     * TQ2_0 weights × int8 activations with no multiplication on the weight side: the 2-bit codes
     * become masks (code 2: add, code 0: subtract) over 32 widened activations at a time.
     */
    @Override
    public float ternary(MemorySegment w, long wOff, byte[] xq, int n) {
        return WIDE ? ternary512(w, wOff, xq, n) : ternary256(w, wOff, xq, n);
    }

    static float ternary512(MemorySegment w, long wOff, byte[] xq, int n) {
        float sum = 0;
        for (int b = 0; b < n / TQ2_0Block.SIZE; b++) {
            long o = wOff + (long) b * TQ2_0Block.BYTES;
            ShortVector acc = ShortVector.zero(S512);
            for (int half = 0; half < 2; half++) {
                ByteVector q = ByteVector.fromMemorySegment(B256, w, o + 32L * half, LE);
                for (int k = 0; k < 4; k++) {
                    ByteVector codes = q.lanewise(VectorOperators.LSHR, 2 * k).and((byte) 3);
                    ShortVector x = (ShortVector) ByteVector.fromArray(B256, xq, b * TQ2_0Block.SIZE + 128 * half + 32 * k)
                            .convertShape(VectorOperators.B2S, S512, 0);
                    acc = acc.add(x, codes.eq((byte) 2).cast(S512)).sub(x, codes.eq((byte) 0).cast(S512));
                }
            }
            // |Σ| ≤ 256·127 = 32512 per block: a short holds it.
            sum += Bytes.f16(w, o + 64) * acc.reduceLanes(VectorOperators.ADD);
        }
        return sum;
    }

    /**
     * {@link #ternary512} in 256-bit vectors: 16 code bytes at a time, zero-extended to shorts (x86
     * has no byte shifts), each of their four 2-bit fields masking 16 widened activations.
     */
    static float ternary256(MemorySegment w, long wOff, byte[] xq, int n) {
        float sum = 0;
        for (int b = 0; b < n / TQ2_0Block.SIZE; b++) {
            long o = wOff + (long) b * TQ2_0Block.BYTES;
            ShortVector acc = ShortVector.zero(S256);
            for (int m = 0; m < 4; m++) {
                ShortVector q = (ShortVector) ByteVector.fromMemorySegment(B128, w, o + 16L * m, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
                int x0 = b * TQ2_0Block.SIZE + 128 * (m / 2) + 16 * (m % 2);
                for (int k = 0; k < 4; k++) {
                    ShortVector codes = q.lanewise(VectorOperators.LSHR, 2 * k).and((short) 3);
                    ShortVector x = widen(ByteVector.fromArray(B128, xq, x0 + 32 * k));
                    acc = acc.add(x, codes.eq((short) 2)).sub(x, codes.eq((short) 0));
                }
            }
            sum += Bytes.f16(w, o + 64) * acc.reduceLanes(VectorOperators.ADD);
        }
        return sum;
    }

    private static final VectorSpecies<Short> S256x = ShortVector.SPECIES_256;

    /** For each byte of four 2-bit codes: bits of the values to add (code 2) and, shifted by 4, to subtract (code 0). */
    private static final int[] SIGN_MASKS = new int[256];

    static {
        for (int b = 0; b < 256; b++) {
            int plus = 0, minus = 0;
            for (int i = 0; i < 4; i++) {
                int code = (b >>> (2 * i)) & 3;
                if (code == 2) plus |= 1 << i;
                if (code == 0) minus |= 1 << i;
            }
            SIGN_MASKS[b] = plus | minus << 4;
        }
    }

    /** {@link TernaryBlock} weights × int8 activations: per block, masked add and masked subtract of 16 activations. */
    @Override
    public float ternary16(MemorySegment w, long off, byte[] xq, int n) {
        float sum = 0;
        for (int b = 0; b < n / TernaryBlock.SIZE; b++, off += TernaryBlock.BYTES) {
            int code4 = Bytes.u32(w, off);
            long plus = 0, minus = 0;
            for (int j = 0; j < 4; j++) {
                int m = SIGN_MASKS[(code4 >>> (8 * j)) & 0xff];
                plus |= (long) (m & 0x0f) << (4 * j);
                minus |= (long) (m >>> 4) << (4 * j);
            }
            ShortVector x = (ShortVector) ByteVector.fromArray(B128, xq, b * TernaryBlock.SIZE).convertShape(VectorOperators.B2S, S256x, 0);
            ShortVector acc = ShortVector.zero(S256x).add(x, VectorMask.fromLong(S256x, plus)).sub(x, VectorMask.fromLong(S256x, minus));
            sum += Bytes.f16(w, off + 4) * acc.reduceLanes(VectorOperators.ADD);
        }
        return sum;
    }

    private static final VectorSpecies<Long> LONGS = WIDE ? LongVector.SPECIES_512 : LongVector.SPECIES_256;

    /** Hamming distance: XOR a vector of longs at a time, count the ones per lane, add the lanes. */
    @Override
    public int hamming(long[] a, long[] b, int words) {
        int i = 0, d = 0, step = LONGS.length();
        for (; i + step <= words; i += step) {
            d += (int) LongVector.fromArray(LONGS, a, i).lanewise(VectorOperators.XOR, LongVector.fromArray(LONGS, b, i))
                    .lanewise(VectorOperators.BIT_COUNT).reduceLanes(VectorOperators.ADD);
        }
        for (; i < words; i++) d += Long.bitCount(a[i] ^ b[i]);
        return d;
    }

    private static final VectorSpecies<Integer> I256 = IntVector.SPECIES_256;
    private static final VectorSpecies<Float> F256 = FloatVector.SPECIES_256;

    /**
     * Adjacent pairs of 16-bit products summed into 32-bit lanes (what x86's pmaddwd does; the Vector
     * API has no such op, so: the high half arithmetic-shifted down, plus the low half sign-extended).
     */
    private static IntVector pairSums(ShortVector p) {
        IntVector v = p.reinterpretAsInts();
        return v.lanewise(VectorOperators.ASHR, 16).add(v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
    }

    /** {@link #pairSums} for 256-bit vectors: a separate method so each keeps one vector shape (the JIT's intrinsics need it). */
    private static IntVector pairSums256(ShortVector p) {
        IntVector v = p.reinterpretAsInts();
        return v.lanewise(VectorOperators.ASHR, 16).add(v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
    }

    /**
     * Q8_0: the block's 32 weight bytes widened to 32 shorts, times the activations (widened once per
     * matvec), pairs summed to 16 ints, scaled in float. Q4_0: each half of 16 codes as shorts, the two
     * halves' products added in shorts (|Σ| ≤ 2·8·127), pairs summed to 8 ints.
     */
    @Override
    public float dot(BlockFormat f, MemorySegment w, long wOff, Q8_KBlock x, int n) {
        int blocks = n / 32;
        short[] xs = x.wide;
        float[] xd = x.d;
        // Two blocks per step into two accumulators, written out (a helper taking and returning
        // vectors that C2 does not inline would box them): the FMA chains overlap (Q4_0, 8192 × 4096,
        // one thread: 3.08 → 2.62 ms in a harness).
        if (f == BlockFormat.Q8_0) return WIDE ? dotQ8(w, wOff, xs, xd, blocks) : dotQ8x256(w, wOff, xs, xd, blocks);
        return dotQ4(w, wOff, xs, xd, blocks);
    }

    private static final VectorSpecies<Float> FW = WIDE ? F512 : F256;
    private static final VectorSpecies<Byte> BW = WIDE ? B128 : ByteVector.SPECIES_64;
    private static final VectorSpecies<Integer> IW = WIDE ? I512 : I256;

    /** Q8_0, Q4_0, IQ4_NL, Q5_0 and Q3_K–Q6_K widened a vector of codes at a time (bytes → ints → floats, times the scales); other formats by their definition. */
    @Override
    public void dequantize(BlockFormat f, MemorySegment w, long off, float[] y, int yOff, int n) {
        if (f == BlockFormat.Q8_0) dequantizeQ8(w, off, y, yOff, n / 32);
        else if (f == BlockFormat.Q4_0) dequantizeQ4(w, off, y, yOff, n / 32);
        else if (f == BlockFormat.IQ4_NL) dequantizeIQ4NL(w, off, y, yOff, n / 32);
        else if (f == BlockFormat.Q5_0) dequantizeQ5_0(w, off, y, yOff, n / 32);
        else if (f == BlockFormat.Q3_K) dequantizeQ3K(w, off, y, yOff, n / 256);
        else if (f == BlockFormat.Q4_K) dequantizeQ4K(w, off, y, yOff, n / 256);
        else if (f == BlockFormat.Q5_K) dequantizeQ5K(w, off, y, yOff, n / 256);
        else if (f == BlockFormat.Q6_K) dequantizeQ6K(w, off, y, yOff, n / 256);
        else f.dequantize(w, off, y, yOff, n);
    }

    static void dequantizeQ8(MemorySegment w, long off, float[] y, int yOff, int blocks) {
        int l = FW.length();
        for (int b = 0; b < blocks; b++, off += Q8_0Block.BYTES, yOff += 32) {
            float d = Float.float16ToFloat(w.get(F16, off));
            for (int i = 0; i < 32; i += l) {
                ((FloatVector) ByteVector.fromMemorySegment(BW, w, off + 2 + i, LE).convertShape(VectorOperators.B2F, FW, 0))
                        .mul(d).intoArray(y, yOff + i);
            }
        }
    }

    /** Q4_0: byte j of a block holds code j in its low nibble and code j + 16 in its high one. */
    static void dequantizeQ4(MemorySegment w, long off, float[] y, int yOff, int blocks) {
        int l = FW.length();
        for (int b = 0; b < blocks; b++, off += Q4_0Block.BYTES, yOff += 32) {
            float d = Float.float16ToFloat(w.get(F16, off));
            FloatVector dv = FloatVector.broadcast(FW, d), zero = FloatVector.broadcast(FW, -8 * d);
            for (int i = 0; i < 16; i += l) {
                // Widened to ints first (x86 has no byte shifts); (q − 8)·d as q·d − 8d, one FMA (−8d is exact).
                IntVector q = bytesAsInts(w, off + 2 + i);
                ((FloatVector) q.and(0x0f).convert(VectorOperators.I2F, 0)).fma(dv, zero).intoArray(y, yOff + i);
                ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(dv, zero).intoArray(y, yOff + 16 + i);
            }
        }
    }

    /** {@link IW}'s lanes of bytes at {@code o}, zero-extended to ints. */
    private static IntVector bytesAsInts(MemorySegment w, long o) {
        return (IntVector) ByteVector.fromMemorySegment(BW, w, o, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, IW, 0);
    }

    /** Q4_K: per 64 values, d·scale·code − dmin·min for the low nibbles (sub-block 2g) and the high ones (2g + 1). */
    static void dequantizeQ4K(MemorySegment w, long off, float[] y, int yOff, int blocks) {
        int l = FW.length();
        for (int b = 0; b < blocks; b++, off += Q4_KBlock.BYTES, yOff += 256) {
            float d = Float.float16ToFloat(w.get(F16, off)), dmin = Float.float16ToFloat(w.get(F16, off + 2));
            for (int g = 0; g < 4; g++) {
                int sm0 = Q4_KBlock.scaleMin(w, off + 4, 2 * g), sm1 = Q4_KBlock.scaleMin(w, off + 4, 2 * g + 1);
                // d·scale·code − dmin·min rounded as the definition rounds it (a product, then a difference).
                float d0 = d * (sm0 & 0xff), m0 = dmin * (sm0 >>> 8), d1 = d * (sm1 & 0xff), m1 = dmin * (sm1 >>> 8);
                for (int i = 0; i < 32; i += l) {
                    IntVector q = bytesAsInts(w, off + 16 + 32L * g + i);
                    ((FloatVector) q.and(0x0f).convert(VectorOperators.I2F, 0)).mul(d0).sub(m0).intoArray(y, yOff + 64 * g + i);
                    ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).mul(d1).sub(m1).intoArray(y, yOff + 64 * g + 32 + i);
                }
            }
        }
    }

    /** Q5_K: Q4_K's with the fifth bit of each code from the {@code qh} bytes. */
    static void dequantizeQ5K(MemorySegment w, long off, float[] y, int yOff, int blocks) {
        int l = FW.length();
        for (int b = 0; b < blocks; b++, off += Q5_KBlock.BYTES, yOff += 256) {
            float d = Float.float16ToFloat(w.get(F16, off)), dmin = Float.float16ToFloat(w.get(F16, off + 2));
            for (int g = 0; g < 4; g++) {
                int sm0 = Q4_KBlock.scaleMin(w, off + 4, 2 * g), sm1 = Q4_KBlock.scaleMin(w, off + 4, 2 * g + 1);
                float d0 = d * (sm0 & 0xff), m0 = dmin * (sm0 >>> 8), d1 = d * (sm1 & 0xff), m1 = dmin * (sm1 >>> 8);
                for (int i = 0; i < 32; i += l) {
                    IntVector q = bytesAsInts(w, off + 48 + 32L * g + i), h = bytesAsInts(w, off + 16 + i);
                    ((FloatVector) q.and(0x0f).or(h.lanewise(VectorOperators.LSHR, 2 * g).and(1).lanewise(VectorOperators.LSHL, 4))
                            .convert(VectorOperators.I2F, 0)).mul(d0).sub(m0).intoArray(y, yOff + 64 * g + i);
                    ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 2 * g + 1).and(1).lanewise(VectorOperators.LSHL, 4))
                            .convert(VectorOperators.I2F, 0)).mul(d1).sub(m1).intoArray(y, yOff + 64 * g + 32 + i);
                }
            }
        }
    }

    /** Q3_K: per half and 2-bit field, (low2 − 4 + 4·high bit) times d·(scale − 32) of its group of 16. */
    static void dequantizeQ3K(MemorySegment w, long off, float[] y, int yOff, int blocks) {
        int l = FW.length();
        for (int b = 0; b < blocks; b++, off += Q3_KBlock.BYTES, yOff += 256) {
            float d = Float.float16ToFloat(w.get(F16, off + 108));
            long lows = w.get(I64, off + 96);
            int highs = w.get(I32, off + 104);
            long scalesA = q3kScales(lows, highs, 0), scalesB = q3kScales(lows >>> 4, highs, 4);
            for (int half = 0; half < 2; half++) {
                long sc = half == 0 ? scalesA : scalesB;
                for (int j = 0; j < 4; j++) {
                    for (int i = 0; i < 32; i += l) {
                        float dl = d * (((int) (sc >>> (16 * j + 8 * (i / 16))) & 0xff) - 32);
                        IntVector q = bytesAsInts(w, off + 32 + 32L * half + i), h = bytesAsInts(w, off + i);
                        ((FloatVector) q.lanewise(VectorOperators.LSHR, 2 * j).and(3).add(h.lanewise(VectorOperators.LSHR, 4 * half + j).and(1).lanewise(VectorOperators.LSHL, 2)).sub(4)
                                .convert(VectorOperators.I2F, 0)).mul(dl).intoArray(y, yOff + 128 * half + 32 * j + i);
                    }
                }
            }
        }
    }

    /** IQ4_NL: each nibble's level from the register table, widened to floats, times d. */
    static void dequantizeIQ4NL(MemorySegment w, long off, float[] y, int yOff, int blocks) {
        int l = FW.length();
        for (int b = 0; b < blocks; b++, off += IQ4_NLBlock.BYTES, yOff += 32) {
            float d = Float.float16ToFloat(w.get(F16, off));
            ByteVector q = ByteVector.fromMemorySegment(B128, w, off + 2, LE);
            ByteVector lo = q.and((byte) 0x0f).selectFrom(IQ4_NL_LEVELS), hi = q.lanewise(VectorOperators.LSHR, 4).selectFrom(IQ4_NL_LEVELS);
            for (int i = 0; i < 16; i += l) {
                ((FloatVector) lo.convertShape(VectorOperators.B2F, FW, i / l)).mul(d).intoArray(y, yOff + i);
                ((FloatVector) hi.convertShape(VectorOperators.B2F, FW, i / l)).mul(d).intoArray(y, yOff + 16 + i);
            }
        }
    }

    /** 0, 1, 2, … in {@link IW}'s lanes: each lane's bit of a block's {@code qh}. */
    private static final IntVector IOTA = IntVector.zero(IW).addIndex(1);

    /** Q5_0: (nibble | fifth bit « 4) − 16, times d; lane j's fifth bit is bit j (bit 16 + j for the high nibbles) of {@code qh}. */
    static void dequantizeQ5_0(MemorySegment w, long off, float[] y, int yOff, int blocks) {
        int l = FW.length();
        for (int b = 0; b < blocks; b++, off += Q5_0Block.BYTES, yOff += 32) {
            float d = Float.float16ToFloat(w.get(F16, off));
            IntVector qh = IntVector.broadcast(IW, w.get(I32, off + 2));
            for (int i = 0; i < 16; i += l) {
                IntVector q = bytesAsInts(w, off + 6 + i), bit = IOTA.add(i);
                ((FloatVector) q.and(0x0f).or(qh.lanewise(VectorOperators.LSHR, bit).and(1).lanewise(VectorOperators.LSHL, 4)).sub(16)
                        .convert(VectorOperators.I2F, 0)).mul(d).intoArray(y, yOff + i);
                ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).or(qh.lanewise(VectorOperators.LSHR, bit.add(16)).and(1).lanewise(VectorOperators.LSHL, 4)).sub(16)
                        .convert(VectorOperators.I2F, 0)).mul(d).intoArray(y, yOff + 16 + i);
            }
        }
    }

    /** Q6_K: per half of 128 values, codes from the low-bit and high-bit bytes, − 32, times d·scale of their group of 16. */
    static void dequantizeQ6K(MemorySegment w, long off, float[] y, int yOff, int blocks) {
        int l = FW.length();
        for (int b = 0; b < blocks; b++, off += Q6_KBlock.BYTES, yOff += 256) {
            float d = Float.float16ToFloat(w.get(F16, off + 208));
            for (int half = 0; half < 2; half++) {
                long ql = off + 64L * half, qh = off + 128 + 32L * half;
                int base = yOff + 128 * half, sc = 192 + 8 * half;
                for (int i = 0; i < 32; i += l) {
                    IntVector a = bytesAsInts(w, ql + i), c = bytesAsInts(w, ql + 32 + i), h = bytesAsInts(w, qh + i);
                    long s = off + sc + i / 16; // int8 scale of the first code row's group; the other rows' at +2, +4, +6
                    ((FloatVector) a.and(0x0f).or(h.and(3).lanewise(VectorOperators.LSHL, 4)).sub(32).convert(VectorOperators.I2F, 0))
                            .mul(d * w.get(ValueLayout.JAVA_BYTE, s)).intoArray(y, base + i);
                    ((FloatVector) c.and(0x0f).or(h.and(0x0c).lanewise(VectorOperators.LSHL, 2)).sub(32).convert(VectorOperators.I2F, 0))
                            .mul(d * w.get(ValueLayout.JAVA_BYTE, s + 2)).intoArray(y, base + 32 + i);
                    ((FloatVector) a.lanewise(VectorOperators.LSHR, 4).or(h.and(0x30)).sub(32).convert(VectorOperators.I2F, 0))
                            .mul(d * w.get(ValueLayout.JAVA_BYTE, s + 4)).intoArray(y, base + 64 + i);
                    ((FloatVector) c.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 2).and(0x30)).sub(32).convert(VectorOperators.I2F, 0))
                            .mul(d * w.get(ValueLayout.JAVA_BYTE, s + 6)).intoArray(y, base + 96 + i);
                }
            }
        }
    }

    /** Q8_0 rows (each format in its own method: one compilation unit and one profile each). */
    static float dotQ8(MemorySegment w, long wOff, short[] xs, float[] xd, int blocks) {
        {
            FloatVector acc0 = FloatVector.zero(F512), acc1 = acc0;
            int b = 0;
            for (; b + 1 < blocks; b += 2) {
                long ow = wOff + (long) b * Q8_0Block.BYTES, ow1 = ow + Q8_0Block.BYTES;
                ShortVector p0 = ((ShortVector) ByteVector.fromMemorySegment(B256, w, ow + 2, LE).convertShape(VectorOperators.B2S, S512, 0))
                        .mul(ShortVector.fromArray(S512, xs, 32 * b));
                ShortVector p1 = ((ShortVector) ByteVector.fromMemorySegment(B256, w, ow1 + 2, LE).convertShape(VectorOperators.B2S, S512, 0))
                        .mul(ShortVector.fromArray(S512, xs, 32 * b + 32));
                acc0 = ((FloatVector) pairSums(p0).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F512, Float.float16ToFloat(w.get(F16, ow)) * xd[b]), acc0);
                acc1 = ((FloatVector) pairSums(p1).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F512, Float.float16ToFloat(w.get(F16, ow1)) * xd[b + 1]), acc1);
            }
            for (; b < blocks; b++) {
                long ow = wOff + (long) b * Q8_0Block.BYTES;
                ShortVector p = ((ShortVector) ByteVector.fromMemorySegment(B256, w, ow + 2, LE).convertShape(VectorOperators.B2S, S512, 0))
                        .mul(ShortVector.fromArray(S512, xs, 32 * b));
                acc0 = ((FloatVector) pairSums(p).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F512, Float.float16ToFloat(w.get(F16, ow)) * xd[b]), acc0);
            }
            return LaneSums.sum(acc0.add(acc1));
        }
    }

    /**
     * {@link #dotQ8} in 256-bit vectors: the two halves of a block widened to 16 shorts each,
     * multiplied and added in shorts (|w·x| ≤ 128·127, so two fit in 16 bits: activations are never
     * −128), pairs summed to 8 ints.
     */
    static float dotQ8x256(MemorySegment w, long wOff, short[] xs, float[] xd, int blocks) {
        FloatVector acc0 = FloatVector.zero(F256), acc1 = acc0;
        int b = 0;
        for (; b + 1 < blocks; b += 2) {
            long ow = wOff + (long) b * Q8_0Block.BYTES, ow1 = ow + Q8_0Block.BYTES;
            ShortVector p0 = widen(ByteVector.fromMemorySegment(B128, w, ow + 2, LE)).mul(ShortVector.fromArray(S256, xs, 32 * b))
                    .add(widen(ByteVector.fromMemorySegment(B128, w, ow + 18, LE)).mul(ShortVector.fromArray(S256, xs, 32 * b + 16)));
            ShortVector p1 = widen(ByteVector.fromMemorySegment(B128, w, ow1 + 2, LE)).mul(ShortVector.fromArray(S256, xs, 32 * b + 32))
                    .add(widen(ByteVector.fromMemorySegment(B128, w, ow1 + 18, LE)).mul(ShortVector.fromArray(S256, xs, 32 * b + 48)));
            acc0 = ((FloatVector) pairSums256(p0).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(w.get(F16, ow)) * xd[b]), acc0);
            acc1 = ((FloatVector) pairSums256(p1).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(w.get(F16, ow1)) * xd[b + 1]), acc1);
        }
        for (; b < blocks; b++) {
            long ow = wOff + (long) b * Q8_0Block.BYTES;
            ShortVector p = widen(ByteVector.fromMemorySegment(B128, w, ow + 2, LE)).mul(ShortVector.fromArray(S256, xs, 32 * b))
                    .add(widen(ByteVector.fromMemorySegment(B128, w, ow + 18, LE)).mul(ShortVector.fromArray(S256, xs, 32 * b + 16)));
            acc0 = ((FloatVector) pairSums256(p).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(w.get(F16, ow)) * xd[b]), acc0);
        }
        return LaneSums.sum(acc0.add(acc1));
    }

    /**
     * Q4_0: a block's 16 bytes zero-extended to shorts (x86 has no byte shifts), the low and high
     * nibbles − 8 times the two halves of the activations, added in shorts (|Σ| ≤ 2·8·127), pairs
     * summed to 8 ints by {@link #smallPairSums256}.
     */
    static float dotQ4(MemorySegment w, long wOff, short[] xs, float[] xd, int blocks) {
        FloatVector acc0 = FloatVector.zero(F256), acc1 = acc0;
        int b = 0;
        for (; b + 1 < blocks; b += 2) {
            long ow = wOff + (long) b * Q4_0Block.BYTES, ow1 = ow + Q4_0Block.BYTES;
            ShortVector q0 = (ShortVector) ByteVector.fromMemorySegment(B128, w, ow + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            ShortVector q1 = (ShortVector) ByteVector.fromMemorySegment(B128, w, ow1 + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            ShortVector p0 = q0.and((short) 0x0f).sub((short) 8).mul(ShortVector.fromArray(S256, xs, 32 * b))
                    .add(q0.lanewise(VectorOperators.LSHR, 4).sub((short) 8).mul(ShortVector.fromArray(S256, xs, 32 * b + 16)));
            ShortVector p1 = q1.and((short) 0x0f).sub((short) 8).mul(ShortVector.fromArray(S256, xs, 32 * b + 32))
                    .add(q1.lanewise(VectorOperators.LSHR, 4).sub((short) 8).mul(ShortVector.fromArray(S256, xs, 32 * b + 48)));
            acc0 = ((FloatVector) smallPairSums256(p0).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(w.get(F16, ow)) * xd[b]), acc0);
            acc1 = ((FloatVector) smallPairSums256(p1).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(w.get(F16, ow1)) * xd[b + 1]), acc1);
        }
        for (; b < blocks; b++) {
            long ow = wOff + (long) b * Q4_0Block.BYTES;
            ShortVector q = (ShortVector) ByteVector.fromMemorySegment(B128, w, ow + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
            ShortVector p = q.and((short) 0x0f).sub((short) 8).mul(ShortVector.fromArray(S256, xs, 32 * b))
                    .add(q.lanewise(VectorOperators.LSHR, 4).sub((short) 8).mul(ShortVector.fromArray(S256, xs, 32 * b + 16)));
            acc0 = ((FloatVector) smallPairSums256(p).convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(w.get(F16, ow)) * xd[b]), acc0);
        }
        return LaneSums.sum(acc0.add(acc1));
    }

    /**
     * {@link #pairSums256} in three operations instead of four, for pairs whose sum fits in 16 bits:
     * v + (v << 16) holds hi + lo in its upper half (mod 2¹⁶), which the arithmetic shift sign-extends.
     */
    private static IntVector smallPairSums256(ShortVector p) {
        IntVector v = p.reinterpretAsInts();
        return v.add(v.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16);
    }

    /**
     * Per group of 16: codes widened to shorts times the activations' shorts (every format's
     * |code·q| fits 16 bits), pairs summed to 8 ints, times the group's integer scale.
     */
    @Override
    public int scaledDot(byte[] c, int[] s, Q8_KBlock x, int off, int size) {
        IntVector acc = IntVector.zero(I256);
        short[] xs = x.wide;
        for (int g = 0; g < size / 16; g++) {
            ShortVector p = widen(ByteVector.fromArray(B128, c, 16 * g)).mul(ShortVector.fromArray(S256, xs, off + 16 * g));
            acc = pairSums256(p).mul(s[g]).add(acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);

    /** 16 bytes at {@code o} zero-extended to 16 shorts (x86 has no byte shifts: nibbles are taken apart in 16 bits). */
    private static ShortVector bytes16(MemorySegment w, long o) {
        return (ShortVector) ByteVector.fromMemorySegment(B128, w, o, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
    }

    /**
     * Q4_K rows with unpacking fused into the dot product ({@link Q4_KBlock}'s layout): per 64 values,
     * 32 code bytes zero-extended to shorts, low nibbles (sub-block 2g) and high nibbles (2g + 1) times
     * the activations, two products added in 16 bits (|Σ| ≤ 2·15·127), pairs summed to 8 ints, times
     * the sub-block's 6-bit scale; the mins' term is a scalar per sub-block against the activations'
     * sums. The 12 packed scale bytes are read as one long and one int.
     */
    /**
     * Q5_K ({@link Q5_KBlock}): Q4_K's kernel with a fifth bit per code from the 32 {@code qh} bytes
     * (bit 2g of byte l for value l of chunk g's low nibbles, bit 2g + 1 for its high nibbles); codes
     * ≤ 31, so two products still add in 16 bits (|Σ| ≤ 2·31·127). A method of its own rather than a
     * flag on Q4_K's: a kernel shared by two formats lost its vector intrinsics once the other format
     * had been profiled (Q4_0 at 1 GB/s after Q8_0, jmh/README.md), so each format keeps its own.
     */
    static float dotQ5K(MemorySegment w, long wOff, Q8_KBlock x, int blocks) {
        short[] xs = x.wide;
        int[] xsum = x.sums;
        FloatVector acc = FloatVector.zero(F256);
        float minSum = 0;
        for (int b = 0; b < blocks; b++) {
            long o = wOff + (long) b * Q5_KBlock.BYTES;
            float d = Float.float16ToFloat(w.get(F16, o)) * x.d[b], dmin = Float.float16ToFloat(w.get(F16, o + 2)) * x.d[b];
            long lo = w.get(I64, o + 4);
            int hi = w.get(I32, o + 12);
            long scales = q4kScales(lo, hi), minsOf = q4kMins(lo, hi);
            ShortVector h0 = bytes16(w, o + 16), h1 = bytes16(w, o + 32);
            IntVector sums = IntVector.zero(I256);
            for (int g = 0; g < 4; g++) {
                int sc0 = (int) (scales >>> (16 * g)) & 0xff, sc1 = (int) (scales >>> (16 * g + 8)) & 0xff;
                long q = o + 48 + 32L * g;
                ShortVector c0 = bytes16(w, q), c1 = bytes16(w, q + 16);
                int xo = 256 * b + 64 * g;
                ShortVector p0 = c0.and((short) 0x0f).or(h0.lanewise(VectorOperators.LSHR, 2 * g).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                        .mul(ShortVector.fromArray(S256, xs, xo))
                        .add(c1.and((short) 0x0f).or(h1.lanewise(VectorOperators.LSHR, 2 * g).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                                .mul(ShortVector.fromArray(S256, xs, xo + 16)));
                ShortVector p1 = c0.lanewise(VectorOperators.LSHR, 4).or(h0.lanewise(VectorOperators.LSHR, 2 * g + 1).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                        .mul(ShortVector.fromArray(S256, xs, xo + 32))
                        .add(c1.lanewise(VectorOperators.LSHR, 4).or(h1.lanewise(VectorOperators.LSHR, 2 * g + 1).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                                .mul(ShortVector.fromArray(S256, xs, xo + 48)));
                IntVector v0 = p0.reinterpretAsInts(), v1 = p1.reinterpretAsInts(); // smallPairSums256, written out (see dotQ6K)
                sums = sums.add(v0.add(v0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc0))
                        .add(v1.add(v1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc1));
            }
            acc = ((FloatVector) sums.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, d), acc);
            minSum += dmin * q4kMinTerm(minsOf, xsum, 16 * b);
        }
        return LaneSums.sum(acc) - minSum;
    }

    /** {@link #dotQ5K} in 512-bit vectors, as {@link #dotQ4K512}: a chunk's 32 code bytes and the 32 {@code qh} bytes as vectors of 32 shorts. */
    static float dotQ5K512(MemorySegment w, long wOff, Q8_KBlock x, int blocks) {
        short[] xs = x.wide;
        int[] xsum = x.sums;
        FloatVector acc = FloatVector.zero(F512);
        float minSum = 0;
        for (int b = 0; b < blocks; b++) {
            long o = wOff + (long) b * Q5_KBlock.BYTES;
            float d = Float.float16ToFloat(w.get(F16, o)) * x.d[b], dmin = Float.float16ToFloat(w.get(F16, o + 2)) * x.d[b];
            long lo = w.get(I64, o + 4);
            int hi = w.get(I32, o + 12);
            long scales = q4kScales(lo, hi), minsOf = q4kMins(lo, hi);
            ShortVector h = (ShortVector) ByteVector.fromMemorySegment(B256, w, o + 16, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S512, 0);
            IntVector sums = IntVector.zero(I512);
            for (int g = 0; g < 4; g++) {
                int sc0 = (int) (scales >>> (16 * g)) & 0xff, sc1 = (int) (scales >>> (16 * g + 8)) & 0xff;
                ShortVector c = (ShortVector) ByteVector.fromMemorySegment(B256, w, o + 48 + 32L * g, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S512, 0);
                int xo = 256 * b + 64 * g;
                IntVector v0 = c.and((short) 0x0f).or(h.lanewise(VectorOperators.LSHR, 2 * g).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                        .mul(ShortVector.fromArray(S512, xs, xo)).reinterpretAsInts();
                IntVector v1 = c.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 2 * g + 1).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                        .mul(ShortVector.fromArray(S512, xs, xo + 32)).reinterpretAsInts();
                sums = sums.add(v0.add(v0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc0))
                        .add(v1.add(v1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc1));
            }
            acc = ((FloatVector) sums.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F512, d), acc);
            minSum += dmin * q4kMinTerm(minsOf, xsum, 16 * b);
        }
        return LaneSums.sum(acc) - minSum;
    }

    /**
     * Q3_K ({@link Q3_KBlock}) with unpacking fused into the dot product: per half of 128 values and
     * per 2-bit field j, the 32 low-bit bytes and the 32 {@code hmask} bytes zero-extended to shorts
     * give two groups of 16 codes (low2 − 4 + 4·high ∈ [−4, 3]), each times its activations, pairs
     * summed to 8 ints, times the group's 6-bit scale − 32. The 16 scales are unpacked with a few
     * shifts and masks on one long and one int (bytes 96–103 hold the low nibbles, 104–107 the top
     * 2 bits).
     */
    static float dotQ3K(MemorySegment w, long wOff, Q8_KBlock x, int blocks) {
        short[] xs = x.wide;
        FloatVector acc = FloatVector.zero(F256);
        for (int b = 0; b < blocks; b++) {
            long o = wOff + (long) b * Q3_KBlock.BYTES;
            float d = Float.float16ToFloat(w.get(F16, o + 108)) * x.d[b];
            long lows = w.get(I64, o + 96);
            int highs = w.get(I32, o + 104);
            long scalesA = q3kScales(lows, highs, 0), scalesB = q3kScales(lows >>> 4, highs, 4);
            ShortVector ha = bytes16(w, o), hb = bytes16(w, o + 16); // hmask: the same 32 bytes for every field
            IntVector sums = IntVector.zero(I256);
            for (int t = 0; t < 8; t++) {
                int half = t >> 2, j = t & 3;
                long q = o + 32 + 32L * half;
                ShortVector qa = bytes16(w, q), qb = bytes16(w, q + 16);
                int shift = 2 * j, bit = 4 * half + j;
                ShortVector ca = qa.lanewise(VectorOperators.LSHR, shift).and((short) 3).add(ha.lanewise(VectorOperators.LSHR, bit).and((short) 1).lanewise(VectorOperators.LSHL, 2)).sub((short) 4);
                ShortVector cb = qb.lanewise(VectorOperators.LSHR, shift).and((short) 3).add(hb.lanewise(VectorOperators.LSHR, bit).and((short) 1).lanewise(VectorOperators.LSHL, 2)).sub((short) 4);
                int xo = 256 * b + 128 * half + 32 * j;
                IntVector va = ca.mul(ShortVector.fromArray(S256, xs, xo)).reinterpretAsInts();
                IntVector vb = cb.mul(ShortVector.fromArray(S256, xs, xo + 16)).reinterpretAsInts();
                long sc = half == 0 ? scalesA : scalesB;
                int sa = ((int) (sc >>> (16 * j)) & 0xff) - 32, sb = ((int) (sc >>> (16 * j + 8)) & 0xff) - 32;
                // smallPairSums256, written out (see dotQ6K)
                sums = sums.add(va.add(va.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sa))
                        .add(vb.add(vb.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sb));
            }
            acc = ((FloatVector) sums.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, d), acc);
        }
        return LaneSums.sum(acc);
    }

    /** Lane j holds bit j: with a block's 16 fifth bits broadcast, AND and compare give each lane its bit. */
    private static final ShortVector LANE_BITS = ShortVector.fromArray(S256,
            new short[] {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, (short) 32768}, 0);

    /** Lanes whose bit is set in the low 16 bits of {@code bits}. */
    private static VectorMask<Short> fifthBits(int bits) {
        return ShortVector.broadcast(S256, (short) bits).and(LANE_BITS).compare(VectorOperators.NE, 0);
    }

    /**
     * Q5_0 ({@link Q5_0Block}): the 16 code bytes zero-extended to shorts, nibble − 16, plus 16 where
     * the block's {@code qh} bit is set (bit j for value j, bit 16 + j for value 16 + j); the two
     * halves' products add in 16 bits (|Σ| ≤ 2·16·127), pairs summed to 8 ints, scaled per block.
     */
    static float dotQ5_0(MemorySegment w, long wOff, Q8_KBlock x, int blocks) {
        short[] xs = x.wide;
        float[] xd = x.d;
        FloatVector acc = FloatVector.zero(F256);
        for (int b = 0; b < blocks; b++) {
            long o = wOff + (long) b * Q5_0Block.BYTES;
            int qh = w.get(I32, o + 2);
            ShortVector c = bytes16(w, o + 6);
            ShortVector lo = c.and((short) 0x0f).sub((short) 16).add((short) 16, fifthBits(qh));
            ShortVector hi = c.lanewise(VectorOperators.LSHR, 4).sub((short) 16).add((short) 16, fifthBits(qh >>> 16));
            IntVector v = lo.mul(ShortVector.fromArray(S256, xs, 32 * b)).add(hi.mul(ShortVector.fromArray(S256, xs, 32 * b + 16))).reinterpretAsInts();
            acc = ((FloatVector) v.add(v.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0))
                    .fma(FloatVector.broadcast(F256, Float.float16ToFloat(w.get(F16, o)) * xd[b]), acc);
        }
        return LaneSums.sum(acc);
    }

    /**
     * Q4_1 and Q5_1 ({@link Q4_1Block}, {@link Q5_1Block}): codes ≥ 0 (Q5_1's fifth bit from {@code qh}
     * as in Q5_0), x = d·code + m, so a block adds d·d_x·Σ code·q + m·d_x·Σ q — the second from the
     * activations' sums of 16.
     */
    static float dotQ41or51(MemorySegment w, long wOff, Q8_KBlock x, int blocks, boolean five) {
        short[] xs = x.wide;
        float[] xd = x.d;
        int[] xsum = x.sums;
        int bytes = five ? Q5_1Block.BYTES : Q4_1Block.BYTES, codes = five ? 8 : 4;
        FloatVector acc = FloatVector.zero(F256);
        float minSum = 0;
        for (int b = 0; b < blocks; b++) {
            long o = wOff + (long) b * bytes;
            ShortVector c = bytes16(w, o + codes);
            ShortVector lo = c.and((short) 0x0f), hi = c.lanewise(VectorOperators.LSHR, 4);
            if (five) {
                int qh = w.get(I32, o + 4);
                lo = lo.add((short) 16, fifthBits(qh));
                hi = hi.add((short) 16, fifthBits(qh >>> 16));
            }
            IntVector v = lo.mul(ShortVector.fromArray(S256, xs, 32 * b)).add(hi.mul(ShortVector.fromArray(S256, xs, 32 * b + 16))).reinterpretAsInts();
            acc = ((FloatVector) v.add(v.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0))
                    .fma(FloatVector.broadcast(F256, Float.float16ToFloat(w.get(F16, o)) * xd[b]), acc);
            minSum += Float.float16ToFloat(w.get(F16, o + 2)) * xd[b] * (xsum[2 * b] + xsum[2 * b + 1]);
        }
        return LaneSums.sum(acc) + minSum;
    }

    /** IQ4_NL's 16 levels as bytes, for a table lookup in registers ({@code selectFrom}: one shuffle on x86). */
    private static final ByteVector IQ4_NL_LEVELS;

    static {
        byte[] levels = new byte[16];
        for (int i = 0; i < 16; i++) levels[i] = (byte) IQ4_NLBlock.TABLE[i];
        IQ4_NL_LEVELS = ByteVector.fromArray(B128, levels, 0);
    }

    /**
     * IQ4_NL ({@link IQ4_NLBlock}): each nibble looks its level up in a 16-byte table held in a
     * register, the levels widen to shorts and multiply the activations (two products add in 16
     * bits: |Σ| ≤ 2·127·127), pairs summed to 8 ints, scaled per block as Q8_0.
     */
    static float dotIQ4NL(MemorySegment w, long wOff, Q8_KBlock x, int blocks) {
        short[] xs = x.wide;
        float[] xd = x.d;
        FloatVector acc = FloatVector.zero(F256);
        for (int b = 0; b < blocks; b++) {
            long o = wOff + (long) b * IQ4_NLBlock.BYTES;
            ByteVector q = ByteVector.fromMemorySegment(B128, w, o + 2, LE);
            ShortVector lo = widen(q.and((byte) 0x0f).selectFrom(IQ4_NL_LEVELS));
            ShortVector hi = widen(q.lanewise(VectorOperators.LSHR, 4).selectFrom(IQ4_NL_LEVELS));
            IntVector v = lo.mul(ShortVector.fromArray(S256, xs, 32 * b)).add(hi.mul(ShortVector.fromArray(S256, xs, 32 * b + 16))).reinterpretAsInts();
            acc = ((FloatVector) v.lanewise(VectorOperators.ASHR, 16).add(v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, Float.float16ToFloat(w.get(F16, o)) * xd[b]), acc);
        }
        return LaneSums.sum(acc);
    }

    /**
     * Q2_K ({@link Q2_KBlock}) with unpacking fused into the dot product: per half and 2-bit field,
     * the 32 code bytes zero-extended to shorts give two groups of 16 codes (0–3), each times its
     * activations, pairs summed to 8 ints, times the group's 4-bit scale; the mins' term is a scalar
     * per group against the activations' sums of 16.
     */
    static float dotQ2K(MemorySegment w, long wOff, Q8_KBlock x, int blocks) {
        short[] xs = x.wide;
        int[] xsum = x.sums;
        FloatVector acc = FloatVector.zero(F256);
        float minSum = 0;
        for (int b = 0; b < blocks; b++) {
            long o = wOff + (long) b * Q2_KBlock.BYTES;
            float d = Float.float16ToFloat(w.get(F16, o + 80)) * x.d[b], dmin = Float.float16ToFloat(w.get(F16, o + 82)) * x.d[b];
            long s0 = w.get(I64, o), s1 = w.get(I64, o + 8); // group g's scale | min << 4 in byte g
            IntVector sums = IntVector.zero(I256);
            for (int t = 0; t < 8; t++) {
                int half = t >> 2, j = t & 3;
                long q = o + 16 + 32L * half, sc = (half == 0 ? s0 : s1) >>> (16 * j);
                ShortVector ca = bytes16(w, q).lanewise(VectorOperators.LSHR, 2 * j).and((short) 3);
                ShortVector cb = bytes16(w, q + 16).lanewise(VectorOperators.LSHR, 2 * j).and((short) 3);
                int xo = 256 * b + 128 * half + 32 * j;
                IntVector va = ca.mul(ShortVector.fromArray(S256, xs, xo)).reinterpretAsInts();
                IntVector vb = cb.mul(ShortVector.fromArray(S256, xs, xo + 16)).reinterpretAsInts();
                // smallPairSums256, written out (see dotQ6K)
                sums = sums.add(va.add(va.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul((int) sc & 0x0f))
                        .add(vb.add(vb.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul((int) (sc >>> 8) & 0x0f));
            }
            int mins = 0;
            for (int g = 0; g < 16; g++) mins += ((int) ((g < 8 ? s0 : s1) >>> (8 * (g & 7) + 4)) & 0x0f) * xsum[16 * b + g];
            acc = ((FloatVector) sums.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, d), acc);
            minSum += dmin * mins;
        }
        return LaneSums.sum(acc) - minSum;
    }

    /**
     * Eight of a Q3_K block's 16 six-bit scales (+ 32) as the bytes of a long: their low nibbles are
     * the low nibbles of {@code lows} (bytes 96–103; pass them shifted right by 4 for scales 8–15), their
     * top 2 bits come from {@code highs} (bytes 104–107) at bit offsets {@code shift} and shift + 2.
     */
    private static long q3kScales(long lows, int highs, int shift) {
        long top = (highs >>> shift & 0x03030303L) | (long) (highs >>> (shift + 2) & 0x03030303) << 32;
        return (lows & 0x0f0f0f0f0f0f0f0fL) | top << 4;
    }

    /**
     * {@link #dotQ3K} in 512-bit vectors: a half's 32 low-bit bytes and the 32 {@code hmask} bytes as
     * vectors of 32 shorts, so each 2-bit field is one multiply and one pair sum for two groups of
     * 16, their scales in lanes 0–7 and 8–15 of a scale vector (built inline, as in dotQ6K512).
     */
    static float dotQ3K512(MemorySegment w, long wOff, Q8_KBlock x, int blocks) {
        short[] xs = x.wide;
        FloatVector acc = FloatVector.zero(F512);
        for (int b = 0; b < blocks; b++) {
            long o = wOff + (long) b * Q3_KBlock.BYTES;
            float d = Float.float16ToFloat(w.get(F16, o + 108)) * x.d[b];
            long lows = w.get(I64, o + 96);
            int highs = w.get(I32, o + 104);
            long scalesA = q3kScales(lows, highs, 0), scalesB = q3kScales(lows >>> 4, highs, 4);
            ShortVector hm = (ShortVector) ByteVector.fromMemorySegment(B256, w, o, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S512, 0);
            IntVector sums = IntVector.zero(I512);
            for (int t = 0; t < 8; t++) {
                int half = t >> 2, j = t & 3;
                ShortVector q = (ShortVector) ByteVector.fromMemorySegment(B256, w, o + 32 + 32L * half, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S512, 0);
                ShortVector c = q.lanewise(VectorOperators.LSHR, 2 * j).and((short) 3)
                        .add(hm.lanewise(VectorOperators.LSHR, 4 * half + j).and((short) 1).lanewise(VectorOperators.LSHL, 2)).sub((short) 4);
                IntVector v = c.mul(ShortVector.fromArray(S512, xs, 256 * b + 128 * half + 32 * j)).reinterpretAsInts();
                long sc = (half == 0 ? scalesA : scalesB) >>> (16 * j);
                IntVector scale = IntVector.broadcast(I512, ((int) sc & 0xff) - 32).blend(((int) (sc >>> 8) & 0xff) - 32, UPPER8);
                sums = sums.add(v.add(v.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(scale));
            }
            acc = ((FloatVector) sums.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F512, d), acc);
        }
        return LaneSums.sum(acc);
    }

    /**
     * A Q4_K block's 12 packed scale bytes q[0..11] (bytes 0–7 in {@code lo}, 8–11 in {@code hi}) →
     * its 8 six-bit scales as the bytes of a long, without branches ({@link Q4_KBlock#scaleMin}): for
     * j &lt; 4 the low 6 bits of q[j]; for j ≥ 4 the low nibble of q[j + 4] and the top 2 bits of q[j − 4].
     */
    private static long q4kScales(long lo, int hi) {
        int q0 = (int) lo;
        return (q0 & 0x3f3f3f3fL) | (long) ((hi & 0x0f0f0f0f) | (q0 >>> 2 & 0x30303030)) << 32;
    }

    /** The 8 six-bit mins likewise: the low 6 bits of q[j + 4]; for j ≥ 4 the high nibble of q[j + 4] and the top 2 bits of q[j]. */
    private static long q4kMins(long lo, int hi) {
        int q4 = (int) (lo >>> 32);
        return (q4 & 0x3f3f3f3fL) | (long) ((hi >>> 4 & 0x0f0f0f0f) | (q4 >>> 2 & 0x30303030)) << 32;
    }

    /** Σ_j min_j · Σ (activation codes of sub-block j): the activations' sums of 16 from {@code s16}, two per sub-block. */
    private static int q4kMinTerm(long mins, int[] xsum, int s16) {
        int t = 0;
        for (int j = 0; j < 8; j++) t += ((int) (mins >>> (8 * j)) & 0xff) * (xsum[s16 + 2 * j] + xsum[s16 + 2 * j + 1]);
        return t;
    }

    /**
     * {@link #dotQ4K} in 512-bit vectors: a 64-value chunk's 32 code bytes widen to one vector of 32
     * shorts whose low nibbles are sub-block 2g in order and whose high nibbles are 2g + 1, so each
     * sub-block is one multiply and one pair sum (one thread, 4096 × 2048: 6.5 against 5.4 GB/s).
     */
    static float dotQ4K512(MemorySegment w, long wOff, Q8_KBlock x, int blocks) {
        short[] xs = x.wide;
        int[] xsum = x.sums;
        FloatVector acc = FloatVector.zero(F512);
        float minSum = 0;
        for (int b = 0; b < blocks; b++) {
            long o = wOff + (long) b * Q4_KBlock.BYTES;
            float d = Float.float16ToFloat(w.get(F16, o)) * x.d[b], dmin = Float.float16ToFloat(w.get(F16, o + 2)) * x.d[b];
            long lo = w.get(I64, o + 4);
            int hi = w.get(I32, o + 12);
            long scales = q4kScales(lo, hi), minsOf = q4kMins(lo, hi);
            IntVector sums = IntVector.zero(I512);
            for (int g = 0; g < 4; g++) {
                int sc0 = (int) (scales >>> (16 * g)) & 0xff, sc1 = (int) (scales >>> (16 * g + 8)) & 0xff;
                // 32 code bytes as 32 shorts: low nibbles are sub-block 2g's 32 values in order, high nibbles 2g + 1's.
                ShortVector c = (ShortVector) ByteVector.fromMemorySegment(B256, w, o + 16 + 32L * g, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S512, 0);
                int xo = 256 * b + 64 * g;
                IntVector v0 = c.and((short) 0x0f).mul(ShortVector.fromArray(S512, xs, xo)).reinterpretAsInts();
                IntVector v1 = c.lanewise(VectorOperators.LSHR, 4).mul(ShortVector.fromArray(S512, xs, xo + 32)).reinterpretAsInts();
                sums = sums.add(v0.add(v0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc0))
                        .add(v1.add(v1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc1));
            }
            acc = ((FloatVector) sums.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F512, d), acc);
            minSum += dmin * q4kMinTerm(minsOf, xsum, 16 * b);
        }
        return LaneSums.sum(acc) - minSum;
    }

    static float dotQ4K(MemorySegment w, long wOff, Q8_KBlock x, int blocks) {
        short[] xs = x.wide;
        int[] xsum = x.sums;
        FloatVector acc = FloatVector.zero(F256);
        float minSum = 0;
        for (int b = 0; b < blocks; b++) {
            long o = wOff + (long) b * Q4_KBlock.BYTES;
            float d = Float.float16ToFloat(w.get(F16, o)) * x.d[b], dmin = Float.float16ToFloat(w.get(F16, o + 2)) * x.d[b];
            long lo = w.get(I64, o + 4);
            int hi = w.get(I32, o + 12);
            long scales = q4kScales(lo, hi), minsOf = q4kMins(lo, hi);
            IntVector sums = IntVector.zero(I256);
            for (int g = 0; g < 4; g++) {
                int sc0 = (int) (scales >>> (16 * g)) & 0xff, sc1 = (int) (scales >>> (16 * g + 8)) & 0xff;
                long q = o + 16 + 32L * g;
                ShortVector c0 = bytes16(w, q), c1 = bytes16(w, q + 16);
                int xo = 256 * b + 64 * g;
                ShortVector p0 = c0.and((short) 0x0f).mul(ShortVector.fromArray(S256, xs, xo))
                        .add(c1.and((short) 0x0f).mul(ShortVector.fromArray(S256, xs, xo + 16)));
                ShortVector p1 = c0.lanewise(VectorOperators.LSHR, 4).mul(ShortVector.fromArray(S256, xs, xo + 32))
                        .add(c1.lanewise(VectorOperators.LSHR, 4).mul(ShortVector.fromArray(S256, xs, xo + 48)));
                IntVector v0 = p0.reinterpretAsInts(), v1 = p1.reinterpretAsInts(); // smallPairSums256, written out (see dotQ6K)
                sums = sums.add(v0.add(v0.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc0))
                        .add(v1.add(v1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(sc1));
            }
            acc = ((FloatVector) sums.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, d), acc);
            minSum += dmin * q4kMinTerm(minsOf, xsum, 16 * b);
        }
        return LaneSums.sum(acc) - minSum;
    }

    /**
     * Q6_K rows with unpacking fused into the dot product ({@link Q6_KBlock}'s layout): per half of 128
     * values and per 16 of its bytes, the low-bit bytes (two rows of 16) and the high-bit byte row
     * zero-extended to shorts give four groups of 16 codes − 32, each times its activations (products
     * |·| ≤ 32·127, pair sums fit 16 bits), pairs summed to 8 ints, times the group's int8 scale.
     */
    static float dotQ6K(MemorySegment w, long wOff, Q8_KBlock x, int blocks) {
        short[] xs = x.wide;
        FloatVector acc = FloatVector.zero(F256);
        for (int b = 0; b < blocks; b++) {
            long o = wOff + (long) b * Q6_KBlock.BYTES;
            float d = Float.float16ToFloat(w.get(F16, o + 208)) * x.d[b];
            IntVector sums = IntVector.zero(I256);
            // Four pieces: half (128 values: 64 low-bit bytes, 32 high-bit bytes) × 16 bytes of each row.
            for (int piece = 0; piece < 4; piece++) {
                int half = piece >> 1, h = piece & 1;
                long ql = o + 64 * half + 16 * h, qh = o + 128 + 32 * half + 16 * h;
                long scales = w.get(I64, o + 192 + 8 * half) >>> (8 * h); // the int8 scales of groups 8·half + h + 0, 2, 4, 6 at bytes 0, 2, 4, 6
                int xo = 256 * b + 128 * half + 16 * h;
                ShortVector a = bytes16(w, ql), c = bytes16(w, ql + 32), hb = bytes16(w, qh);
                ShortVector q1 = a.and((short) 0x0f).or(hb.and((short) 3).lanewise(VectorOperators.LSHL, 4)).sub((short) 32);
                ShortVector q2 = c.and((short) 0x0f).or(hb.and((short) 0x0c).lanewise(VectorOperators.LSHL, 2)).sub((short) 32);
                ShortVector q3 = a.lanewise(VectorOperators.LSHR, 4).or(hb.and((short) 0x30)).sub((short) 32);
                ShortVector q4 = c.lanewise(VectorOperators.LSHR, 4).or(hb.lanewise(VectorOperators.LSHR, 2).and((short) 0x30)).sub((short) 32);
                // Pair sums written out (v + (v << 16)) >> 16 as in smallPairSums256: in a method this
                // large C2 stopped inlining the helper and boxed every vector passed to it.
                IntVector v1 = q1.mul(ShortVector.fromArray(S256, xs, xo)).reinterpretAsInts();
                IntVector v2 = q2.mul(ShortVector.fromArray(S256, xs, xo + 32)).reinterpretAsInts();
                IntVector v3 = q3.mul(ShortVector.fromArray(S256, xs, xo + 64)).reinterpretAsInts();
                IntVector v4 = q4.mul(ShortVector.fromArray(S256, xs, xo + 96)).reinterpretAsInts();
                sums = sums.add(v1.add(v1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul((int) (byte) scales))
                        .add(v2.add(v2.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul((int) (byte) (scales >>> 16)))
                        .add(v3.add(v3.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul((int) (byte) (scales >>> 32)))
                        .add(v4.add(v4.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul((int) (byte) (scales >>> 48)));
            }
            acc = ((FloatVector) sums.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, d), acc);
        }
        return LaneSums.sum(acc);
    }

    private static final VectorMask<Integer> UPPER8 = VectorMask.fromLong(I512, 0xff00L);

    /**
     * {@link #dotQ6K} in 512-bit vectors: per half, the 32 bytes of each low-bit row and of the
     * high-bit row widen to 32 shorts, so each of the four code rows is one multiply and one pair sum
     * for two groups of 16, whose int8 scales sit in lanes 0–7 and 8–15 of a scale vector (built
     * inline: through a helper method C2 boxed the vectors).
     */
    static float dotQ6K512(MemorySegment w, long wOff, Q8_KBlock x, int blocks) {
        short[] xs = x.wide;
        FloatVector acc = FloatVector.zero(F512);
        for (int b = 0; b < blocks; b++) {
            long o = wOff + (long) b * Q6_KBlock.BYTES;
            float d = Float.float16ToFloat(w.get(F16, o + 208)) * x.d[b];
            IntVector sums = IntVector.zero(I512);
            for (int half = 0; half < 2; half++) {
                long ql = o + 64L * half, qh = o + 128 + 32L * half, scales = w.get(I64, o + 192 + 8L * half);
                int xo = 256 * b + 128 * half;
                ShortVector a = (ShortVector) ByteVector.fromMemorySegment(B256, w, ql, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S512, 0);
                ShortVector c = (ShortVector) ByteVector.fromMemorySegment(B256, w, ql + 32, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S512, 0);
                ShortVector hb = (ShortVector) ByteVector.fromMemorySegment(B256, w, qh, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S512, 0);
                ShortVector q1 = a.and((short) 0x0f).or(hb.and((short) 3).lanewise(VectorOperators.LSHL, 4)).sub((short) 32);
                ShortVector q2 = c.and((short) 0x0f).or(hb.and((short) 0x0c).lanewise(VectorOperators.LSHL, 2)).sub((short) 32);
                ShortVector q3 = a.lanewise(VectorOperators.LSHR, 4).or(hb.and((short) 0x30)).sub((short) 32);
                ShortVector q4 = c.lanewise(VectorOperators.LSHR, 4).or(hb.lanewise(VectorOperators.LSHR, 2).and((short) 0x30)).sub((short) 32);
                IntVector v1 = q1.mul(ShortVector.fromArray(S512, xs, xo)).reinterpretAsInts();
                IntVector v2 = q2.mul(ShortVector.fromArray(S512, xs, xo + 32)).reinterpretAsInts();
                IntVector v3 = q3.mul(ShortVector.fromArray(S512, xs, xo + 64)).reinterpretAsInts();
                IntVector v4 = q4.mul(ShortVector.fromArray(S512, xs, xo + 96)).reinterpretAsInts();
                sums = sums.add(v1.add(v1.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(IntVector.broadcast(I512, (byte) (scales >>> 0)).blend((byte) (scales >>> 8), UPPER8)))
                        .add(v2.add(v2.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(IntVector.broadcast(I512, (byte) (scales >>> 16)).blend((byte) (scales >>> 24), UPPER8)))
                        .add(v3.add(v3.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(IntVector.broadcast(I512, (byte) (scales >>> 32)).blend((byte) (scales >>> 40), UPPER8)))
                        .add(v4.add(v4.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16).mul(IntVector.broadcast(I512, (byte) (scales >>> 48)).blend((byte) (scales >>> 56), UPPER8)));
            }
            acc = ((FloatVector) sums.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F512, d), acc);
        }
        return LaneSums.sum(acc);
    }

    /**
     * A row in integer form: per block the groups' scaled integer sums stay in 8 int lanes, which
     * go to float once per block (times d_x·a); the mins' correction is a scalar per block.
     */
    @Override
    public float rowDot(BlockFormat f, MemorySegment w, long wOff, Q8_KBlock x, int n, byte[] c, int[] s, int[] m, float[] ab) {
        if (f == BlockFormat.Q4_K) return WIDE ? dotQ4K512(w, wOff, x, n / Q4_KBlock.SIZE) : dotQ4K(w, wOff, x, n / Q4_KBlock.SIZE);
        if (f == BlockFormat.IQ4_NL) return dotIQ4NL(w, wOff, x, n / IQ4_NLBlock.SIZE);
        if (f == BlockFormat.Q5_0) return dotQ5_0(w, wOff, x, n / Q5_0Block.SIZE);
        if (f == BlockFormat.Q4_1 || f == BlockFormat.Q5_1) return dotQ41or51(w, wOff, x, n / 32, f == BlockFormat.Q5_1);
        if (f == BlockFormat.Q2_K) return dotQ2K(w, wOff, x, n / Q2_KBlock.SIZE);
        if (f == BlockFormat.Q3_K) return WIDE ? dotQ3K512(w, wOff, x, n / Q3_KBlock.SIZE) : dotQ3K(w, wOff, x, n / Q3_KBlock.SIZE);
        if (f == BlockFormat.Q5_K) return WIDE ? dotQ5K512(w, wOff, x, n / Q5_KBlock.SIZE) : dotQ5K(w, wOff, x, n / Q5_KBlock.SIZE);
        if (f == BlockFormat.Q6_K) return WIDE ? dotQ6K512(w, wOff, x, n / Q6_KBlock.SIZE) : dotQ6K(w, wOff, x, n / Q6_KBlock.SIZE);
        FloatVector acc = FloatVector.zero(F256);
        float minSum = 0;
        short[] xs = x.wide;
        int size = f.size, groups = size / 16;
        for (int b = 0; b < n / size; b++) {
            unpack(f, w, wOff + (long) b * f.bytes, c, s, m, ab);
            IntVector sums = IntVector.zero(I256);
            int off = b * size;
            for (int g = 0; g < groups; g++) {
                ShortVector p = widen(ByteVector.fromArray(B128, c, 16 * g)).mul(ShortVector.fromArray(S256, xs, off + 16 * g));
                sums = pairSums256(p).mul(s[g]).add(sums);
            }
            acc = ((FloatVector) sums.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F256, x.d[b] * ab[0]), acc);
            if (ab[1] != 0) {
                int mins = 0;
                for (int g = 0; g < groups; g++) mins += m[g] * x.sums[b * groups + g];
                minSum += x.d[b] * ab[1] * mins;
            }
        }
        return LaneSums.sum(acc) - minSum;
    }

    /** Q4_K, Q5_K and Q6_K codes unpacked 32 at a time (the scales as the block classes read them); other formats as they define it. */
    @Override
    public void unpack(BlockFormat f, MemorySegment w, long off, byte[] c, int[] s, int[] m, float[] ab) {
        switch (f) {
            case Q4_K -> {
                Q4_KBlock.unpackScales(w, off, s, m, ab);
                for (int g = 0; g < 4; g++) {
                    ByteVector q = ByteVector.fromMemorySegment(B256, w, off + 16 + 32L * g, LE);
                    q.and((byte) 0x0f).intoArray(c, 64 * g);
                    q.lanewise(VectorOperators.LSHR, 4).intoArray(c, 64 * g + 32);
                }
            }
            case Q5_K -> {
                Q4_KBlock.unpackScales(w, off, s, m, ab);
                ByteVector h = ByteVector.fromMemorySegment(B256, w, off + 16, LE);
                for (int g = 0; g < 4; g++) {
                    ByteVector q = ByteVector.fromMemorySegment(B256, w, off + 48 + 32L * g, LE);
                    q.and((byte) 0x0f).or(h.lanewise(VectorOperators.LSHR, 2 * g).and((byte) 1).lanewise(VectorOperators.LSHL, 4)).intoArray(c, 64 * g);
                    q.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 2 * g + 1).and((byte) 1).lanewise(VectorOperators.LSHL, 4)).intoArray(c, 64 * g + 32);
                }
            }
            case Q6_K -> {
                Q6_KBlock.unpackScales(w, off, s, m, ab);
                for (int half = 0; half < 2; half++) {
                    long ql = off + 64L * half, qh = off + 128 + 32L * half;
                    int base = 128 * half;
                    ByteVector a = ByteVector.fromMemorySegment(B256, w, ql, LE), b = ByteVector.fromMemorySegment(B256, w, ql + 32, LE);
                    ByteVector h = ByteVector.fromMemorySegment(B256, w, qh, LE);
                    a.and((byte) 0x0f).or(h.and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32).intoArray(c, base);
                    b.and((byte) 0x0f).or(h.lanewise(VectorOperators.LSHR, 2).and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32).intoArray(c, base + 32);
                    a.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 4).and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32).intoArray(c, base + 64);
                    b.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 6).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32).intoArray(c, base + 96);
                }
            }
            default -> f.unpack(w, off, c, s, m, ab);
        }
    }
}
