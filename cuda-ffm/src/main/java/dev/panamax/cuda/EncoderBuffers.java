package dev.panamax.cuda;

import java.lang.foreign.Arena;

/**
 * The device activations of an encoder's block of T rows ({@link CudaEncoder}, {@link CudaVision}),
 * kept for the largest T so far and freed on {@link #close}: the residual stream X (and its half
 * copy), a normalised copy N (pre-LN layers), q|k|v, the stored keys and values, attention's output
 * and partial sums, the feed-forward's hidden rows, and T token ids.
 */
final class EncoderBuffers implements AutoCloseable {
    private final CudaContext cx;
    private final int dim, ffnDim, heads;
    private Arena arena;
    private int rows;
    long X, X16, N, N16, QKV, K, V, A, A16, H, H16, part, tokens;
    /** Bumped whenever the buffers are allocated anew (a graph recorded over the old ones must go: an address alone may come back). */
    int generation;

    EncoderBuffers(CudaContext cx, int dim, int ffnDim, int heads) {
        this.cx = cx;
        this.dim = dim;
        this.ffnDim = ffnDim;
        this.heads = heads;
    }

    /** Room for T rows (the attention split into at most 8 key chunks). */
    void ensure(int T) {
        if (T <= rows) return;
        close();
        arena = Arena.ofShared();
        long d = dim, f = ffnDim, hd = d / heads;
        X = cx.allocate(arena, 4 * T * d);
        X16 = cx.allocate(arena, 2 * T * d);
        N = cx.allocate(arena, 4 * T * d);
        N16 = cx.allocate(arena, 2 * T * d);
        QKV = cx.allocate(arena, 12 * T * d);
        K = cx.allocate(arena, 4 * T * d);
        V = cx.allocate(arena, 4 * T * d);
        A = cx.allocate(arena, 4 * T * d);
        A16 = cx.allocate(arena, 2 * T * d);
        H = cx.allocate(arena, 4 * T * f);
        H16 = cx.allocate(arena, 2 * T * f);
        part = cx.allocate(arena, CudaOps.promptPartialBytes(T, heads, (int) hd));
        tokens = cx.allocate(arena, 4L * T);
        rows = T;
        generation++;
    }

    @Override
    public void close() {
        if (arena != null) arena.close();
        arena = null;
        rows = 0;
    }
}
