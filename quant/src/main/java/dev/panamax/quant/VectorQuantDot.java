package dev.panamax.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
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
