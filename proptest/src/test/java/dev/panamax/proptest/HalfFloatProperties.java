package dev.panamax.proptest;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** f16 and bf16 conversions: exhaustive where the domain is 65536 values, random bit patterns otherwise. */
class HalfFloatProperties {

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static MemorySegment allHalves() {
        MemorySegment seg = MemorySegment.ofArray(new byte[2 * 65536]);
        for (int i = 0; i < 65536; i++) seg.set(I16, 2L * i, (short) i);
        return seg;
    }

    @Example
    void everyHalfFloatWidensExactly() {
        float[] got = new float[65536];
        Paths.active().f16ToF32(allHalves(), 0, got, 0, 65536);
        for (int i = 0; i < 65536; i++) {
            float want = Float.float16ToFloat((short) i);
            assertThat(Float.floatToRawIntBits(got[i])).as("half 0x%04x", i).isEqualTo(Float.floatToRawIntBits(want));
        }
    }

    @Example
    void everyBfloat16WidensExactly() {
        float[] got = new float[65536];
        Paths.active().bf16ToF32(allHalves(), 0, got, 0, 65536);
        for (int i = 0; i < 65536; i++) {
            assertThat(Float.floatToRawIntBits(got[i])).as("bf16 0x%04x", i).isEqualTo(i << 16);
        }
    }

    @Provide
    Arbitrary<float[]> anyFloats() {
        // Random bit patterns cover every exponent: subnormals, overflow, NaNs, infinities.
        Arbitrary<Float> bits = Arbitraries.integers().map(Float::intBitsToFloat);
        Arbitrary<Float> nearHalfRange = Arbitraries.floats().between(-70000, 70000).ofScale(7);
        Arbitrary<Float> tiny = Arbitraries.floats().between(-1e-4f, 1e-4f).ofScale(7);
        return Gen.length(100).flatMap(n -> Arbitraries.oneOf(bits, nearHalfRange, tiny).array(float[].class).ofSize(n));
    }

    @Property
    void narrowingToHalfRoundsToNearestEvenLikeTheJdk(@ForAll("anyFloats") float[] x) {
        MemorySegment out = MemorySegment.ofArray(new byte[2 * x.length]);
        Paths.active().f32ToF16(x, 0, out, 0, x.length);
        for (int i = 0; i < x.length; i++) {
            short h = out.get(I16, 2L * i);
            if (Float.isNaN(x[i])) {
                assertThat(Float.isNaN(Float.float16ToFloat(h))).as("NaN stays NaN").isTrue();
            } else {
                assertThat(h).as("half of %s (bits 0x%08x)", x[i], Float.floatToRawIntBits(x[i])).isEqualTo(Float.floatToFloat16(x[i]));
            }
        }
    }

    @Property
    void narrowingToBfloat16MatchesTheScalarTwinBitForBit(@ForAll("anyFloats") float[] x) {
        MemorySegment a = MemorySegment.ofArray(new byte[2 * x.length]), s = MemorySegment.ofArray(new byte[2 * x.length]);
        Paths.active().f32ToBf16(x, 0, a, 0, x.length);
        Paths.scalar().f32ToBf16(x, 0, s, 0, x.length);
        for (int i = 0; i < x.length; i++) {
            short h = a.get(I16, 2L * i);
            assertThat(h).as("bf16 of %s", x[i]).isEqualTo(s.get(I16, 2L * i));
            float back = Float.intBitsToFloat(h << 16);
            if (Float.isNaN(x[i])) {
                assertThat(Float.isNaN(back)).isTrue();
            } else if (Float.isFinite(back) && Float.isFinite(x[i])) {
                // Nearest: within half a bf16 ulp (8 bits of mantissa).
                assertThat((double) Math.abs(back - x[i])).isLessThanOrEqualTo(Math.ulp(back) * 65536.0 / 2 + 0.0);
            }
        }
    }
}
