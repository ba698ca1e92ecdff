package dev.panamax.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Plain-Java kernels that compute exactly what {@code VectorKernels} computes — the same bits — by
 * doing its lane arithmetic one lane at a time: the same accumulators of {@code lanes} partial sums,
 * the same fused multiply-adds ({@link Math#fma}, as {@code FloatVector.fma}), the same fold of
 * the lanes ({@link LaneSums}' tree), the same e^x polynomial, the same scalar tails.
 *
 * <p>Why: in a fresh JVM nothing is compiled, and the Vector API runs its Java fallbacks — many
 * times slower than plain loops — until C2 has compiled each kernel, which on two cores takes
 * most of a second (kjv-llama: the first five tokens at ~8 tokens/s, against ~40 on the scalar
 * twin). {@link WarmingKernels} runs these instead while a background thread warms the vector
 * kernels up, then switches; since the results are the same bits either way, when it switches
 * changes nothing a user can see. {@link ScalarKernels} cannot serve: it sums in another order.
 *
 * <p>Only the kernels decoding runs are twinned here (matrix × vector, attention tiles, norms,
 * activations); {@link WarmingKernels} hands the rest (the prompt GEMMs, 16-bit matrices) to the
 * vector kernels from the start. Memory-segment rows are copied into an array first: a read per
 * element through a segment is slow before the JIT has compiled it. {@code LaneOrderKernelsTest}
 * checks every method against the vector kernels bit for bit.
 */
final class LaneOrderKernels {

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ScalarKernels TAIL = ScalarKernels.INSTANCE;

    /** Floats per vector of the kernels twinned (16 for 512-bit vectors, 8 for 256). */
    final int lanes;
    /** {@code VectorKernels.ROW_DOTS_BELOW}: below this many columns a matvec row is a {@link #dot}, from there a {@link #oneRow}. */
    private final int rowDotsBelow;

    LaneOrderKernels(int lanes, int rowDotsBelow) {
        if (lanes < 4 || Integer.bitCount(lanes) != 1) throw new IllegalArgumentException("lanes must be a power of two from 4 (128-bit vectors), got " + lanes);
        this.lanes = lanes;
        this.rowDotsBelow = rowDotsBelow;
    }

    /** {@link LaneSums#sum}'s tree over acc[0 … lanes): halves folded onto each other. Overwrites acc. */
    private float fold(float[] acc) {
        for (int n = lanes / 2; n >= 1; n /= 2)
            for (int i = 0; i < n; i++) acc[i] += acc[i + n];
        return acc[0];
    }

    // ---- dot products -------------------------------------------------------------------------

    /** VectorKernels.dot: four accumulators over 4·lanes at a time, then one, folded as (s0+s1)+(s2+s3); the tail scalar. */
    float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return dot(a, aOff, b, bOff, n, new float[4 * lanes]);
    }

    /**
     * {@link #dot} with the accumulators in {@code s} (4 × lanes floats, overwritten): a matvec
     * takes them from its thread's {@link #scratch}, not per row — thousands of small arrays a token
     * put a fresh process's young generation through page faults (kjv-llama: a third of the time).
     */
    private float dot(float[] a, int aOff, float[] b, int bOff, int n, float[] s) {
        // Each lane's four partial sums in registers, four lanes at a time (an array of accumulators
        // updated per element ran ~3× slower than the scalar twin once compiled): per lane the same
        // operations in the same order as the vector kernel's.
        int L = lanes, blocks = n / (4 * L) * (4 * L), whole = n / L * L;
        for (int l = 0; l < L; l += 4) { // four lanes × four partial sums: sixteen independent chains
            float a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0, d0 = 0, d1 = 0, d2 = 0, d3 = 0;
            int i = 0;
            for (; i < blocks; i += 4 * L) {
                int p = aOff + i + l, q = bOff + i + l;
                a0 = Math.fma(a[p], b[q], a0);
                b0 = Math.fma(a[p + 1], b[q + 1], b0);
                c0 = Math.fma(a[p + 2], b[q + 2], c0);
                d0 = Math.fma(a[p + 3], b[q + 3], d0);
                p += L;
                q += L;
                a1 = Math.fma(a[p], b[q], a1);
                b1 = Math.fma(a[p + 1], b[q + 1], b1);
                c1 = Math.fma(a[p + 2], b[q + 2], c1);
                d1 = Math.fma(a[p + 3], b[q + 3], d1);
                p += L;
                q += L;
                a2 = Math.fma(a[p], b[q], a2);
                b2 = Math.fma(a[p + 1], b[q + 1], b2);
                c2 = Math.fma(a[p + 2], b[q + 2], c2);
                d2 = Math.fma(a[p + 3], b[q + 3], d2);
                p += L;
                q += L;
                a3 = Math.fma(a[p], b[q], a3);
                b3 = Math.fma(a[p + 1], b[q + 1], b3);
                c3 = Math.fma(a[p + 2], b[q + 2], c3);
                d3 = Math.fma(a[p + 3], b[q + 3], d3);
            }
            for (; i < whole; i += L) {
                int p = aOff + i + l, q = bOff + i + l;
                a0 = Math.fma(a[p], b[q], a0);
                b0 = Math.fma(a[p + 1], b[q + 1], b0);
                c0 = Math.fma(a[p + 2], b[q + 2], c0);
                d0 = Math.fma(a[p + 3], b[q + 3], d0);
            }
            s[l] = (a0 + a1) + (a2 + a3);
            s[l + 1] = (b0 + b1) + (b2 + b3);
            s[l + 2] = (c0 + c1) + (c2 + c3);
            s[l + 3] = (d0 + d1) + (d2 + d3);
        }
        float sum = fold(s);
        return whole < n ? sum + TAIL.dot(a, aOff + whole, b, bOff + whole, n - whole) : sum;
    }

    float dot(MemorySegment w, long wByteOff, float[] x, int xOff, int n) {
        float[] row = new float[n];
        MemorySegment.copy(w, F32_LE, wByteOff, row, 0, n);
        return dot(row, 0, x, xOff, n);
    }

    /** VectorKernels.oneRow (and each row of fourRows/twoRows): one accumulator over whole vectors, folded; the tail scalar. */
    private float oneRow(float[] w, float[] x, int xOff, int cols, float[] s) {
        int whole = cols - cols % lanes;
        lanes(w, 0, x, xOff, whole, s);
        float a = fold(s);
        return whole < cols ? a + TAIL.dot(w, whole, x, xOff + whole, cols - whole) : a;
    }

    /** s[l] = the fused chain Σ a[aOff + i + l]·b[bOff + i + l] over i = 0, lanes, … below {@code whole}: four lanes' chains at a time, in registers. */
    private void lanes(float[] a, int aOff, float[] b, int bOff, int whole, float[] s) {
        int L = lanes;
        for (int l = 0; l < L; l += 4) {
            float c0 = 0, c1 = 0, c2 = 0, c3 = 0;
            for (int i = l; i < whole; i += L) {
                c0 = Math.fma(a[aOff + i], b[bOff + i], c0);
                c1 = Math.fma(a[aOff + i + 1], b[bOff + i + 1], c1);
                c2 = Math.fma(a[aOff + i + 2], b[bOff + i + 2], c2);
                c3 = Math.fma(a[aOff + i + 3], b[bOff + i + 3], c3);
            }
            s[l] = c0;
            s[l + 1] = c1;
            s[l + 2] = c2;
            s[l + 3] = c3;
        }
    }

    /**
     * This thread's row buffer (at least {@code cols} floats; the kernels read only the first cols)
     * and accumulators (4 × lanes, written before they are read), kept between calls: one pair per
     * range of rows per call still put ~16 MB through a fresh process's young generation in
     * kjv-llama's first 32 tokens — pages the kernel faults in and zeroes, ~10 ms of the main thread.
     */
    private float[][] scratch(int cols) {
        float[][] s = SCRATCH.get();
        if (s[0].length < cols) s[0] = new float[cols];
        if (s[1].length < 4 * lanes) s[1] = new float[4 * lanes];
        return s;
    }

    private static final ThreadLocal<float[][]> SCRATCH = new ThreadLocal<>() {
        @Override protected float[][] initialValue() { return new float[][] {new float[0], new float[0]}; }
    };

    void matvec(MemorySegment w, long wByteOff, float[] x, float[] out, int rows, int cols) {
        Checks.matrix(w, wByteOff, rows, cols, x.length, out.length);
        boolean sequential = cols < rowDotsBelow;
        Parallel.forRange(rows, 8, (r0, r1) -> {
            float[][] scratch = scratch(cols);
            float[] row = scratch[0], acc = scratch[1];
            for (int r = r0; r < r1; r++) {
                MemorySegment.copy(w, F32_LE, wByteOff + 4L * r * cols, row, 0, cols);
                out[r] = sequential ? dot(row, 0, x, 0, cols, acc) : oneRow(row, x, 0, cols, acc);
            }
        });
    }

    void matvecBatch(MemorySegment w, long wByteOff, float[] x, int B, float[] out, int rows, int cols) {
        Checks.batch(B, cols, rows, x.length, out.length);
        Checks.matrix(w, wByteOff, rows, cols, cols, rows);
        boolean sequential = cols < rowDotsBelow;
        Parallel.forRange(rows, 8, (r0, r1) -> {
            float[][] scratch = scratch(cols);
            float[] row = scratch[0], acc = scratch[1];
            for (int r = r0; r < r1; r++) {
                MemorySegment.copy(w, F32_LE, wByteOff + 4L * r * cols, row, 0, cols);
                for (int b = 0; b < B; b++) out[b * rows + r] = sequential ? dot(row, 0, x, b * cols, cols, acc) : oneRow(row, x, b * cols, cols, acc);
            }
        });
    }

    /**
     * VectorKernels.dotTile: whole 4 × 4 blocks and the 1 × 4 rows of a last partial block of rows
     * take one accumulator per product over the whole vectors, folded, plus a plain tail sum; the
     * other edges a {@link #dot} each.
     */
    void dotTile(float[] a, int aOff, int aStride, int m, float[] b, int bOff, int bStride, int n, int len, float[] c, int cOff, int cStride) {
        int vlen = len / lanes * lanes;
        float[] acc = new float[4 * lanes];
        for (int i = 0; i < m; i += 4) {
            for (int j = 0; j < n; j += 4) {
                boolean rowsOfFour = i + 4 > m && j + 4 <= n && vlen > 0;
                if (!rowsOfFour && (i + 4 > m || j + 4 > n || vlen == 0)) {
                    for (int ii = i; ii < Math.min(m, i + 4); ii++)
                        for (int jj = j; jj < Math.min(n, j + 4); jj++) c[cOff + ii * cStride + jj] = dot(a, aOff + ii * aStride, b, bOff + jj * bStride, len, acc);
                    continue;
                }
                for (int ii = i; ii < Math.min(m, i + 4); ii++)
                    for (int jj = j; jj < j + 4; jj++) c[cOff + ii * cStride + jj] = blockDot(a, aOff + ii * aStride, b, bOff + jj * bStride, len, vlen, acc);
            }
        }
    }

    /** One product of a dotTile block: the whole vectors' lanes folded, then the tail's plain sum added. */
    private float blockDot(float[] a, int a0, float[] b, int b0, int len, int vlen, float[] s) {
        lanes(a, a0, b, b0, vlen, s);
        float v = fold(s);
        if (vlen < len) {
            float t = 0;
            for (int p = vlen; p < len; p++) t += a[a0 + p] * b[b0 + p];
            v += t;
        }
        return v;
    }

    /** VectorKernels.mulAddTile: each c element a chain of fused multiply-adds over j in the whole vectors, plain ones in the tail. */
    void mulAddTile(float[] p, int pOff, int pStride, int m, float[] b, int bOff, int bStride, int n, int len, float[] c, int cOff, int cStride) {
        int vlen = len / lanes * lanes;
        for (int i = 0; i < m; i++) {
            int p0 = pOff + i * pStride, c0 = cOff + i * cStride;
            for (int j = 0; j < n; j++) {
                float w = p[p0 + j];
                int bj = bOff + j * bStride;
                for (int d = 0; d < vlen; d++) c[c0 + d] = Math.fma(b[bj + d], w, c[c0 + d]);
                for (int d = vlen; d < len; d++) c[c0 + d] += w * b[bj + d];
            }
        }
    }

    // ---- 16-bit floats -------------------------------------------------------------------------

    /**
     * VectorKernels.f16ToF32 (its widen16, one lane at a time, on a bulk copy of the halves): exact
     * for numbers; a NaN comes out quiet, as the vector kernel makes it ({@link Float#float16ToFloat}
     * keeps a signalling one in the interpreter and quiets it where compiled).
     */
    void f16ToF32(MemorySegment src, long srcByteOff, float[] dst, int dOff, int n) {
        short[] h = new short[n];
        MemorySegment.copy(src, I16_LE, srcByteOff, h, 0, n);
        int whole = n - n % lanes;
        for (int i = 0; i < whole; i++) {
            int em = h[i] & 0x7fff, sign = (h[i] & 0x8000) << 16, shifted = em << 13;
            int finite = Float.floatToRawIntBits(Float.intBitsToFloat(shifted) * 0x1p112f);
            int infNan = shifted | 0x7f800000 | (em > 0x7c00 ? 0x00400000 : 0);
            dst[dOff + i] = Float.intBitsToFloat((em >= 0x7c00 ? infNan : finite) | sign);
        }
        TAIL.f16ToF32(src, srcByteOff + 2L * whole, dst, dOff + whole, n - whole);
    }

    /** VectorKernels.bf16ToF32: the halves shifted into the high bits, exact. */
    void bf16ToF32(MemorySegment src, long srcByteOff, float[] dst, int dOff, int n) {
        short[] h = new short[n];
        MemorySegment.copy(src, I16_LE, srcByteOff, h, 0, n);
        for (int i = 0; i < n; i++) dst[dOff + i] = Float.intBitsToFloat(h[i] << 16);
    }

    // ---- level 1 ------------------------------------------------------------------------------

    void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        int whole = n - n % lanes;
        for (int i = 0; i < whole; i++) y[yOff + i] = Math.fma(x[xOff + i], alpha, y[yOff + i]);
        TAIL.axpy(alpha, x, xOff + whole, y, yOff + whole, n - whole);
    }

    // ---- softmax, norms -----------------------------------------------------------------------

    void softmax(float[] x, int off, int n) {
        if (n == 0) return;
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]); // a maximum is the same in any order
        TAIL.scale(x, off, n, 1f / expShift(x, off, n, max));
    }

    /** VectorKernels.expShift: the whole vectors through {@link #exp}, summed lane-wise and folded; the tail through Math.exp, summed first. */
    float expShift(float[] x, int off, int n, float shift) {
        int L = lanes, whole = n - n % L;
        float[] s = new float[L];
        for (int i = 0; i < whole; i += L)
            for (int l = 0; l < L; l++) {
                float e = exp(x[off + i + l] - shift);
                x[off + i + l] = e;
                s[l] += e;
            }
        float sum = 0;
        for (int i = whole; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - shift);
            x[off + i] = e;
            sum += e;
        }
        return sum + fold(s);
    }

    void rmsnorm(float[] out, int oOff, float[] x, int xOff, float[] weight, int n, float eps) {
        float ss = dot(x, xOff, x, xOff, n);
        float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
        for (int i = 0; i < n; i++) out[oOff + i] = x[xOff + i] * inv * weight[i];
    }

    void layernorm(float[] out, int oOff, float[] x, int xOff, float[] gamma, float[] beta, int n, float eps) {
        int L = lanes, whole = n - n % L;
        float[] s = new float[L];
        for (int i = 0; i < whole; i += L)
            for (int l = 0; l < L; l++) s[l] += x[xOff + i + l];
        float sum = fold(s);
        for (int i = whole; i < n; i++) sum += x[xOff + i];
        float mean = sum / n;
        java.util.Arrays.fill(s, 0f);
        for (int i = 0; i < whole; i += L)
            for (int l = 0; l < L; l++) {
                float d = x[xOff + i + l] - mean;
                s[l] = Math.fma(d, d, s[l]);
            }
        float var = fold(s);
        for (int i = whole; i < n; i++) {
            float d = x[xOff + i] - mean;
            var += d * d;
        }
        float inv = (float) (1.0 / Math.sqrt(var / n + eps));
        for (int i = 0; i < n; i++) {
            float v = (x[xOff + i] - mean) * inv * gamma[i];
            out[oOff + i] = beta == null ? v : v + beta[i];
        }
    }

    /** VectorKernels.rope: the interleaved form's whole vectors fuse x·cos with the swapped pair's product; the rest is plain. */
    void rope(float[] x, int off, int heads, int headDim, int rotaryDim, float[] cos, float[] sin, boolean interleaved) {
        if (!interleaved) {
            TAIL.rope(x, off, heads, headDim, rotaryDim, cos, sin, false);
            return;
        }
        Checks.rope(headDim, rotaryDim, cos, sin);
        int whole = rotaryDim - rotaryDim % lanes;
        for (int h = 0; h < heads; h++) {
            int base = off + h * headDim;
            for (int i = 0; i < rotaryDim; i += 2) {
                float x0 = x[base + i], x1 = x[base + i + 1], c = cos[i / 2], s = sin[i / 2];
                if (i < whole) {
                    x[base + i] = Math.fma(x0, c, x1 * -s);
                    x[base + i + 1] = Math.fma(x1, c, x0 * s);
                } else {
                    x[base + i] = x0 * c - x1 * s;
                    x[base + i + 1] = x1 * c + x0 * s;
                }
            }
        }
    }

    // ---- activations --------------------------------------------------------------------------

    void silu(float[] x, int off, int n) {
        int whole = n - n % lanes;
        for (int i = off; i < off + whole; i++) x[i] = x[i] / (exp(-x[i]) + 1f);
        TAIL.silu(x, off + whole, n - whole);
    }

    void geluErf(float[] x, int off, int n) {
        final float invSqrt2 = (float) (1 / Math.sqrt(2));
        int whole = n - n % lanes;
        for (int i = off; i < off + whole; i++) {
            float v = x[i];
            x[i] = v * 0.5f * (erf(v * invSqrt2) + 1f);
        }
        TAIL.geluErf(x, off + whole, n - whole);
    }

    void geluTanh(float[] x, int off, int n) {
        final float c = (float) Math.sqrt(2 / Math.PI);
        int whole = n - n % lanes;
        for (int i = off; i < off + whole; i++) {
            float v = x[i];
            float inner = (v * v * v * 0.044715f + v) * c;
            x[i] = v / (exp(inner * -2f) + 1f);
        }
        TAIL.geluTanh(x, off + whole, n - whole);
    }

    /** VectorKernels.erf, one lane. */
    private static float erf(float z) {
        float az = Math.abs(z);
        float t = 1f / (az * ScalarKernels.ERF_P + 1f);
        float poly = t * ScalarKernels.ERF_A5 + ScalarKernels.ERF_A4;
        poly = poly * t + ScalarKernels.ERF_A3;
        poly = poly * t + ScalarKernels.ERF_A2;
        poly = poly * t + ScalarKernels.ERF_A1;
        poly = poly * t;
        float y = -(poly * exp(-(az * az))) + 1f;
        return z < 0f ? -y : y;
    }

    private static final float EXP_HI = 88.72283f, EXP_LO = -87.33654f;
    private static final float LOG2E = 1.44269504088896341f, ROUND = 0x1.8p23f;
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;

    /** VectorKernels.exp, one lane: the same Cody–Waite reduction and polynomial, operation for operation. */
    static float exp(float x) {
        float xc = Math.min(Math.max(x, EXP_LO), EXP_HI);
        float t = Math.fma(xc, LOG2E, ROUND);
        float n = t - ROUND;
        float r = Math.fma(n, -LN2_HI, xc);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, 1.9875691500e-4f, 1.3981999507e-3f);
        p = Math.fma(p, r, 8.3334519073e-3f);
        p = Math.fma(p, r, 4.1665795894e-2f);
        p = Math.fma(p, r, 1.6666665459e-1f);
        p = Math.fma(p, r, 5.0000001201e-1f);
        float y = Math.fma(p, r * r, r) + 1f;
        int k = Float.floatToRawIntBits(t) - Float.floatToRawIntBits(ROUND);
        int k1 = k >> 1, k2 = k - k1;
        y = y * Float.intBitsToFloat((k1 + 127) << 23) * Float.intBitsToFloat((k2 + 127) << 23);
        if (x < EXP_LO) y = 0f;
        if (x > EXP_HI) y = Float.POSITIVE_INFINITY;
        return y;
    }
}
