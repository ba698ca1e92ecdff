package dev.panamax.quant;

import dev.panamax.simd.StartUpTwins;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Plain-Java twins of the Q8_0, Q4_0 and Q6_K decode kernels ({@link VectorInterleaved#q8}, {@link
 * VectorInterleaved#q4} and their batched forms, {@link VectorInterleaved#q6k}), for a fresh JVM: until C2 has compiled the Vector
 * API kernels they run as Java fallbacks, thousands of times slower, while these loops are compiled
 * within tens of milliseconds (docs/kernels.md, "Start-up: lane-order twins"). They give the vector
 * kernels' bits: a block's integer sum Σ code·x is exact in any order, and it meets the scales as
 * there — per row and block one {@code fma(float(S) [− 8·Σx], d_w·d_x, acc)}, blocks in order.
 *
 * <p>Each group-block is copied from the weights into a long array (one bulk copy, fast even
 * before anything is compiled) and multiplied from there, two products per long multiply: codes
 * masked into two 32-bit lanes of a long, whose sums never reach across (the lanes' bounds are at
 * each kernel). Q4_0's shorts (four rows' nibbles of one column) are summed whole and shifted by 4,
 * 8 and 12 as the vector kernel takes them, nibble k's sum = a_k − 16·a_{k+1}. Batched steps copy a
 * block once for all their vectors: 1.4–1.5× the speed of one product per multiply (figures in
 * docs/kernels.md).
 */
final class InterleavedTwins {
    private InterleavedTwins() {}

    /** Two 32-bit lanes of a long: each lane's sum stays below 2³¹ in magnitude, so the long's arithmetic carries nothing across. */
    private static final long LANE_BYTES = 0x000000FF000000FFL, LANE_SHORTS = 0x0000FFFF0000FFFFL;

    /** The lane sums of S = low + 2³²·high (|low|, |high| < 2³¹): low as {@code (int) S}, high as {@code (S − low) ≫ 32}. */
    private static int high(long sum) {
        return (int) ((sum - (int) sum) >> 32);
    }

    /**
     * Q8_0x16 groups [g0, g1) × each of {@code a} (activations as {@link QuantizedMatvec.Activations}
     * makes them) into {@code outs}. A long of a chunk is four rows' code pairs; biased by 128 (the
     * xor) its bytes are unsigned, and masked in two 32-bit lanes — rows 4k and 4k + 2, 4k + 1 and
     * 4k + 3 — one long multiply makes two products: Σ (code + 128)·x, less 128·Σx at the block's end.
     * A lane's sum over a block: |Σ| ≤ 32·255·127 = 1 036 320 &lt; 2³¹.
     */
    static void q8(MemorySegment w, long off, QuantizedMatvec.Activations[] a, int blocks, float[][] outs, int g0, int g1) {
        int n = a.length;
        long[] blk = new long[Q8_0x16.BYTES / 8], acc = new long[8];
        float[][] rows = new float[n][16];
        for (int g = g0; g < g1; g++) {
            for (float[] row : rows) java.util.Arrays.fill(row, 0f);
            long base = off + (long) g * blocks * Q8_0x16.BYTES;
            for (int b = 0; b < blocks; b++) {
                MemorySegment.copy(w, I64, base + (long) b * Q8_0x16.BYTES, blk, 0, blk.length);
                for (int v = 0; v < n; v++) q8Block(blk, a[v].xq().q, 32 * b, 128 * a[v].xsum32()[b], a[v].xq().d[b], rows[v], acc);
            }
            for (int v = 0; v < n; v++) System.arraycopy(rows[v], 0, outs[v], 16 * g, 16);
        }
    }

    /**
     * One Q8_0x16 group-block (its longs in blk) against one vector's codes xq[xb, xb + 32) (bias: 128·Σx,
     * d: the vector's block scale) into its 16 rows. A method of its own, called once a block: a fresh
     * JVM compiles a small method called often long before it compiles the loop of a long call
     * (TinyLlama Q8_0's first forward ran ~0.5 s of this in the interpreter as one method).
     */
    private static void q8Block(long[] blk, byte[] xq, int xb, int bias, float d, float[] row, long[] acc) {
        java.util.Arrays.fill(acc, 0);
        for (int j = 0; j < 16; j++) {
            long x0 = xq[xb + 2 * j], x1 = xq[xb + 2 * j + 1];
            for (int k = 0; k < 4; k++) { // bytes: row 4k c0, c1, row 4k + 1 c0, c1, … (c0 = column 2j, c1 = 2j + 1)
                long u = blk[4 + 4 * j + k] ^ 0x8080808080808080L;
                acc[2 * k] += (u & LANE_BYTES) * x0 + (u >>> 8 & LANE_BYTES) * x1;
                acc[2 * k + 1] += (u >>> 16 & LANE_BYTES) * x0 + (u >>> 24 & LANE_BYTES) * x1;
            }
        }
        for (int k = 0; k < 4; k++) {
            long even = acc[2 * k], odd = acc[2 * k + 1];
            row[4 * k] = fma((int) even - bias, scale(blk, 4 * k), d, row[4 * k]);
            row[4 * k + 1] = fma((int) odd - bias, scale(blk, 4 * k + 1), d, row[4 * k + 1]);
            row[4 * k + 2] = fma(high(even) - bias, scale(blk, 4 * k + 2), d, row[4 * k + 2]);
            row[4 * k + 3] = fma(high(odd) - bias, scale(blk, 4 * k + 3), d, row[4 * k + 3]);
        }
    }

    /**
     * Q4_0x64 groups [g0, g1) × each of {@code a} into {@code outs}. A long of a chunk is two lanes'
     * shorts for both columns (lane r: c0, c1; lane r + 1: c0, c1); the shorts of one column, whole
     * and shifted by 4, 8, 12 as the vector kernel takes them, go to two 32-bit lanes: one long
     * multiply makes two of its products. A lane's sum over a block, the whole shorts' the largest:
     * |Σ| ≤ 32·65 535·127 ≈ 2.7·10⁸ &lt; 2³¹.
     */
    static void q4(MemorySegment w, long off, QuantizedMatvec.Activations[] a, int blocks, float[][] outs, int g0, int g1) {
        int n = a.length;
        long[] blk = new long[Q4_0x64.BYTES / 8], acc = new long[4 * 8];
        float[][] rows = new float[n][64];
        for (int g = g0; g < g1; g++) {
            for (float[] row : rows) java.util.Arrays.fill(row, 0f);
            long base = off + (long) g * blocks * Q4_0x64.BYTES;
            for (int b = 0; b < blocks; b++) {
                MemorySegment.copy(w, I64, base + (long) b * Q4_0x64.BYTES, blk, 0, blk.length);
                for (int v = 0; v < n; v++) q4Block(blk, a[v].xq().q, 32 * b, a[v].xs8()[b], a[v].xq().d[b], rows[v], acc);
            }
            for (int v = 0; v < n; v++) System.arraycopy(rows[v], 0, outs[v], 64 * g, 64);
        }
    }

    /** One Q4_0x64 group-block against one vector's codes xq[xb, xb + 32) (c: its 8·Σx, d: its scale) into its 64 rows; see {@link #q8Block}. */
    private static void q4Block(long[] blk, byte[] xq, int xb, float c, float d, float[] row, long[] acc) {
        java.util.Arrays.fill(acc, 0);
        for (int j = 0; j < 16; j++) {
            long x0 = xq[xb + 2 * j], x1 = xq[xb + 2 * j + 1];
            for (int m = 0; m < 8; m++) { // shorts: lane 2m c0, c1, lane 2m + 1 c0, c1
                long u = blk[16 + 8 * j + m];
                acc[m] += (u & LANE_SHORTS) * x0 + (u >>> 16 & LANE_SHORTS) * x1;
                acc[8 + m] += (u >>> 4 & 0x00000FFF00000FFFL) * x0 + (u >>> 20 & 0x00000FFF00000FFFL) * x1;
                acc[16 + m] += (u >>> 8 & 0x000000FF000000FFL) * x0 + (u >>> 24 & 0x000000FF000000FFL) * x1;
                acc[24 + m] += (u >>> 12 & 0x0000000F0000000FL) * x0 + (u >>> 28 & 0x0000000F0000000FL) * x1;
            }
        }
        for (int m = 0; m < 8; m++) {
            for (int lane = 0; lane < 2; lane++) {
                int r = 2 * m + lane; // rows r, 16 + r, 32 + r, 48 + r: nibble k's sum = a_k − 16·a_{k+1}
                int s0 = lane(acc[m], lane), s1 = lane(acc[8 + m], lane), s2 = lane(acc[16 + m], lane), s3 = lane(acc[24 + m], lane);
                row[r] = Math.fma((float) (s0 - 16 * s1) - c, scale(blk, r) * d, row[r]);
                row[16 + r] = Math.fma((float) (s1 - 16 * s2) - c, scale(blk, 16 + r) * d, row[16 + r]);
                row[32 + r] = Math.fma((float) (s2 - 16 * s3) - c, scale(blk, 32 + r) * d, row[32 + r]);
                row[48 + r] = Math.fma((float) s3 - c, scale(blk, 48 + r) * d, row[48 + r]);
            }
        }
    }

    /**
     * Q6_Kx16 groups [g0, g1) × each of {@code a} into {@code outs} (the output matrix of llama.cpp's
     * Q4_0 and Q4_K files). Its code pieces are Q8_0x16's (two columns of sixteen rows, as signed
     * bytes, here in [−32, 31]): per sub-block of 16 columns the same biased two-lane products as
     * {@link #q8Block}, Σ (code + 128)·x less 128·Σx, times the row's sub-block scale into an int;
     * per super-block one fused multiply-add by d·xd, as {@link VectorInterleaved#q6k} rounds it.
     * A lane's sum over a sub-block: |Σ| ≤ 16·159·127 &lt; 2³¹; the scaled int: ≤ 16·128·16·63·127 &lt; 2³¹.
     */
    static void q6k(MemorySegment w, long off, QuantizedMatvec.Activations[] a, int blocks, float[][] outs, int g0, int g1) {
        int n = a.length;
        long[] blk = new long[Q6_Kx16.BYTES / 8], acc = new long[8];
        int[] sc = new int[256], scaled = new int[16];
        float[][] rows = new float[n][16];
        for (int g = g0; g < g1; g++) {
            for (float[] row : rows) java.util.Arrays.fill(row, 0f);
            long base = off + (long) g * blocks * Q6_Kx16.BYTES;
            for (int b = 0; b < blocks; b++) {
                MemorySegment.copy(w, I64, base + (long) b * Q6_Kx16.BYTES, blk, 0, blk.length);
                for (int i = 0; i < 256; i++) sc[i] = (byte) (blk[4 + (i >> 3)] >>> 8 * (i & 7)); // sub-block j's scale of row r at 16j + r
                for (int v = 0; v < n; v++) q6kBlock(blk, sc, a[v].xq().q, 256 * b, a[v].xq().d[b], rows[v], acc, scaled);
            }
            for (int v = 0; v < n; v++) System.arraycopy(rows[v], 0, outs[v], 16 * g, 16);
        }
    }

    /** One Q6_Kx16 group-superblock against one vector's codes xq[xb, xb + 256) (d: its scale) into its 16 rows; see {@link #q8Block}. */
    private static void q6kBlock(long[] blk, int[] sc, byte[] xq, int xb, float d, float[] row, long[] acc, int[] scaled) {
        java.util.Arrays.fill(scaled, 0);
        for (int j = 0; j < 16; j++) {
            java.util.Arrays.fill(acc, 0);
            int xsum = 0;
            for (int p = 0; p < 8; p++) {
                long x0 = xq[xb + 16 * j + 2 * p], x1 = xq[xb + 16 * j + 2 * p + 1];
                xsum += (int) (x0 + x1);
                int at = Q6_Kx16.CODES / 8 + 4 * (8 * j + p);
                for (int k = 0; k < 4; k++) { // bytes: row 4k c0, c1, row 4k + 1 c0, c1, … as in Q8_0x16
                    long u = blk[at + k] ^ 0x8080808080808080L;
                    acc[2 * k] += (u & LANE_BYTES) * x0 + (u >>> 8 & LANE_BYTES) * x1;
                    acc[2 * k + 1] += (u >>> 16 & LANE_BYTES) * x0 + (u >>> 24 & LANE_BYTES) * x1;
                }
            }
            int bias = 128 * xsum, s = 16 * j;
            for (int k = 0; k < 4; k++) {
                long even = acc[2 * k], odd = acc[2 * k + 1];
                scaled[4 * k] += sc[s + 4 * k] * ((int) even - bias);
                scaled[4 * k + 1] += sc[s + 4 * k + 1] * ((int) odd - bias);
                scaled[4 * k + 2] += sc[s + 4 * k + 2] * (high(even) - bias);
                scaled[4 * k + 3] += sc[s + 4 * k + 3] * (high(odd) - bias);
            }
        }
        for (int r = 0; r < 16; r++) row[r] = Math.fma((float) scaled[r], scale(blk, r) * d, row[r]);
    }

    /** Groups [g0, g1) of an interleaved Q8_0, Q4_0 or Q6_K matrix of {@code cols} columns × each of {@code a}: the format's twin. */
    static void matvec(BlockFormat f, MemorySegment w, long off, QuantizedMatvec.Activations[] a, int cols, float[][] outs, int g0, int g1) {
        switch (f) {
            case Q8_0 -> q8(w, off, a, cols / 32, outs, g0, g1);
            case Q4_0 -> q4(w, off, a, cols / 32, outs, g0, g1);
            case Q6_K -> q6k(w, off, a, cols / 256, outs, g0, g1);
            default -> throw new IllegalArgumentException("no start-up twin for " + f);
        }
    }

    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static int lane(long sum, int lane) {
        return lane == 0 ? (int) sum : high(sum);
    }

    /** Row i's f16 scale, from the group-block's first longs. */
    private static float scale(long[] blk, int i) {
        return Float.float16ToFloat((short) (blk[i >> 2] >>> 16 * (i & 3)));
    }

    /** One block's step of a Q8_0 row: fma(float(S), d_w·d_x, acc), as the vector kernel rounds it. */
    private static float fma(int sum, float dw, float dx, float acc) {
        return Math.fma((float) sum, dw * dx, acc);
    }

    /**
     * The Q8_0, Q4_0 and Q6_K decode kernels as a fresh JVM runs them: on these twins until the warm-up
     * ({@link StartUpTwins}) finds the vector kernels as fast, then on {@code vector}. Every other
     * kernel goes to {@code vector} at once.
     */
    static final class StartUpDot implements QuantizedMatvec.Dot {
        private final QuantizedMatvec.Dot v;
        private final StartUpTwins.Family q8, q4, q6k;

        StartUpDot(QuantizedMatvec.Dot vector) {
            this.v = vector;
            // Two blocks of columns a workload call, not eight: until C2 takes them the warm-up calls the
            // vector kernels uncompiled, where a call costs hundreds of microseconds, and C2 takes a
            // method once it has been called often enough (more often while its queue is long, as it
            // is then) — a smaller call gets there sooner (measured: docs/benchmarks.md, twenty-first
            // session; one block switched too early, to code that then ran slower).
            this.q8 = StartUpTwins.register("q8_0", new Workload(vector, BlockFormat.Q8_0, 32, 64)::run);
            // Q4_0: three groups of 64 rows, so both of the vector kernel's loops run ({@code q4Pair} for two
            // groups at a time, {@code q4Group} for the odd one): with one group the pair loop, the one a
            // model's matrices take, was never warmed and ran uncompiled after the switch.
            this.q4 = StartUpTwins.register("q4_0", new Workload(vector, BlockFormat.Q4_0, 192, 64)::run);
            this.q6k = StartUpTwins.register("q6_k", new Workload(vector, BlockFormat.Q6_K, 16, 256)::run);
        }

        @Override
        public void matvecInterleaved(BlockFormat f, MemorySegment w, long off, Q8_KBlock x, int[] pairs, float[] xs8, int[] xsum32, int cols,
                                      float[] out, int g0, int g1) {
            StartUpTwins.Family twin = f == BlockFormat.Q8_0 ? q8 : f == BlockFormat.Q4_0 ? q4 : f == BlockFormat.Q6_K ? q6k : null;
            if (twin == null || twin.onVector()) {
                v.matvecInterleaved(f, w, off, x, pairs, xs8, xsum32, cols, out, g0, g1);
                return;
            }
            twin.use();
            matvec(f, w, off, new QuantizedMatvec.Activations[] {new QuantizedMatvec.Activations(x, pairs, xs8, xsum32, null)}, cols, new float[][] {out}, g0, g1);
        }

        @Override
        public boolean matvecInterleavedBatch(BlockFormat f, MemorySegment w, long off, QuantizedMatvec.Activations[] a, int cols, float[][] outs,
                                              int g0, int g1) {
            StartUpTwins.Family twin = f == BlockFormat.Q8_0 ? q8 : f == BlockFormat.Q4_0 ? q4 : f == BlockFormat.Q6_K ? q6k : null;
            if (twin == null || twin.onVector()) return v.matvecInterleavedBatch(f, w, off, a, cols, outs, g0, g1);
            twin.use();
            matvec(f, w, off, a, cols, outs, g0, g1);
            return true;
        }

        // ---- everything else on the vector kernels
        @Override public QuantizedMatvec.Activations batchActivations(BlockFormat f, float[] x, int xOff, int cols) { return v.batchActivations(f, x, xOff, cols); }
        @Override public float dot(BlockFormat f, MemorySegment w, long wOff, Q8_KBlock x, int n) { return v.dot(f, w, wOff, x, n); }
        @Override public int scaledDot(byte[] c, int[] s, Q8_KBlock x, int off, int size) { return v.scaledDot(c, s, x, off, size); }
        @Override public float rowDot(BlockFormat f, MemorySegment w, long wOff, Q8_KBlock x, int n, byte[] c, int[] s, int[] m, float[] ab) {
            return v.rowDot(f, w, wOff, x, n, c, s, m, ab);
        }
        @Override public void dequantize(BlockFormat f, MemorySegment w, long off, float[] y, int yOff, int n) { v.dequantize(f, w, off, y, yOff, n); }
        @Override public void unpack(BlockFormat f, MemorySegment w, long off, byte[] c, int[] s, int[] m, float[] ab) { v.unpack(f, w, off, c, s, m, ab); }
        @Override public float ternary(MemorySegment w, long off, byte[] xq, int n) { return v.ternary(w, off, xq, n); }
        @Override public float ternary16(MemorySegment w, long off, byte[] xq, int n) { return v.ternary16(w, off, xq, n); }
        @Override public int hamming(long[] a, long[] b, int words) { return v.hamming(a, b, words); }
        @Override public int vectorBits() { return v.vectorBits(); }
        @Override public boolean q4_0PromptGemm(MemorySegment w, int rows, int cols, float[] x, int tokens, float[] out) {
            return v.q4_0PromptGemm(w, rows, cols, x, tokens, out);
        }
        @Override public void dequantizeInterleavedRows(BlockFormat f, MemorySegment w, long off, int cols, int r0, int count, float[] y, int yOff) {
            v.dequantizeInterleavedRows(f, w, off, cols, r0, count, y, yOff);
        }
    }

    /**
     * The warm-up's work for one format: a random interleaved matrix of {@code rows} × {@code cols}
     * times one vector, on the vector kernel or the twin. Only the one-vector kernel: a generation's
     * short prompt (rows of one batched step) runs on the twins while they last, and then only
     * decoding follows; warming the batched kernels too cost the two cores ~0.3 s more of C2's
     * time (a server ends the warm-up at once, {@code Simd.endWarmUp}).
     */
    private static final class Workload {
        private final QuantizedMatvec.Dot vector;
        private final BlockFormat format;
        private final MemorySegment w;
        private final QuantizedMatvec.Activations[] one;
        private final float[][] outs;
        private final int cols, groups;

        Workload(QuantizedMatvec.Dot vector, BlockFormat format, int rows, int cols) {
            this.vector = vector;
            this.format = format;
            this.cols = cols;
            this.groups = rows / QuantizedMatvec.interleavedGroupRows(format);
            java.util.Random random = new java.util.Random(1);
            int bytes = (int) QuantizedMatvec.interleavedBytes(format, rows, cols);
            byte[] codes = new byte[bytes];
            random.nextBytes(codes);
            int groupBlock = format == BlockFormat.Q8_0 ? Q8_0x16.BYTES : format == BlockFormat.Q4_0 ? Q4_0x64.BYTES : Q6_Kx16.BYTES;
            int scales = QuantizedMatvec.interleavedGroupRows(format);
            if (format == BlockFormat.Q6_K) for (int i = Q6_Kx16.CODES; i < bytes; i++) codes[i] = (byte) ((codes[i] & 63) - 32); // one group: codes in [−32, 31]
            for (int o = 0; o < bytes; o += groupBlock) {
                for (int r = 0; r < scales; r++) { // finite scales, as interleaving checks
                    short h = Float.floatToFloat16(0.01f + random.nextFloat() / 64);
                    codes[o + 2 * r] = (byte) h;
                    codes[o + 2 * r + 1] = (byte) (h >> 8);
                }
            }
            // Off the heap, as the model's weights are: a heap segment would teach the vector kernels' calls a second type.
            this.w = java.lang.foreign.Arena.ofAuto().allocate(bytes, 64);
            MemorySegment.copy(codes, 0, w, ValueLayout.JAVA_BYTE, 0, bytes);
            float[] x = new float[cols];
            for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
            this.one = new QuantizedMatvec.Activations[] {QuantizedMatvec.Activations.of(format, x, 0, cols, false)};
            this.outs = new float[][] {new float[rows]};
        }

        void run(boolean onVector) {
            QuantizedMatvec.Activations a = one[0];
            if (onVector) vector.matvecInterleaved(format, w, 0, a.xq(), a.pairs(), a.xs8(), a.xsum32(), cols, outs[0], 0, groups);
            else matvec(format, w, 0, one, cols, outs, 0, groups);
        }
    }
}
