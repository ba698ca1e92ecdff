package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 * Integer dot products on the Vector API (512-bit machines): each half block of 16 codes is
 * widened byte → short, multiplied, widened short → int and summed; the block's 16 int lanes are
 * converted to float once and scaled by d_w·d_x into a float accumulator, so there is one
 * horizontal sum per row, not per block. Loaded only by {@link QuantizedMatvec} after checking the
 * module is there.
 */
final class VectorQuantDot implements QuantizedMatvec.Dot {

    static final VectorQuantDot INSTANCE = new VectorQuantDot();

    private static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Short> S256 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Integer> I512 = IntVector.SPECIES_512;
    private static final VectorSpecies<Float> F512 = FloatVector.SPECIES_512;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort F16 = Q8_0Block.F16;

    private VectorQuantDot() {}

    private static ShortVector widen(ByteVector b) {
        return (ShortVector) b.convertShape(VectorOperators.B2S, S256, 0);
    }

    private static IntVector products(ShortVector a, ShortVector b) {
        // |a·b| ≤ 128·127 fits a short; the sum of 16 of them needs an int.
        return (IntVector) a.mul(b).convertShape(VectorOperators.S2I, I512, 0);
    }

    private static final VectorSpecies<Byte> B256 = ByteVector.SPECIES_256;
    private static final VectorSpecies<Short> S512 = ShortVector.SPECIES_512;

    /**
     * TQ2_0 weights × int8 activations with no multiplication on the weight side: the 2-bit codes
     * become masks (code 2: add, code 0: subtract) over 32 widened activations at a time.
     */
    float ternary(MemorySegment w, long wOff, byte[] xq, int n) {
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
    float ternary16(MemorySegment w, long off, byte[] xq, int n) {
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

    private static final VectorSpecies<Long> L512 = LongVector.SPECIES_512;

    /** Hamming distance: XOR eight longs at a time, count the ones per lane, add the lanes. */
    int hamming(long[] a, long[] b, int words) {
        int i = 0, d = 0;
        for (; i + 8 <= words; i += 8) {
            d += (int) LongVector.fromArray(L512, a, i).lanewise(VectorOperators.XOR, LongVector.fromArray(L512, b, i))
                    .lanewise(VectorOperators.BIT_COUNT).reduceLanes(VectorOperators.ADD);
        }
        for (; i < words; i++) d += Long.bitCount(a[i] ^ b[i]);
        return d;
    }

    @Override
    public float dot(BlockFormat f, MemorySegment w, long wOff, MemorySegment x, int n) {
        FloatVector acc = FloatVector.zero(F512);
        int blocks = n / 32;
        if (f == BlockFormat.Q8_0) {
            for (int b = 0; b < blocks; b++) {
                long ow = wOff + (long) b * Q8_0Block.BYTES, ox = (long) b * Q8_0Block.BYTES;
                IntVector s = products(widen(ByteVector.fromMemorySegment(B128, w, ow + 2, LE)), widen(ByteVector.fromMemorySegment(B128, x, ox + 2, LE)))
                        .add(products(widen(ByteVector.fromMemorySegment(B128, w, ow + 18, LE)), widen(ByteVector.fromMemorySegment(B128, x, ox + 18, LE))));
                float scale = Float.float16ToFloat(w.get(F16, ow)) * Float.float16ToFloat(x.get(F16, ox));
                acc = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F512, scale), acc);
            }
        } else {
            for (int b = 0; b < blocks; b++) {
                long ow = wOff + (long) b * Q4_0Block.BYTES, ox = (long) b * Q8_0Block.BYTES;
                ByteVector q = ByteVector.fromMemorySegment(B128, w, ow + 2, LE);
                ByteVector lo = q.and((byte) 0x0f).sub((byte) 8), hi = q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8);
                IntVector s = products(widen(lo), widen(ByteVector.fromMemorySegment(B128, x, ox + 2, LE)))
                        .add(products(widen(hi), widen(ByteVector.fromMemorySegment(B128, x, ox + 18, LE))));
                float scale = Float.float16ToFloat(w.get(F16, ow)) * Float.float16ToFloat(x.get(F16, ox));
                acc = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F512, scale), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
