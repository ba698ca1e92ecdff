package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of the interleaved layouts ({@link Q8_0x16}, {@link Q4_0x64}, {@link Q4_Kx16},
 * {@link Q6_Kx16}):
 * matrix × vector for decoding, and four rows at a time widened for a prompt's GEMM. 512-bit
 * shapes keep a chunk in one vector; 256-bit ones (AVX2) in two halves.
 * Each kernel is bit for bit its format class's scalar reference. Loaded through
 * {@link VectorQuantDot} only.
 *
 * <p>The f16 scales are widened exactly and written out in each kernel: the halves sign-extended to
 * ints and shifted left 13 put a half's exponent and mantissa where a float's go, its sign in bit
 * 31 and copies of it in bits 30–28, which the mask 0x8fffffff clears; the float read is 2^−112
 * times the half (subnormal halves become subnormal floats), and one multiply by 2^112 rescales it.
 * Not for infinities and NaNs, which {@link QuantizedMatvec#interleave} refuses. A helper method
 * for it was not always inlined (cold call sites, or C2's node budget spent by the Vector API's
 * nodes), and a method returning a vector that is not inlined boxes it: Q4_K ran 1.2× slower.
 */
final class VectorInterleaved {
    private VectorInterleaved() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128, B256 = ByteVector.SPECIES_256;
    private static final VectorSpecies<Short> S128 = ShortVector.SPECIES_128, S256 = ShortVector.SPECIES_256, S512 = ShortVector.SPECIES_512;
    private static final VectorSpecies<Integer> I256 = IntVector.SPECIES_256, I512 = IntVector.SPECIES_512;
    private static final VectorSpecies<Float> F256 = FloatVector.SPECIES_256, F512 = FloatVector.SPECIES_512;

    /**
     * Q8_0x16 groups [g0, g1) × the activations as nibble pairs ({@link Q8_0x16#nibblePairs}:
     * {@code xn[2i]} holds x[2i] & 15 in its low 16 bits and x[2i + 1] & 15 in its high ones,
     * {@code xn[2i + 1]} the same for x ≫ 4). Per chunk: 32 codes widened to shorts, times the two
     * pairs broadcast, into short accumulators over the block — |code·(x & 15)| ≤ 128·15 and
     * |code·(x ≫ 4)| ≤ 128·8, so sixteen chunks fit 16 bits (activations are never −128) — and at
     * the block's end adjacent lanes summed into sixteen ints, 16·high + low. Five vector ops per
     * chunk where multiplying by x whole and summing the pair at once took six (10% faster in
     * cache). The range's groups go two at a time, one from each half ({@link #q8Two}): two long
     * memory streams instead of one, and one set of broadcasts for both — out of cache one thread
     * read 27–28 GB/s against 21–22, in cache 1.38× faster.
     */
    static void q8(MemorySegment w, long off, int[] xn, float[] xd, int blocks, float[] out, int g0, int g1) {
        int half = (g1 - g0) / 2;
        for (int k = 0; k < half; k++) q8Two(w, off, xn, xd, blocks, out, g0 + k, g0 + half + k);
        if ((g1 - g0) % 2 != 0) q8Two(w, off, xn, xd, blocks, out, g1 - 1, g1 - 1);
    }

    /** Groups ga and gb side by side (two memory streams, one set of activation broadcasts); ga = gb computes it twice. */
    private static void q8Two(MemorySegment w, long off, int[] xn, float[] xd, int blocks, float[] out, int ga, int gb) {
        long baseA = off + (long) ga * blocks * Q8_0x16.BYTES, baseB = off + (long) gb * blocks * Q8_0x16.BYTES;
        FloatVector accA = FloatVector.zero(F512), accB = accA;
        for (int b = 0; b < blocks; b++) {
            long oa = baseA + (long) b * Q8_0x16.BYTES, ob = baseB + (long) b * Q8_0x16.BYTES;
            ShortVector la = ShortVector.zero(S512), ha = la, lb = la, hb = la;
            int xb = 32 * b;
            for (int j = 0; j < 16; j++) {
                ShortVector xl = IntVector.broadcast(I512, xn[xb + 2 * j]).reinterpretAsShorts();
                ShortVector xh = IntVector.broadcast(I512, xn[xb + 2 * j + 1]).reinterpretAsShorts();
                ShortVector va = (ShortVector) ByteVector.fromMemorySegment(B256, w, oa + 32 + 32L * j, LE).convertShape(VectorOperators.B2S, S512, 0);
                ShortVector vb = (ShortVector) ByteVector.fromMemorySegment(B256, w, ob + 32 + 32L * j, LE).convertShape(VectorOperators.B2S, S512, 0);
                la = la.add(va.mul(xl));
                ha = ha.add(va.mul(xh));
                lb = lb.add(vb.mul(xl));
                hb = hb.add(vb.mul(xh));
            }
            IntVector il = la.reinterpretAsInts(), ih = ha.reinterpretAsInts();
            IntVector sa = ih.lanewise(VectorOperators.ASHR, 16).add(ih.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .lanewise(VectorOperators.LSHL, 4)
                    .add(il.lanewise(VectorOperators.ASHR, 16)).add(il.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
            il = lb.reinterpretAsInts();
            ih = hb.reinterpretAsInts();
            IntVector sb = ih.lanewise(VectorOperators.ASHR, 16).add(ih.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .lanewise(VectorOperators.LSHL, 4)
                    .add(il.lanewise(VectorOperators.ASHR, 16)).add(il.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
            FloatVector scaleA = ((IntVector) ShortVector.fromMemorySegment(S256, w, oa, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
            FloatVector scaleB = ((IntVector) ShortVector.fromMemorySegment(S256, w, ob, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
            accA = ((FloatVector) sa.convert(VectorOperators.I2F, 0)).fma(scaleA.mul(xd[b]), accA);
            accB = ((FloatVector) sb.convert(VectorOperators.I2F, 0)).fma(scaleB.mul(xd[b]), accB);
        }
        accA.intoArray(out, 16 * ga);
        accB.intoArray(out, 16 * gb);
    }

    /**
     * A batched step's Q8_0x16 groups [g0, g1) × four activation vectors at once, each vector's rows
     * bit for bit {@link #q8}'s. A block's integer sum Σ code·x is at most 32·128·127 < 2²⁴ in
     * magnitude, so float fused multiply-adds of the codes and the activation codes (as floats)
     * compute it exactly, whatever their order; it then meets the scales as in q8 (float(S)·(d_w·d_x)
     * + acc, block after block). The codes are widened to floats once for the four vectors — the work
     * q8 does per vector — and each column's activation is broadcast and multiplied in: with the
     * weights read once per step, the batched step is compute-bound, and this kernel does a block in
     * about half of q8's instructions per vector.
     *
     * @param xf    the four vectors' activation codes as floats ({@link Q8_KBlock#q}, exact)
     * @param xd    their per-32 scales
     * @param outs  the four outputs (a vector given twice computes twice; the last write wins)
     */
    static void q8Batch4(MemorySegment w, long off, float[][] xf, float[][] xd, int blocks, float[][] outs, int g0, int g1) {
        int g = g0;
        for (; g + 1 < g1; g += 2) q8Batch4Two(w, off, xf, xd, blocks, outs, g);
        if (g < g1) q8Batch4One(w, off, xf, xd, blocks, outs, g);
    }

    /**
     * A batched step's Q8_0x16 groups [g0, g1) × eight activation vectors at once, each vector's rows
     * bit for bit {@link #q8}'s (block sums exact in floats, as {@link #q8Batch4} says). One group's
     * codes are widened once for eight vectors — twice {@link #q8Batch4}'s reuse — and without the
     * sign extension: a chunk's int lane r holds row r's code for column c in its low 16 bits and for
     * column c + 1 in its high ones, so {@code lane << 16} and {@code lane & 0xffff0000} are those codes
     * times 2¹⁶ exactly (two operations where widening each took three). A block's sums stay exact
     * (|Σ| · 2¹⁶ < 2²⁴ · 2¹⁶, every partial sum a multiple of 2¹⁶) and one multiply by 2⁻¹⁶ — exact —
     * gives q8's integer sum before it meets the scales. A broadcast load per multiply-add (q8Batch4:
     * one per two) and yet faster on one core: the step is bound by the fused multiply-adds with their
     * loads beside them, not by the conversions (docs/benchmarks.md, seventeenth and twenty-fifth sessions).
     *
     * @param v    the first of the eight vectors in xf, xd and outs
     */
    static void q8Batch8(MemorySegment w, long off, float[][] xf, float[][] xd, int v, int blocks, float[][] outs, int g0, int g1) {
        float[] x0 = xf[v], x1 = xf[v + 1], x2 = xf[v + 2], x3 = xf[v + 3], x4 = xf[v + 4], x5 = xf[v + 5], x6 = xf[v + 6], x7 = xf[v + 7];
        float[] d0 = xd[v], d1 = xd[v + 1], d2 = xd[v + 2], d3 = xd[v + 3], d4 = xd[v + 4], d5 = xd[v + 5], d6 = xd[v + 6], d7 = xd[v + 7];
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q8_0x16.BYTES;
            FloatVector t0 = FloatVector.zero(F512), t1 = t0, t2 = t0, t3 = t0, t4 = t0, t5 = t0, t6 = t0, t7 = t0;
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q8_0x16.BYTES;
                FloatVector s0 = FloatVector.zero(F512), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
                for (int j = 0; j < 16; j++) {
                    IntVector v2 = ((ShortVector) ByteVector.fromMemorySegment(B256, w, o + 32 + 32L * j, LE)
                            .convertShape(VectorOperators.B2S, S512, 0)).reinterpretAsInts();
                    FloatVector even = (FloatVector) v2.lanewise(VectorOperators.LSHL, 16).convert(VectorOperators.I2F, 0);
                    FloatVector odd = (FloatVector) v2.and(0xffff0000).convert(VectorOperators.I2F, 0);
                    int c = 32 * b + 2 * j;
                    s0 = even.fma(FloatVector.broadcast(F512, x0[c]), s0);
                    s1 = even.fma(FloatVector.broadcast(F512, x1[c]), s1);
                    s2 = even.fma(FloatVector.broadcast(F512, x2[c]), s2);
                    s3 = even.fma(FloatVector.broadcast(F512, x3[c]), s3);
                    s4 = even.fma(FloatVector.broadcast(F512, x4[c]), s4);
                    s5 = even.fma(FloatVector.broadcast(F512, x5[c]), s5);
                    s6 = even.fma(FloatVector.broadcast(F512, x6[c]), s6);
                    s7 = even.fma(FloatVector.broadcast(F512, x7[c]), s7);
                    s0 = odd.fma(FloatVector.broadcast(F512, x0[c + 1]), s0);
                    s1 = odd.fma(FloatVector.broadcast(F512, x1[c + 1]), s1);
                    s2 = odd.fma(FloatVector.broadcast(F512, x2[c + 1]), s2);
                    s3 = odd.fma(FloatVector.broadcast(F512, x3[c + 1]), s3);
                    s4 = odd.fma(FloatVector.broadcast(F512, x4[c + 1]), s4);
                    s5 = odd.fma(FloatVector.broadcast(F512, x5[c + 1]), s5);
                    s6 = odd.fma(FloatVector.broadcast(F512, x6[c + 1]), s6);
                    s7 = odd.fma(FloatVector.broadcast(F512, x7[c + 1]), s7);
                }
                FloatVector scale = ((IntVector) ShortVector.fromMemorySegment(S256, w, o, LE).convertShape(VectorOperators.S2I, I512, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                t0 = s0.mul(0x1p-16f).fma(scale.mul(d0[b]), t0);
                t1 = s1.mul(0x1p-16f).fma(scale.mul(d1[b]), t1);
                t2 = s2.mul(0x1p-16f).fma(scale.mul(d2[b]), t2);
                t3 = s3.mul(0x1p-16f).fma(scale.mul(d3[b]), t3);
                t4 = s4.mul(0x1p-16f).fma(scale.mul(d4[b]), t4);
                t5 = s5.mul(0x1p-16f).fma(scale.mul(d5[b]), t5);
                t6 = s6.mul(0x1p-16f).fma(scale.mul(d6[b]), t6);
                t7 = s7.mul(0x1p-16f).fma(scale.mul(d7[b]), t7);
            }
            t0.intoArray(outs[v + 0], 16 * g);
            t1.intoArray(outs[v + 1], 16 * g);
            t2.intoArray(outs[v + 2], 16 * g);
            t3.intoArray(outs[v + 3], 16 * g);
            t4.intoArray(outs[v + 4], 16 * g);
            t5.intoArray(outs[v + 5], 16 * g);
            t6.intoArray(outs[v + 6], 16 * g);
            t7.intoArray(outs[v + 7], 16 * g);
        }
    }

    /**
     * Groups g and g + 1 × the four vectors: each broadcast activation serves both groups' rows (a
     * broadcast is a shuffle on the same pipes as the multiply-adds; sharing it cut the step's
     * time), sixteen accumulators in all.
     */
    private static void q8Batch4Two(MemorySegment w, long off, float[][] xf, float[][] xd, int blocks, float[][] outs, int g) {
        float[] x0 = xf[0], x1 = xf[1], x2 = xf[2], x3 = xf[3];
        float[] d0 = xd[0], d1 = xd[1], d2 = xd[2], d3 = xd[3];
        long baseA = off + (long) g * blocks * Q8_0x16.BYTES, baseB = baseA + (long) blocks * Q8_0x16.BYTES;
        FloatVector a0 = FloatVector.zero(F512), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int b = 0; b < blocks; b++) {
            long oa = baseA + (long) b * Q8_0x16.BYTES, ob = baseB + (long) b * Q8_0x16.BYTES;
            FloatVector sa0 = FloatVector.zero(F512), sa1 = sa0, sa2 = sa0, sa3 = sa0, sb0 = sa0, sb1 = sa0, sb2 = sa0, sb3 = sa0;
            for (int j = 0; j < 16; j++) {
                // Chunk j: rows 0–15 of columns c and c + 1, bytes 2r and 2r + 1 of each int lane r.
                IntVector va = ((ShortVector) ByteVector.fromMemorySegment(B256, w, oa + 32 + 32L * j, LE)
                        .convertShape(VectorOperators.B2S, S512, 0)).reinterpretAsInts();
                IntVector vb = ((ShortVector) ByteVector.fromMemorySegment(B256, w, ob + 32 + 32L * j, LE)
                        .convertShape(VectorOperators.B2S, S512, 0)).reinterpretAsInts();
                FloatVector ea = (FloatVector) va.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
                FloatVector eb = (FloatVector) vb.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
                int c = 32 * b + 2 * j;
                FloatVector x = FloatVector.broadcast(F512, x0[c]);
                sa0 = ea.fma(x, sa0);
                sb0 = eb.fma(x, sb0);
                x = FloatVector.broadcast(F512, x1[c]);
                sa1 = ea.fma(x, sa1);
                sb1 = eb.fma(x, sb1);
                x = FloatVector.broadcast(F512, x2[c]);
                sa2 = ea.fma(x, sa2);
                sb2 = eb.fma(x, sb2);
                x = FloatVector.broadcast(F512, x3[c]);
                sa3 = ea.fma(x, sa3);
                sb3 = eb.fma(x, sb3);
                FloatVector oddA = (FloatVector) va.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
                FloatVector oddB = (FloatVector) vb.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
                x = FloatVector.broadcast(F512, x0[c + 1]);
                sa0 = oddA.fma(x, sa0);
                sb0 = oddB.fma(x, sb0);
                x = FloatVector.broadcast(F512, x1[c + 1]);
                sa1 = oddA.fma(x, sa1);
                sb1 = oddB.fma(x, sb1);
                x = FloatVector.broadcast(F512, x2[c + 1]);
                sa2 = oddA.fma(x, sa2);
                sb2 = oddB.fma(x, sb2);
                x = FloatVector.broadcast(F512, x3[c + 1]);
                sa3 = oddA.fma(x, sa3);
                sb3 = oddB.fma(x, sb3);
            }
            FloatVector scaleA = ((IntVector) ShortVector.fromMemorySegment(S256, w, oa, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
            FloatVector scaleB = ((IntVector) ShortVector.fromMemorySegment(S256, w, ob, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
            a0 = sa0.fma(scaleA.mul(d0[b]), a0);
            a1 = sa1.fma(scaleA.mul(d1[b]), a1);
            a2 = sa2.fma(scaleA.mul(d2[b]), a2);
            a3 = sa3.fma(scaleA.mul(d3[b]), a3);
            b0 = sb0.fma(scaleB.mul(d0[b]), b0);
            b1 = sb1.fma(scaleB.mul(d1[b]), b1);
            b2 = sb2.fma(scaleB.mul(d2[b]), b2);
            b3 = sb3.fma(scaleB.mul(d3[b]), b3);
        }
        a0.intoArray(outs[0], 16 * g);
        a1.intoArray(outs[1], 16 * g);
        a2.intoArray(outs[2], 16 * g);
        a3.intoArray(outs[3], 16 * g);
        b0.intoArray(outs[0], 16 * g + 16);
        b1.intoArray(outs[1], 16 * g + 16);
        b2.intoArray(outs[2], 16 * g + 16);
        b3.intoArray(outs[3], 16 * g + 16);
    }

    /** One group × the four vectors (a range's odd group out). */
    private static void q8Batch4One(MemorySegment w, long off, float[][] xf, float[][] xd, int blocks, float[][] outs, int g) {
        float[] x0 = xf[0], x1 = xf[1], x2 = xf[2], x3 = xf[3];
        float[] d0 = xd[0], d1 = xd[1], d2 = xd[2], d3 = xd[3];
        long base = off + (long) g * blocks * Q8_0x16.BYTES;
        FloatVector t0 = FloatVector.zero(F512), t1 = t0, t2 = t0, t3 = t0;
        for (int b = 0; b < blocks; b++) {
            long o = base + (long) b * Q8_0x16.BYTES;
            FloatVector s0 = FloatVector.zero(F512), s1 = s0, s2 = s0, s3 = s0;
            for (int j = 0; j < 16; j++) {
                IntVector v = ((ShortVector) ByteVector.fromMemorySegment(B256, w, o + 32 + 32L * j, LE)
                        .convertShape(VectorOperators.B2S, S512, 0)).reinterpretAsInts();
                FloatVector even = (FloatVector) v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
                FloatVector odd = (FloatVector) v.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
                int c = 32 * b + 2 * j;
                s0 = even.fma(FloatVector.broadcast(F512, x0[c]), s0);
                s1 = even.fma(FloatVector.broadcast(F512, x1[c]), s1);
                s2 = even.fma(FloatVector.broadcast(F512, x2[c]), s2);
                s3 = even.fma(FloatVector.broadcast(F512, x3[c]), s3);
                s0 = odd.fma(FloatVector.broadcast(F512, x0[c + 1]), s0);
                s1 = odd.fma(FloatVector.broadcast(F512, x1[c + 1]), s1);
                s2 = odd.fma(FloatVector.broadcast(F512, x2[c + 1]), s2);
                s3 = odd.fma(FloatVector.broadcast(F512, x3[c + 1]), s3);
            }
            FloatVector scale = ((IntVector) ShortVector.fromMemorySegment(S256, w, o, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
            t0 = s0.fma(scale.mul(d0[b]), t0);
            t1 = s1.fma(scale.mul(d1[b]), t1);
            t2 = s2.fma(scale.mul(d2[b]), t2);
            t3 = s3.fma(scale.mul(d3[b]), t3);
        }
        t0.intoArray(outs[0], 16 * g);
        t1.intoArray(outs[1], 16 * g);
        t2.intoArray(outs[2], 16 * g);
        t3.intoArray(outs[3], 16 * g);
    }

    /**
     * {@link #q8Batch8} in 256-bit vectors (AVX2 machines): each group's rows 0–7, then 8–15
     * ({@link #q8Batch8Half256}), × eight activation vectors — each vector's rows bit for bit
     * {@link #q8x256}'s, which are {@link #q8}'s (the block's sum exact in floats, times 2⁻¹⁶, then
     * one fused multiply-add by the scales, block after block).
     *
     * @param v    the first of the eight vectors in xf, xd and outs
     */
    static void q8Batch8x256(MemorySegment w, long off, float[][] xf, float[][] xd, int v, int blocks, float[][] outs, int g0, int g1) {
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q8_0x16.BYTES;
            q8Batch8Half256(w, base, xf, xd, v, blocks, outs, 16 * g, 0);
            q8Batch8Half256(w, base, xf, xd, v, blocks, outs, 16 * g + 8, 8);
        }
    }

    /** Rows h … h + 7 (h = 0 or 8) of the Q8_0x16 group at base × vectors v … v + 7 into outs[v + k][at …]. */
    private static void q8Batch8Half256(MemorySegment w, long base, float[][] xf, float[][] xd, int v, int blocks, float[][] outs, int at, int h) {
        float[] x0 = xf[v], x1 = xf[v + 1], x2 = xf[v + 2], x3 = xf[v + 3], x4 = xf[v + 4], x5 = xf[v + 5], x6 = xf[v + 6], x7 = xf[v + 7];
        float[] d0 = xd[v], d1 = xd[v + 1], d2 = xd[v + 2], d3 = xd[v + 3], d4 = xd[v + 4], d5 = xd[v + 5], d6 = xd[v + 6], d7 = xd[v + 7];
        FloatVector t0 = FloatVector.zero(F256), t1 = t0, t2 = t0, t3 = t0, t4 = t0, t5 = t0, t6 = t0, t7 = t0;
        for (int b = 0; b < blocks; b++) {
            long o = base + (long) b * Q8_0x16.BYTES;
            FloatVector s0 = FloatVector.zero(F256), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
            for (int j = 0; j < 16; j++) {
                IntVector v2 = ((ShortVector) ByteVector.fromMemorySegment(B128, w, o + 32 + 32L * j + 2 * h, LE)
                        .convertShape(VectorOperators.B2S, S256, 0)).reinterpretAsInts();
                FloatVector even = (FloatVector) v2.lanewise(VectorOperators.LSHL, 16).convert(VectorOperators.I2F, 0);
                FloatVector odd = (FloatVector) v2.and(0xffff0000).convert(VectorOperators.I2F, 0);
                int c = 32 * b + 2 * j;
                s0 = even.fma(FloatVector.broadcast(F256, x0[c]), s0);
                s1 = even.fma(FloatVector.broadcast(F256, x1[c]), s1);
                s2 = even.fma(FloatVector.broadcast(F256, x2[c]), s2);
                s3 = even.fma(FloatVector.broadcast(F256, x3[c]), s3);
                s4 = even.fma(FloatVector.broadcast(F256, x4[c]), s4);
                s5 = even.fma(FloatVector.broadcast(F256, x5[c]), s5);
                s6 = even.fma(FloatVector.broadcast(F256, x6[c]), s6);
                s7 = even.fma(FloatVector.broadcast(F256, x7[c]), s7);
                s0 = odd.fma(FloatVector.broadcast(F256, x0[c + 1]), s0);
                s1 = odd.fma(FloatVector.broadcast(F256, x1[c + 1]), s1);
                s2 = odd.fma(FloatVector.broadcast(F256, x2[c + 1]), s2);
                s3 = odd.fma(FloatVector.broadcast(F256, x3[c + 1]), s3);
                s4 = odd.fma(FloatVector.broadcast(F256, x4[c + 1]), s4);
                s5 = odd.fma(FloatVector.broadcast(F256, x5[c + 1]), s5);
                s6 = odd.fma(FloatVector.broadcast(F256, x6[c + 1]), s6);
                s7 = odd.fma(FloatVector.broadcast(F256, x7[c + 1]), s7);
            }
            FloatVector scale = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 2 * h, LE).convertShape(VectorOperators.S2I, I256, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
            t0 = s0.mul(0x1p-16f).fma(scale.mul(d0[b]), t0);
            t1 = s1.mul(0x1p-16f).fma(scale.mul(d1[b]), t1);
            t2 = s2.mul(0x1p-16f).fma(scale.mul(d2[b]), t2);
            t3 = s3.mul(0x1p-16f).fma(scale.mul(d3[b]), t3);
            t4 = s4.mul(0x1p-16f).fma(scale.mul(d4[b]), t4);
            t5 = s5.mul(0x1p-16f).fma(scale.mul(d5[b]), t5);
            t6 = s6.mul(0x1p-16f).fma(scale.mul(d6[b]), t6);
            t7 = s7.mul(0x1p-16f).fma(scale.mul(d7[b]), t7);
        }
        t0.intoArray(outs[v + 0], at);
        t1.intoArray(outs[v + 1], at);
        t2.intoArray(outs[v + 2], at);
        t3.intoArray(outs[v + 3], at);
        t4.intoArray(outs[v + 4], at);
        t5.intoArray(outs[v + 5], at);
        t6.intoArray(outs[v + 6], at);
        t7.intoArray(outs[v + 7], at);
    }

    /** {@link #q8} in 256-bit vectors: rows 0–7 of a chunk are its first 16 bytes, rows 8–15 the next. */
    static void q8x256(MemorySegment w, long off, int[] xn, float[] xd, int blocks, float[] out, int g0, int g1) {
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q8_0x16.BYTES;
            FloatVector lo = FloatVector.zero(F256), hi = lo;
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q8_0x16.BYTES;
                ShortVector l0 = ShortVector.zero(S256), l1 = l0, h0 = l0, h1 = l0;
                int xb = 32 * b;
                for (int j = 0; j < 16; j++) {
                    ShortVector xl = IntVector.broadcast(I256, xn[xb + 2 * j]).reinterpretAsShorts();
                    ShortVector xh = IntVector.broadcast(I256, xn[xb + 2 * j + 1]).reinterpretAsShorts();
                    ShortVector v0 = (ShortVector) ByteVector.fromMemorySegment(B128, w, o + 32 + 32L * j, LE).convertShape(VectorOperators.B2S, S256, 0);
                    ShortVector v1 = (ShortVector) ByteVector.fromMemorySegment(B128, w, o + 48 + 32L * j, LE).convertShape(VectorOperators.B2S, S256, 0);
                    l0 = l0.add(v0.mul(xl));
                    h0 = h0.add(v0.mul(xh));
                    l1 = l1.add(v1.mul(xl));
                    h1 = h1.add(v1.mul(xh));
                }
                IntVector il0 = l0.reinterpretAsInts(), ih0 = h0.reinterpretAsInts(), il1 = l1.reinterpretAsInts(), ih1 = h1.reinterpretAsInts();
                IntVector s0 = ih0.lanewise(VectorOperators.ASHR, 16).add(ih0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .lanewise(VectorOperators.LSHL, 4)
                        .add(il0.lanewise(VectorOperators.ASHR, 16)).add(il0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                IntVector s1 = ih1.lanewise(VectorOperators.ASHR, 16).add(ih1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .lanewise(VectorOperators.LSHL, 4)
                        .add(il1.lanewise(VectorOperators.ASHR, 16)).add(il1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                FloatVector scaleLo = ((IntVector) ShortVector.fromMemorySegment(S128, w, o, LE).convertShape(VectorOperators.S2I, I256, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                lo = ((FloatVector) s0.convert(VectorOperators.I2F, 0)).fma(scaleLo.mul(xd[b]), lo);
                FloatVector scaleHi = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 16, LE).convertShape(VectorOperators.S2I, I256, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                hi = ((FloatVector) s1.convert(VectorOperators.I2F, 0)).fma(scaleHi.mul(xd[b]), hi);
            }
            lo.intoArray(out, 16 * g);
            hi.intoArray(out, 16 * g + 8);
        }
    }

    /**
     * Q4_0x64 groups [g0, g1): per chunk j the 32 shorts s, and s ≫ 4, s ≫ 8, s ≫ 12, times the
     * activation pair of columns 2j, 2j + 1 broadcast, into four short accumulators a0…a3 for the
     * block; at its end nibble k's sums are a_k − 16·a_{k+1} (exact: see {@link Q4_0x64}), adjacent
     * lanes summed to ints (rows 16k … 16k + 15), 8·Σx (xs8) subtracted for the codes' +8.
     */
    static void q4(MemorySegment w, long off, int[] xp, float[] xd, float[] xs8, int blocks, float[] out, int g0, int g1) {
        int g = g0;
        if (PAIRS) for (; g + 1 < g1; g += 2) q4Pair(w, off, xp, xd, xs8, blocks, out, g);
        for (; g < g1; g++) q4Group(w, off, xp, xd, xs8, blocks, out, g);
    }

    /**
     * Whether {@link #q4} takes two groups at a time ({@link #q4Pair}; {@code -Dpanamax.quant.q4Pairs=false}:
     * one), as {@link #q8} does. From memory the one-group loop overlapped its arithmetic and its loads
     * badly: TinyLlama-shape Q4_0 decode on an Intel Xeon ~1.10× (docs/benchmarks.md, 2026-12-06).
     */
    static final boolean PAIRS = dev.panamax.simd.Tuning.flagOn("quant.q4Pairs");

    /** Group g of {@link #q4}. */
    private static void q4Group(MemorySegment w, long off, int[] xp, float[] xd, float[] xs8, int blocks, float[] out, int g) {
        long base = off + (long) g * blocks * Q4_0x64.BYTES;
        FloatVector r0 = FloatVector.zero(F512), r1 = r0, r2 = r0, r3 = r0;
        for (int b = 0; b < blocks; b++) {
            long o = base + (long) b * Q4_0x64.BYTES;
            ShortVector a0 = ShortVector.zero(S512), a1 = a0, a2 = a0, a3 = a0;
            int xb = 16 * b;
            for (int j = 0; j < 16; j++) {
                ShortVector v = ShortVector.fromMemorySegment(S512, w, o + 128 + 64L * j, LE);
                ShortVector x = IntVector.broadcast(I512, xp[xb + j]).reinterpretAsShorts();
                a0 = a0.add(v.mul(x));
                a1 = a1.add(v.lanewise(VectorOperators.LSHR, 4).mul(x));
                a2 = a2.add(v.lanewise(VectorOperators.LSHR, 8).mul(x));
                a3 = a3.add(v.lanewise(VectorOperators.LSHR, 12).mul(x));
            }
            float c = xs8[b], d = xd[b];
            IntVector i0 = a0.sub(a1.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
            IntVector i1 = a1.sub(a2.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
            IntVector i2 = a2.sub(a3.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
            IntVector i3 = a3.reinterpretAsInts();
            FloatVector d0 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f).mul(d);
            r0 = ((FloatVector) i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .convert(VectorOperators.I2F, 0)).sub(c).fma(d0, r0);
            FloatVector d1 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o + 32, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f).mul(d);
            r1 = ((FloatVector) i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .convert(VectorOperators.I2F, 0)).sub(c).fma(d1, r1);
            FloatVector d2 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o + 64, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f).mul(d);
            r2 = ((FloatVector) i2.lanewise(VectorOperators.ASHR, 16).add(i2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .convert(VectorOperators.I2F, 0)).sub(c).fma(d2, r2);
            FloatVector d3 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o + 96, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f).mul(d);
            r3 = ((FloatVector) i3.lanewise(VectorOperators.ASHR, 16).add(i3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .convert(VectorOperators.I2F, 0)).sub(c).fma(d3, r3);
        }
        r0.intoArray(out, 64 * g);
        r1.intoArray(out, 64 * g + 16);
        r2.intoArray(out, 64 * g + 32);
        r3.intoArray(out, 64 * g + 48);
    }

    /** Groups g and g + 1 of {@link #q4} side by side, block by block: each group's arithmetic unchanged, two memory streams. */
    private static void q4Pair(MemorySegment w, long off, int[] xp, float[] xd, float[] xs8, int blocks, float[] out, int g) {
        long base = off + (long) g * blocks * Q4_0x64.BYTES, base2 = base + (long) blocks * Q4_0x64.BYTES;
        FloatVector r0 = FloatVector.zero(F512), r1 = r0, r2 = r0, r3 = r0, s0 = r0, s1 = r0, s2 = r0, s3 = r0;
        for (int b = 0; b < blocks; b++) {
            long o = base + (long) b * Q4_0x64.BYTES, p = base2 + (long) b * Q4_0x64.BYTES;
            ShortVector a0 = ShortVector.zero(S512), a1 = a0, a2 = a0, a3 = a0, e0 = a0, e1 = a0, e2 = a0, e3 = a0;
            int xb = 16 * b;
            for (int j = 0; j < 16; j++) {
                ShortVector x = IntVector.broadcast(I512, xp[xb + j]).reinterpretAsShorts();
                ShortVector v = ShortVector.fromMemorySegment(S512, w, o + 128 + 64L * j, LE);
                ShortVector u = ShortVector.fromMemorySegment(S512, w, p + 128 + 64L * j, LE);
                a0 = a0.add(v.mul(x));
                e0 = e0.add(u.mul(x));
                a1 = a1.add(v.lanewise(VectorOperators.LSHR, 4).mul(x));
                e1 = e1.add(u.lanewise(VectorOperators.LSHR, 4).mul(x));
                a2 = a2.add(v.lanewise(VectorOperators.LSHR, 8).mul(x));
                e2 = e2.add(u.lanewise(VectorOperators.LSHR, 8).mul(x));
                a3 = a3.add(v.lanewise(VectorOperators.LSHR, 12).mul(x));
                e3 = e3.add(u.lanewise(VectorOperators.LSHR, 12).mul(x));
            }
            float c = xs8[b], d = xd[b];
            IntVector i0 = a0.sub(a1.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
            IntVector i1 = a1.sub(a2.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
            IntVector i2 = a2.sub(a3.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
            IntVector i3 = a3.reinterpretAsInts();
            IntVector k0 = e0.sub(e1.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
            IntVector k1 = e1.sub(e2.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
            IntVector k2 = e2.sub(e3.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
            IntVector k3 = e3.reinterpretAsInts();
            FloatVector d0 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f).mul(d);
            r0 = ((FloatVector) i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .convert(VectorOperators.I2F, 0)).sub(c).fma(d0, r0);
            FloatVector d1 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o + 32, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f).mul(d);
            r1 = ((FloatVector) i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .convert(VectorOperators.I2F, 0)).sub(c).fma(d1, r1);
            FloatVector d2 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o + 64, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f).mul(d);
            r2 = ((FloatVector) i2.lanewise(VectorOperators.ASHR, 16).add(i2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .convert(VectorOperators.I2F, 0)).sub(c).fma(d2, r2);
            FloatVector d3 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o + 96, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f).mul(d);
            r3 = ((FloatVector) i3.lanewise(VectorOperators.ASHR, 16).add(i3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .convert(VectorOperators.I2F, 0)).sub(c).fma(d3, r3);
            FloatVector f0 = ((IntVector) ShortVector.fromMemorySegment(S256, w, p, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f).mul(d);
            s0 = ((FloatVector) k0.lanewise(VectorOperators.ASHR, 16).add(k0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .convert(VectorOperators.I2F, 0)).sub(c).fma(f0, s0);
            FloatVector f1 = ((IntVector) ShortVector.fromMemorySegment(S256, w, p + 32, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f).mul(d);
            s1 = ((FloatVector) k1.lanewise(VectorOperators.ASHR, 16).add(k1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .convert(VectorOperators.I2F, 0)).sub(c).fma(f1, s1);
            FloatVector f2 = ((IntVector) ShortVector.fromMemorySegment(S256, w, p + 64, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f).mul(d);
            s2 = ((FloatVector) k2.lanewise(VectorOperators.ASHR, 16).add(k2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .convert(VectorOperators.I2F, 0)).sub(c).fma(f2, s2);
            FloatVector f3 = ((IntVector) ShortVector.fromMemorySegment(S256, w, p + 96, LE).convertShape(VectorOperators.S2I, I512, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f).mul(d);
            s3 = ((FloatVector) k3.lanewise(VectorOperators.ASHR, 16).add(k3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                    .convert(VectorOperators.I2F, 0)).sub(c).fma(f3, s3);
        }
        r0.intoArray(out, 64 * g);
        r1.intoArray(out, 64 * g + 16);
        r2.intoArray(out, 64 * g + 32);
        r3.intoArray(out, 64 * g + 48);
        s0.intoArray(out, 64 * g + 64);
        s1.intoArray(out, 64 * g + 80);
        s2.intoArray(out, 64 * g + 96);
        s3.intoArray(out, 64 * g + 112);
    }

    /**
     * A batched step's Q4_0x64 groups [g0, g1) × two activation vectors at once, each vector's rows
     * bit for bit {@link #q4}'s: the same short arithmetic and block ends, the chunk's load and its
     * three shifts shared by both vectors (13 vector operations per vector and chunk in q4, 11 here).
     */
    static void q4Batch2(MemorySegment w, long off, int[] xpA, float[] xdA, float[] xs8A, int[] xpB, float[] xdB, float[] xs8B, int blocks,
                         float[] outA, float[] outB, int g0, int g1) {
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q4_0x64.BYTES;
            FloatVector r0 = FloatVector.zero(F512), r1 = r0, r2 = r0, r3 = r0, q0 = r0, q1 = r0, q2 = r0, q3 = r0;
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q4_0x64.BYTES;
                ShortVector a0 = ShortVector.zero(S512), a1 = a0, a2 = a0, a3 = a0, e0 = a0, e1 = a0, e2 = a0, e3 = a0;
                int xb = 16 * b;
                for (int j = 0; j < 16; j++) {
                    ShortVector v = ShortVector.fromMemorySegment(S512, w, o + 128 + 64L * j, LE);
                    ShortVector v4 = v.lanewise(VectorOperators.LSHR, 4), v8 = v.lanewise(VectorOperators.LSHR, 8), v12 = v.lanewise(VectorOperators.LSHR, 12);
                    ShortVector x = IntVector.broadcast(I512, xpA[xb + j]).reinterpretAsShorts();
                    a0 = a0.add(v.mul(x));
                    a1 = a1.add(v4.mul(x));
                    a2 = a2.add(v8.mul(x));
                    a3 = a3.add(v12.mul(x));
                    x = IntVector.broadcast(I512, xpB[xb + j]).reinterpretAsShorts();
                    e0 = e0.add(v.mul(x));
                    e1 = e1.add(v4.mul(x));
                    e2 = e2.add(v8.mul(x));
                    e3 = e3.add(v12.mul(x));
                }
                FloatVector w0 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o, LE).convertShape(VectorOperators.S2I, I512, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                FloatVector w1 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o + 32, LE).convertShape(VectorOperators.S2I, I512, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                FloatVector w2 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o + 64, LE).convertShape(VectorOperators.S2I, I512, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                FloatVector w3 = ((IntVector) ShortVector.fromMemorySegment(S256, w, o + 96, LE).convertShape(VectorOperators.S2I, I512, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                float c = xs8A[b], d = xdA[b];
                IntVector i0 = a0.sub(a1.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                IntVector i1 = a1.sub(a2.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                IntVector i2 = a2.sub(a3.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                IntVector i3 = a3.reinterpretAsInts();
                r0 = ((FloatVector) i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).sub(c).fma(w0.mul(d), r0);
                r1 = ((FloatVector) i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).sub(c).fma(w1.mul(d), r1);
                r2 = ((FloatVector) i2.lanewise(VectorOperators.ASHR, 16).add(i2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).sub(c).fma(w2.mul(d), r2);
                r3 = ((FloatVector) i3.lanewise(VectorOperators.ASHR, 16).add(i3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).sub(c).fma(w3.mul(d), r3);
                c = xs8B[b];
                d = xdB[b];
                i0 = e0.sub(e1.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                i1 = e1.sub(e2.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                i2 = e2.sub(e3.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                i3 = e3.reinterpretAsInts();
                q0 = ((FloatVector) i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).sub(c).fma(w0.mul(d), q0);
                q1 = ((FloatVector) i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).sub(c).fma(w1.mul(d), q1);
                q2 = ((FloatVector) i2.lanewise(VectorOperators.ASHR, 16).add(i2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).sub(c).fma(w2.mul(d), q2);
                q3 = ((FloatVector) i3.lanewise(VectorOperators.ASHR, 16).add(i3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).sub(c).fma(w3.mul(d), q3);
            }
            r0.intoArray(outA, 64 * g);
            r1.intoArray(outA, 64 * g + 16);
            r2.intoArray(outA, 64 * g + 32);
            r3.intoArray(outA, 64 * g + 48);
            q0.intoArray(outB, 64 * g);
            q1.intoArray(outB, 64 * g + 16);
            q2.intoArray(outB, 64 * g + 32);
            q3.intoArray(outB, 64 * g + 48);
        }
    }

    /**
     * {@link #q4} in 256-bit vectors: each chunk's first 32 bytes (lanes of rows r < 8) in one pass
     * over the group's blocks, its last 32 (r ≥ 8) in a second — the group (a few tens of KB) is
     * still in cache — so that a pass's eight accumulators fit sixteen registers.
     */
    static void q4x256(MemorySegment w, long off, int[] xp, float[] xd, float[] xs8, int blocks, float[] out, int g0, int g1) {
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q4_0x64.BYTES;
            for (int h = 0; h < 2; h++) {
                FloatVector r0 = FloatVector.zero(F256), r1 = r0, r2 = r0, r3 = r0;
                for (int b = 0; b < blocks; b++) {
                    long o = base + (long) b * Q4_0x64.BYTES;
                    ShortVector a0 = ShortVector.zero(S256), a1 = a0, a2 = a0, a3 = a0;
                    int xb = 16 * b;
                    for (int j = 0; j < 16; j++) {
                        ShortVector v = ShortVector.fromMemorySegment(S256, w, o + 128 + 64L * j + 32 * h, LE);
                        ShortVector x = IntVector.broadcast(I256, xp[xb + j]).reinterpretAsShorts();
                        a0 = a0.add(v.mul(x));
                        a1 = a1.add(v.lanewise(VectorOperators.LSHR, 4).mul(x));
                        a2 = a2.add(v.lanewise(VectorOperators.LSHR, 8).mul(x));
                        a3 = a3.add(v.lanewise(VectorOperators.LSHR, 12).mul(x));
                    }
                    float c = xs8[b], d = xd[b];
                    IntVector i0 = a0.sub(a1.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                    IntVector i1 = a1.sub(a2.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                    IntVector i2 = a2.sub(a3.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                    IntVector i3 = a3.reinterpretAsInts();
                    FloatVector scale0 = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 16 * h, LE).convertShape(VectorOperators.S2I, I256, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                    r0 = ((FloatVector) i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                            .convert(VectorOperators.I2F, 0)).sub(c).fma(scale0.mul(d), r0);
                    FloatVector scale1 = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 32 + 16 * h, LE).convertShape(VectorOperators.S2I, I256, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                    r1 = ((FloatVector) i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                            .convert(VectorOperators.I2F, 0)).sub(c).fma(scale1.mul(d), r1);
                    FloatVector scale2 = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 64 + 16 * h, LE).convertShape(VectorOperators.S2I, I256, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                    r2 = ((FloatVector) i2.lanewise(VectorOperators.ASHR, 16).add(i2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                            .convert(VectorOperators.I2F, 0)).sub(c).fma(scale2.mul(d), r2);
                    FloatVector scale3 = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 96 + 16 * h, LE).convertShape(VectorOperators.S2I, I256, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                    r3 = ((FloatVector) i3.lanewise(VectorOperators.ASHR, 16).add(i3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                            .convert(VectorOperators.I2F, 0)).sub(c).fma(scale3.mul(d), r3);
                }
                r0.intoArray(out, 64 * g + 8 * h);
                r1.intoArray(out, 64 * g + 16 + 8 * h);
                r2.intoArray(out, 64 * g + 32 + 8 * h);
                r3.intoArray(out, 64 * g + 48 + 8 * h);
            }
        }
    }

    /**
     * {@link #q4Batch2} in 256-bit vectors: {@link #q4x256}'s halves of each group (rows 16k + r,
     * r = 0–7, then 8–15) × two activation vectors, each vector's rows bit for bit q4x256's; the
     * chunk's load and its three shifts shared by both.
     */
    static void q4Batch2x256(MemorySegment w, long off, int[] xpA, float[] xdA, float[] xs8A, int[] xpB, float[] xdB, float[] xs8B, int blocks,
                             float[] outA, float[] outB, int g0, int g1) {
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q4_0x64.BYTES;
            for (int h = 0; h < 2; h++) {
                FloatVector r0 = FloatVector.zero(F256), r1 = r0, r2 = r0, r3 = r0, q0 = r0, q1 = r0, q2 = r0, q3 = r0;
                for (int b = 0; b < blocks; b++) {
                    long o = base + (long) b * Q4_0x64.BYTES;
                    ShortVector a0 = ShortVector.zero(S256), a1 = a0, a2 = a0, a3 = a0, e0 = a0, e1 = a0, e2 = a0, e3 = a0;
                    int xb = 16 * b;
                    for (int j = 0; j < 16; j++) {
                        ShortVector v = ShortVector.fromMemorySegment(S256, w, o + 128 + 64L * j + 32 * h, LE);
                        ShortVector v4 = v.lanewise(VectorOperators.LSHR, 4), v8 = v.lanewise(VectorOperators.LSHR, 8), v12 = v.lanewise(VectorOperators.LSHR, 12);
                        ShortVector x = IntVector.broadcast(I256, xpA[xb + j]).reinterpretAsShorts();
                        a0 = a0.add(v.mul(x));
                        a1 = a1.add(v4.mul(x));
                        a2 = a2.add(v8.mul(x));
                        a3 = a3.add(v12.mul(x));
                        x = IntVector.broadcast(I256, xpB[xb + j]).reinterpretAsShorts();
                        e0 = e0.add(v.mul(x));
                        e1 = e1.add(v4.mul(x));
                        e2 = e2.add(v8.mul(x));
                        e3 = e3.add(v12.mul(x));
                    }
                    FloatVector w0 = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 16 * h, LE).convertShape(VectorOperators.S2I, I256, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                    FloatVector w1 = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 32 + 16 * h, LE).convertShape(VectorOperators.S2I, I256, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                    FloatVector w2 = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 64 + 16 * h, LE).convertShape(VectorOperators.S2I, I256, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                    FloatVector w3 = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 96 + 16 * h, LE).convertShape(VectorOperators.S2I, I256, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                    float c = xs8A[b], d = xdA[b];
                    IntVector i0 = a0.sub(a1.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                    IntVector i1 = a1.sub(a2.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                    IntVector i2 = a2.sub(a3.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                    IntVector i3 = a3.reinterpretAsInts();
                    r0 = ((FloatVector) i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                            .convert(VectorOperators.I2F, 0)).sub(c).fma(w0.mul(d), r0);
                    r1 = ((FloatVector) i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                            .convert(VectorOperators.I2F, 0)).sub(c).fma(w1.mul(d), r1);
                    r2 = ((FloatVector) i2.lanewise(VectorOperators.ASHR, 16).add(i2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                            .convert(VectorOperators.I2F, 0)).sub(c).fma(w2.mul(d), r2);
                    r3 = ((FloatVector) i3.lanewise(VectorOperators.ASHR, 16).add(i3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                            .convert(VectorOperators.I2F, 0)).sub(c).fma(w3.mul(d), r3);
                    c = xs8B[b];
                    d = xdB[b];
                    i0 = e0.sub(e1.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                    i1 = e1.sub(e2.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                    i2 = e2.sub(e3.lanewise(VectorOperators.LSHL, 4)).reinterpretAsInts();
                    i3 = e3.reinterpretAsInts();
                    q0 = ((FloatVector) i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                            .convert(VectorOperators.I2F, 0)).sub(c).fma(w0.mul(d), q0);
                    q1 = ((FloatVector) i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                            .convert(VectorOperators.I2F, 0)).sub(c).fma(w1.mul(d), q1);
                    q2 = ((FloatVector) i2.lanewise(VectorOperators.ASHR, 16).add(i2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                            .convert(VectorOperators.I2F, 0)).sub(c).fma(w2.mul(d), q2);
                    q3 = ((FloatVector) i3.lanewise(VectorOperators.ASHR, 16).add(i3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                            .convert(VectorOperators.I2F, 0)).sub(c).fma(w3.mul(d), q3);
                }
                r0.intoArray(outA, 64 * g + 8 * h);
                r1.intoArray(outA, 64 * g + 16 + 8 * h);
                r2.intoArray(outA, 64 * g + 32 + 8 * h);
                r3.intoArray(outA, 64 * g + 48 + 8 * h);
                q0.intoArray(outB, 64 * g + 8 * h);
                q1.intoArray(outB, 64 * g + 16 + 8 * h);
                q2.intoArray(outB, 64 * g + 32 + 8 * h);
                q3.intoArray(outB, 64 * g + 48 + 8 * h);
            }
        }
    }

    private static final VectorSpecies<Byte> B512 = ByteVector.SPECIES_512;
    private static final VectorSpecies<Long> L256 = LongVector.SPECIES_256, L512 = LongVector.SPECIES_512;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    /**
     * Bytes of eight chunks' quads (chunk j's 8 bytes at 8j, row q's pair of codes at 8j + 2q)
     * regrouped by row: row q's sixteen codes, in column order, at 16q.
     */
    private static final VectorShuffle<Byte> QUAD_ROWS = VectorShuffle.fromOp(B512, i -> 8 * ((i % 16) / 2) + 2 * (i / 16) + i % 2);
    /** {@link #QUAD_ROWS} for four chunks (256-bit): row q's eight codes at 8q. */
    private static final VectorShuffle<Byte> QUAD_ROWS_256 = VectorShuffle.fromOp(B256, i -> 8 * ((i % 8) / 2) + 2 * (i / 8) + i % 2);

    /**
     * Four rows' codes regrouped by row (row i's sixteen in bytes 16i… of {@code lo}, its next
     * sixteen in {@code hi}) widened to floats times the rows' scales, stored at at0…at3. Small
     * enough for C2 to inline into the row kernels (a helper it did not inline would box the vectors).
     */
    private static void widenQuad(ByteVector lo, ByteVector hi, float d0, float d1, float d2, float d3, float[] y, int at0, int at1, int at2, int at3) {
        widenQuad(lo, hi, d0, d1, d2, d3, d0, d1, d2, d3, y, at0, at1, at2, at3);
    }

    /** {@link #widenQuad} with the sixteen codes in {@code hi} scaled by e0…e3 (Q6_K: the next sub-block's scales). */
    private static void widenQuad(ByteVector lo, ByteVector hi, float d0, float d1, float d2, float d3, float e0, float e1, float e2, float e3,
                                  float[] y, int at0, int at1, int at2, int at3) {
        ((FloatVector) lo.convertShape(VectorOperators.B2F, F512, 0)).mul(d0).intoArray(y, at0);
        ((FloatVector) hi.convertShape(VectorOperators.B2F, F512, 0)).mul(e0).intoArray(y, at0 + 16);
        ((FloatVector) lo.convertShape(VectorOperators.B2F, F512, 1)).mul(d1).intoArray(y, at1);
        ((FloatVector) hi.convertShape(VectorOperators.B2F, F512, 1)).mul(e1).intoArray(y, at1 + 16);
        ((FloatVector) lo.convertShape(VectorOperators.B2F, F512, 2)).mul(d2).intoArray(y, at2);
        ((FloatVector) hi.convertShape(VectorOperators.B2F, F512, 2)).mul(e2).intoArray(y, at2 + 16);
        ((FloatVector) lo.convertShape(VectorOperators.B2F, F512, 3)).mul(d3).intoArray(y, at3);
        ((FloatVector) hi.convertShape(VectorOperators.B2F, F512, 3)).mul(e3).intoArray(y, at3 + 16);
    }

    /** {@link #widenQuad} for 256-bit shapes: row i's eight codes in bytes 8i… of {@code v}. */
    private static void widenQuad256(ByteVector v, float d0, float d1, float d2, float d3, float[] y, int at0, int at1, int at2, int at3) {
        ((FloatVector) v.convertShape(VectorOperators.B2F, F256, 0)).mul(d0).intoArray(y, at0);
        ((FloatVector) v.convertShape(VectorOperators.B2F, F256, 1)).mul(d1).intoArray(y, at1);
        ((FloatVector) v.convertShape(VectorOperators.B2F, F256, 2)).mul(d2).intoArray(y, at2);
        ((FloatVector) v.convertShape(VectorOperators.B2F, F256, 3)).mul(d3).intoArray(y, at3);
    }

    /**
     * Rows [r0, r0 + count) (multiples of 4) of a Q8_0x16 matrix as floats, row r − r0 at
     * y[yOff + (r − r0)·cols]: the rows a prompt's GEMM takes four at a time. A quad of rows owns 8
     * bytes of every chunk; those are gathered as longs, regrouped by row with one byte shuffle,
     * and widened to floats times the rows' scales.
     */
    static void q8Rows(boolean wide, MemorySegment w, long off, int cols, int r0, int count, float[] y, int yOff) {
        int blocks = cols / 32;
        long[] all = wide ? null : new long[16 * blocks];
        for (int r = r0; r < r0 + count; r += 4) {
            long base = off + (long) (r / 16) * blocks * Q8_0x16.BYTES;
            int quad = (r % 16) / 4, y0 = yOff + (r - r0) * cols, y1 = y0 + cols, y2 = y1 + cols, y3 = y2 + cols;
            LongVector pick = PICK[quad];
            if (!wide) gatherQuads(w, base, blocks, Q8_0x16.BYTES, 32, 16, quad, all);
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q8_0x16.BYTES;
                float d0 = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 8 * quad)), d1 = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 8 * quad + 2)),
                        d2 = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 8 * quad + 4)), d3 = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 8 * quad + 6));
                int c = 32 * b;
                if (wide) {
                    ByteVector lo = quadOf8Chunks(w, o + 32, pick).reinterpretAsBytes().rearrange(QUAD_ROWS);
                    ByteVector hi = quadOf8Chunks(w, o + 32 + 256, pick).reinterpretAsBytes().rearrange(QUAD_ROWS);
                    widenQuad(lo, hi, d0, d1, d2, d3, y, y0 + c, y1 + c, y2 + c, y3 + c);
                } else {
                    for (int part = 0, t = 16 * b; part < 4; part++, c += 8, t += 4) {
                        ByteVector v = LongVector.fromArray(L256, all, t).reinterpretAsBytes().rearrange(QUAD_ROWS_256);
                        widenQuad256(v, d0, d1, d2, d3, y, y0 + c, y1 + c, y2 + c, y3 + c);
                    }
                }
            }
        }
    }

    private static final VectorSpecies<Float> F128 = FloatVector.SPECIES_128;
    /** Four chunks' quad codes ({@link #q4Quad}: column 2j + e of row i at 8j + 2i + e) regrouped by row: row i's eight columns at 8i. */
    private static final VectorShuffle<Short> QUAD_COLUMNS = VectorShuffle.fromOp(S512, p -> 8 * ((p % 8) / 2) + 2 * (p / 8) + p % 2);
    /** {@link #QUAD_COLUMNS} for two chunks (256-bit): row i's four columns at 4i. */
    private static final VectorShuffle<Short> QUAD_COLUMNS_256 = VectorShuffle.fromOp(S256, p -> 8 * ((p % 4) / 2) + 2 * (p / 4) + p % 2);

    /**
     * The codes − 8 of rows 16·nibble + lane … + 3 (lane a multiple of 4) of the Q4_0x64 group-block
     * at o, as shorts into codes[at…]: column 2j + e of row i at at + 8j + 2i + e — chunk j's 16 bytes
     * of those lanes, shifted to the nibble. A prompt's GEMM multiplies them; {@link #q4Rows} widens them.
     */
    static void q4Quad(MemorySegment w, long o, int nibble, int lane, short[] codes, int at) {
        int shift = 4 * nibble;
        for (int j = 0; j < 16; j++) {
            ShortVector.fromMemorySegment(S128, w, o + 128 + 64L * j + 4 * lane, LE).lanewise(VectorOperators.LSHR, shift).and((short) 0x0f).sub((short) 8)
                    .intoArray(codes, at + 8 * j);
        }
    }

    /**
     * {@link #q8Rows} for Q4_0x64: per quad of rows and block the quad's codes ({@link #q4Quad}),
     * regrouped by row four (or two) chunks at a time and widened to floats times the rows' scales.
     */
    static void q4Rows(boolean wide, MemorySegment w, long off, int cols, int r0, int count, float[] y, int yOff) {
        int blocks = cols / 32;
        short[] q = new short[128];
        for (int r = r0; r < r0 + count; r += 4) {
            long base = off + (long) (r / Q4_0x64.ROWS) * blocks * Q4_0x64.BYTES;
            int nibble = (r % Q4_0x64.ROWS) / 16, lane = r % 16, y0 = yOff + (r - r0) * cols, y1 = y0 + cols, y2 = y1 + cols, y3 = y2 + cols;
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q4_0x64.BYTES;
                q4Quad(w, o, nibble, lane, q, 0);
                long so = o + 2L * (r % Q4_0x64.ROWS);
                float d0 = Float.float16ToFloat(w.get(Q8_0Block.F16, so)), d1 = Float.float16ToFloat(w.get(Q8_0Block.F16, so + 2)),
                        d2 = Float.float16ToFloat(w.get(Q8_0Block.F16, so + 4)), d3 = Float.float16ToFloat(w.get(Q8_0Block.F16, so + 6));
                int c = 32 * b;
                if (wide) {
                    for (int m = 0; m < 4; m++, c += 8) {
                        ShortVector v = ShortVector.fromArray(S512, q, 32 * m).rearrange(QUAD_COLUMNS);
                        ((FloatVector) v.convertShape(VectorOperators.S2F, F256, 0)).mul(d0).intoArray(y, y0 + c);
                        ((FloatVector) v.convertShape(VectorOperators.S2F, F256, 1)).mul(d1).intoArray(y, y1 + c);
                        ((FloatVector) v.convertShape(VectorOperators.S2F, F256, 2)).mul(d2).intoArray(y, y2 + c);
                        ((FloatVector) v.convertShape(VectorOperators.S2F, F256, 3)).mul(d3).intoArray(y, y3 + c);
                    }
                } else {
                    for (int m = 0; m < 8; m++, c += 4) {
                        ShortVector v = ShortVector.fromArray(S256, q, 16 * m).rearrange(QUAD_COLUMNS_256);
                        ((FloatVector) v.convertShape(VectorOperators.S2F, F128, 0)).mul(d0).intoArray(y, y0 + c);
                        ((FloatVector) v.convertShape(VectorOperators.S2F, F128, 1)).mul(d1).intoArray(y, y1 + c);
                        ((FloatVector) v.convertShape(VectorOperators.S2F, F128, 2)).mul(d2).intoArray(y, y2 + c);
                        ((FloatVector) v.convertShape(VectorOperators.S2F, F128, 3)).mul(d3).intoArray(y, y3 + c);
                    }
                }
            }
        }
    }

    /**
     * {@link #q8Rows} for Q6_Kx16: per 32 columns sixteen pieces, columns 0–15 scaled by their
     * sub-block's d·sc and 16–31 by the next one's (the file's value: (d·sc)·(code − 32)).
     */
    static void q6kRows(boolean wide, MemorySegment w, long off, int cols, int r0, int count, float[] y, int yOff) {
        int blocks = cols / 256;
        long[] all = wide ? null : new long[128 * blocks];
        float[] d = new float[4], s = new float[8];
        for (int r = r0; r < r0 + count; r += 4) {
            long base = off + (long) (r / 16) * blocks * Q6_Kx16.BYTES;
            int quad = (r % 16) / 4, y0 = yOff + (r - r0) * cols, y1 = y0 + cols, y2 = y1 + cols, y3 = y2 + cols;
            LongVector pick = PICK[quad];
            if (!wide) gatherQuads(w, base, blocks, Q6_Kx16.BYTES, Q6_Kx16.CODES, 128, quad, all);
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q6_Kx16.BYTES;
                for (int i = 0; i < 4; i++) d[i] = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 8 * quad + 2 * i));
                for (int k = 0; k < 8; k++) {
                    for (int i = 0; i < 4; i++) {
                        s[i] = d[i] * w.get(ValueLayout.JAVA_BYTE, o + 32 + 16 * (2 * k) + 4 * quad + i);
                        s[4 + i] = d[i] * w.get(ValueLayout.JAVA_BYTE, o + 32 + 16 * (2 * k + 1) + 4 * quad + i);
                    }
                    int c = 256 * b + 32 * k;
                    if (wide) {
                        long q = o + Q6_Kx16.CODES + 512L * k;
                        ByteVector lo = quadOf8Chunks(w, q, pick).reinterpretAsBytes().rearrange(QUAD_ROWS);
                        ByteVector hi = quadOf8Chunks(w, q + 256, pick).reinterpretAsBytes().rearrange(QUAD_ROWS);
                        widenQuad(lo, hi, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], y, y0 + c, y1 + c, y2 + c, y3 + c);
                    } else {
                        for (int part = 0, t = 128 * b + 16 * k; part < 4; part++, c += 8, t += 4) {
                            ByteVector v = LongVector.fromArray(L256, all, t).reinterpretAsBytes().rearrange(QUAD_ROWS_256);
                            int h = part < 2 ? 0 : 4;
                            widenQuad256(v, s[h], s[h + 1], s[h + 2], s[h + 3], y, y0 + c, y1 + c, y2 + c, y3 + c);
                        }
                    }
                }
            }
        }
    }

    /**
     * Two-source long permutes that pull one quad of rows out of eight chunks (four 64-byte loads,
     * two chunks each, quad q's 8 bytes at long lanes q and 4 + q): PICK[q] takes those lanes from
     * two loads into the low half, JOIN puts two such halves together.
     */
    private static final LongVector[] PICK = new LongVector[4];
    private static final LongVector JOIN = LongVector.fromArray(L512, new long[] {0, 1, 2, 3, 8, 9, 10, 11}, 0);

    static {
        for (int q = 0; q < 4; q++) PICK[q] = LongVector.fromArray(L512, new long[] {q, 4 + q, 8 + q, 12 + q, q, 4 + q, 8 + q, 12 + q}, 0);
    }

    /** Quad q's 8 bytes of the eight chunks at o, in chunk order (chunk j's at byte 8j). */
    private static LongVector quadOf8Chunks(MemorySegment w, long o, LongVector pick) {
        LongVector a = pick.selectFrom(LongVector.fromMemorySegment(L512, w, o, LE), LongVector.fromMemorySegment(L512, w, o + 64, LE));
        LongVector b = pick.selectFrom(LongVector.fromMemorySegment(L512, w, o + 128, LE), LongVector.fromMemorySegment(L512, w, o + 192, LE));
        return JOIN.selectFrom(a, b);
    }

    /**
     * The 256-bit shapes' gather: quad q's longs of every chunk of every block into {@code all}
     * first — a vector load of longs just stored one by one would wait for the stores to drain
     * (store forwarding works for same-sized accesses only).
     */
    private static void gatherQuads(MemorySegment w, long base, int blocks, int bytes, int codes, int chunks, int quad, long[] all) {
        for (int b = 0; b < blocks; b++) {
            for (int j = 0; j < chunks; j++) all[chunks * b + j] = w.get(I64, base + (long) b * bytes + codes + 32L * j + 8 * quad);
        }
    }

    private static final VectorSpecies<Byte> B64 = ByteVector.SPECIES_64;

    /** Sixteen rows' unsigned bytes at o (a sub-block's scales or mins) as ints. */
    private static IntVector bytes16(MemorySegment w, long o) {
        return (IntVector) ByteVector.fromMemorySegment(B128, w, o, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I512, 0);
    }

    /** Sixteen rows' signed bytes at o (Q6_K's sub-block scales) as ints. */
    private static IntVector signedBytes16(MemorySegment w, long o) {
        return (IntVector) ByteVector.fromMemorySegment(B128, w, o, LE).convertShape(VectorOperators.B2I, I512, 0);
    }

    /** Eight rows' signed bytes at o as ints (256-bit shapes). */
    private static IntVector signedBytes8(MemorySegment w, long o) {
        return (IntVector) ByteVector.fromMemorySegment(B64, w, o, LE).convertShape(VectorOperators.B2I, I256, 0);
    }

    /** Eight rows' unsigned bytes at o as ints (256-bit shapes). */
    private static IntVector bytes8(MemorySegment w, long o) {
        return (IntVector) ByteVector.fromMemorySegment(B64, w, o, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I256, 0);
    }

    /**
     * Q4_Kx16 groups [g0, g1): per 64-value chunk, two 16-bit multiply-accumulates per 32-byte
     * piece, its 32 bytes zero-extended to shorts, the low nibbles masked and the high ones shifted
     * down, times broadcast activation pairs, over the sixteen pieces (low nibbles: sub-block 2c,
     * high: 2c + 1; |Σ| ≤ 16·15·127 per lane), adjacent lanes summed to ints and multiplied by the sub-blocks' scales; the mins'
     * term is the mins times the activations' sums per 32. Per super-block, two fused
     * multiply-adds: by d·xd and by −dmin·xd.
     */
    static void q4k(MemorySegment w, long off, int[] xp, float[] xd, int[] xsum32, int blocks, float[] out, int g0, int g1) {
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q4_Kx16.BYTES;
            FloatVector acc = FloatVector.zero(F512);
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q4_Kx16.BYTES;
                IntVector scaled = IntVector.zero(I512), mins = scaled;
                for (int c = 0; c < 4; c++) {
                    ShortVector s0 = ShortVector.zero(S512), s1 = s0;
                    long q = o + 320 + 512L * c;
                    int xc = 128 * b + 32 * c;
                    for (int j = 0; j < 16; j++) {
                        ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B256, w, q + 32L * j, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S512, 0);
                        s0 = s0.add(v.and((short) 0x0f).mul(IntVector.broadcast(I512, xp[xc + j]).reinterpretAsShorts()));
                        s1 = s1.add(v.lanewise(VectorOperators.LSHR, 4).mul(IntVector.broadcast(I512, xp[xc + 16 + j]).reinterpretAsShorts()));
                    }
                    IntVector i0 = s0.reinterpretAsInts(), i1 = s1.reinterpretAsInts();
                    i0 = i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    i1 = i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    scaled = scaled.add(i0.mul(bytes16(w, o + 64 + 32L * c))).add(i1.mul(bytes16(w, o + 80 + 32L * c)));
                    mins = mins.add(bytes16(w, o + 192 + 32L * c).mul(xsum32[8 * b + 2 * c])).add(bytes16(w, o + 208 + 32L * c).mul(xsum32[8 * b + 2 * c + 1]));
                }
                FloatVector d = ((IntVector) ShortVector.fromMemorySegment(S256, w, o, LE).convertShape(VectorOperators.S2I, I512, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                FloatVector dmin = ((IntVector) ShortVector.fromMemorySegment(S256, w, o + 32, LE).convertShape(VectorOperators.S2I, I512, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                acc = ((FloatVector) scaled.convert(VectorOperators.I2F, 0)).fma(d.mul(xd[b]), acc);
                acc = ((FloatVector) mins.convert(VectorOperators.I2F, 0)).fma(dmin.mul(-xd[b]), acc);
            }
            acc.intoArray(out, 16 * g);
        }
    }

    /**
     * A batched step's Q4_Kx16 groups [g0, g1) × two activation vectors at once, each vector's rows bit
     * for bit {@link #q4k}'s (the same operations on its own accumulators, in the same order); the
     * chunk's load, widening and nibble split, and the block's scale and min bytes, shared by both.
     */
    static void q4kBatch2(MemorySegment w, long off, int[] xpA, float[] xdA, int[] xsumA, int[] xpB, float[] xdB, int[] xsumB, int blocks,
                          float[] outA, float[] outB, int g0, int g1) {
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q4_Kx16.BYTES;
            FloatVector accA = FloatVector.zero(F512), accB = accA;
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q4_Kx16.BYTES;
                IntVector scaledA = IntVector.zero(I512), minsA = scaledA, scaledB = scaledA, minsB = scaledA;
                for (int c = 0; c < 4; c++) {
                    ShortVector s0 = ShortVector.zero(S512), s1 = s0, t0 = s0, t1 = s0;
                    long q = o + 320 + 512L * c;
                    int xc = 128 * b + 32 * c;
                    for (int j = 0; j < 16; j++) {
                        ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B256, w, q + 32L * j, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S512, 0);
                        ShortVector lo = v.and((short) 0x0f), hi = v.lanewise(VectorOperators.LSHR, 4);
                        s0 = s0.add(lo.mul(IntVector.broadcast(I512, xpA[xc + j]).reinterpretAsShorts()));
                        s1 = s1.add(hi.mul(IntVector.broadcast(I512, xpA[xc + 16 + j]).reinterpretAsShorts()));
                        t0 = t0.add(lo.mul(IntVector.broadcast(I512, xpB[xc + j]).reinterpretAsShorts()));
                        t1 = t1.add(hi.mul(IntVector.broadcast(I512, xpB[xc + 16 + j]).reinterpretAsShorts()));
                    }
                    IntVector sc0 = bytes16(w, o + 64 + 32L * c), sc1 = bytes16(w, o + 80 + 32L * c);
                    IntVector m0 = bytes16(w, o + 192 + 32L * c), m1 = bytes16(w, o + 208 + 32L * c);
                    IntVector i0 = s0.reinterpretAsInts(), i1 = s1.reinterpretAsInts();
                    i0 = i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    i1 = i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    scaledA = scaledA.add(i0.mul(sc0)).add(i1.mul(sc1));
                    minsA = minsA.add(m0.mul(xsumA[8 * b + 2 * c])).add(m1.mul(xsumA[8 * b + 2 * c + 1]));
                    i0 = t0.reinterpretAsInts();
                    i1 = t1.reinterpretAsInts();
                    i0 = i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    i1 = i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    scaledB = scaledB.add(i0.mul(sc0)).add(i1.mul(sc1));
                    minsB = minsB.add(m0.mul(xsumB[8 * b + 2 * c])).add(m1.mul(xsumB[8 * b + 2 * c + 1]));
                }
                FloatVector d = ((IntVector) ShortVector.fromMemorySegment(S256, w, o, LE).convertShape(VectorOperators.S2I, I512, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                FloatVector dmin = ((IntVector) ShortVector.fromMemorySegment(S256, w, o + 32, LE).convertShape(VectorOperators.S2I, I512, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                accA = ((FloatVector) scaledA.convert(VectorOperators.I2F, 0)).fma(d.mul(xdA[b]), accA);
                accA = ((FloatVector) minsA.convert(VectorOperators.I2F, 0)).fma(dmin.mul(-xdA[b]), accA);
                accB = ((FloatVector) scaledB.convert(VectorOperators.I2F, 0)).fma(d.mul(xdB[b]), accB);
                accB = ((FloatVector) minsB.convert(VectorOperators.I2F, 0)).fma(dmin.mul(-xdB[b]), accB);
            }
            accA.intoArray(outA, 16 * g);
            accB.intoArray(outB, 16 * g);
        }
    }

    /**
     * {@link #q4k} in 256-bit vectors: each group's rows 0–7, then 8–15 ({@link #q4kHalf256}; the
     * group's bytes are in L1 or L2 the second time). One method for all sixteen rows held twice
     * the vectors and passed C2's node budget: its scale loads were not inlined and boxed (7.7
     * against 15 GB/s).
     */
    static void q4kx256(MemorySegment w, long off, int[] xp, float[] xd, int[] xsum32, int blocks, float[] out, int g0, int g1) {
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q4_Kx16.BYTES;
            q4kHalf256(w, base, xp, xd, xsum32, blocks, out, 16 * g, 0);
            q4kHalf256(w, base, xp, xd, xsum32, blocks, out, 16 * g + 8, 8);
        }
    }

    /** Rows h … h + 7 (h = 0 or 8) of the Q4_Kx16 group at base into out[at …]: {@link #q4k}'s steps on their byte halves. */
    private static void q4kHalf256(MemorySegment w, long base, int[] xp, float[] xd, int[] xsum32, int blocks, float[] out, int at, int h) {
        FloatVector acc = FloatVector.zero(F256);
        for (int b = 0; b < blocks; b++) {
            long o = base + (long) b * Q4_Kx16.BYTES;
            IntVector scaled = IntVector.zero(I256), mins = scaled;
            for (int c = 0; c < 4; c++) {
                ShortVector a0 = ShortVector.zero(S256), a1 = a0;
                long q = o + 320 + 512L * c + 2 * h;
                int xc = 128 * b + 32 * c;
                for (int j = 0; j < 16; j++) {
                    ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B128, w, q + 32L * j, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
                    a0 = a0.add(v.and((short) 0x0f).mul(IntVector.broadcast(I256, xp[xc + j]).reinterpretAsShorts()));
                    a1 = a1.add(v.lanewise(VectorOperators.LSHR, 4).mul(IntVector.broadcast(I256, xp[xc + 16 + j]).reinterpretAsShorts()));
                }
                IntVector i0 = a0.reinterpretAsInts(), i1 = a1.reinterpretAsInts();
                i0 = i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                i1 = i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                long sc = o + 64 + 32L * c + h, mn = o + 192 + 32L * c + h;
                scaled = scaled.add(i0.mul(bytes8(w, sc))).add(i1.mul(bytes8(w, sc + 16)));
                mins = mins.add(bytes8(w, mn).mul(xsum32[8 * b + 2 * c])).add(bytes8(w, mn + 16).mul(xsum32[8 * b + 2 * c + 1]));
            }
            FloatVector d = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 2 * h, LE).convertShape(VectorOperators.S2I, I256, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
            FloatVector dmin = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 32 + 2 * h, LE).convertShape(VectorOperators.S2I, I256, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
            acc = ((FloatVector) scaled.convert(VectorOperators.I2F, 0)).fma(d.mul(xd[b]), acc);
            acc = ((FloatVector) mins.convert(VectorOperators.I2F, 0)).fma(dmin.mul(-xd[b]), acc);
        }
        acc.intoArray(out, at);
    }

    /**
     * Q6_Kx16 groups [g0, g1): per sub-block of 16 columns, eight 32-byte pieces widened to shorts
     * times the activation pairs, accumulated in shorts (|Σ| ≤ 8·32·127), adjacent lanes summed to
     * ints and multiplied by the sixteen rows' scales; per super-block one fused multiply-add by d·xd.
     */
    static void q6k(MemorySegment w, long off, int[] xp, float[] xd, int blocks, float[] out, int g0, int g1) {
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q6_Kx16.BYTES;
            FloatVector acc = FloatVector.zero(F512);
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q6_Kx16.BYTES;
                IntVector scaled = IntVector.zero(I512);
                for (int j = 0; j < 16; j++) {
                    ShortVector s = ShortVector.zero(S512);
                    long q = o + Q6_Kx16.CODES + 256L * j;
                    int xj = 128 * b + 8 * j;
                    for (int p = 0; p < 8; p++) {
                        ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B256, w, q + 32L * p, LE).convertShape(VectorOperators.B2S, S512, 0);
                        s = s.add(v.mul(IntVector.broadcast(I512, xp[xj + p]).reinterpretAsShorts()));
                    }
                    IntVector i = s.reinterpretAsInts();
                    i = i.lanewise(VectorOperators.ASHR, 16).add(i.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    scaled = scaled.add(i.mul(signedBytes16(w, o + 32 + 16L * j)));
                }
                FloatVector scale = ((IntVector) ShortVector.fromMemorySegment(S256, w, o, LE).convertShape(VectorOperators.S2I, I512, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                acc = ((FloatVector) scaled.convert(VectorOperators.I2F, 0)).fma(scale.mul(xd[b]), acc);
            }
            acc.intoArray(out, 16 * g);
        }
    }

    /**
     * A batched step's Q6_Kx16 groups [g0, g1) × two activation vectors at once, each vector's rows bit
     * for bit {@link #q6k}'s; each piece's load and widening, and the sub-blocks' scales, shared by both.
     */
    static void q6kBatch2(MemorySegment w, long off, int[] xpA, float[] xdA, int[] xpB, float[] xdB, int blocks, float[] outA, float[] outB,
                          int g0, int g1) {
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q6_Kx16.BYTES;
            FloatVector accA = FloatVector.zero(F512), accB = accA;
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q6_Kx16.BYTES;
                IntVector scaledA = IntVector.zero(I512), scaledB = scaledA;
                for (int j = 0; j < 16; j++) {
                    ShortVector s = ShortVector.zero(S512), t = s;
                    long q = o + Q6_Kx16.CODES + 256L * j;
                    int xj = 128 * b + 8 * j;
                    for (int p = 0; p < 8; p++) {
                        ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B256, w, q + 32L * p, LE).convertShape(VectorOperators.B2S, S512, 0);
                        s = s.add(v.mul(IntVector.broadcast(I512, xpA[xj + p]).reinterpretAsShorts()));
                        t = t.add(v.mul(IntVector.broadcast(I512, xpB[xj + p]).reinterpretAsShorts()));
                    }
                    IntVector sc = signedBytes16(w, o + 32 + 16L * j);
                    IntVector i = s.reinterpretAsInts();
                    i = i.lanewise(VectorOperators.ASHR, 16).add(i.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    scaledA = scaledA.add(i.mul(sc));
                    i = t.reinterpretAsInts();
                    i = i.lanewise(VectorOperators.ASHR, 16).add(i.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    scaledB = scaledB.add(i.mul(sc));
                }
                FloatVector scale = ((IntVector) ShortVector.fromMemorySegment(S256, w, o, LE).convertShape(VectorOperators.S2I, I512, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                accA = ((FloatVector) scaledA.convert(VectorOperators.I2F, 0)).fma(scale.mul(xdA[b]), accA);
                accB = ((FloatVector) scaledB.convert(VectorOperators.I2F, 0)).fma(scale.mul(xdB[b]), accB);
            }
            accA.intoArray(outA, 16 * g);
            accB.intoArray(outB, 16 * g);
        }
    }

    /** {@link #q6kBatch2} for four vectors (xp[k], xd[k], out[k]). */
    static void q6kBatch4(MemorySegment w, long off, int[][] xp, float[][] xd, int blocks, float[][] out, int g0, int g1) {
        int[] x0 = xp[0], x1 = xp[1], x2 = xp[2], x3 = xp[3];
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q6_Kx16.BYTES;
            FloatVector acc0 = FloatVector.zero(F512), acc1 = acc0, acc2 = acc0, acc3 = acc0;
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q6_Kx16.BYTES;
                IntVector sc0 = IntVector.zero(I512), sc1 = sc0, sc2 = sc0, sc3 = sc0;
                for (int j = 0; j < 16; j++) {
                    ShortVector s0 = ShortVector.zero(S512), s1 = s0, s2 = s0, s3 = s0;
                    long q = o + Q6_Kx16.CODES + 256L * j;
                    int xj = 128 * b + 8 * j;
                    for (int p = 0; p < 8; p++) {
                        ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B256, w, q + 32L * p, LE).convertShape(VectorOperators.B2S, S512, 0);
                        s0 = s0.add(v.mul(IntVector.broadcast(I512, x0[xj + p]).reinterpretAsShorts()));
                        s1 = s1.add(v.mul(IntVector.broadcast(I512, x1[xj + p]).reinterpretAsShorts()));
                        s2 = s2.add(v.mul(IntVector.broadcast(I512, x2[xj + p]).reinterpretAsShorts()));
                        s3 = s3.add(v.mul(IntVector.broadcast(I512, x3[xj + p]).reinterpretAsShorts()));
                    }
                    IntVector sc = signedBytes16(w, o + 32 + 16L * j);
                    IntVector i0 = s0.reinterpretAsInts();
                    sc0 = sc0.add(i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).mul(sc));
                    IntVector i1 = s1.reinterpretAsInts();
                    sc1 = sc1.add(i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).mul(sc));
                    IntVector i2 = s2.reinterpretAsInts();
                    sc2 = sc2.add(i2.lanewise(VectorOperators.ASHR, 16).add(i2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).mul(sc));
                    IntVector i3 = s3.reinterpretAsInts();
                    sc3 = sc3.add(i3.lanewise(VectorOperators.ASHR, 16).add(i3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).mul(sc));
                }
                FloatVector scale = ((IntVector) ShortVector.fromMemorySegment(S256, w, o, LE).convertShape(VectorOperators.S2I, I512, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                acc0 = ((FloatVector) sc0.convert(VectorOperators.I2F, 0)).fma(scale.mul(xd[0][b]), acc0);
                acc1 = ((FloatVector) sc1.convert(VectorOperators.I2F, 0)).fma(scale.mul(xd[1][b]), acc1);
                acc2 = ((FloatVector) sc2.convert(VectorOperators.I2F, 0)).fma(scale.mul(xd[2][b]), acc2);
                acc3 = ((FloatVector) sc3.convert(VectorOperators.I2F, 0)).fma(scale.mul(xd[3][b]), acc3);
            }
            acc0.intoArray(out[0], 16 * g);
            acc1.intoArray(out[1], 16 * g);
            acc2.intoArray(out[2], 16 * g);
            acc3.intoArray(out[3], 16 * g);
        }
    }

    /** {@link #q6k} in 256-bit vectors, rows 0–7 and 8–15 in halves. */
    static void q6kx256(MemorySegment w, long off, int[] xp, float[] xd, int blocks, float[] out, int g0, int g1) {
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q6_Kx16.BYTES;
            FloatVector lo = FloatVector.zero(F256), hi = lo;
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q6_Kx16.BYTES;
                IntVector scaledLo = IntVector.zero(I256), scaledHi = scaledLo;
                for (int j = 0; j < 16; j++) {
                    ShortVector s0 = ShortVector.zero(S256), s1 = s0;
                    long q = o + Q6_Kx16.CODES + 256L * j;
                    int xj = 128 * b + 8 * j;
                    for (int p = 0; p < 8; p++) {
                        ShortVector x = IntVector.broadcast(I256, xp[xj + p]).reinterpretAsShorts();
                        s0 = s0.add(((ShortVector) ByteVector.fromMemorySegment(B128, w, q + 32L * p, LE).convertShape(VectorOperators.B2S, S256, 0)).mul(x));
                        s1 = s1.add(((ShortVector) ByteVector.fromMemorySegment(B128, w, q + 32L * p + 16, LE).convertShape(VectorOperators.B2S, S256, 0)).mul(x));
                    }
                    IntVector i0 = s0.reinterpretAsInts(), i1 = s1.reinterpretAsInts();
                    i0 = i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    i1 = i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    scaledLo = scaledLo.add(i0.mul(signedBytes8(w, o + 32 + 16L * j)));
                    scaledHi = scaledHi.add(i1.mul(signedBytes8(w, o + 40 + 16L * j)));
                }
                FloatVector scaleLo = ((IntVector) ShortVector.fromMemorySegment(S128, w, o, LE).convertShape(VectorOperators.S2I, I256, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                lo = ((FloatVector) scaledLo.convert(VectorOperators.I2F, 0)).fma(scaleLo.mul(xd[b]), lo);
                FloatVector scaleHi = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 16, LE).convertShape(VectorOperators.S2I, I256, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                hi = ((FloatVector) scaledHi.convert(VectorOperators.I2F, 0)).fma(scaleHi.mul(xd[b]), hi);
            }
            lo.intoArray(out, 16 * g);
            hi.intoArray(out, 16 * g + 8);
        }
    }

    /**
     * {@link #q6kBatch2} in 256-bit vectors: {@link #q6kx256}'s steps × two activation vectors, each
     * vector's rows bit for bit q6kx256's; each piece's loads and widening, and the sub-block's scale
     * bytes, shared by both.
     */
    static void q6kBatch2x256(MemorySegment w, long off, int[] xpA, float[] xdA, int[] xpB, float[] xdB, int blocks, float[] outA, float[] outB,
                              int g0, int g1) {
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q6_Kx16.BYTES;
            FloatVector loA = FloatVector.zero(F256), hiA = loA, loB = loA, hiB = loA;
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q6_Kx16.BYTES;
                IntVector scaledLoA = IntVector.zero(I256), scaledHiA = scaledLoA, scaledLoB = scaledLoA, scaledHiB = scaledLoA;
                for (int j = 0; j < 16; j++) {
                    ShortVector s0 = ShortVector.zero(S256), s1 = s0, t0 = s0, t1 = s0;
                    long q = o + Q6_Kx16.CODES + 256L * j;
                    int xj = 128 * b + 8 * j;
                    for (int p = 0; p < 8; p++) {
                        ShortVector v0 = (ShortVector) ByteVector.fromMemorySegment(B128, w, q + 32L * p, LE).convertShape(VectorOperators.B2S, S256, 0);
                        ShortVector v1 = (ShortVector) ByteVector.fromMemorySegment(B128, w, q + 32L * p + 16, LE).convertShape(VectorOperators.B2S, S256, 0);
                        ShortVector x = IntVector.broadcast(I256, xpA[xj + p]).reinterpretAsShorts();
                        s0 = s0.add(v0.mul(x));
                        s1 = s1.add(v1.mul(x));
                        x = IntVector.broadcast(I256, xpB[xj + p]).reinterpretAsShorts();
                        t0 = t0.add(v0.mul(x));
                        t1 = t1.add(v1.mul(x));
                    }
                    IntVector scLo = signedBytes8(w, o + 32 + 16L * j), scHi = signedBytes8(w, o + 40 + 16L * j);
                    IntVector i0 = s0.reinterpretAsInts(), i1 = s1.reinterpretAsInts();
                    i0 = i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    i1 = i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    scaledLoA = scaledLoA.add(i0.mul(scLo));
                    scaledHiA = scaledHiA.add(i1.mul(scHi));
                    i0 = t0.reinterpretAsInts();
                    i1 = t1.reinterpretAsInts();
                    i0 = i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    i1 = i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    scaledLoB = scaledLoB.add(i0.mul(scLo));
                    scaledHiB = scaledHiB.add(i1.mul(scHi));
                }
                FloatVector scaleLo = ((IntVector) ShortVector.fromMemorySegment(S128, w, o, LE).convertShape(VectorOperators.S2I, I256, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                FloatVector scaleHi = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 16, LE).convertShape(VectorOperators.S2I, I256, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                loA = ((FloatVector) scaledLoA.convert(VectorOperators.I2F, 0)).fma(scaleLo.mul(xdA[b]), loA);
                hiA = ((FloatVector) scaledHiA.convert(VectorOperators.I2F, 0)).fma(scaleHi.mul(xdA[b]), hiA);
                loB = ((FloatVector) scaledLoB.convert(VectorOperators.I2F, 0)).fma(scaleLo.mul(xdB[b]), loB);
                hiB = ((FloatVector) scaledHiB.convert(VectorOperators.I2F, 0)).fma(scaleHi.mul(xdB[b]), hiB);
            }
            loA.intoArray(outA, 16 * g);
            hiA.intoArray(outA, 16 * g + 8);
            loB.intoArray(outB, 16 * g);
            hiB.intoArray(outB, 16 * g + 8);
        }
    }

    /**
     * {@link #q4kBatch2} in 256-bit vectors: {@link #q4kHalf256}'s steps (each group's rows 0–7, then
     * 8–15) × two activation vectors, each vector's rows bit for bit {@link #q4kx256}'s; the piece's
     * load, widening and nibble split, and the scale and min bytes, shared by both.
     */
    static void q4kBatch2x256(MemorySegment w, long off, int[] xpA, float[] xdA, int[] xsumA, int[] xpB, float[] xdB, int[] xsumB, int blocks,
                              float[] outA, float[] outB, int g0, int g1) {
        for (int g = g0; g < g1; g++) {
            long base = off + (long) g * blocks * Q4_Kx16.BYTES;
            for (int h = 0; h < 16; h += 8) {
                FloatVector accA = FloatVector.zero(F256), accB = accA;
                for (int b = 0; b < blocks; b++) {
                    long o = base + (long) b * Q4_Kx16.BYTES;
                    IntVector scaledA = IntVector.zero(I256), minsA = scaledA, scaledB = scaledA, minsB = scaledA;
                    for (int c = 0; c < 4; c++) {
                        ShortVector s0 = ShortVector.zero(S256), s1 = s0, t0 = s0, t1 = s0;
                        long q = o + 320 + 512L * c + 2 * h;
                        int xc = 128 * b + 32 * c;
                        for (int j = 0; j < 16; j++) {
                            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B128, w, q + 32L * j, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S256, 0);
                            ShortVector lo = v.and((short) 0x0f), hi = v.lanewise(VectorOperators.LSHR, 4);
                            s0 = s0.add(lo.mul(IntVector.broadcast(I256, xpA[xc + j]).reinterpretAsShorts()));
                            s1 = s1.add(hi.mul(IntVector.broadcast(I256, xpA[xc + 16 + j]).reinterpretAsShorts()));
                            t0 = t0.add(lo.mul(IntVector.broadcast(I256, xpB[xc + j]).reinterpretAsShorts()));
                            t1 = t1.add(hi.mul(IntVector.broadcast(I256, xpB[xc + 16 + j]).reinterpretAsShorts()));
                        }
                        long sc = o + 64 + 32L * c + h, mn = o + 192 + 32L * c + h;
                        IntVector sc0 = bytes8(w, sc), sc1 = bytes8(w, sc + 16), m0 = bytes8(w, mn), m1 = bytes8(w, mn + 16);
                        IntVector i0 = s0.reinterpretAsInts(), i1 = s1.reinterpretAsInts();
                        i0 = i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                        i1 = i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                        scaledA = scaledA.add(i0.mul(sc0)).add(i1.mul(sc1));
                        minsA = minsA.add(m0.mul(xsumA[8 * b + 2 * c])).add(m1.mul(xsumA[8 * b + 2 * c + 1]));
                        i0 = t0.reinterpretAsInts();
                        i1 = t1.reinterpretAsInts();
                        i0 = i0.lanewise(VectorOperators.ASHR, 16).add(i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                        i1 = i1.lanewise(VectorOperators.ASHR, 16).add(i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                        scaledB = scaledB.add(i0.mul(sc0)).add(i1.mul(sc1));
                        minsB = minsB.add(m0.mul(xsumB[8 * b + 2 * c])).add(m1.mul(xsumB[8 * b + 2 * c + 1]));
                    }
                    FloatVector d = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 2 * h, LE).convertShape(VectorOperators.S2I, I256, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                    FloatVector dmin = ((IntVector) ShortVector.fromMemorySegment(S128, w, o + 32 + 2 * h, LE).convertShape(VectorOperators.S2I, I256, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8fffffff).reinterpretAsFloats().mul(0x1p112f);
                    accA = ((FloatVector) scaledA.convert(VectorOperators.I2F, 0)).fma(d.mul(xdA[b]), accA);
                    accA = ((FloatVector) minsA.convert(VectorOperators.I2F, 0)).fma(dmin.mul(-xdA[b]), accA);
                    accB = ((FloatVector) scaledB.convert(VectorOperators.I2F, 0)).fma(d.mul(xdB[b]), accB);
                    accB = ((FloatVector) minsB.convert(VectorOperators.I2F, 0)).fma(dmin.mul(-xdB[b]), accB);
                }
                accA.intoArray(outA, 16 * g + h);
                accB.intoArray(outB, 16 * g + h);
            }
        }
    }

    /**
     * {@link #q8Rows} for Q4_Kx16: per 64-value chunk, pieces 0–7 hold columns 0–15 (low nibbles)
     * and 32–47 (high), pieces 8–15 columns 16–31 and 48–63; each row's value is d·sc·code − dmin·m
     * as {@link Q4_KBlock#dequantize} computes it.
     */
    static void q4kRows(boolean wide, MemorySegment w, long off, int cols, int r0, int count, float[] y, int yOff) {
        int blocks = cols / 256;
        long[] all = wide ? null : new long[64];
        float[] d = new float[4], dm = new float[4];
        for (int r = r0; r < r0 + count; r += 4) {
            long base = off + (long) (r / 16) * blocks * Q4_Kx16.BYTES;
            int quad = (r % 16) / 4, y0 = yOff + (r - r0) * cols;
            LongVector pick = PICK[quad];
            for (int b = 0; b < blocks; b++) {
                long o = base + (long) b * Q4_Kx16.BYTES;
                for (int i = 0; i < 4; i++) {
                    d[i] = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 8 * quad + 2 * i));
                    dm[i] = Float.float16ToFloat(w.get(Q8_0Block.F16, o + 32 + 8 * quad + 2 * i));
                }
                if (!wide) {
                    for (int c = 0; c < 4; c++) {
                        for (int j = 0; j < 16; j++) all[16 * c + j] = w.get(I64, o + 320 + 512L * c + 32L * j + 8 * quad);
                    }
                }
                for (int c = 0; c < 4; c++) {
                    long q = o + 320 + 512L * c;
                    int col = 256 * b + 64 * c;
                    if (wide) {
                        ByteVector a = quadOf8Chunks(w, q, pick).reinterpretAsBytes(), e = quadOf8Chunks(w, q + 256, pick).reinterpretAsBytes();
                        ByteVector aLo = a.and((byte) 0x0f).rearrange(QUAD_ROWS), aHi = a.lanewise(VectorOperators.LSHR, 4).rearrange(QUAD_ROWS);
                        ByteVector eLo = e.and((byte) 0x0f).rearrange(QUAD_ROWS), eHi = e.lanewise(VectorOperators.LSHR, 4).rearrange(QUAD_ROWS);
                        for (int i = 0; i < 4; i++) {
                            int sub = 16 * (2 * c) + 4 * quad + i;
                            float d0 = d[i] * w.get(ValueLayout.JAVA_BYTE, o + 64 + sub), m0 = dm[i] * w.get(ValueLayout.JAVA_BYTE, o + 192 + sub);
                            float d1 = d[i] * w.get(ValueLayout.JAVA_BYTE, o + 80 + sub), m1 = dm[i] * w.get(ValueLayout.JAVA_BYTE, o + 208 + sub);
                            int at = y0 + i * cols + col;
                            ((FloatVector) aLo.convertShape(VectorOperators.B2F, F512, i)).mul(d0).sub(m0).intoArray(y, at);
                            ((FloatVector) eLo.convertShape(VectorOperators.B2F, F512, i)).mul(d0).sub(m0).intoArray(y, at + 16);
                            ((FloatVector) aHi.convertShape(VectorOperators.B2F, F512, i)).mul(d1).sub(m1).intoArray(y, at + 32);
                            ((FloatVector) eHi.convertShape(VectorOperators.B2F, F512, i)).mul(d1).sub(m1).intoArray(y, at + 48);
                        }
                    } else {
                        for (int part = 0; part < 4; part++) { // pieces 4·part … 4·part + 3: columns 8·part … 8·part + 7 (+32 high)
                            ByteVector v = LongVector.fromArray(L256, all, 16 * c + 4 * part).reinterpretAsBytes();
                            ByteVector vLo = v.and((byte) 0x0f).rearrange(QUAD_ROWS_256), vHi = v.lanewise(VectorOperators.LSHR, 4).rearrange(QUAD_ROWS_256);
                            for (int i = 0; i < 4; i++) {
                                int sub = 16 * (2 * c) + 4 * quad + i;
                                float d0 = d[i] * w.get(ValueLayout.JAVA_BYTE, o + 64 + sub), m0 = dm[i] * w.get(ValueLayout.JAVA_BYTE, o + 192 + sub);
                                float d1 = d[i] * w.get(ValueLayout.JAVA_BYTE, o + 80 + sub), m1 = dm[i] * w.get(ValueLayout.JAVA_BYTE, o + 208 + sub);
                                int at = y0 + i * cols + col + 8 * part;
                                ((FloatVector) vLo.convertShape(VectorOperators.B2F, F256, i)).mul(d0).sub(m0).intoArray(y, at);
                                ((FloatVector) vHi.convertShape(VectorOperators.B2F, F256, i)).mul(d1).sub(m1).intoArray(y, at + 32);
                            }
                        }
                    }
                }
            }
        }
    }
}
