package dev.panamax.quant;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * A batched step's activations ({@link QuantizedMatvec.Activations#of}) on vectors (512 or 256 bits), every
 * field the same bits as the scalar reference's: per block, max|x| by a lane reduction (a maximum
 * does not depend on the order), the codes x·(127/max) rounded half to even by adding and
 * subtracting 1.5·2²³ (exactly {@link Math#rint} for |v| ≤ 2²²: here |v| ≤ 127), then the codes as
 * bytes, shorts, floats, their sums per 16 and per 32, and the kernels' pairs — one pass over x, from
 * its offset (no copy). A block whose max is NaN, infinite or so small that 127/max overflows goes
 * through the reference ({@link Q8_KBlock#quantizeBlock}): there the reference's casts of infinities
 * and NaNs decide the codes. Why: in a server's step of sixteen sequences the scalar quantizer and
 * its byte loops took ~5% of the step (JFR) — 600 µs for sixteen vectors of 5 632.
 */
final class VectorActivations {
    private VectorActivations() {}

    /** The decode kernels' width ({@link VectorQuantDot#WIDE}): L = 16 float lanes, or 8 on 256-bit vectors. */
    private static final boolean WIDE = VectorQuantDot.WIDE;
    private static final VectorSpecies<Float> F = WIDE ? FloatVector.SPECIES_512 : FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I = WIDE ? IntVector.SPECIES_512 : IntVector.SPECIES_256;
    /** L shorts, 2L shorts (the pairs' loads), L bytes. */
    private static final VectorSpecies<Short> S = WIDE ? ShortVector.SPECIES_256 : ShortVector.SPECIES_128;
    private static final VectorSpecies<Short> S2 = WIDE ? ShortVector.SPECIES_512 : ShortVector.SPECIES_256;
    private static final VectorSpecies<Byte> B = WIDE ? ByteVector.SPECIES_128 : ByteVector.SPECIES_64;
    private static final int L = F.length();

    /** 1.5·2²³: v + it − it is v rounded to the nearest integer, ties to even, for |v| ≤ 2²². */
    private static final float ROUND = 12582912f;
    /** Below this max, 127/max may overflow to infinity: such blocks take the reference. */
    private static final float SMALLEST = 1e-36f;

    /** Int lanes 0, L, 1, L + 1, … of (a, b) and L/2, 3L/2, …: a and b interleaved. */
    private static final VectorShuffle<Integer> ZIP_LO = zip(0), ZIP_HI = zip(L / 2);

    private static VectorShuffle<Integer> zip(int from) {
        int[] idx = new int[L];
        for (int i = 0; i < L / 2; i++) {
            idx[2 * i] = from + i;
            idx[2 * i + 1] = L + from + i;
        }
        return VectorShuffle.fromArray(I, idx, 0);
    }

    static QuantizedMatvec.Activations of(BlockFormat format, float[] x, int xOff, int cols) {
        int block = format == BlockFormat.Q4_K || format == BlockFormat.Q6_K ? 256 : 32;
        Q8_KBlock xq = new Q8_KBlock(cols, block);
        boolean q8 = format == BlockFormat.Q8_0;
        float[] codes = q8 ? new float[cols] : null;
        for (int b = 0; b < cols / block; b++) {
            int from = xOff + b * block, at = b * block;
            FloatVector m = FloatVector.fromArray(F, x, from).abs();
            for (int i = L; i < block; i += L) m = m.max(FloatVector.fromArray(F, x, from + i).abs());
            float amax = m.reduceLanes(VectorOperators.MAX);
            boolean reference = !(amax == 0 || amax >= SMALLEST && amax <= Float.MAX_VALUE);
            if (reference) xq.d[b] = Q8_KBlock.quantizeBlock(x, from, block, xq.q, at);
            float id = amax != 0 ? 127f / amax : 0f;
            int sum = 0;
            for (int i = 0; i < block; i += L) {
                IntVector c;
                if (reference) {
                    c = (IntVector) ByteVector.fromArray(B, xq.q, at + i).convertShape(VectorOperators.B2I, I, 0);
                    if (q8) ((FloatVector) c.convert(VectorOperators.I2F, 0)).intoArray(codes, at + i);
                } else {
                    FloatVector r = FloatVector.fromArray(F, x, from + i).mul(id).add(ROUND).sub(ROUND);
                    if (q8) r.intoArray(codes, at + i);
                    c = (IntVector) r.convert(VectorOperators.F2I, 0);
                    ((ByteVector) c.convertShape(VectorOperators.I2B, B, 0)).intoArray(xq.q, at + i);
                }
                ((ShortVector) c.convertShape(VectorOperators.I2S, S, 0)).intoArray(xq.wide, at + i);
                sum += c.reduceLanes(VectorOperators.ADD);
                if ((i + L) % 16 == 0) {
                    xq.sums[(at + i) / 16] = sum;
                    sum = 0;
                }
            }
            if (!reference) xq.d[b] = block == 32 ? Float.float16ToFloat(Float.floatToFloat16(amax / 127f)) : amax / 127f;
        }
        int[] pairs = new int[q8 ? cols : cols / 2];
        for (int i = 0; i < cols; i += 2 * L) {
            ShortVector s = ShortVector.fromArray(S2, xq.wide, i);
            if (q8) { // Q8_0x16.nibblePairs: low nibbles' pair, then the high parts' pair
                IntVector lo = s.and((short) 15).reinterpretAsInts(), hi = s.lanewise(VectorOperators.ASHR, 4).reinterpretAsInts();
                lo.rearrange(ZIP_LO, hi).intoArray(pairs, i);
                lo.rearrange(ZIP_HI, hi).intoArray(pairs, i + L);
            } else {
                s.reinterpretAsInts().intoArray(pairs, i / 2);
            }
        }
        return QuantizedMatvec.Activations.withSums(xq, pairs, codes);
    }
}
