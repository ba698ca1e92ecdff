package dev.panamax.simd;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API path ({@code jdk.incubator.vector}), at the machine's preferred width (512 bits on
 * AVX-512: 16 floats a register). Loaded only by {@link Simd} after it has checked that the module
 * is present, so no other class may refer to this one directly. Tails shorter than a vector run
 * through the scalar twin.
 */
final class VectorKernels implements Kernels {

    static final VectorKernels INSTANCE = new VectorKernels();

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** Half the width of F: as many shorts as F has floats. */
    private static final VectorSpecies<Short> H =
            VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final int L = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorShuffle<Float> SWAP_PAIRS = VectorShuffle.fromOp(F, i -> i ^ 1);
    private static final ScalarKernels TAIL = ScalarKernels.INSTANCE;

    private VectorKernels() {}

    @Override
    public String name() {
        return "vector";
    }

    @Override
    public int vectorBits() {
        return F.vectorBitSize();
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (; i + 4 * L <= n; i += 4 * L) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), s0);
            s1 = FloatVector.fromArray(F, a, aOff + i + L).fma(FloatVector.fromArray(F, b, bOff + i + L), s1);
            s2 = FloatVector.fromArray(F, a, aOff + i + 2 * L).fma(FloatVector.fromArray(F, b, bOff + i + 2 * L), s2);
            s3 = FloatVector.fromArray(F, a, aOff + i + 3 * L).fma(FloatVector.fromArray(F, b, bOff + i + 3 * L), s3);
        }
        for (; i + L <= n; i += L) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), s0);
        }
        float s = LaneSums.sum(s0.add(s1).add(s2.add(s3)));
        return i < n ? s + TAIL.dot(a, aOff + i, b, bOff + i, n - i) : s;
    }

    /** One row of a against four rows of b (at b0, stride bStride): c[co … co + 3], the tail scalar as in the 4 × 4 blocks. */
    private static void dotRow4(float[] a, int a0, float[] b, int b0, int bStride, int len, int vlen, float[] c, int co) {
        int b1 = b0 + bStride, b2 = b1 + bStride, b3 = b2 + bStride;
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        for (int p = 0; p < vlen; p += L) {
            FloatVector x = FloatVector.fromArray(F, a, a0 + p);
            c0 = x.fma(FloatVector.fromArray(F, b, b0 + p), c0);
            c1 = x.fma(FloatVector.fromArray(F, b, b1 + p), c1);
            c2 = x.fma(FloatVector.fromArray(F, b, b2 + p), c2);
            c3 = x.fma(FloatVector.fromArray(F, b, b3 + p), c3);
        }
        FloatVector sums = LaneSums.sum4(c0, c1, c2, c3);
        c[co] = sums.lane(0);
        c[co + 1] = sums.lane(L / 2);
        c[co + 2] = sums.lane(L / 4);
        c[co + 3] = sums.lane(3 * L / 4);
        for (int q = 0; q < 4 && vlen < len; q++) {
            float t = 0;
            for (int p = vlen; p < len; p++) t += a[a0 + p] * b[b0 + q * bStride + p];
            c[co + q] += t;
        }
    }

    /**
     * Four rows of c at a time, one vector of columns per pass: each b vector loaded once for four
     * FMAs; rows left over one at a time the same way (c's vector loaded and stored once per pass, not per j).
     */
    @Override
    public void mulAddTile(float[] p, int pOff, int pStride, int m, float[] b, int bOff, int bStride, int n, int len, float[] c, int cOff, int cStride) {
        int vlen = len / L * L, i = 0;
        for (; i + 4 <= m; i += 4) {
            int p0 = pOff + i * pStride, p1 = p0 + pStride, p2 = p1 + pStride, p3 = p2 + pStride;
            int c0 = cOff + i * cStride, c1 = c0 + cStride, c2 = c1 + cStride, c3 = c2 + cStride;
            for (int d = 0; d < vlen; d += L) {
                FloatVector r0 = FloatVector.fromArray(F, c, c0 + d), r1 = FloatVector.fromArray(F, c, c1 + d),
                        r2 = FloatVector.fromArray(F, c, c2 + d), r3 = FloatVector.fromArray(F, c, c3 + d);
                for (int j = 0; j < n; j++) {
                    FloatVector y = FloatVector.fromArray(F, b, bOff + j * bStride + d);
                    r0 = y.fma(FloatVector.broadcast(F, p[p0 + j]), r0);
                    r1 = y.fma(FloatVector.broadcast(F, p[p1 + j]), r1);
                    r2 = y.fma(FloatVector.broadcast(F, p[p2 + j]), r2);
                    r3 = y.fma(FloatVector.broadcast(F, p[p3 + j]), r3);
                }
                r0.intoArray(c, c0 + d);
                r1.intoArray(c, c1 + d);
                r2.intoArray(c, c2 + d);
                r3.intoArray(c, c3 + d);
            }
            if (vlen < len) {
                for (int r = 0; r < 4; r++)
                    for (int j = 0; j < n; j++) {
                        float w = p[pOff + (i + r) * pStride + j];
                        for (int d = vlen; d < len; d++) c[cOff + (i + r) * cStride + d] += w * b[bOff + j * bStride + d];
                    }
            }
        }
        for (; i < m; i++) {
            int p0 = pOff + i * pStride, c0 = cOff + i * cStride;
            for (int d = 0; d < vlen; d += L) {
                FloatVector r0 = FloatVector.fromArray(F, c, c0 + d);
                for (int j = 0; j < n; j++) r0 = FloatVector.fromArray(F, b, bOff + j * bStride + d).fma(FloatVector.broadcast(F, p[p0 + j]), r0);
                r0.intoArray(c, c0 + d);
            }
            for (int j = 0; j < n && vlen < len; j++) {
                float w = p[p0 + j];
                for (int d = vlen; d < len; d++) c[c0 + d] += w * b[bOff + j * bStride + d];
            }
        }
    }

    /**
     * 4 × 4 blocks of sixteen accumulators (each a and b vector loaded once for four products); rows
     * left over (m not in fours: SmolLM's 3 query heads per KV head) by 1 × 4 blocks
     * ({@link #dotRow4}); the other edges by {@link #dot}.
     */
    @Override
    public void dotTile(float[] a, int aOff, int aStride, int m, float[] b, int bOff, int bStride, int n, int len, float[] c, int cOff, int cStride) {
        int vlen = len / L * L;
        float[] acc = new float[16 * L + 16];
        for (int i = 0; i < m; i += 4) {
            for (int j = 0; j < n; j += 4) {
                if (i + 4 > m && j + 4 <= n && vlen > 0) {
                    for (int ii = i; ii < m; ii++) dotRow4(a, aOff + ii * aStride, b, bOff + j * bStride, bStride, len, vlen, c, cOff + ii * cStride + j);
                    continue;
                }
                if (i + 4 > m || j + 4 > n || vlen == 0) {
                    for (int ii = i; ii < Math.min(m, i + 4); ii++)
                        for (int jj = j; jj < Math.min(n, j + 4); jj++) c[cOff + ii * cStride + jj] = dot(a, aOff + ii * aStride, b, bOff + jj * bStride, len);
                    continue;
                }
                int a0 = aOff + i * aStride, a1 = a0 + aStride, a2 = a1 + aStride, a3 = a2 + aStride;
                int b0 = bOff + j * bStride, b1 = b0 + bStride, b2 = b1 + bStride, b3 = b2 + bStride;
                FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00,
                        c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
                for (int p = 0; p < vlen; p += L) {
                    FloatVector x0 = FloatVector.fromArray(F, a, a0 + p), x1 = FloatVector.fromArray(F, a, a1 + p),
                            x2 = FloatVector.fromArray(F, a, a2 + p), x3 = FloatVector.fromArray(F, a, a3 + p);
                    FloatVector y = FloatVector.fromArray(F, b, b0 + p);
                    c00 = x0.fma(y, c00); c10 = x1.fma(y, c10); c20 = x2.fma(y, c20); c30 = x3.fma(y, c30);
                    y = FloatVector.fromArray(F, b, b1 + p);
                    c01 = x0.fma(y, c01); c11 = x1.fma(y, c11); c21 = x2.fma(y, c21); c31 = x3.fma(y, c31);
                    y = FloatVector.fromArray(F, b, b2 + p);
                    c02 = x0.fma(y, c02); c12 = x1.fma(y, c12); c22 = x2.fma(y, c22); c32 = x3.fma(y, c32);
                    y = FloatVector.fromArray(F, b, b3 + p);
                    c03 = x0.fma(y, c03); c13 = x1.fma(y, c13); c23 = x2.fma(y, c23); c33 = x3.fma(y, c33);
                }
                // The sixteen lane sums in LaneSums' fixed order, through a scratch array (see LaneSums.sums).
                c00.intoArray(acc, 0); c01.intoArray(acc, L); c02.intoArray(acc, 2 * L); c03.intoArray(acc, 3 * L);
                c10.intoArray(acc, 4 * L); c11.intoArray(acc, 5 * L); c12.intoArray(acc, 6 * L); c13.intoArray(acc, 7 * L);
                c20.intoArray(acc, 8 * L); c21.intoArray(acc, 9 * L); c22.intoArray(acc, 10 * L); c23.intoArray(acc, 11 * L);
                c30.intoArray(acc, 12 * L); c31.intoArray(acc, 13 * L); c32.intoArray(acc, 14 * L); c33.intoArray(acc, 15 * L);
                LaneSums.sums(F, acc, 16, acc, 16 * L);
                for (int ii = 0; ii < 4; ii++) System.arraycopy(acc, 16 * L + 4 * ii, c, cOff + (i + ii) * cStride + j, 4);
                if (vlen < len) { // the tail of each product, scalar
                    for (int ii = 0; ii < 4; ii++)
                        for (int jj = 0; jj < 4; jj++) {
                            float t = 0;
                            for (int p = vlen; p < len; p++) t += a[aOff + (i + ii) * aStride + p] * b[bOff + (j + jj) * bStride + p];
                            c[cOff + (i + ii) * cStride + j + jj] += t;
                        }
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment w, long wByteOff, float[] x, int xOff, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (; i + 4 * L <= n; i += 4 * L) {
            long o = wByteOff + 4L * i;
            s0 = FloatVector.fromMemorySegment(F, w, o, LE).fma(FloatVector.fromArray(F, x, xOff + i), s0);
            s1 = FloatVector.fromMemorySegment(F, w, o + 4L * L, LE).fma(FloatVector.fromArray(F, x, xOff + i + L), s1);
            s2 = FloatVector.fromMemorySegment(F, w, o + 8L * L, LE).fma(FloatVector.fromArray(F, x, xOff + i + 2 * L), s2);
            s3 = FloatVector.fromMemorySegment(F, w, o + 12L * L, LE).fma(FloatVector.fromArray(F, x, xOff + i + 3 * L), s3);
        }
        for (; i + L <= n; i += L) {
            s0 = FloatVector.fromMemorySegment(F, w, wByteOff + 4L * i, LE).fma(FloatVector.fromArray(F, x, xOff + i), s0);
        }
        float s = LaneSums.sum(s0.add(s1).add(s2.add(s3)));
        return i < n ? s + TAIL.dot(w, wByteOff + 4L * i, x, xOff + i, n - i) : s;
    }

    @Override
    public void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector a = FloatVector.broadcast(F, alpha);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, x, xOff + i).fma(a, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        TAIL.axpy(alpha, x, xOff + i, y, yOff + i, n - i);
    }

    @Override
    public void scale(float[] x, int off, int n, float alpha) {
        int i = 0;
        for (; i + L <= n; i += L) FloatVector.fromArray(F, x, off + i).mul(alpha).intoArray(x, off + i);
        TAIL.scale(x, off + i, n - i, alpha);
    }

    @Override
    public void add(float[] a, int aOff, float[] b, int bOff, float[] out, int oOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, a, aOff + i).add(FloatVector.fromArray(F, b, bOff + i)).intoArray(out, oOff + i);
        }
        TAIL.add(a, aOff + i, b, bOff + i, out, oOff + i, n - i);
    }

    @Override
    public void mul(float[] a, int aOff, float[] b, int bOff, float[] out, int oOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, a, aOff + i).mul(FloatVector.fromArray(F, b, bOff + i)).intoArray(out, oOff + i);
        }
        TAIL.mul(a, aOff + i, b, bOff + i, out, oOff + i, n - i);
    }

    @Override
    public int argmax(float[] x, int off, int n) {
        if (n == 0) return -1;
        // Lane-wise running maximum that never takes a NaN (NaN > m is false).
        FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        boolean anyNumber = false;
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            m = m.blend(v, v.compare(VectorOperators.GT, m));
            anyNumber |= v.compare(VectorOperators.EQ, v).anyTrue();
        }
        float max = m.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            float v = x[off + i];
            if (v == v) {
                anyNumber = true;
                if (v > max) max = v;
            }
        }
        if (!anyNumber) return 0;
        FloatVector target = FloatVector.broadcast(F, max);
        int j = 0;
        for (; j + L <= n; j += L) {
            VectorMask<Float> eq = FloatVector.fromArray(F, x, off + j).compare(VectorOperators.EQ, target);
            if (eq.anyTrue()) return j + eq.firstTrue();
        }
        for (; j < n; j++) if (x[off + j] == max) return j;
        return 0;
    }

    @Override
    public void matvec(MemorySegment w, long wByteOff, float[] x, float[] out, int rows, int cols) {
        Checks.matrix(w, wByteOff, rows, cols, x.length, out.length);
        boolean sequential = cols < ROW_DOTS_BELOW;
        Parallel.forRange(rows, 8, (r0, r1) -> {
            int r = r0;
            if (!sequential && cols > FOUR_APART_FROM) {
                int quarter = (r1 - r0) / 4;
                for (; r < r0 + quarter; r++) fourRows(w, wByteOff + 4L * r * cols, 4L * quarter * cols, x, out, r, quarter, cols);
                r += 3 * quarter;
            } else if (!sequential) {
                int half = (r1 - r0) / 2;
                for (; r < r0 + half; r++) twoRows(w, wByteOff + 4L * r * cols, 4L * half * cols, x, out, r, r + half, cols);
                r += half;
            }
            // Rows left over from the pairs or quads take the same arithmetic (one accumulator, then
            // the scalar tail), so a row's value does not depend on where the thread ranges fall.
            for (; r < r1; r++) out[r] = sequential ? dot(w, wByteOff + 4L * r * cols, x, 0, cols) : oneRow(w, wByteOff + 4L * r * cols, x, 0, cols);
        });
    }

    /** One row as {@link #fourRows} and {@link #twoRows} compute each of theirs. */
    private float oneRow(MemorySegment w, long off, float[] x, int xOff, int cols) {
        FloatVector s0 = FloatVector.zero(F);
        long bytes = 4L * cols, whole = bytes - bytes % (4L * L);
        for (long c = 0; c < whole; c += 4L * L) {
            s0 = FloatVector.fromMemorySegment(F, w, off + c, LE).fma(FloatVector.fromArray(F, x, xOff + (int) (c >>> 2)), s0);
        }
        float a = LaneSums.sum(s0);
        int i = (int) (whole >>> 2);
        return i < cols ? a + TAIL.dot(w, off + 4L * i, x, xOff + i, cols - i) : a;
    }

    /**
     * {@link #matvec} for B vectors: each row read once and kept in the L1 cache while the B
     * vectors pass over it, each (row, vector) pair reduced exactly as matvec reduces that row
     * ({@link #dot} below {@link #ROW_DOTS_BELOW} columns, {@link #oneRow} from there).
     */
    @Override
    public void matvecBatch(MemorySegment w, long wByteOff, float[] x, int B, float[] out, int rows, int cols) {
        Checks.batch(B, cols, rows, x.length, out.length);
        Checks.matrix(w, wByteOff, rows, cols, cols, rows);
        boolean sequential = cols < ROW_DOTS_BELOW;
        Parallel.forRange(rows, 8, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long o = wByteOff + 4L * r * cols;
                for (int b = 0; b < B; b++) out[b * rows + r] = sequential ? dot(w, o, x, b * cols, cols) : oneRow(w, o, x, b * cols, cols);
            }
        });
    }

    /** {@link #matvec16} for B vectors: a half-float row widened once for all B, a bfloat16 row reduced as {@link #oneRowBf16}. */
    @Override
    public void matvec16Batch(MemorySegment w, long wByteOff, boolean bf16, float[] x, int B, float[] out, int rows, int cols) {
        Checks.batch(B, cols, rows, x.length, out.length);
        Checks.matrix(w, wByteOff, 2, rows, cols, cols, rows);
        Parallel.forRange(rows, 4, (r0, r1) -> {
            float[] row = bf16 ? null : new float[cols];
            for (int r = r0; r < r1; r++) {
                long o = wByteOff + 2L * r * cols;
                if (bf16) {
                    for (int b = 0; b < B; b++) out[b * rows + r] = oneRowBf16(w, o, x, b * cols, cols);
                } else {
                    widenRow(w, o, false, row, cols);
                    for (int b = 0; b < B; b++) out[b * rows + r] = dot(row, 0, x, b * cols, cols);
                }
            }
        });
    }

    /**
     * From this many rows of A up to {@link #DOT_GEMM_ROWS}, C = A·Bᵀ runs as {@link BroadcastGemm}'s
     * tiles where vectors are 512 bits; fewer rows go to {@link DotGemm}, whose 4-token tiles waste
     * less on a short block: TinyLlama Q8_0, one thread, prompt tokens/s broadcast against dot: 20
     * tokens 21–24 against 30–32, 40 tokens 35–36 against 37, 64 tokens 45–46 against 39–40, 100
     * tokens 41 against 41–42. {@code -Dpanamax.broadcastGemmRows} (0: never).
     */
    static final int BROADCAST_GEMM_ROWS = Tuning.experiment("broadcastGemmRows", 32);

    private static boolean broadcastGemm(int m) {
        return BROADCAST_GEMM_ROWS > 0 && m >= BROADCAST_GEMM_ROWS && m <= DOT_GEMM_ROWS && BroadcastGemm.applies();
    }

    /** Up to this many rows of A, C = A·Bᵀ runs as unpacked 4 × 4 dot-product tiles ({@link DotGemm}); {@code -Dpanamax.dotGemmRows}. */
    static final int DOT_GEMM_ROWS = Tuning.experiment("dotGemmRows", 512);

    /**
     * Rows shorter than this are taken one after another (one sequential stream, 4 accumulators per
     * dot): a cold 50257 × 576 matrix read at 27.9 GB/s that way against 15.9 eight adjacent rows at
     * a time (one thread); SmolLM-135M-shape F32 decode went from 23 to 42 tokens/s. Longer rows
     * go {@link #twoRows two} or {@link #fourRows four} far-apart rows at a time.
     * {@code -Dpanamax.matvec.rowDotsBelow}.
     */
    static final int ROW_DOTS_BELOW = Tuning.experiment("matvec.rowDotsBelow", 1024);

    /**
     * Rows at least this wide are read four at a time ({@link #fourRows}), narrower ones two
     * ({@link #twoRows}); {@code -Dpanamax.matvec.fourApartFrom}. Each thread's range of rows is
     * cut into two (or four) equal parts and row j of every part is read together: a few long
     * sequential streams, each running on from one row into the next, where the hardware
     * prefetcher keeps up. Eight adjacent rows at once (this kernel until the eighth session)
     * were eight streams 8 KB apart on TinyLlama's 2048-wide rows, and read a 128 MB matrix at
     * 21.4–22.8 GB/s against 26.3–27.4 for two far-apart rows (one thread, best of 2 s,
     * {@code MvBest} in the eighth session's notes). With wider rows two streams fall behind (x no
     * longer fits the L1 cache beside them and is read once per two rows): 5632 and 8192 columns
     * 22.1–25.2 GB/s, against 27.0–27.9 for four far-apart rows and 27.0–27.3 for eight adjacent.
     * In the model, TinyLlama F32 decode on one thread went from 4.5–5.2 to 5.9–7.0 tokens/s.
     */
    static final int FOUR_APART_FROM = Tuning.experiment("matvec.fourApartFrom", 4096);

    /**
     * out[r + q·step], q = 0..3: the rows at off + q·stride, read side by side (see {@link
     * #FOUR_APART_FROM}). The loop runs over a long byte offset, not an int column: C2 then splits
     * it into strips and drops the loads' bounds checks, which with an int column it kept, one
     * compare against a spilled limit per load.
     */
    private void fourRows(MemorySegment w, long off, long stride, float[] x, float[] out, int r, int step, int cols) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        long bytes = 4L * cols, whole = bytes - bytes % (4L * L);
        for (long c = 0; c < whole; c += 4L * L) {
            long o = off + c;
            FloatVector xv = FloatVector.fromArray(F, x, (int) (c >>> 2));
            s0 = FloatVector.fromMemorySegment(F, w, o, LE).fma(xv, s0);
            s1 = FloatVector.fromMemorySegment(F, w, o + stride, LE).fma(xv, s1);
            s2 = FloatVector.fromMemorySegment(F, w, o + 2 * stride, LE).fma(xv, s2);
            s3 = FloatVector.fromMemorySegment(F, w, o + 3 * stride, LE).fma(xv, s3);
        }
        FloatVector sums = LaneSums.sum4(s0, s1, s2, s3);
        out[r] = sums.lane(0);
        out[r + step] = sums.lane(L / 2);
        out[r + 2 * step] = sums.lane(L / 4);
        out[r + 3 * step] = sums.lane(3 * L / 4);
        int i = (int) (whole >>> 2);
        for (int q = 0; i < cols && q < 4; q++) out[r + q * step] += TAIL.dot(w, off + q * stride + 4L * i, x, i, cols - i);
    }

    /** out[ra] and out[rb]: the rows at off and off + stride, read side by side, as in {@link #fourRows}. */
    private void twoRows(MemorySegment w, long off, long stride, float[] x, float[] out, int ra, int rb, int cols) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        long bytes = 4L * cols, whole = bytes - bytes % (4L * L);
        for (long c = 0; c < whole; c += 4L * L) {
            long o = off + c;
            FloatVector xv = FloatVector.fromArray(F, x, (int) (c >>> 2));
            s0 = FloatVector.fromMemorySegment(F, w, o, LE).fma(xv, s0);
            s1 = FloatVector.fromMemorySegment(F, w, o + stride, LE).fma(xv, s1);
        }
        float a = LaneSums.sum(s0), b = LaneSums.sum(s1);
        int i = (int) (whole >>> 2);
        if (i < cols) {
            a += TAIL.dot(w, off + 4L * i, x, i, cols - i);
            b += TAIL.dot(w, off + stride + 4L * i, x, i, cols - i);
        }
        out[ra] = a;
        out[rb] = b;
    }

    @Override
    public void matvec16(MemorySegment w, long wByteOff, boolean bf16, float[] x, float[] out, int rows, int cols) {
        Checks.matrix(w, wByteOff, 2, rows, cols, x.length, out.length);
        Parallel.forRange(rows, 4, (r0, r1) -> {
            int r = r0;
            if (bf16) {
                int quarter = (r1 - r0) / 4;
                for (; r < r0 + quarter; r++) fourRowsBf16(w, wByteOff + 2L * r * cols, 2L * quarter * cols, x, out, r, quarter, cols);
                r += 3 * quarter;
                // The rows left over from the quads, computed as fourRowsBf16 computes each of its own,
                // so a row's value does not depend on where the thread ranges fall.
                for (; r < r1; r++) out[r] = oneRowBf16(w, wByteOff + 2L * r * cols, x, 0, cols);
                return;
            }
            float[] row = new float[cols];
            for (; r < r1; r++) {
                widenRow(w, wByteOff + 2L * r * cols, bf16, row, cols);
                out[r] = dot(row, 0, x, 0, cols);
            }
        });
    }

    /**
     * Four far-apart rows of bfloat16 weights (as {@link #fourRows}), each widened in the loop by a
     * shift — written out: the auto-vectorizer leaves {@link #widenRow}'s bfloat16 loop scalar
     * (15.6 against 4.6 GB/s, {@code tools/MatvecBest.java BF16 16384 2048}, one thread).
     */
    private void fourRowsBf16(MemorySegment w, long off, long stride, float[] x, float[] out, int r, int step, int cols) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        long whole = 2L * (cols - cols % L);
        for (long c = 0; c < whole; c += 2L * L) {
            long o = off + c;
            FloatVector xv = FloatVector.fromArray(F, x, (int) (c >>> 1));
            s0 = loadShortsAsInts(w, o).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xv, s0);
            s1 = loadShortsAsInts(w, o + stride).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xv, s1);
            s2 = loadShortsAsInts(w, o + 2 * stride).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xv, s2);
            s3 = loadShortsAsInts(w, o + 3 * stride).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xv, s3);
        }
        FloatVector sums = LaneSums.sum4(s0, s1, s2, s3);
        out[r] = sums.lane(0);
        out[r + step] = sums.lane(L / 2);
        out[r + 2 * step] = sums.lane(L / 4);
        out[r + 3 * step] = sums.lane(3 * L / 4);
        for (int q = 0; q < 4; q++) {
            for (int c = (int) (whole >>> 1); c < cols; c++) out[r + q * step] += ScalarKernels.widen(w.get(ScalarKernels.I16_LE, off + q * stride + 2L * c), true) * x[c];
        }
    }

    /** One row of bfloat16 weights as {@link #fourRowsBf16} computes each of its four. */
    private float oneRowBf16(MemorySegment w, long off, float[] x, int xOff, int cols) {
        FloatVector s0 = FloatVector.zero(F);
        long whole = 2L * (cols - cols % L);
        for (long c = 0; c < whole; c += 2L * L) {
            s0 = loadShortsAsInts(w, off + c).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xOff + (int) (c >>> 1)), s0);
        }
        float a = LaneSums.sum(s0);
        for (int c = (int) (whole >>> 1); c < cols; c++) a += ScalarKernels.widen(w.get(ScalarKernels.I16_LE, off + 2L * c), true) * x[xOff + c];
        return a;
    }

    /**
     * One row of 16-bit weights as floats, in plain loops: C2's auto-vectorizer compiles the half
     * float one to VCVTPH2PS, sixteen a instruction. Written with {@link #widen16} instead, four
     * rows at a time, the helper's vector nodes hit C2's NodeCountInliningCutoff after two of the
     * four calls and the other two boxed their vectors: TinyLlama F16 decoded at 1.4–1.5 tokens/s
     * against 4.2–5.0 this way (one thread; two: 2.9–3.1 against 8.7–8.8). Only the tail rows of
     * bfloat16 come here ({@link #fourRowsBf16}).
     */
    private static void widenRow(MemorySegment w, long off, boolean bf16, float[] dst, int n) {
        if (bf16) {
            for (int c = 0; c < n; c++) dst[c] = Float.intBitsToFloat(w.get(ScalarKernels.I16_LE, off + 2L * c) << 16);
        } else {
            for (int c = 0; c < n; c++) dst[c] = Float.float16ToFloat(w.get(ScalarKernels.I16_LE, off + 2L * c));
        }
    }

    /** L half floats (or bfloat16s) at {@code byteOff} as floats: the bit manipulation of {@link #f16ToF32}. */
    private static FloatVector widen16(MemorySegment src, long byteOff, boolean bf16) {
        IntVector h = loadShortsAsInts(src, byteOff);
        if (bf16) return h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
        h = h.and(0xffff);
        IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        IntVector em = h.and(0x7fff);
        IntVector shifted = em.lanewise(VectorOperators.LSHL, 13);
        IntVector finite = shifted.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        IntVector infNan = shifted.or(0x7f800000).or(IntVector.zero(I).blend(0x00400000, em.compare(VectorOperators.GT, 0x7c00)));
        return finite.blend(infNan, em.compare(VectorOperators.GE, 0x7c00)).or(sign).reinterpretAsFloats();
    }

    @Override
    public void matmulTransposedB(float[] a, MemorySegment b, long bByteOff, float[] c, int m, int n, int k) {
        Checks.gemm(a.length, c.length, m, n, k);
        Checks.matrix(b, bByteOff, n, k, k, n);
        if (broadcastGemm(m)) BroadcastGemm.multiply(a, b, bByteOff, null, c, m, n, k);
        else if (m <= DOT_GEMM_ROWS) DotGemm.multiply(this, a, b, bByteOff, null, c, m, n, k);
        else VectorGemm.multiply(a, VectorGemm.transposed(b, bByteOff, k), c, m, n, k);
    }

    @Override
    public void matmulTransposedB(float[] a, RowSource b, float[] c, int m, int n, int k) {
        Checks.gemm(a.length, c.length, m, n, k);
        if (broadcastGemm(m)) BroadcastGemm.multiply(a, null, 0, b, c, m, n, k);
        else if (m <= DOT_GEMM_ROWS) DotGemm.multiply(this, a, null, 0, b, c, m, n, k);
        else Kernels.super.matmulTransposedB(a, b, c, m, n, k);
    }

    /**
     * Stacked items: the kernel {@code itemRows} chooses, run over several items at once. Each is
     * row for row independent of m and of a row's place in A — {@link VectorGemm} (a row's sums
     * ordered by its k blocks alone), {@link BroadcastGemm} (a row is a lane, lanes never mix, the
     * narrower last tiles compute their lanes alike), {@link DotGemm} (rows past the last whole
     * tile take a tile row's arithmetic) — which {@code ReproducibilityTest} checks bit for bit. The two
     * unpacked kernels sweep all of A once per four rows of B, so they take up to
     * {@link #STACK_ROWS} rows a call, as the prompt GEMM does.
     */
    @Override
    public void matmulTransposedB(float[] a, MemorySegment b, long bByteOff, float[] c, int m, int n, int k, int itemRows) {
        Checks.gemm(a.length, c.length, m, n, k);
        Checks.stack(m, itemRows);
        Checks.matrix(b, bByteOff, n, k, k, n);
        if (itemRows > DOT_GEMM_ROWS) {
            VectorGemm.multiply(a, VectorGemm.transposed(b, bByteOff, k), c, m, n, k);
            return;
        }
        boolean broadcast = broadcastGemm(itemRows);
        Kernels.inChunks(a, c, m, n, k, stackRows(itemRows), (as, cs, rows) -> {
            if (broadcast) BroadcastGemm.multiply(as, b, bByteOff, null, cs, rows, n, k);
            else DotGemm.multiply(this, as, b, bByteOff, null, cs, rows, n, k);
        });
    }

    @Override
    public void matmulTransposedB(float[] a, RowSource b, float[] c, int m, int n, int k, int itemRows) {
        Checks.gemm(a.length, c.length, m, n, k);
        Checks.stack(m, itemRows);
        if (itemRows > DOT_GEMM_ROWS) {
            Kernels.super.matmulTransposedB(a, b, c, m, n, k); // widened panels through VectorGemm: rows independent of m
            return;
        }
        boolean broadcast = broadcastGemm(itemRows);
        Kernels.inChunks(a, c, m, n, k, stackRows(itemRows), (as, cs, rows) -> {
            if (broadcast) BroadcastGemm.multiply(as, null, 0, b, cs, rows, n, k);
            else DotGemm.multiply(this, as, null, 0, b, cs, rows, n, k);
        });
    }

    /**
     * The most rows of stacked items one unpacked GEMM call takes (whole items; an item of more rows
     * goes alone): {@code -Dpanamax.stackRows}, a speed setting — each row's bits are the same whatever it is.
     */
    static final int STACK_ROWS = Tuning.speed("stackRows", DOT_GEMM_ROWS);

    private static int stackRows(int itemRows) {
        return Math.max(1, STACK_ROWS / itemRows) * itemRows;
    }

    @Override
    public void matmul(float[] a, float[] b, float[] c, int m, int n, int k) {
        Checks.gemm(a.length, c.length, m, n, k);
        if ((long) k * n > b.length) throw new IllegalArgumentException("B holds " + b.length + " floats, needs " + (long) k * n);
        VectorGemm.multiply(a, VectorGemm.rowMajor(b, n), c, m, n, k);
    }

    @Override
    public void softmax(float[] x, int off, int n) {
        if (n == 0) return;
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i + L <= n; i += L) mv = mv.max(FloatVector.fromArray(F, x, off + i));
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) max = Math.max(max, x[off + i]);
        scale(x, off, n, 1f / expShift(x, off, n, max));
    }

    @Override
    public float expShift(float[] x, int off, int n, float shift) {
        FloatVector sv = FloatVector.zero(F);
        float sum = 0;
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector e = exp(FloatVector.fromArray(F, x, off + i).sub(shift));
            e.intoArray(x, off + i);
            sv = sv.add(e);
        }
        for (; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - shift);
            x[off + i] = e;
            sum += e;
        }
        return sum + LaneSums.sum(sv);
    }

    @Override
    public void rmsnorm(float[] out, int oOff, float[] x, int xOff, float[] weight, int n, float eps) {
        float ss = dot(x, xOff, x, xOff, n);
        float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, x, xOff + i).mul(inv).mul(FloatVector.fromArray(F, weight, i)).intoArray(out, oOff + i);
        }
        for (; i < n; i++) out[oOff + i] = x[xOff + i] * inv * weight[i];
    }

    @Override
    public void layernorm(float[] out, int oOff, float[] x, int xOff, float[] gamma, float[] beta, int n, float eps) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i + L <= n; i += L) acc = acc.add(FloatVector.fromArray(F, x, xOff + i));
        float sum = LaneSums.sum(acc);
        for (; i < n; i++) sum += x[xOff + i];
        float mean = sum / n;

        acc = FloatVector.zero(F);
        i = 0;
        for (; i + L <= n; i += L) {
            FloatVector d = FloatVector.fromArray(F, x, xOff + i).sub(mean);
            acc = d.fma(d, acc);
        }
        float var = LaneSums.sum(acc);
        for (; i < n; i++) {
            float d = x[xOff + i] - mean;
            var += d * d;
        }
        float inv = (float) (1.0 / Math.sqrt(var / n + eps));
        i = 0;
        for (; i + L <= n; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + i).sub(mean).mul(inv).mul(FloatVector.fromArray(F, gamma, i));
            if (beta != null) v = v.add(FloatVector.fromArray(F, beta, i));
            v.intoArray(out, oOff + i);
        }
        for (; i < n; i++) {
            float v = (x[xOff + i] - mean) * inv * gamma[i];
            out[oOff + i] = beta == null ? v : v + beta[i];
        }
    }

    @Override
    public void rope(float[] x, int off, int heads, int headDim, int rotaryDim, float[] cos, float[] sin, boolean interleaved) {
        Checks.rope(headDim, rotaryDim, cos, sin);
        int half = rotaryDim / 2;
        if (interleaved) {
            // x' = x·[c0 c0 c1 c1 …] + swapPairs(x)·[−s0 s0 −s1 s1 …]
            float[] cc = new float[rotaryDim], ss = new float[rotaryDim];
            for (int j = 0; j < half; j++) {
                cc[2 * j] = cos[j];
                cc[2 * j + 1] = cos[j];
                ss[2 * j] = -sin[j];
                ss[2 * j + 1] = sin[j];
            }
            for (int h = 0; h < heads; h++) {
                int base = off + h * headDim;
                int i = 0;
                for (; i + L <= rotaryDim; i += L) {
                    FloatVector v = FloatVector.fromArray(F, x, base + i);
                    FloatVector r = v.rearrange(SWAP_PAIRS).mul(FloatVector.fromArray(F, ss, i));
                    v.fma(FloatVector.fromArray(F, cc, i), r).intoArray(x, base + i);
                }
                for (; i < rotaryDim; i += 2) {
                    float x0 = x[base + i], x1 = x[base + i + 1];
                    x[base + i] = x0 * cos[i / 2] - x1 * sin[i / 2];
                    x[base + i + 1] = x1 * cos[i / 2] + x0 * sin[i / 2];
                }
            }
        } else {
            for (int h = 0; h < heads; h++) {
                int base = off + h * headDim;
                int j = 0;
                for (; j + L <= half; j += L) {
                    FloatVector x0 = FloatVector.fromArray(F, x, base + j);
                    FloatVector x1 = FloatVector.fromArray(F, x, base + half + j);
                    FloatVector c = FloatVector.fromArray(F, cos, j);
                    FloatVector s = FloatVector.fromArray(F, sin, j);
                    x0.mul(c).sub(x1.mul(s)).intoArray(x, base + j);
                    x1.mul(c).add(x0.mul(s)).intoArray(x, base + half + j);
                }
                for (; j < half; j++) {
                    float x0 = x[base + j], x1 = x[base + half + j];
                    x[base + j] = x0 * cos[j] - x1 * sin[j];
                    x[base + half + j] = x1 * cos[j] + x0 * sin[j];
                }
            }
        }
    }

    @Override
    public void silu(float[] x, int off, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            v.div(exp(v.neg()).add(1f)).intoArray(x, off + i);
        }
        TAIL.silu(x, off + i, n - i);
    }

    @Override
    public void geluErf(float[] x, int off, int n) {
        final float invSqrt2 = (float) (1 / Math.sqrt(2));
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            FloatVector erf = erf(v.mul(invSqrt2));
            v.mul(0.5f).mul(erf.add(1f)).intoArray(x, off + i);
        }
        TAIL.geluErf(x, off + i, n - i);
    }

    /** The same Abramowitz &amp; Stegun 7.1.26 formula as {@link ScalarKernels#erf}, lane-wise. */
    private static FloatVector erf(FloatVector z) {
        FloatVector az = z.abs();
        FloatVector t = az.mul(ScalarKernels.ERF_P).add(1f);
        t = FloatVector.broadcast(F, 1f).div(t);
        FloatVector poly = t.mul(ScalarKernels.ERF_A5).add(ScalarKernels.ERF_A4);
        poly = poly.mul(t).add(ScalarKernels.ERF_A3);
        poly = poly.mul(t).add(ScalarKernels.ERF_A2);
        poly = poly.mul(t).add(ScalarKernels.ERF_A1);
        poly = poly.mul(t);
        FloatVector y = poly.mul(exp(az.mul(az).neg())).neg().add(1f);
        return y.blend(y.neg(), z.compare(VectorOperators.LT, 0f));
    }

    private static final float EXP_HI = 88.72283f, EXP_LO = -87.33654f;
    private static final float LOG2E = 1.44269504088896341f, ROUND = 0x1.8p23f;
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;

    /**
     * e^x lane-wise, within about 1 ulp (Cody–Waite reduction x = n·ln 2 + r, |r| ≤ ln 2 / 2, and
     * Cephes' degree-6 polynomial for e^r). Written out rather than {@code lanewise(EXP)}: C2
     * compiles that to the SVML library's vector exp, while the interpreter and C1 run
     * {@code Math.exp} per lane, and the two differ in the last bits — a kernel's results then
     * changed when C2 compiled it. These are plain IEEE operations, the same in every tier.
     * Below e^−87.34 (the smallest normal float) the result is 0; above e^88.72, infinity; NaN
     * stays NaN.
     */
    static FloatVector exp(FloatVector x) {
        FloatVector xc = x.max(EXP_LO).min(EXP_HI);
        FloatVector t = xc.fma(FloatVector.broadcast(F, LOG2E), FloatVector.broadcast(F, ROUND));
        FloatVector n = t.sub(ROUND); // x·log2(e) rounded to the nearest integer
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), xc);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(F, 1.9875691500e-4f), FloatVector.broadcast(F, 1.3981999507e-3f));
        p = p.fma(r, FloatVector.broadcast(F, 8.3334519073e-3f));
        p = p.fma(r, FloatVector.broadcast(F, 4.1665795894e-2f));
        p = p.fma(r, FloatVector.broadcast(F, 1.6666665459e-1f));
        p = p.fma(r, FloatVector.broadcast(F, 5.0000001201e-1f));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        // 2^n as two normal factors (n runs from −126 to 128): exact products, no subnormal step.
        IntVector k = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUND));
        IntVector k1 = k.lanewise(VectorOperators.ASHR, 1), k2 = k.sub(k1);
        y = y.mul(k1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats())
                .mul(k2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats());
        y = y.blend(0f, x.compare(VectorOperators.LT, EXP_LO));
        return y.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_HI));
    }

    @Override
    public void geluTanh(float[] x, int off, int n) {
        final float c = (float) Math.sqrt(2 / Math.PI);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            FloatVector inner = v.mul(v).mul(v).mul(0.044715f).add(v).mul(c);
            // x·(1 + tanh(u))/2 = x / (1 + e^(−2u)): no cancellation near u = 0, and no tanh (see exp).
            v.div(exp(inner.mul(-2f)).add(1f)).intoArray(x, off + i);
        }
        TAIL.geluTanh(x, off + i, n - i);
    }

    @Override
    public void reluSquared(float[] x, int off, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector r = FloatVector.fromArray(F, x, off + i).max(0f);
            r.mul(r).intoArray(x, off + i);
        }
        TAIL.reluSquared(x, off + i, n - i);
    }

    // ---- 16-bit floats: bit manipulation on int lanes, as many lanes as F has floats ------------

    private static IntVector loadShortsAsInts(MemorySegment src, long byteOff) {
        return (IntVector) ShortVector.fromMemorySegment(H, src, byteOff, LE).convertShape(VectorOperators.S2I, I, 0);
    }

    private static void storeIntsAsShorts(IntVector v, MemorySegment dst, long byteOff) {
        ((ShortVector) v.convertShape(VectorOperators.I2S, H, 0)).intoMemorySegment(dst, byteOff, LE);
    }

    @Override
    public void f16ToF32(MemorySegment src, long srcByteOff, float[] dst, int dOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) widen16(src, srcByteOff + 2L * i, false).intoArray(dst, dOff + i);
        TAIL.f16ToF32(src, srcByteOff + 2L * i, dst, dOff + i, n - i);
    }

    @Override
    public void f32ToF16(float[] src, int sOff, MemorySegment dst, long dstByteOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            IntVector bits = FloatVector.fromArray(F, src, sOff + i).reinterpretAsInts();
            IntVector sign = bits.lanewise(VectorOperators.LSHR, 16).and(0x8000);
            IntVector u = bits.and(0x7fffffff);
            // Too large for a half: infinity, or a quiet NaN.
            IntVector big = IntVector.broadcast(I, 0x7c00).blend(IntVector.broadcast(I, 0x7e00),
                    u.compare(VectorOperators.GT, 0x7f800000));
            // Below the smallest normal half: let the float adder round (to nearest even) at the right bit.
            IntVector sub = u.reinterpretAsFloats().add(0.5f).reinterpretAsInts().sub(0x3f000000);
            // Normal: rebias the exponent, round to nearest even on the 13 dropped bits.
            IntVector odd = u.lanewise(VectorOperators.LSHR, 13).and(1);
            IntVector normal = u.add(((15 - 127) << 23) + 0xfff).add(odd).lanewise(VectorOperators.LSHR, 13);
            IntVector h = normal.blend(sub, u.compare(VectorOperators.LT, 113 << 23))
                    .blend(big, u.compare(VectorOperators.GE, 143 << 23))
                    .or(sign);
            storeIntsAsShorts(h, dst, dstByteOff + 2L * i);
        }
        TAIL.f32ToF16(src, sOff + i, dst, dstByteOff + 2L * i, n - i);
    }

    @Override
    public void bf16ToF32(MemorySegment src, long srcByteOff, float[] dst, int dOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) widen16(src, srcByteOff + 2L * i, true).intoArray(dst, dOff + i);
        TAIL.bf16ToF32(src, srcByteOff + 2L * i, dst, dOff + i, n - i);
    }

    @Override
    public void f32ToBf16(float[] src, int sOff, MemorySegment dst, long dstByteOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            IntVector bits = FloatVector.fromArray(F, src, sOff + i).reinterpretAsInts();
            IntVector hi = bits.lanewise(VectorOperators.LSHR, 16);
            IntVector rounded = bits.add(hi.and(1)).add(0x7fff).lanewise(VectorOperators.LSHR, 16);
            IntVector nan = hi.or(0x0040);
            IntVector h = rounded.blend(nan, bits.and(0x7fffffff).compare(VectorOperators.GT, 0x7f800000));
            storeIntsAsShorts(h, dst, dstByteOff + 2L * i);
        }
        TAIL.f32ToBf16(src, sOff + i, dst, dstByteOff + 2L * i, n - i);
    }
}
