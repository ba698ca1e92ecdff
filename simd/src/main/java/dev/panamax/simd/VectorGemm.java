package dev.panamax.simd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Cache-blocked, register-tiled single-precision GEMM on the Vector API, in the BLIS layout:
 *
 * <pre>
 * for jc in N step NC:                 B̃ = pack(B[pc:pc+KC, jc:jc+NC])   (L3/L2, micro-panels of NR columns)
 *   for pc in K step KC:
 *     for ic in M step MC:             Ã = pack(A[ic:ic+MC, pc:pc+KC])   (L2, micro-panels of MR rows)
 *       for jr in NC step NR:          one micro-panel of B̃ (KC×NR) stays in L1
 *         for ir in MC step MR:        micro-kernel: C[MR×NR] += Ã[MR×KC] · B̃[KC×NR] in registers
 * </pre>
 *
 * The micro-kernel keeps an MR × (3 vectors) tile of C in registers: 8×48 floats on AVX-512
 * (24 accumulators + 3 B vectors + 1 broadcast = 28 of the 32 zmm registers), 4×24 on 256-bit
 * machines (16 registers). Each step of k loads 3 vectors of B and broadcasts MR values of A, for
 * 3·MR fused multiply-adds. Packing pads partial tiles with zeros, so the kernel has no edge cases;
 * partial tiles of C are written through a small scratch tile.
 *
 * <p>Threads split C into contiguous blocks of whole tiles along the longer dimension; each packs
 * its own panels (the duplicated packing costs O(1/M) of the arithmetic).
 */
final class VectorGemm {

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    static final boolean WIDE = S.vectorBitSize() >= 512;
    static final int MR = WIDE ? 8 : 4;
    static final int NR = 3 * L;
    static final int KC = Tuning.experiment("gemm.kc", 512);
    static final int MC = roundUp(Tuning.speed("gemm.mc", 192), MR);
    static final int NC = roundUp(Tuning.speed("gemm.nc", 3072), NR);

    private VectorGemm() {}

    /** Where B comes from: packs B[k0:k0+kc, j0:j0+nc] as micro-panels of NR columns (k-major), zero-padded. */
    interface BSource {
        void pack(int k0, int kc, int j0, int nc, float[] dst);
    }

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** B is [k, n] row-major on the heap: C = A·B. */
    static BSource rowMajor(float[] b, int n) {
        return (k0, kc, j0, nc, dst) -> {
            int d = 0;
            for (int jr = 0; jr < nc; jr += NR) {
                int w = Math.min(NR, nc - jr);
                for (int p = 0; p < kc; p++) {
                    int src = (k0 + p) * n + j0 + jr;
                    if (w == NR) {
                        System.arraycopy(b, src, dst, d, NR);
                    } else {
                        System.arraycopy(b, src, dst, d, w);
                        java.util.Arrays.fill(dst, d + w, d + NR, 0f);
                    }
                    d += NR;
                }
            }
        };
    }

    /** B is stored transposed, [n, k] row-major float32 in a segment (a linear layer's weight): C = A·Bᵀ. */
    static BSource transposed(MemorySegment b, long byteOff, int k) {
        return (k0, kc, j0, nc, dst) -> {
            float[] run = new float[L];
            int d = 0;
            for (int jr = 0; jr < nc; jr += NR) {
                int w = Math.min(NR, nc - jr);
                if (w < NR) java.util.Arrays.fill(dst, d, d + kc * NR, 0f);
                for (int j = 0; j < w; j++) {
                    long row = byteOff + 4L * ((long) (j0 + jr + j) * k + k0);
                    int p = 0;
                    // Read a run of the row with vectors, scatter it down the panel's column j.
                    for (; p + L <= kc; p += L) {
                        FloatVector.fromMemorySegment(S, b, row + 4L * p, ByteOrder.LITTLE_ENDIAN).intoArray(run, 0);
                        for (int q = 0; q < L; q++) dst[d + (p + q) * NR + j] = run[q];
                    }
                    for (; p < kc; p++) dst[d + p * NR + j] = b.get(ScalarKernels.F32_LE, row + 4L * p);
                }
                d += kc * NR;
            }
        };
    }

    static void multiply(float[] a, BSource b, float[] c, int m, int n, int k) {
        if (m == 0 || n == 0) return;
        if (k == 0) {
            java.util.Arrays.fill(c, 0, m * n, 0f);
            return;
        }
        // One block per thread: each block packs its own panels of the other operand, so split the
        // dimension that makes the duplicated packing the smaller one (A is m·k, B is n·k). A prompt
        // block (m = 64 tokens) against a weight (n = 256…) splits the columns.
        int parts = Parallel.threads();
        if (m >= n) {
            Parallel.forRange(m, MR, parts, (i0, i1) -> block(a, b, c, m, n, k, i0, i1, 0, n));
        } else {
            Parallel.forRange(n, NR, parts, (j0, j1) -> block(a, b, c, m, n, k, 0, m, j0, j1));
        }
    }

    /**
     * Per-thread packing buffers. B̃ is packed on the heap, then copied in one bulk move to an
     * off-heap, 64-byte aligned panel that the kernel reads: its three vector loads per step must
     * not straddle cache lines, and a heap array's alignment changes whenever the GC moves it
     * (measured: a worker whose buffer the GC had moved ran at half speed).
     */
    private static final class Buffers {
        final float[] aPack = new float[MC * KC];
        final float[] bStage = new float[KC * NC];
        final MemorySegment bPack = Arena.ofAuto().allocate(4L * KC * NC, 64);
        final float[] tile = new float[MR * NR];
    }

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    /** C[i0:i1, j0:j1] = A[i0:i1, :] · B[:, j0:j1]. */
    private static void block(float[] a, BSource b, float[] c, int m, int n, int k, int i0, int i1, int j0, int j1) {
        Buffers buf = BUFFERS.get();
        float[] aPack = buf.aPack;
        MemorySegment bPack = buf.bPack;
        for (int jc = j0; jc < j1; jc += NC) {
            int nc = Math.min(NC, j1 - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                boolean accumulate = pc > 0;
                b.pack(pc, kc, jc, nc, buf.bStage);
                int packed = kc * ((nc + NR - 1) / NR) * NR;
                MemorySegment.copy(buf.bStage, 0, bPack, ValueLayout.JAVA_FLOAT, 0, packed);
                for (int ic = i0; ic < i1; ic += MC) {
                    int mc = Math.min(MC, i1 - ic);
                    packA(a, k, ic, mc, pc, kc, aPack);
                    for (int jr = 0; jr < nc; jr += NR) {
                        int nv = Math.min(NR, nc - jr);
                        long bOff = 4L * (jr / NR) * kc * NR;
                        for (int ir = 0; ir < mc; ir += MR) {
                            int mv = Math.min(MR, mc - ir);
                            int aOff = (ir / MR) * kc * MR;
                            int cOff = (ic + ir) * n + jc + jr;
                            if (mv == MR && nv == NR) {
                                kernel(aPack, aOff, bPack, bOff, kc, c, cOff, n, accumulate);
                            } else {
                                edge(aPack, aOff, bPack, bOff, kc, c, cOff, n, accumulate, mv, nv, buf.tile);
                            }
                        }
                    }
                }
            }
        }
    }

    /** Ã: micro-panels of MR rows, k-major inside a panel (MR consecutive floats per k), zero-padded. */
    private static void packA(float[] a, int k, int i0, int mc, int k0, int kc, float[] dst) {
        int d = 0;
        for (int ir = 0; ir < mc; ir += MR) {
            int h = Math.min(MR, mc - ir);
            if (h < MR) java.util.Arrays.fill(dst, d, d + kc * MR, 0f);
            for (int i = 0; i < h; i++) {
                int src = (i0 + ir + i) * k + k0;
                for (int p = 0; p < kc; p++) dst[d + p * MR + i] = a[src + p];
            }
            d += kc * MR;
        }
    }

    private static void edge(float[] ap, int aOff, MemorySegment bp, long bOff, int kc, float[] c, int cOff, int ldc,
                             boolean accumulate, int mv, int nv, float[] tile) {
        kernel(ap, aOff, bp, bOff, kc, tile, 0, NR, false);
        for (int i = 0; i < mv; i++) {
            for (int j = 0; j < nv; j++) {
                int ci = cOff + i * ldc + j;
                c[ci] = accumulate ? c[ci] + tile[i * NR + j] : tile[i * NR + j];
            }
        }
    }

    private static void kernel(float[] ap, int aOff, MemorySegment bp, long bOff, int kc, float[] c, int cOff, int ldc, boolean accumulate) {
        if (WIDE) kernel8(ap, aOff, bp, bOff, kc, c, cOff, ldc, accumulate);
        else kernel4(ap, aOff, bp, bOff, kc, c, cOff, ldc, accumulate);
    }

    private static void store(FloatVector v, float[] c, int off, boolean accumulate) {
        if (accumulate) v = v.add(FloatVector.fromArray(S, c, off));
        v.intoArray(c, off);
    }

    /** 8 rows × 3 vectors of C in 24 registers. */
    private static void kernel8(float[] ap, int ao, MemorySegment bp, long bo, int kc, float[] c, int co, int ldc, boolean acc) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c50 = z, c51 = z, c52 = z, c60 = z, c61 = z, c62 = z, c70 = z, c71 = z, c72 = z;
        for (int p = 0; p < kc; p++) {
            // Indices linear in p, so C2 can hoist the range checks out of the loop.
            int ai = ao + p * 8;
            long bi = bo + 4L * p * NR;
            FloatVector b0 = FloatVector.fromMemorySegment(S, bp, bi, NATIVE);
            FloatVector b1 = FloatVector.fromMemorySegment(S, bp, bi + 4L * L, NATIVE);
            FloatVector b2 = FloatVector.fromMemorySegment(S, bp, bi + 8L * L, NATIVE);
            FloatVector x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02);
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12);
            x = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22);
            x = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32);
            x = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); c42 = x.fma(b2, c42);
            x = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); c52 = x.fma(b2, c52);
            x = FloatVector.broadcast(S, ap[ai + 6]);
            c60 = x.fma(b0, c60); c61 = x.fma(b1, c61); c62 = x.fma(b2, c62);
            x = FloatVector.broadcast(S, ap[ai + 7]);
            c70 = x.fma(b0, c70); c71 = x.fma(b1, c71); c72 = x.fma(b2, c72);
        }
        store(c00, c, co, acc); store(c01, c, co + L, acc); store(c02, c, co + 2 * L, acc); co += ldc;
        store(c10, c, co, acc); store(c11, c, co + L, acc); store(c12, c, co + 2 * L, acc); co += ldc;
        store(c20, c, co, acc); store(c21, c, co + L, acc); store(c22, c, co + 2 * L, acc); co += ldc;
        store(c30, c, co, acc); store(c31, c, co + L, acc); store(c32, c, co + 2 * L, acc); co += ldc;
        store(c40, c, co, acc); store(c41, c, co + L, acc); store(c42, c, co + 2 * L, acc); co += ldc;
        store(c50, c, co, acc); store(c51, c, co + L, acc); store(c52, c, co + 2 * L, acc); co += ldc;
        store(c60, c, co, acc); store(c61, c, co + L, acc); store(c62, c, co + 2 * L, acc); co += ldc;
        store(c70, c, co, acc); store(c71, c, co + L, acc); store(c72, c, co + 2 * L, acc);
    }

    /** 4 rows × 3 vectors of C in 12 registers (256-bit and narrower machines). */
    private static void kernel4(float[] ap, int ao, MemorySegment bp, long bo, int kc, float[] c, int co, int ldc, boolean acc) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
        for (int p = 0; p < kc; p++) {
            int ai = ao + p * 4;
            long bi = bo + 4L * p * NR;
            FloatVector b0 = FloatVector.fromMemorySegment(S, bp, bi, NATIVE);
            FloatVector b1 = FloatVector.fromMemorySegment(S, bp, bi + 4L * L, NATIVE);
            FloatVector b2 = FloatVector.fromMemorySegment(S, bp, bi + 8L * L, NATIVE);
            FloatVector x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02);
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12);
            x = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22);
            x = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32);
        }
        store(c00, c, co, acc); store(c01, c, co + L, acc); store(c02, c, co + 2 * L, acc); co += ldc;
        store(c10, c, co, acc); store(c11, c, co + L, acc); store(c12, c, co + 2 * L, acc); co += ldc;
        store(c20, c, co, acc); store(c21, c, co + L, acc); store(c22, c, co + 2 * L, acc); co += ldc;
        store(c30, c, co, acc); store(c31, c, co + L, acc); store(c32, c, co + 2 * L, acc);
    }

    private static int roundUp(int v, int m) {
        return Math.max(m, (v + m - 1) / m * m);
    }
}
