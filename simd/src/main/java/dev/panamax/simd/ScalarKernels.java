package dev.panamax.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The plain-Java twin of every kernel: no {@code jdk.incubator.vector}, runs on any JVM. It is
 * the definition the Vector API path is checked against, so it is written for clarity first; the
 * loops are still shaped so that C2 can unroll them (several independent accumulators).
 */
public final class ScalarKernels implements Kernels {

    public static final ScalarKernels INSTANCE = new ScalarKernels();

    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private ScalarKernels() {}

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public int vectorBits() {
        return 0;
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[aOff + i] * b[bOff + i];
            s1 += a[aOff + i + 1] * b[bOff + i + 1];
            s2 += a[aOff + i + 2] * b[bOff + i + 2];
            s3 += a[aOff + i + 3] * b[bOff + i + 3];
        }
        for (; i < n; i++) s0 += a[aOff + i] * b[bOff + i];
        return (s0 + s1) + (s2 + s3);
    }

    @Override
    public float dot(MemorySegment w, long wByteOff, float[] x, int xOff, int n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            long o = wByteOff + 4L * i;
            s0 += w.get(F32_LE, o) * x[xOff + i];
            s1 += w.get(F32_LE, o + 4) * x[xOff + i + 1];
            s2 += w.get(F32_LE, o + 8) * x[xOff + i + 2];
            s3 += w.get(F32_LE, o + 12) * x[xOff + i + 3];
        }
        for (; i < n; i++) s0 += w.get(F32_LE, wByteOff + 4L * i) * x[xOff + i];
        return (s0 + s1) + (s2 + s3);
    }

    @Override
    public void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) y[yOff + i] += alpha * x[xOff + i];
    }

    @Override
    public void scale(float[] x, int off, int n, float alpha) {
        for (int i = 0; i < n; i++) x[off + i] *= alpha;
    }

    @Override
    public void add(float[] a, int aOff, float[] b, int bOff, float[] out, int oOff, int n) {
        for (int i = 0; i < n; i++) out[oOff + i] = a[aOff + i] + b[bOff + i];
    }

    @Override
    public void mul(float[] a, int aOff, float[] b, int bOff, float[] out, int oOff, int n) {
        for (int i = 0; i < n; i++) out[oOff + i] = a[aOff + i] * b[bOff + i];
    }

    @Override
    public int argmax(float[] x, int off, int n) {
        if (n == 0) return -1;
        float max = Float.NEGATIVE_INFINITY;
        boolean any = false;
        for (int i = 0; i < n; i++) {
            float v = x[off + i];
            if (v == v) { // not NaN
                if (!any || v > max) max = v;
                any = true;
            }
        }
        if (!any) return 0;
        for (int i = 0; i < n; i++) if (x[off + i] == max) return i;
        return 0; // unreachable
    }

    @Override
    public void matvec(MemorySegment w, long wByteOff, float[] x, float[] out, int rows, int cols) {
        Checks.matrix(w, wByteOff, rows, cols, x.length, out.length);
        Parallel.forRange(rows, 4, (r0, r1) -> {
            for (int r = r0; r < r1; r++) out[r] = dot(w, wByteOff + 4L * r * cols, x, 0, cols);
        });
    }

    @Override
    public void matvec16(MemorySegment w, long wByteOff, boolean bf16, float[] x, float[] out, int rows, int cols) {
        Checks.matrix(w, wByteOff, 2, rows, cols, x.length, out.length);
        Parallel.forRange(rows, 4, (r0, r1) -> {
            for (int r = r0; r < r1; r++) out[r] = row16(w, wByteOff + 2L * r * cols, bf16, x, 0, cols);
        });
    }

    @Override
    public void matvecBatch(MemorySegment w, long wByteOff, float[] x, int B, float[] out, int rows, int cols) {
        Checks.batch(B, cols, rows, x.length, out.length);
        Checks.matrix(w, wByteOff, rows, cols, cols, rows);
        Parallel.forRange(rows, 4, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                for (int b = 0; b < B; b++) out[b * rows + r] = dot(w, wByteOff + 4L * r * cols, x, b * cols, cols);
            }
        });
    }

    @Override
    public void matvec16Batch(MemorySegment w, long wByteOff, boolean bf16, float[] x, int B, float[] out, int rows, int cols) {
        Checks.batch(B, cols, rows, x.length, out.length);
        Checks.matrix(w, wByteOff, 2, rows, cols, cols, rows);
        Parallel.forRange(rows, 4, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                for (int b = 0; b < B; b++) out[b * rows + r] = row16(w, wByteOff + 2L * r * cols, bf16, x, b * cols, cols);
            }
        });
    }

    /** One row of {@link #matvec16}: two running sums, even and odd columns. */
    private static float row16(MemorySegment w, long o, boolean bf16, float[] x, int xOff, int cols) {
        float s0 = 0, s1 = 0;
        int c = 0;
        for (; c + 1 < cols; c += 2) {
            s0 += widen(w.get(I16_LE, o + 2L * c), bf16) * x[xOff + c];
            s1 += widen(w.get(I16_LE, o + 2L * c + 2), bf16) * x[xOff + c + 1];
        }
        if (c < cols) s0 += widen(w.get(I16_LE, o + 2L * c), bf16) * x[xOff + c];
        return s0 + s1;
    }

    static float widen(short h, boolean bf16) {
        return bf16 ? Float.intBitsToFloat(h << 16) : Float.float16ToFloat(h);
    }

    @Override
    public void matmulTransposedB(float[] a, MemorySegment b, long bByteOff, float[] c, int m, int n, int k) {
        Checks.gemm(a.length, c.length, m, n, k);
        Checks.matrix(b, bByteOff, n, k, k, n);
        Parallel.forRange(m, 1, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                for (int j = 0; j < n; j++) c[i * n + j] = dot(b, bByteOff + 4L * j * k, a, i * k, k);
            }
        });
    }

    /** Every row of C here is one {@link #dot} per column, whatever m: stacked items need nothing more. */
    @Override
    public void matmulTransposedB(float[] a, MemorySegment b, long bByteOff, float[] c, int m, int n, int k, int itemRows) {
        Checks.stack(m, itemRows);
        matmulTransposedB(a, b, bByteOff, c, m, n, k);
    }

    @Override
    public void matmulTransposedB(float[] a, RowSource b, float[] c, int m, int n, int k, int itemRows) {
        Checks.stack(m, itemRows);
        matmulTransposedB(a, b, c, m, n, k);
    }

    @Override
    public void matmul(float[] a, float[] b, float[] c, int m, int n, int k) {
        Checks.gemm(a.length, c.length, m, n, k);
        if ((long) k * n > b.length) throw new IllegalArgumentException("B holds " + b.length + " floats, needs " + (long) k * n);
        Parallel.forRange(m, 1, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                java.util.Arrays.fill(c, i * n, i * n + n, 0f);
                for (int p = 0; p < k; p++) axpy(a[i * k + p], b, p * n, c, i * n, n);
            }
        });
    }

    @Override
    public void softmax(float[] x, int off, int n) {
        if (n == 0) return;
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        float inv = 1f / expShift(x, off, n, max);
        for (int i = 0; i < n; i++) x[off + i] *= inv;
    }

    @Override
    public float expShift(float[] x, int off, int n, float shift) {
        float sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - shift);
            x[off + i] = e;
            sum += e;
        }
        return sum;
    }

    @Override
    public void rmsnorm(float[] out, int oOff, float[] x, int xOff, float[] weight, int n, float eps) {
        float ss = 0;
        for (int i = 0; i < n; i++) ss += x[xOff + i] * x[xOff + i];
        float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
        for (int i = 0; i < n; i++) out[oOff + i] = x[xOff + i] * inv * weight[i];
    }

    @Override
    public void layernorm(float[] out, int oOff, float[] x, int xOff, float[] gamma, float[] beta, int n, float eps) {
        float sum = 0;
        for (int i = 0; i < n; i++) sum += x[xOff + i];
        float mean = sum / n;
        float var = 0;
        for (int i = 0; i < n; i++) {
            float d = x[xOff + i] - mean;
            var += d * d;
        }
        float inv = (float) (1.0 / Math.sqrt(var / n + eps));
        for (int i = 0; i < n; i++) {
            float v = (x[xOff + i] - mean) * inv * gamma[i];
            out[oOff + i] = beta == null ? v : v + beta[i];
        }
    }

    @Override
    public void rope(float[] x, int off, int heads, int headDim, int rotaryDim, float[] cos, float[] sin, boolean interleaved) {
        Checks.rope(headDim, rotaryDim, cos, sin);
        int half = rotaryDim / 2;
        for (int h = 0; h < heads; h++) {
            int base = off + h * headDim;
            for (int j = 0; j < half; j++) {
                int i0 = interleaved ? base + 2 * j : base + j;
                int i1 = interleaved ? i0 + 1 : i0 + half;
                float x0 = x[i0], x1 = x[i1];
                x[i0] = x0 * cos[j] - x1 * sin[j];
                x[i1] = x1 * cos[j] + x0 * sin[j];
            }
        }
    }

    @Override
    public void silu(float[] x, int off, int n) {
        for (int i = off; i < off + n; i++) x[i] = x[i] / (1f + (float) Math.exp(-x[i]));
    }

    @Override
    public void geluErf(float[] x, int off, int n) {
        for (int i = off; i < off + n; i++) x[i] = 0.5f * x[i] * (1f + erf(x[i] * (float) (1 / Math.sqrt(2))));
    }

    @Override
    public void geluTanh(float[] x, int off, int n) {
        final float c = (float) Math.sqrt(2 / Math.PI);
        for (int i = off; i < off + n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1f + (float) Math.tanh(c * (v + 0.044715f * v * v * v)));
        }
    }

    @Override
    public void reluSquared(float[] x, int off, int n) {
        for (int i = off; i < off + n; i++) {
            float r = Math.max(x[i], 0f);
            x[i] = r * r;
        }
    }

    /**
     * erf(x) by Abramowitz &amp; Stegun 7.1.26 (absolute error ≤ 1.5e-7, about one float ulp near
     * 1): Java has no erf, and the same formula is cheap to vectorise.
     */
    static float erf(float x) {
        float ax = Math.abs(x);
        float t = 1f / (1f + ERF_P * ax);
        float poly = ((((ERF_A5 * t + ERF_A4) * t + ERF_A3) * t + ERF_A2) * t + ERF_A1) * t;
        float y = 1f - poly * (float) Math.exp(-ax * ax);
        return x < 0 ? -y : y;
    }

    static final float ERF_P = 0.3275911f;
    static final float ERF_A1 = 0.254829592f;
    static final float ERF_A2 = -0.284496736f;
    static final float ERF_A3 = 1.421413741f;
    static final float ERF_A4 = -1.453152027f;
    static final float ERF_A5 = 1.061405429f;

    @Override
    public void f16ToF32(MemorySegment src, long srcByteOff, float[] dst, int dOff, int n) {
        for (int i = 0; i < n; i++) dst[dOff + i] = Float.float16ToFloat(src.get(I16_LE, srcByteOff + 2L * i));
    }

    @Override
    public void f32ToF16(float[] src, int sOff, MemorySegment dst, long dstByteOff, int n) {
        for (int i = 0; i < n; i++) dst.set(I16_LE, dstByteOff + 2L * i, Float.floatToFloat16(src[sOff + i]));
    }

    @Override
    public void bf16ToF32(MemorySegment src, long srcByteOff, float[] dst, int dOff, int n) {
        for (int i = 0; i < n; i++) dst[dOff + i] = Float.intBitsToFloat(src.get(I16_LE, srcByteOff + 2L * i) << 16);
    }

    @Override
    public void f32ToBf16(float[] src, int sOff, MemorySegment dst, long dstByteOff, int n) {
        for (int i = 0; i < n; i++) dst.set(I16_LE, dstByteOff + 2L * i, floatToBf16(src[sOff + i]));
    }

    /** Round to nearest even on the upper 16 bits; a NaN keeps its sign and becomes quiet. */
    static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x0040);
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }
}
