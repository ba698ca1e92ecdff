package dev.panamax.simd;

/**
 * Causal grouped-query attention of T new query rows over a key/value cache, three ways that agree
 * within float rounding:
 * <ul>
 * <li>{@link #naive}: each row's full score vector, softmax, weighted sum (the reference);</li>
 * <li>{@link #flash}: for prompts — query rows in tiles of {@link #QUERY_TILE}, keys in tiles of
 *     {@link #KEY_TILE}, with the online softmax (running max m, running sum l, rescaled accumulator):
 *     no score row longer than a tile is ever materialised, and a key/value tile is reused by every
 *     row of the query tile while it is in cache (FlashAttention's loop order, on a CPU);</li>
 * <li>{@link #splitK}: for decoding — the one query row's key range is split into parts computed on
 *     different threads, each leaving (m, l, acc), merged with the usual rescaling (flash-decoding).</li>
 * </ul>
 * Layouts: Q and out [T, heads·d]; K and V [positions, kvHeads·d]; query head h reads KV head
 * h / (heads/kvHeads). Row t is at absolute position pos + t and sees keys max(0, p − window + 1)..p
 * (window 0: all). With {@code sigmoid}, weights are σ(s + b) with b = −log(n), n the number of keys
 * the row sees, and are not normalised (Ramapuram et al., "Theory, Analysis, and Best Practices for
 * Sigmoid Self-Attention", 2024).
 */
public final class Attention {
    private Attention() {}

    public static final int QUERY_TILE = 16, KEY_TILE = 64;

    /** Heads, KV heads, head size, sliding window (0 = none) and the kind of weights. */
    public record Shape(int heads, int kvHeads, int headDim, int window, boolean sigmoid) {
        public Shape {
            if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0) throw new IllegalArgumentException(heads + " heads over " + kvHeads + " KV heads");
        }

        int first(int p) {
            return window > 0 ? Math.max(0, p - window + 1) : 0;
        }
    }

    /**
     * The reference: per row and head, all scores, then softmax (or sigmoid), then Σ w·v; (row, head)
     * pairs in parallel. Prompts shorter than {@link #FLASH_MIN_ROWS} use it too: its few kernels
     * (dot, softmax, axpy) are the decode path's and compiled early, while the tiled kernels of
     * {@link #flash} would still run unoptimised in a short-lived process.
     */
    public static void naive(Kernels k, float[] Q, int T, int pos, float[] K, float[] V, Shape s, float[] out) {
        int hd = s.headDim(), qDim = s.heads() * hd, kvDim = s.kvHeads() * hd, group = s.heads() / s.kvHeads();
        float scale = (float) (1 / Math.sqrt(hd));
        Parallel.forRange(s.heads() * T, 1, (i0, i1) -> {
            float[] att = new float[pos + T];
            for (int i = i0; i < i1; i++) {
                int h = i % s.heads(), t = i / s.heads();
                int p = pos + t, start = s.first(p), len = p - start + 1;
                int qo = t * qDim + h * hd, ko = (h / group) * hd;
                for (int j = 0; j < len; j++) att[j] = k.dot(Q, qo, K, (start + j) * kvDim + ko, hd) * scale;
                if (s.sigmoid()) {
                    float b = (float) -Math.log(len);
                    for (int j = 0; j < len; j++) att[j] = sigmoid(att[j] + b);
                } else {
                    k.softmax(att, 0, len);
                }
                java.util.Arrays.fill(out, qo, qo + hd, 0f);
                for (int j = 0; j < len; j++) k.axpy(att[j], V, (start + j) * kvDim + ko, out, qo, hd);
            }
        });
    }

    /** Prompts of at least this many rows take {@link #flash} ({@code -Dpanamax.flashMinRows}). */
    public static final int FLASH_MIN_ROWS = Tuning.experiment("flashMinRows", 128);

    /** The form for T new rows: split-K for one, naive below {@link #FLASH_MIN_ROWS}, flash from there. */
    public static void attend(Kernels k, float[] Q, int T, int pos, float[] K, float[] V, Shape s, float[] out) {
        if (T == 1) splitK(k, Q, pos, K, V, s, out, 2 * Parallel.threads());
        else if (T < FLASH_MIN_ROWS) naive(k, Q, T, pos, K, V, s, out);
        else flash(k, Q, T, pos, K, V, s, out);
    }

    static float sigmoid(float x) {
        return (float) (1 / (1 + Math.exp(-x)));
    }

    /** Tiled over queries and keys with the online softmax; (head, query tile) pairs in parallel. */
    public static void flash(Kernels k, float[] Q, int T, int pos, float[] K, float[] V, Shape s, float[] out) {
        int tiles = (T + QUERY_TILE - 1) / QUERY_TILE;
        Parallel.forRange(s.heads() * tiles, 1, (i0, i1) -> {
            float[] scores = new float[QUERY_TILE * KEY_TILE], m = new float[QUERY_TILE], l = new float[QUERY_TILE];
            for (int i = i0; i < i1; i++) flashTile(k, Q, T, pos, K, V, s, out, i % s.heads(), (i / s.heads()) * QUERY_TILE, scores, m, l);
        });
    }

    private static void flashTile(Kernels k, float[] Q, int T, int pos, float[] K, float[] V, Shape s, float[] out, int h, int t0,
                                  float[] scores, float[] m, float[] l) {
        int hd = s.headDim(), qDim = s.heads() * hd, kvDim = s.kvHeads() * hd, ko = (h / (s.heads() / s.kvHeads())) * hd;
        int rows = Math.min(QUERY_TILE, T - t0);
        float scale = (float) (1 / Math.sqrt(hd));
        java.util.Arrays.fill(m, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(l, 0f);
        for (int r = 0; r < rows; r++) java.util.Arrays.fill(out, (t0 + r) * qDim + h * hd, (t0 + r) * qDim + h * hd + hd, 0f);
        // Keys any row of the tile sees: from the first row's window start to the last row's position.
        int kFrom = s.first(pos + t0), kTo = pos + t0 + rows - 1;
        for (int j0 = kFrom; j0 <= kTo; j0 += KEY_TILE) {
            int cols = Math.min(KEY_TILE, kTo - j0 + 1);
            // The tile's scores in one go: query rows × key rows, 4 × 4 register blocks (entries a row may
            // not see are computed and ignored).
            k.dotTile(Q, t0 * qDim + h * hd, qDim, rows, K, j0 * kvDim + ko, kvDim, cols, hd, scores, 0, KEY_TILE);
            // Scores become weights in place; entries a row may not see become 0.
            for (int r = 0; r < rows; r++) {
                int p = pos + t0 + r, start = s.first(p);
                int lo = Math.max(j0, start), hi = Math.min(j0 + cols - 1, p); // this row's keys inside the tile
                int so = r * KEY_TILE;
                if (lo > hi) {
                    java.util.Arrays.fill(scores, so, so + cols, 0f);
                    continue;
                }
                java.util.Arrays.fill(scores, so, so + lo - j0, 0f);
                java.util.Arrays.fill(scores, so + hi - j0 + 1, so + cols, 0f);
                float tileMax = Float.NEGATIVE_INFINITY;
                for (int j = lo; j <= hi; j++) {
                    float v = scores[so + j - j0] * scale;
                    scores[so + j - j0] = v;
                    tileMax = Math.max(tileMax, v);
                }
                if (s.sigmoid()) {
                    float b = (float) -Math.log(p - start + 1);
                    for (int j = lo; j <= hi; j++) scores[so + j - j0] = sigmoid(scores[so + j - j0] + b);
                    continue;
                }
                float mNew = Math.max(m[r], tileMax);
                if (mNew > m[r]) {
                    float corr = (float) Math.exp(m[r] - mNew); // 0 on the first tile (m = −∞)
                    l[r] *= corr;
                    k.scale(out, (t0 + r) * qDim + h * hd, hd, corr);
                    m[r] = mNew;
                }
                l[r] += k.expShift(scores, so + lo - j0, hi - lo + 1, mNew);
            }
            // out[rows] += weights[rows × cols] · V[cols × d], four rows per pass.
            k.mulAddTile(scores, 0, KEY_TILE, rows, V, j0 * kvDim + ko, kvDim, cols, hd, out, t0 * qDim + h * hd, qDim);
        }
        if (!s.sigmoid()) for (int r = 0; r < rows; r++) k.scale(out, (t0 + r) * qDim + h * hd, hd, 1 / l[r]);
    }

    /**
     * One query row (T = 1, at position pos) with its key range split into {@code parts} pieces,
     * (KV head, piece) pairs in parallel, merged per head: M = max m_i, out = Σ e^{m_i−M}·acc_i /
     * Σ e^{m_i−M}·l_i.
     */
    public static void splitK(Kernels k, float[] Q, int pos, float[] K, float[] V, Shape s, float[] out, int parts) {
        int hd = s.headDim(), kvDim = s.kvHeads() * hd, group = s.heads() / s.kvHeads(), H = s.heads();
        int start = s.first(pos), len = pos - start + 1;
        int P = Math.max(1, Math.min(parts, (len + KEY_TILE - 1) / KEY_TILE));
        float[] ms = new float[H * P], ls = new float[H * P], acc = new float[H * P * hd];
        float scale = (float) (1 / Math.sqrt(hd)), bias = s.sigmoid() ? (float) -Math.log(len) : 0f;
        // (KV head, piece) pairs in parallel: the KV head's query heads score its keys together
        // (dotTile: each key row loaded once for the whole group) and take their weighted values
        // together (mulAddTile).
        Parallel.forRange(s.kvHeads() * P, 1, (i0, i1) -> {
            float[] sc = new float[group * ((len + P - 1) / P)];
            for (int i = i0; i < i1; i++) {
                int kv = i / P, part = i % P, ko = kv * hd, h0 = kv * group;
                int lo = start + (int) ((long) len * part / P), hi = start + (int) ((long) len * (part + 1) / P); // [lo, hi)
                int n = hi - lo;
                k.dotTile(Q, h0 * hd, hd, group, K, lo * kvDim + ko, kvDim, n, hd, sc, 0, n);
                for (int g = 0; g < group; g++) {
                    int so = g * n, r = (h0 + g) * P + part;
                    float mx = Float.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < n; j++) {
                        sc[so + j] *= scale;
                        mx = Math.max(mx, sc[so + j]);
                    }
                    if (s.sigmoid()) {
                        for (int j = 0; j < n; j++) {
                            sc[so + j] = sigmoid(sc[so + j] + bias);
                            sum += sc[so + j];
                        }
                    } else {
                        sum = k.expShift(sc, so, n, mx);
                    }
                    ms[r] = mx;
                    ls[r] = sum;
                }
                k.mulAddTile(sc, 0, n, group, V, lo * kvDim + ko, kvDim, n, hd, acc, (h0 * P + part) * hd, P * hd);
            }
        });
        for (int h = 0; h < H; h++) {
            int oo = h * hd;
            java.util.Arrays.fill(out, oo, oo + hd, 0f);
            if (s.sigmoid()) {
                for (int part = 0; part < P; part++) k.axpy(1f, acc, (h * P + part) * hd, out, oo, hd);
                continue;
            }
            float M = Float.NEGATIVE_INFINITY, L = 0;
            for (int part = 0; part < P; part++) M = Math.max(M, ms[h * P + part]);
            for (int part = 0; part < P; part++) {
                float w = ls[h * P + part] == 0 ? 0f : (float) Math.exp(ms[h * P + part] - M);
                L += w * ls[h * P + part];
                k.axpy(w, acc, (h * P + part) * hd, out, oo, hd);
            }
            k.scale(out, oo, hd, 1 / L);
        }
    }
}
