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
        multiply(a, b, bOff, src, c, m, n, kk, chunkOf((m + W - 1) / W, kk));
    }

    /** As above, k taken {@code chunk} columns a pass when B is in a segment (tests compare chunk sizes). */
    static void multiply(float[] a, MemorySegment b, long bOff, Kernels.RowSource src, float[] c, int m, int n, int kk, int chunk) {
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
        multiplyInChunks(panels, b, bOff, src, c, m, n, kk, groups, src != null ? kk : Math.min(chunk, kk));
    }

    /**
     * Floats of A's panels a pass over k may hold ({@code -Dpanamax.gemmPanelChunk}, default 256 Ki
     * floats, 1 MiB). Measured on an Intel Xeon with 2 MiB of L2 a core (2 threads, ViT-B/16 shape,
     * docs/benchmarks.md): 256 KiB, 512 KiB and 2 MiB did less well than 1 MiB.
     */
    static final int PANEL_CHUNK_FLOATS = Tuning.experiment("gemmPanelChunk", 1 << 18);

    /**
     * The columns of k taken a pass: all of them when A's panels fit {@link #PANEL_CHUNK_FLOATS},
     * else a chunk (a multiple of 16, at least 64) that does.
     */
    static int chunkOf(int groups, int kk) {
        if (PANEL_CHUNK_FLOATS <= 0 || (long) groups * W * kk <= PANEL_CHUNK_FLOATS) return kk;
        int chunk = Math.max(64, PANEL_CHUNK_FLOATS / (groups * W) / 16 * 16);
        return chunk >= kk ? kk : chunk;
    }

    /**
     * C = A·Bᵀ a chunk of k at a time, every row of B against all of A's panels for the chunk while
     * those stay in cache: with the panels of a long k swept whole for every four rows of B, they
     * came from L3 each time ([197 × 3 072]·[768 × 3 072]ᵀ, ViT-B/16's down projection, ran at half
     * the speed of k = 768). Each tile's lanes continue their sums from C where the last chunk left
     * them — the same fused multiply-adds in the same order of p as one pass, so C is bit for bit the
     * same. One chunk of all k is the one pass; a {@link Kernels.RowSource} (whole rows, widened on
     * demand) always takes it.
     */
    private static void multiplyInChunks(float[] panels, MemorySegment b, long bOff, Kernels.RowSource src, float[] c, int m, int n, int kk,
                                         int groups, int chunk) {
        for (int p0 = 0; p0 == 0 || p0 < kk; p0 += Math.max(1, chunk)) { // at least one pass: with k = 0, C is all zeros
            int first = p0, len = Math.min(chunk, kk - p0);
            Parallel.forRange(n, R, (j0, j1) -> {
                Scratch s = SCRATCH.get();
                if (s.rows.length < R * len) s.rows = new float[R * chunk];
                float[] rows = s.rows, tile = s.tile;
                // One full panel (a block of 49 to 64 tokens, as prompts are computed in blocks of 64) and a float32
                // B in native memory: its four rows are read where they lie, so that their stream from memory overlaps
                // the multiply-adds (copied first, the copy and the tile took turns: a quarter of the block's time).
                // Otherwise they are copied: several panels reuse the copy, and a heap B (attention's scores) would
                // give the tile's segment reads a second receiver class, which ran them 10x slower.
                boolean inPlace = src == null && groups == 1 && m > 48 && b.isNative();
                for (int j = j0; j < j1; j += R) {
                    int count = Math.min(R, j1 - j);
                    if (inPlace && count == R) {
                        if (first > 0) reloadTile(tile, c, n, 0, j, count, m);
                        tile4x64(panels, b, bOff + 4L * ((long) j * kk + first), 4L * kk, tile, first, first + len, first > 0);
                        storeTile(tile, c, n, 0, j, count, m);
                        continue;
                    }
                    if (src != null) src.rows(j, count, rows, 0);
                    else for (int q = 0; q < count; q++) MemorySegment.copy(b, F32_LE, bOff + 4L * ((long) (j + q) * kk + first), rows, q * len, len);
                    for (int g = 0; g < groups; g++) {
                        int width = Math.min(W, m - g * W), base = g * W * kk;
                        if (first > 0) reloadTile(tile, c, n, g, j, count, width);
                        tile(panels, rows, tile, base, width, first, first + len, len, first > 0);
                        storeTile(tile, c, n, g, j, count, width);
                    }
                }
            });
        }
    }

    /** A tile's sums into C: rows j.. of B (count of them) are C's columns, panel g's tokens its rows. */
    private static void storeTile(float[] tile, float[] c, int n, int g, int j, int count, int width) {
        for (int q = 0; q < count; q++) {
            for (int t = 0, o = (g * W) * n + j + q; t < width; t++, o += n) c[o] = tile[q * W + t];
        }
    }

    /** The sums {@link #storeTile} wrote, back into the tile (a chunk of k resuming them). */
    private static void reloadTile(float[] tile, float[] c, int n, int g, int j, int count, int width) {
        for (int q = 0; q < count; q++) {
            for (int t = 0, o = (g * W) * n + j + q; t < width; t++, o += n) tile[q * W + t] = c[o];
        }
    }

    /** The tile for a panel {@code width} tokens wide, over p in [p0, p1), B's rows {@code stride} apart from p0. */
    private static void tile(float[] a, float[] b, float[] tile, int base, int width, int p0, int p1, int stride, boolean resume) {
        if (width > 48) tile4x64(a, b, tile, base, p0, p1, stride, resume);
        else if (width > 32) tile4x48(a, b, tile, base, p0, p1, stride, resume);
        else if (width > 16) tile4x32(a, b, tile, base, p0, p1, stride, resume);
        else tile4x16(a, b, tile, base, p0, p1, stride, resume);
    }

    private static FloatVector start(float[] tile, int at, boolean resume) {
        return resume ? FloatVector.fromArray(S, tile, at) : FloatVector.zero(S);
    }

    private static FloatVector load(float[] panels, int index) {
        return FloatVector.fromArray(S, panels, index);
    }

    private static FloatVector broadcast(float[] rows, int index) {
        return FloatVector.broadcast(S, rows[index]);
    }

    /** Four rows of B × 64 tokens; rows past the last real one hold stale values whose sums are not written. */
    private static void tile4x64(float[] a, float[] b, float[] tile, int base, int p0, int p1, int stride, boolean resume) {
        FloatVector c00 = start(tile, 0, resume), c01 = start(tile, 16, resume), c02 = start(tile, 32, resume), c03 = start(tile, 48, resume),
                c10 = start(tile, 64, resume), c11 = start(tile, 80, resume), c12 = start(tile, 96, resume), c13 = start(tile, 112, resume),
                c20 = start(tile, 128, resume), c21 = start(tile, 144, resume), c22 = start(tile, 160, resume), c23 = start(tile, 176, resume),
                c30 = start(tile, 192, resume), c31 = start(tile, 208, resume), c32 = start(tile, 224, resume), c33 = start(tile, 240, resume);
        for (int p = p0, i = 0; p < p1; p++, i++) {
            int o = base + p * W;
            FloatVector x0 = load(a, o), x1 = load(a, o + 16), x2 = load(a, o + 32), x3 = load(a, o + 48);
            FloatVector w = broadcast(b, i);
            c00 = x0.fma(w, c00); c01 = x1.fma(w, c01); c02 = x2.fma(w, c02); c03 = x3.fma(w, c03);
            w = broadcast(b, stride + i);
            c10 = x0.fma(w, c10); c11 = x1.fma(w, c11); c12 = x2.fma(w, c12); c13 = x3.fma(w, c13);
            w = broadcast(b, 2 * stride + i);
            c20 = x0.fma(w, c20); c21 = x1.fma(w, c21); c22 = x2.fma(w, c22); c23 = x3.fma(w, c23);
            w = broadcast(b, 3 * stride + i);
            c30 = x0.fma(w, c30); c31 = x1.fma(w, c31); c32 = x2.fma(w, c32); c33 = x3.fma(w, c33);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, 16); c02.intoArray(tile, 32); c03.intoArray(tile, 48);
        c10.intoArray(tile, 64); c11.intoArray(tile, 80); c12.intoArray(tile, 96); c13.intoArray(tile, 112);
        c20.intoArray(tile, 128); c21.intoArray(tile, 144); c22.intoArray(tile, 160); c23.intoArray(tile, 176);
        c30.intoArray(tile, 192); c31.intoArray(tile, 208); c32.intoArray(tile, 224); c33.intoArray(tile, 240);
    }

    /**
     * {@link #tile4x64} for the one panel of a block (base 0) with B's four rows read from a segment: row q's
     * column p0 at byte {@code at + q·stride}. The same fused multiply-adds in the same order, so the same bits.
     */
    private static void tile4x64(float[] a, MemorySegment b, long at, long stride, float[] tile, int p0, int p1, boolean resume) {
        FloatVector c00 = start(tile, 0, resume), c01 = start(tile, 16, resume), c02 = start(tile, 32, resume), c03 = start(tile, 48, resume),
                c10 = start(tile, 64, resume), c11 = start(tile, 80, resume), c12 = start(tile, 96, resume), c13 = start(tile, 112, resume),
                c20 = start(tile, 128, resume), c21 = start(tile, 144, resume), c22 = start(tile, 160, resume), c23 = start(tile, 176, resume),
                c30 = start(tile, 192, resume), c31 = start(tile, 208, resume), c32 = start(tile, 224, resume), c33 = start(tile, 240, resume);
        for (int p = p0; p < p1; p++) {
            int o = p * W;
            long i = at + 4L * (p - p0);
            FloatVector x0 = load(a, o), x1 = load(a, o + 16), x2 = load(a, o + 32), x3 = load(a, o + 48);
            FloatVector w = FloatVector.broadcast(S, b.get(F32_LE, i));
            c00 = x0.fma(w, c00); c01 = x1.fma(w, c01); c02 = x2.fma(w, c02); c03 = x3.fma(w, c03);
            w = FloatVector.broadcast(S, b.get(F32_LE, i + stride));
            c10 = x0.fma(w, c10); c11 = x1.fma(w, c11); c12 = x2.fma(w, c12); c13 = x3.fma(w, c13);
            w = FloatVector.broadcast(S, b.get(F32_LE, i + 2 * stride));
            c20 = x0.fma(w, c20); c21 = x1.fma(w, c21); c22 = x2.fma(w, c22); c23 = x3.fma(w, c23);
            w = FloatVector.broadcast(S, b.get(F32_LE, i + 3 * stride));
            c30 = x0.fma(w, c30); c31 = x1.fma(w, c31); c32 = x2.fma(w, c32); c33 = x3.fma(w, c33);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, 16); c02.intoArray(tile, 32); c03.intoArray(tile, 48);
        c10.intoArray(tile, 64); c11.intoArray(tile, 80); c12.intoArray(tile, 96); c13.intoArray(tile, 112);
        c20.intoArray(tile, 128); c21.intoArray(tile, 144); c22.intoArray(tile, 160); c23.intoArray(tile, 176);
        c30.intoArray(tile, 192); c31.intoArray(tile, 208); c32.intoArray(tile, 224); c33.intoArray(tile, 240);
    }

    /** Four rows × the first 48 tokens of a panel (the last panel of a prompt, 33–48 tokens). */
    private static void tile4x48(float[] a, float[] b, float[] tile, int base, int p0, int p1, int stride, boolean resume) {
        FloatVector c00 = start(tile, 0, resume), c01 = start(tile, 16, resume), c02 = start(tile, 32, resume),
                c10 = start(tile, 64, resume), c11 = start(tile, 80, resume), c12 = start(tile, 96, resume),
                c20 = start(tile, 128, resume), c21 = start(tile, 144, resume), c22 = start(tile, 160, resume),
                c30 = start(tile, 192, resume), c31 = start(tile, 208, resume), c32 = start(tile, 224, resume);
        for (int p = p0, i = 0; p < p1; p++, i++) {
            int o = base + p * W;
            FloatVector x0 = load(a, o), x1 = load(a, o + 16), x2 = load(a, o + 32);
            FloatVector w = broadcast(b, i);
            c00 = x0.fma(w, c00); c01 = x1.fma(w, c01); c02 = x2.fma(w, c02);
            w = broadcast(b, stride + i);
            c10 = x0.fma(w, c10); c11 = x1.fma(w, c11); c12 = x2.fma(w, c12);
            w = broadcast(b, 2 * stride + i);
            c20 = x0.fma(w, c20); c21 = x1.fma(w, c21); c22 = x2.fma(w, c22);
            w = broadcast(b, 3 * stride + i);
            c30 = x0.fma(w, c30); c31 = x1.fma(w, c31); c32 = x2.fma(w, c32);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, 16); c02.intoArray(tile, 32);
        c10.intoArray(tile, 64); c11.intoArray(tile, 80); c12.intoArray(tile, 96);
        c20.intoArray(tile, 128); c21.intoArray(tile, 144); c22.intoArray(tile, 160);
        c30.intoArray(tile, 192); c31.intoArray(tile, 208); c32.intoArray(tile, 224);
    }

    /** Four rows × the first 32 tokens of a panel (the last panel of a prompt, 17–32 tokens). */
    private static void tile4x32(float[] a, float[] b, float[] tile, int base, int p0, int p1, int stride, boolean resume) {
        FloatVector c00 = start(tile, 0, resume), c01 = start(tile, 16, resume), c10 = start(tile, 64, resume), c11 = start(tile, 80, resume),
                c20 = start(tile, 128, resume), c21 = start(tile, 144, resume), c30 = start(tile, 192, resume), c31 = start(tile, 208, resume);
        for (int p = p0, i = 0; p < p1; p++, i++) {
            int o = base + p * W;
            FloatVector x0 = load(a, o), x1 = load(a, o + 16);
            FloatVector w = broadcast(b, i);
            c00 = x0.fma(w, c00); c01 = x1.fma(w, c01);
            w = broadcast(b, stride + i);
            c10 = x0.fma(w, c10); c11 = x1.fma(w, c11);
            w = broadcast(b, 2 * stride + i);
            c20 = x0.fma(w, c20); c21 = x1.fma(w, c21);
            w = broadcast(b, 3 * stride + i);
            c30 = x0.fma(w, c30); c31 = x1.fma(w, c31);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, 16);
        c10.intoArray(tile, 64); c11.intoArray(tile, 80);
        c20.intoArray(tile, 128); c21.intoArray(tile, 144);
        c30.intoArray(tile, 192); c31.intoArray(tile, 208);
    }

    /** Four rows × the first 16 tokens of a panel. */
    private static void tile4x16(float[] a, float[] b, float[] tile, int base, int p0, int p1, int stride, boolean resume) {
        FloatVector c0 = start(tile, 0, resume), c1 = start(tile, 64, resume), c2 = start(tile, 128, resume), c3 = start(tile, 192, resume);
        for (int p = p0, i = 0; p < p1; p++, i++) {
            FloatVector x = load(a, base + p * W);
            c0 = x.fma(broadcast(b, i), c0);
            c1 = x.fma(broadcast(b, stride + i), c1);
            c2 = x.fma(broadcast(b, 2 * stride + i), c2);
            c3 = x.fma(broadcast(b, 3 * stride + i), c3);
        }
        c0.intoArray(tile, 0); c1.intoArray(tile, 64); c2.intoArray(tile, 128); c3.intoArray(tile, 192);
    }
}
