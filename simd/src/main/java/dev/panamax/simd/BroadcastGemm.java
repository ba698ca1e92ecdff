package dev.panamax.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * C = A·Bᵀ for a prompt block A [m, k] against a weight B [n, k], with the vector lanes running
 * over tokens: a tile is 4 rows of B × 64 tokens (four 16-lane vectors per row, sixteen
 * accumulators), and each step of k loads the four vectors A[t0..t0+63][p] and multiplies them by
 * four broadcast scalars B[j..j+3][p]:
 *
 * <pre>
 * for p in 0..k:   acc[q][v] += A̅[p][16v .. 16v+15] · B[j+q][p]      q < 4, v < 4
 * </pre>
 *
 * A is transposed once per call into panels of 64 tokens, k-major ({@code A̅[g][p][t]}); B is
 * read row by row as it is stored (or widened by a {@link Kernels.RowSource}), four rows at a time,
 * and never transposed. The tile's sums stay in their lanes (no horizontal reductions) and are
 * written to C through a small scratch tile. A prompt's last panel, when narrower, takes a tile of
 * 48, 32 or 16 tokens (its lanes past the prompt are computed and dropped).
 *
 * <p>Why this shape beside {@link DotGemm}'s 4 × 4 dot products: per step of k it needs four vector
 * loads and four broadcasts for sixteen fused multiply-adds (the dot form: eight vector loads), its
 * loop compiles without spills or bounds checks (heap arrays, indices affine in p), and its speed
 * depends neither on the collector nor on what ran before. Alone the two are close (Zen 4, one
 * thread, 64 × 2048 × 2048: 80–86 against 83–85 GFLOP/s); inside a model, where DotGemm's compiled
 * tiles ran slower, TinyLlama's 64-token prefill went from 39 to 45 tokens/s (Q8_0) and from 67 to
 * 90 at 256 tokens on two threads (Q4_0). Only for 512-bit vectors (32 registers); elsewhere
 * {@link DotGemm} runs.
 */
final class BroadcastGemm {
    private BroadcastGemm() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_512;
    /** Tokens per panel (four vectors) and rows of B per tile. */
    private static final int W = 64, R = 4;
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Whether the preferred vectors are 512 bits wide, the shape these tiles are made for. */
    static boolean applies() {
        return FloatVector.SPECIES_PREFERRED.vectorBitSize() == 512;
    }

    /** A thread's rows of B (widened or copied, R·k floats), its output tile, and (on the calling thread) A's panels. */
    private static final class Scratch {
        float[] rows = new float[0], panels = new float[0];
        final float[] tile = new float[R * W];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** B is float32 rows in {@code b} at byte {@code bOff}, or, when {@code src} is not null, the rows {@code src} produces. */
    static void multiply(float[] a, MemorySegment b, long bOff, Kernels.RowSource src, float[] c, int m, int n, int kk) {
        int groups = (m + W - 1) / W;
        Scratch caller = SCRATCH.get();
        if (caller.panels.length < groups * W * kk) caller.panels = new float[groups * W * kk];
        float[] panels = caller.panels;
        // Transpose A into panels, columns split over the threads. Lanes past m in the last panel
        // hold stale values: lanes never mix, and those lanes are never written to C.
        Parallel.forRange(kk, 64, (p0, p1) -> {
            for (int t = 0; t < m; t++) {
                int dst = (t / W) * W * kk + t % W, src0 = t * kk;
                for (int p = p0; p < p1; p++) panels[dst + p * W] = a[src0 + p];
            }
        });
        Parallel.forRange(n, R, (j0, j1) -> {
            Scratch s = SCRATCH.get();
            if (s.rows.length < R * kk) s.rows = new float[R * kk];
            float[] rows = s.rows, tile = s.tile;
            for (int j = j0; j < j1; j += R) {
                int count = Math.min(R, j1 - j);
                if (src != null) src.rows(j, count, rows, 0);
                else MemorySegment.copy(b, F32_LE, bOff + 4L * j * kk, rows, 0, count * kk);
                for (int g = 0; g < groups; g++) {
                    int width = Math.min(W, m - g * W), base = g * W * kk;
                    if (width > 48) tile4x64(panels, rows, tile, base, kk);
                    else if (width > 32) tile4x48(panels, rows, tile, base, kk);
                    else if (width > 16) tile4x32(panels, rows, tile, base, kk);
                    else tile4x16(panels, rows, tile, base, kk);
                    for (int q = 0; q < count; q++) {
                        for (int t = 0, o = (g * W) * n + j + q; t < width; t++, o += n) c[o] = tile[q * W + t];
                    }
                }
            }
        });
    }

    private static FloatVector load(float[] panels, int index) {
        return FloatVector.fromArray(S, panels, index);
    }

    private static FloatVector broadcast(float[] rows, int index) {
        return FloatVector.broadcast(S, rows[index]);
    }

    /** Four rows of B × 64 tokens; rows past the last real one hold stale values whose sums are not written. */
    private static void tile4x64(float[] a, float[] b, float[] tile, int base, int kk) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00,
                c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        for (int p = 0; p < kk; p++) {
            int o = base + p * W;
            FloatVector x0 = load(a, o), x1 = load(a, o + 16), x2 = load(a, o + 32), x3 = load(a, o + 48);
            FloatVector w = broadcast(b, p);
            c00 = x0.fma(w, c00); c01 = x1.fma(w, c01); c02 = x2.fma(w, c02); c03 = x3.fma(w, c03);
            w = broadcast(b, kk + p);
            c10 = x0.fma(w, c10); c11 = x1.fma(w, c11); c12 = x2.fma(w, c12); c13 = x3.fma(w, c13);
            w = broadcast(b, 2 * kk + p);
            c20 = x0.fma(w, c20); c21 = x1.fma(w, c21); c22 = x2.fma(w, c22); c23 = x3.fma(w, c23);
            w = broadcast(b, 3 * kk + p);
            c30 = x0.fma(w, c30); c31 = x1.fma(w, c31); c32 = x2.fma(w, c32); c33 = x3.fma(w, c33);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, 16); c02.intoArray(tile, 32); c03.intoArray(tile, 48);
        c10.intoArray(tile, 64); c11.intoArray(tile, 80); c12.intoArray(tile, 96); c13.intoArray(tile, 112);
        c20.intoArray(tile, 128); c21.intoArray(tile, 144); c22.intoArray(tile, 160); c23.intoArray(tile, 176);
        c30.intoArray(tile, 192); c31.intoArray(tile, 208); c32.intoArray(tile, 224); c33.intoArray(tile, 240);
    }

    /** Four rows × the first 48 tokens of a panel (the last panel of a prompt, 33–48 tokens). */
    private static void tile4x48(float[] a, float[] b, float[] tile, int base, int kk) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00,
                c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
        for (int p = 0; p < kk; p++) {
            int o = base + p * W;
            FloatVector x0 = load(a, o), x1 = load(a, o + 16), x2 = load(a, o + 32);
            FloatVector w = broadcast(b, p);
            c00 = x0.fma(w, c00); c01 = x1.fma(w, c01); c02 = x2.fma(w, c02);
            w = broadcast(b, kk + p);
            c10 = x0.fma(w, c10); c11 = x1.fma(w, c11); c12 = x2.fma(w, c12);
            w = broadcast(b, 2 * kk + p);
            c20 = x0.fma(w, c20); c21 = x1.fma(w, c21); c22 = x2.fma(w, c22);
            w = broadcast(b, 3 * kk + p);
            c30 = x0.fma(w, c30); c31 = x1.fma(w, c31); c32 = x2.fma(w, c32);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, 16); c02.intoArray(tile, 32);
        c10.intoArray(tile, 64); c11.intoArray(tile, 80); c12.intoArray(tile, 96);
        c20.intoArray(tile, 128); c21.intoArray(tile, 144); c22.intoArray(tile, 160);
        c30.intoArray(tile, 192); c31.intoArray(tile, 208); c32.intoArray(tile, 224);
    }

    /** Four rows × the first 32 tokens of a panel (the last panel of a prompt, 17–32 tokens). */
    private static void tile4x32(float[] a, float[] b, float[] tile, int base, int kk) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (int p = 0; p < kk; p++) {
            int o = base + p * W;
            FloatVector x0 = load(a, o), x1 = load(a, o + 16);
            FloatVector w = broadcast(b, p);
            c00 = x0.fma(w, c00); c01 = x1.fma(w, c01);
            w = broadcast(b, kk + p);
            c10 = x0.fma(w, c10); c11 = x1.fma(w, c11);
            w = broadcast(b, 2 * kk + p);
            c20 = x0.fma(w, c20); c21 = x1.fma(w, c21);
            w = broadcast(b, 3 * kk + p);
            c30 = x0.fma(w, c30); c31 = x1.fma(w, c31);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, 16);
        c10.intoArray(tile, 64); c11.intoArray(tile, 80);
        c20.intoArray(tile, 128); c21.intoArray(tile, 144);
        c30.intoArray(tile, 192); c31.intoArray(tile, 208);
    }

    /** Four rows × the first 16 tokens of a panel. */
    private static void tile4x16(float[] a, float[] b, float[] tile, int base, int kk) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
        for (int p = 0; p < kk; p++) {
            FloatVector x = load(a, base + p * W);
            c0 = x.fma(broadcast(b, p), c0);
            c1 = x.fma(broadcast(b, kk + p), c1);
            c2 = x.fma(broadcast(b, 2 * kk + p), c2);
            c3 = x.fma(broadcast(b, 3 * kk + p), c3);
        }
        c0.intoArray(tile, 0); c1.intoArray(tile, 64); c2.intoArray(tile, 128); c3.intoArray(tile, 192);
    }
}
