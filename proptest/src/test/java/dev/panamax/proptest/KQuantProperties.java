package dev.panamax.proptest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.panamax.quant.BlockFormat;
import dev.panamax.quant.Q8_KBlock;
import dev.panamax.quant.QuantizedMatvec;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The K-quant quantizers (Q4_K, Q5_K, Q6_K) round-trip within a bound; the integer matvec of every
 * format read in integer form (Q4_1, Q5_0, Q5_1, Q2_K…Q6_K, IQ4_NL, TQ1_0, TQ2_0) equals the float64
 * product of the dequantized weights and the quantized activations within float rounding.
 */
class KQuantProperties {

    /** Shapes of data weights take: gaussian, one-signed, uniform, outliers, and sub-blocks of very different scale. */
    record Data(int kind, double scale, long seed) {
        float[] values(int n) {
            Random r = new Random(seed);
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                double v = switch (kind) {
                    case 0 -> r.nextGaussian();
                    case 1 -> r.nextDouble();
                    case 2 -> -r.nextDouble();
                    case 3 -> 2 * r.nextDouble() - 1;
                    case 4 -> r.nextInt(50) == 0 ? 30 * r.nextGaussian() : r.nextGaussian();
                    case 5 -> (i / 32) % 2 == 0 ? 0.01 * r.nextGaussian() : r.nextGaussian();
                    default -> 0;
                };
                x[i] = (float) (v * scale);
            }
            return x;
        }
    }

    @Provide
    Arbitrary<Data> data() {
        // Scales where a half-float super-block scale neither overflows nor underflows.
        return Combinators.combine(Arbitraries.integers().between(0, 6), Arbitraries.doubles().between(-4, 4), Arbitraries.longs())
                .as((kind, log, seed) -> new Data(kind, Math.exp(log), seed));
    }

    /**
     * Every value comes back within 1.5 steps, a step being the super-block's range (including 0,
     * since the K-quants' min is never positive) over the largest code for Q4_K/Q5_K, and max|x|/32
     * for the symmetric Q6_K. (Half a step of rounding, plus the 6- and 8-bit quantization of the
     * sub-block scales and mins against the super-block's half-float d.)
     */
    @Property(tries = 300)
    void kQuantRoundTripIsWithinOneAndAHalfSteps(@ForAll("data") Data data) {
        int n = 512;
        float[] x = data.values(n);
        for (BlockFormat f : new BlockFormat[] {BlockFormat.Q4_K, BlockFormat.Q5_K, BlockFormat.Q6_K}) {
            MemorySegment q = MemorySegment.ofArray(new byte[n / 256 * f.bytes]);
            f.quantize(x, 0, n, q, 0);
            float[] back = new float[n];
            f.dequantize(q, 0, back, 0, n);
            for (int b = 0; b < n / 256; b++) {
                double lo = 0, hi = 0, amax = 0;
                for (int i = 256 * b; i < 256 * b + 256; i++) {
                    lo = Math.min(lo, x[i]);
                    hi = Math.max(hi, x[i]);
                    amax = Math.max(amax, Math.abs(x[i]));
                }
                double step = switch (f) {
                    case Q4_K -> (hi - lo) / 15;
                    case Q5_K -> (hi - lo) / 31;
                    default -> amax / 32;
                };
                for (int i = 256 * b; i < 256 * b + 256; i++) {
                    assertThat(Math.abs((double) back[i] - x[i])).as("%s value %d of %s", f, i, data).isLessThanOrEqualTo(1.5 * step + 1e-30);
                }
            }
        }
    }

    /** TQ2_0 keeps weights that are already ternary times a block scale exactly. */
    @Property(tries = 100)
    void tq2RoundTripIsExactOnTernaryWeights(@ForAll("data") Data data) {
        Random r = new Random(data.seed());
        float[] x = new float[512];
        float d = (float) data.scale();
        for (int i = 0; i < x.length; i++) x[i] = (r.nextInt(3) - 1) * d;
        x[7] = d; // at least one ±d per block, so the block scale is d
        x[300] = -d;
        MemorySegment q = MemorySegment.ofArray(new byte[2 * BlockFormat.TQ2_0.bytes]);
        BlockFormat.TQ2_0.quantize(x, 0, x.length, q, 0);
        float[] back = new float[x.length];
        BlockFormat.TQ2_0.dequantize(q, 0, back, 0, x.length);
        float dh = Float.float16ToFloat(Float.floatToFloat16(d));
        for (int i = 0; i < x.length; i++) assertThat(back[i]).isEqualTo(Math.signum(x[i]) * dh);
    }

    /** Binary blocks keep each value's sign and give it the block's mean |w| (XNOR-Net's scale). */
    @Property(tries = 100)
    void binaryRoundTripKeepsSignsWithTheMeanMagnitude(@ForAll("data") Data data) {
        float[] x = data.values(256);
        MemorySegment q = MemorySegment.ofArray(new byte[4 * BlockFormat.BINARY.bytes]);
        BlockFormat.BINARY.quantize(x, 0, 256, q, 0);
        float[] back = new float[256];
        BlockFormat.BINARY.dequantize(q, 0, back, 0, 256);
        for (int b = 0; b < 4; b++) {
            double mean = 0;
            for (int i = 64 * b; i < 64 * b + 64; i++) mean += Math.abs(x[i]) / 64;
            float alpha = Float.float16ToFloat(Float.floatToFloat16((float) mean));
            for (int i = 64 * b; i < 64 * b + 64; i++) assertThat(back[i]).isEqualTo(x[i] > 0 ? alpha : -alpha);
        }
    }

    record Matrix(BlockFormat format, int rows, int blocks, long seed) {}

    @Provide
    Arbitrary<Matrix> matrices() {
        BlockFormat[] formats = {BlockFormat.Q4_1, BlockFormat.Q5_0, BlockFormat.Q5_1, BlockFormat.IQ4_NL, BlockFormat.Q2_K,
                BlockFormat.Q3_K, BlockFormat.Q4_K, BlockFormat.Q5_K, BlockFormat.Q6_K, BlockFormat.TQ1_0, BlockFormat.BINARY};
        return Combinators.combine(Arbitraries.of(formats), Arbitraries.integers().between(1, 9), Arbitraries.integers().between(1, 4), Arbitraries.longs())
                .as(Matrix::new);
    }

    /** Offsets of each format's half-float fields, set to sane values over random bytes. */
    private static int[] f16Fields(BlockFormat f) {
        return switch (f) {
            case Q4_1, Q5_1, Q4_K, Q5_K -> new int[] {0, 2};
            case Q5_0, IQ4_NL -> new int[] {0};
            case Q2_K -> new int[] {80, 82};
            case Q3_K -> new int[] {108};
            case Q6_K -> new int[] {208};
            case TQ1_0 -> new int[] {52};
            case BINARY -> new int[] {8};
            default -> throw new IllegalArgumentException(f.toString());
        };
    }

    /**
     * Random blocks of every read-only or written format (random codes, scales and mins; sane f16
     * factors): the integer matvec equals Σ dequantized weight × dequantized activation computed in
     * float64, within the rounding of the per-block float scaling and the float sum.
     */
    @Property(tries = 300)
    void integerMatvecEqualsTheDequantizedProduct(@ForAll("matrices") Matrix m) {
        BlockFormat f = m.format();
        int rows = m.rows(), cols = m.blocks() * f.size;
        Random r = new Random(m.seed());
        long rowBytes = (long) cols / f.size * f.bytes;
        byte[] bytes = new byte[(int) (rowBytes * rows)];
        r.nextBytes(bytes);
        MemorySegment w = MemorySegment.ofArray(bytes);
        var f16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (long b = 0; b < bytes.length / f.bytes; b++) {
            for (int o : f16Fields(f)) w.set(f16, b * f.bytes + o, Float.floatToFloat16((float) (r.nextGaussian() * 0.1)));
        }
        float[] x = new float[cols];
        for (int i = 0; i < cols; i++) x[i] = (float) r.nextGaussian();
        float[] out = new float[rows];
        QuantizedMatvec.matvec(f, w, 0, x, out, rows, cols);

        Q8_KBlock xq = Q8_KBlock.quantize(x, cols, f.size);
        float[] wd = new float[rows * cols];
        f.dequantize(w, 0, wd, 0, rows * cols);
        for (int row = 0; row < rows; row++) {
            double exact = 0, abs = 0;
            for (int c = 0; c < cols; c++) {
                double p = (double) wd[row * cols + c] * xq.d[c / f.size] * xq.q[c];
                exact += p;
                abs += Math.abs(p);
            }
            // a·Σ and b·Σmins, scaled per block: a few roundings per block, and the float sum over blocks.
            double bound = (cols / f.size + 8) * 8 * Gen.U * abs + 1e-30;
            assertThat(Math.abs(out[row] - exact)).as("%s row %d", f, row).isLessThanOrEqualTo(bound);
        }
    }
}
