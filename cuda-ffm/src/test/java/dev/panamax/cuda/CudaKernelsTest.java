package dev.panamax.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.runtime.tensor.DType;
import dev.panamax.runtime.tensor.Tensor;
import dev.panamax.simd.Attention;
import dev.panamax.simd.Kernels;
import dev.panamax.simd.Simd;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Every CUDA kernel against its CPU twin on random shapes (seeded, many cases each): the matvec of
 * each weight format with the fused input transforms, embedding and dequantisation, row norms and
 * gates, RoPE with the cache store, split-K attention against naive attention, and cuBLAS.
 */
class CudaKernelsTest {
    final Kernels k = Simd.kernels();

    /** |got − want| ≤ tol·(scale) elementwise, naming the case. */
    static void close(float[] want, float[] got, double tol, double scale, String what) {
        assertEquals(want.length, got.length, what + " length");
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs(want[i] - got[i]);
            int at = i;
            assertTrue(d <= tol * Math.max(scale, Math.abs(want[i])), () -> what + ": element " + at + " want " + want[at] + " got " + got[at]);
        }
    }

    /** A KV cache on the device: floats, or (half) v rounded to half floats in place, so the CPU reference reads what the GPU holds. */
    static long cache(CudaContext cx, Arena a, float[] v, boolean half) {
        if (!half) return cx.upload(a, v);
        short[] h = new short[v.length];
        for (int i = 0; i < v.length; i++) {
            h[i] = Float.floatToFloat16(v[i]);
            v[i] = Float.float16ToFloat(h[i]);
        }
        return cx.upload(a, java.lang.foreign.MemorySegment.ofArray(h));
    }

    static float[] cacheValues(CudaContext cx, long p, int n, boolean half) {
        if (!half) return cx.downloadFloats(p, n);
        short[] h = cx.downloadShorts(p, n);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = Float.float16ToFloat(h[i]);
        return v;
    }

    static void roundToHalf(float[] v, int from, int n) {
        for (int i = from; i < from + n; i++) v[i] = Float.float16ToFloat(Float.floatToFloat16(v[i]));
    }

    /**
     * Weights uploaded through the staging buffers (rows packed in parallel, Q8_0/Q4_0 rows split into
     * codes and scales on the device by split_blocks) are byte for byte the synchronous upload: every
     * device format, stacked parts and interleaved pairs, with buffers so small that matrices cross
     * many of them and the ring of four wraps, and small vectors between the matrices.
     */
    @Test
    void stagedUploadsEqualSynchronousOnes() {
        CudaContext cx = Gpu.context();
        Random r = new Random(11);
        DType[] types = {DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q6_K};
        try (Arena a = Arena.ofShared()) {
            for (DType type : types) {
                for (int cols : new int[] {256, 512}) {
                    Tensor x = Gpu.tensor(type, 13, cols, Gpu.random(r, 13 * cols, 1f)), y = Gpu.tensor(type, 7, cols, Gpu.random(r, 7 * cols, 1f));
                    Tensor g1 = Gpu.tensor(type, 5, cols, Gpu.random(r, 5 * cols, 1f)), u1 = Gpu.tensor(type, 5, cols, Gpu.random(r, 5 * cols, 1f));
                    Tensor g2 = Gpu.tensor(type, 3, cols, Gpu.random(r, 3 * cols, 1f)), u2 = Gpu.tensor(type, 3, cols, Gpu.random(r, 3 * cols, 1f));
                    float[] v = Gpu.random(r, 77, 1f);
                    DeviceMatrix[] sync = {DeviceMatrix.upload(cx, a, x, y), DeviceMatrix.uploadInterleaved(cx, a, java.util.List.of(g1, g2), java.util.List.of(u1, u2))};
                    long vSync = cx.upload(a, v);
                    DeviceMatrix[] staged = new DeviceMatrix[2];
                    long vStaged;
                    long buffer = DeviceMatrix.bytes(sync[0].format, 3, cols) + 300; // three rows and a bit: chunks of three, small pieces after them
                    try (Uploads up = cx.beginUploads(buffer)) {
                        assertTrue(up.staged());
                        staged[0] = DeviceMatrix.upload(cx, a, x, y);
                        vStaged = cx.upload(a, v);
                        staged[1] = DeviceMatrix.uploadInterleaved(cx, a, java.util.List.of(g1, g2), java.util.List.of(u1, u2));
                        assertEquals(staged[0].bytes + 4L * v.length + staged[1].bytes, up.bytes());
                    }
                    for (int m = 0; m < 2; m++) {
                        assertEquals(sync[m].format, staged[m].format);
                        assertArrayEquals(bytes(cx, sync[m].pointer, sync[m].bytes), bytes(cx, staged[m].pointer, staged[m].bytes), type + " " + cols + " matrix " + m);
                    }
                    assertArrayEquals(v, cx.downloadFloats(vStaged, v.length));
                    assertArrayEquals(v, cx.downloadFloats(vSync, v.length));
                }
            }
        }
    }

    private static byte[] bytes(CudaContext cx, long p, long n) {
        byte[] out = new byte[(int) n];
        try (Arena t = Arena.ofConfined()) {
            java.lang.foreign.MemorySegment s = t.allocate(n);
            cx.makeCurrent();
            cx.driver.copyToHost(s, p, n);
            java.lang.foreign.MemorySegment.copy(s, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, out, 0, (int) n);
        }
        return out;
    }

    /** Whether the decode matvec of t's device format takes integer dot products on a quantized input. */
    static boolean integerDot(Tensor t) {
        return CudaOps.integerDot(DeviceMatrix.formatOf(t)) && CudaOps.INT_DOT;
    }

    /**
     * The input a decode matvec multiplies, as the CPU computes it: in RMS- or Layer-normalised with nw
     * (and nb). For the integer dot products, the staged input (in · nw before the RMS scale, or the
     * whole LayerNorm) quantized per block of 32 as kernels.cu's quantize_staged does — d = max|v| / 127,
     * q = round-to-even(v / d) — each value q·d, then the RMS scale.
     */
    double[] staged(float[] in, float[] nw, float[] nb, boolean norm, boolean layerNorm, boolean integer) {
        int cols = nw.length;
        float[] v = java.util.Arrays.copyOf(in, cols);
        double rstd = 1;
        if (layerNorm) k.layernorm(v, 0, v, 0, nw, nb, cols, 1e-5f);
        else if (norm && !integer) k.rmsnorm(v, 0, v, 0, nw, cols, 1e-5f);
        else if (norm) {
            double ss = 0;
            for (int i = 0; i < cols; i++) ss += (double) v[i] * v[i];
            rstd = 1 / Math.sqrt(ss / cols + 1e-5);
            for (int i = 0; i < cols; i++) v[i] *= nw[i];
        }
        double[] out = new double[cols];
        for (int b = 0; b < cols; b += 32) {
            if (!integer) {
                for (int i = b; i < Math.min(cols, b + 32); i++) out[i] = v[i];
                continue;
            }
            float amax = 0;
            for (int i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(v[i]));
            float d = amax / 127f, id = d != 0 ? 1f / d : 0f;
            for (int i = b; i < b + 32; i++) out[i] = Math.rint(v[i] * id) * (double) d * rstd;
        }
        return out;
    }

    @Test
    void matvecOfEveryFormatMatchesTheCpu() {
        matvecOfEveryFormat();
    }

    /**
     * The Q8_0 and Q4_0 matvecs on the integer tensor cores ({@code matvec_mma_*}, the default) and on
     * dp4a ({@code -Dpanamax.cuda.mma=false}), and F16's on the half-float tensor cores ({@code
     * -Dpanamax.cuda.mmaF16=true}: where the columns are a multiple of 32): the same checks against the
     * CPU, one input and gated pairs.
     */
    @Test
    void tensorCoreAndDp4aMatvecsMatchTheCpu() {
        boolean was = CudaOps.mma, wasF16 = CudaOps.mmaF16;
        try {
            for (int mode = 0; mode < 3; mode++) {
                CudaOps.mma = mode != 1;
                CudaOps.mmaF16 = mode == 2;
                matvecOfEveryFormat();
                gatedMatvecOnInterleavedRowsMatchesTheCpu();
            }
        } finally {
            CudaOps.mma = was;
            CudaOps.mmaF16 = wasF16;
        }
    }

    /**
     * A batched tensor-core matvec of B inputs gives each input the bits the kernel gives it alone:
     * B from 2 to 37 (a partial group of 8, of 16, several blocks of 16), rows that do not fill a
     * tile of 16, RMSNorm, bias, accumulation and gated pairs; and 16 inputs of 2 560 columns, whose
     * shared memory passes 48 KiB only with the kernel's static arrays counted (once a launch error).
     * Q8_0 and Q4_0 on the integer tensor cores, then F16 on the half-float ones (mmaF16), whose sums
     * are floats added inside the tensor core: each input's column of the MMA must not depend on the
     * others, nor on which column it is.
     */
    @Test
    void tensorCoreBatchGivesEachInputItsSoloBits() {
        CudaContext cx = Gpu.context();
        CudaOps ops = new CudaOps(cx);
        Random r = new Random(29);
        int[] sizes = {2, 5, 8, 9, 16, 17, 37};
        boolean was = CudaOps.mma, wasF16 = CudaOps.mmaF16;
        CudaOps.mma = true;
        CudaOps.mmaF16 = true;
        try (Arena a = Arena.ofConfined()) {
            for (int c = 0; c < 26; c++) {
                DType type = c >= 16 ? DType.F16 : c % 2 == 0 ? DType.Q8_0 : DType.Q4_0;
                int B = sizes[c % sizes.length], rows = 2 * (1 + r.nextInt(200)), cols = 32 * (1 + r.nextInt(96)), pairAct = c % 5 == 4 ? 1 + r.nextInt(2) : 0;
                if (c == 14 || c == 15 || c == 25) { // 16 inputs of 2 560 columns: 47 616 dynamic bytes, past 48 KiB only with the kernel's static arrays
                    B = 16;
                    cols = 2560;
                }
                boolean norm = r.nextBoolean(), bias = pairAct == 0 && r.nextBoolean(), accumulate = pairAct == 0 && r.nextBoolean();
                int outRows = pairAct != 0 ? rows / 2 : rows;
                DeviceMatrix W = DeviceMatrix.upload(cx, a, Gpu.tensor(type, rows, cols, Gpu.random(r, rows * cols, 0.05f)));
                float[] x = Gpu.random(r, B * cols, 1f), y0 = Gpu.random(r, B * outRows, 1f);
                long xd = cx.upload(a, x), nd = cx.upload(a, Gpu.random(r, cols, 1f)), bd = cx.upload(a, Gpu.random(r, rows, 1f));
                long yb = cx.upload(a, y0), zeros = cx.upload(a, java.lang.foreign.MemorySegment.ofArray(new int[B]));
                ops.batchMatvec(0, W, B, zeros, xd, norm ? nd : 0, 0, 1e-5f, bias ? bd : 0, yb, accumulate, pairAct);
                float[] batched = cx.downloadFloats(yb, B * outRows);
                for (int j = 0; j < B; j++) {
                    long ys = cx.upload(a, Arrays.copyOfRange(y0, j * outRows, (j + 1) * outRows)), xj = xd + 4L * j * cols;
                    if (pairAct != 0) ops.gatedMatvec(0, W, xj, norm ? nd : 0, 1e-5f, pairAct, ys);
                    else ops.matvec(0, W, xj, norm ? nd : 0, 0, 0, 1e-5f, bias ? bd : 0, ys, accumulate, false);
                    float[] alone = cx.downloadFloats(ys, outRows);
                    assertArrayEquals(alone, Arrays.copyOfRange(batched, j * outRows, (j + 1) * outRows),
                            type + " " + rows + "x" + cols + " input " + j + " of " + B + " pairAct " + pairAct + " norm " + norm);
                }
            }
        } finally {
            CudaOps.mma = was;
            CudaOps.mmaF16 = wasF16;
        }
    }

    /**
     * A matvec launched with fewer blocks than blocks of rows (each block then takes several in turn,
     * staging its input once: {@code CudaOps.rowLoop}) gives the bits of a block per block of rows: every
     * format on its one-input kernel, Q8_0 and Q4_0 on the tensor cores alone and for 20 inputs (two
     * groups, the loop keeping each block on its group), every format's four-rows-a-warp batched kernel
     * ({@code matvec4x4_*}) for 16 inputs, F16 on the half-float tensor cores alone and for 20 inputs
     * (three groups of 8), with RMSNorm or without, gated pairs, bias and accumulation; 4 000–6 000
     * rows, so each block takes two or more turns.
     */
    @Test
    void blocksTakingSeveralRowBlocksGiveTheSameBits() {
        CudaContext cx = Gpu.context();
        CudaOps ops = new CudaOps(cx);
        Random r = new Random(41);
        DType[] types = {DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0};
        int wasLoop = CudaOps.rowLoop;
        boolean wasMma = CudaOps.mma, wasF16 = CudaOps.mmaF16;
        try (Arena a = Arena.ofConfined()) {
            for (int c = 0; c < 24; c++) {
                DType type = c >= 20 ? DType.F16 : types[c % types.length];
                boolean mma = c >= 20 || c >= types.length && c < 15 && (type == DType.Q8_0 || type == DType.Q4_0);
                int B = c >= 20 ? (c % 2 == 0 ? 1 : 20) : c >= 15 ? 16 : mma && c >= 10 ? 20 : 1, rows = 2 * (2000 + r.nextInt(1000)), cols = 32 * (8 + r.nextInt(64)), pairAct = c % 3 == 2 ? 1 : 0;
                boolean norm = c % 2 == 0, bias = pairAct == 0 && r.nextBoolean(), accumulate = pairAct == 0 && r.nextBoolean();
                int outRows = pairAct != 0 ? rows / 2 : rows;
                DeviceMatrix W = DeviceMatrix.upload(cx, a, Gpu.tensor(type, rows, cols, Gpu.random(r, rows * cols, 0.05f)));
                float[] x = Gpu.random(r, B * cols, 1f), y0 = Gpu.random(r, B * outRows, 1f);
                long xd = cx.upload(a, x), nd = cx.upload(a, Gpu.random(r, cols, 1f)), bd = cx.upload(a, Gpu.random(r, rows, 1f));
                long zeros = cx.upload(a, java.lang.foreign.MemorySegment.ofArray(new int[B]));
                float[][] got = new float[2][];
                for (int loop = 0; loop < 2; loop++) {
                    CudaOps.rowLoop = loop == 0 ? 0 : 1;
                    CudaOps.mma = mma;
                    CudaOps.mmaF16 = c >= 20;
                    CudaOps.rowsFromBlocks = c >= 15 ? 0 : -1; // from 15 on: matvec4x4 whatever the size
                    got[loop] = matvecOf(ops, cx, a, W, B, zeros, xd, norm ? nd : 0, bias ? bd : 0, accumulate, pairAct, y0);
                }
                assertArrayEquals(got[0], got[1], type + (mma ? " tensor cores" : c >= 15 ? " matvec4x4" : "") + " " + rows + "x" + cols + " B " + B + " pairAct " + pairAct
                        + " norm " + norm);
            }
        } finally {
            CudaOps.rowLoop = wasLoop;
            CudaOps.mma = wasMma;
            CudaOps.mmaF16 = wasF16;
            CudaOps.rowsFromBlocks = -1;
        }
    }

    /**
     * The shapes of the decode kernels: each {@code *_pipe} kernel (the next rows loaded before a block's
     * reduction, {@code CudaOps.tilePipe}, the default) gives the bits of the kernel without — F16's
     * one-input matvec and gated pairs, and F16, Q8_0 and Q4_0 on the tensor cores with 8 and with 16
     * warps a block, alone and for 20 inputs, on 4 000–6 000 rows with one block an SM's worth of blocks
     * (rowLoop 1), so every block takes several turns; the 16-warp kernels (F16's and Q8_0's default)
     * give each of 20 inputs its solo bits, piped or not, within 1e-5 of the 8-warp kernels' sums.
     */
    @Test
    void decodeKernelShapesKeepTheGuarantees() {
        CudaContext cx = Gpu.context();
        CudaOps ops = new CudaOps(cx);
        Random r = new Random(43);
        int wasLoop = CudaOps.rowLoop, wasWarps = CudaOps.mmaWarps;
        boolean wasMma = CudaOps.mma, wasF16 = CudaOps.mmaF16;
        Boolean wasPipe = CudaOps.tilePipe;
        DType[] tensorTypes = {DType.F16, DType.Q8_0, DType.Q4_0};
        try (Arena a = Arena.ofConfined()) {
            CudaOps.rowLoop = 1;
            for (int c = 0; c < 16; c++) {
                boolean tensor = c >= 4;
                DType type = tensor ? tensorTypes[(c - 4) % 3] : DType.F16;
                int B = tensor && c % 2 == 1 ? 20 : 1, rows = 2 * (2000 + r.nextInt(1000)), cols = 32 * (8 + r.nextInt(64)), pairAct = r.nextInt(3) == 0 ? 1 : 0;
                boolean norm = c % 2 == 0, bias = pairAct == 0 && r.nextBoolean(), accumulate = pairAct == 0 && r.nextBoolean();
                int outRows = pairAct != 0 ? rows / 2 : rows;
                DeviceMatrix W = DeviceMatrix.upload(cx, a, Gpu.tensor(type, rows, cols, Gpu.random(r, rows * cols, 0.05f)));
                float[] x = Gpu.random(r, B * cols, 1f), y0 = Gpu.random(r, B * outRows, 1f);
                long xd = cx.upload(a, x), nd = cx.upload(a, Gpu.random(r, cols, 1f)), bd = cx.upload(a, Gpu.random(r, rows, 1f));
                long zeros = cx.upload(a, java.lang.foreign.MemorySegment.ofArray(new int[B]));
                CudaOps.mma = tensor;
                CudaOps.mmaF16 = tensor;
                String what = type + (tensor ? " tensor cores" : " CUDA cores") + " " + rows + "x" + cols + " B " + B + " pairAct " + pairAct + " norm " + norm;
                float[][] got = new float[4][]; // [warps 8 / 16][piped]
                for (int k = 0; k < (tensor ? 4 : 2); k++) {
                    boolean wide = k >= 2, piped = k % 2 == 1;
                    CudaOps.mmaWarps = wide ? 16 : 8;
                    CudaOps.tilePipe = piped;
                    got[k] = matvecOf(ops, cx, a, W, B, zeros, xd, norm ? nd : 0, bias ? bd : 0, accumulate, pairAct, y0);
                    if (wide && B > 1) { // the 16-warp kernels: each input its solo bits
                        for (int j = 0; j < B; j++) {
                            float[] alone = matvecOf(ops, cx, a, W, 1, zeros, xd + 4L * j * cols, norm ? nd : 0, bias ? bd : 0, accumulate, pairAct,
                                    Arrays.copyOfRange(y0, j * outRows, (j + 1) * outRows));
                            assertArrayEquals(alone, Arrays.copyOfRange(got[k], j * outRows, (j + 1) * outRows),
                                    what + ", 16 warps" + (piped ? " piped" : "") + ", input " + j);
                        }
                    }
                }
                assertArrayEquals(got[0], got[1], what + ": piped against not");
                if (tensor) {
                    assertArrayEquals(got[2], got[3], what + ", 16 warps: piped against not");
                    // the blocks' scaled sums (and RMSNorm's Σ x²) added in another order: float rounding
                    // of up to ~70 terms of ~0.1 each, a few units in the last place of the result (Q4_0's
                    // 16 warps were measured 2.3e-6 off at 0.63)
                    close(got[0], got[2], 1e-5, 1, what + ": 16 warps against 8");
                }
            }
        } finally {
            CudaOps.rowLoop = wasLoop;
            CudaOps.mmaWarps = wasWarps;
            CudaOps.mma = wasMma;
            CudaOps.mmaF16 = wasF16;
            CudaOps.tilePipe = wasPipe;
        }
    }

    /**
     * y0 (B outputs, uploaded) after the decode matvec of W with B inputs at x, as a model launches it:
     * a batched step for B > 1, else gated pairs (pairAct ≠ 0) or the one-input matvec; nw and bias may be 0.
     */
    static float[] matvecOf(CudaOps ops, CudaContext cx, Arena a, DeviceMatrix W, int B, long zeros, long x, long nw, long bias, boolean accumulate,
                            int pairAct, float[] y0) {
        long y = cx.upload(a, y0);
        if (B > 1) ops.batchMatvec(0, W, B, zeros, x, nw, 0, 1e-5f, bias, y, accumulate, pairAct);
        else if (pairAct != 0) ops.gatedMatvec(0, W, x, nw, 1e-5f, pairAct, y);
        else ops.matvec(0, W, x, nw, 0, 0, 1e-5f, bias, y, accumulate, false);
        return cx.downloadFloats(y, y0.length);
    }

    private void matvecOfEveryFormat() {
        CudaContext cx = Gpu.context();
        CudaOps ops = new CudaOps(cx);
        Random r = new Random(7);
        DType[] types = {DType.F32, DType.F16, DType.Q8_0, DType.Q4_0, DType.BF16, DType.Q6_K};
        for (int c = 0; c < 48; c++) {
            DType type = types[c % types.length];
            int block = type.blockSize, rows = 1 + r.nextInt(300);
            int cols = type == DType.F32 || type == DType.F16 ? 1 + r.nextInt(1200) : block * (1 + r.nextInt(2048 / block));
            if (c < 6) cols = type.blockSize * (2048 / type.blockSize); // one long row each
            if (type == DType.F16 && c % 4 == 3) cols = 32 * Math.max(1, cols / 32); // whole blocks of 32: the tensor cores take them with mmaF16
            if (c >= 6 && c < 12) rows = c < 9 ? 2048 + r.nextInt(100) : 8192 + r.nextInt(100); // two warps a row, one
            int act = r.nextInt(3);
            boolean norm = r.nextBoolean(), bias = r.nextBoolean(), accumulate = r.nextBoolean();
            boolean layerNorm = norm && r.nextBoolean(), gelu = r.nextInt(4) == 0; // GPT-2's LayerNorm in, gelu_tanh out
            float[] w = Gpu.random(r, rows * cols, 0.05f), x = Gpu.random(r, act == 0 ? cols : 2 * cols, 1f), nw = Gpu.random(r, cols, 1f),
                    nb = Gpu.random(r, cols, 1f), b = Gpu.random(r, rows, 1f), y0 = Gpu.random(r, rows, 1f);
            Tensor t = Gpu.tensor(type, rows, cols, w);
            float[] wq = t.toFloats(k); // the weights as the device holds them (other types become F16)
            if (DeviceMatrix.formatOf(t) == DeviceMatrix.F16 && type != DType.F16) {
                for (int i = 0; i < wq.length; i++) wq[i] = Float.float16ToFloat(Float.floatToFloat16(wq[i]));
            }
            // CPU twin: the same input transform, then the product in double.
            float[] in = new float[cols];
            for (int i = 0; i < cols; i++) {
                float g = x[i];
                in[i] = act == 0 ? g : act == 1 ? g / (1f + (float) Math.exp(-g)) * x[cols + i] : Math.max(g, 0) * Math.max(g, 0) * x[cols + i];
            }
            double[] used = staged(in, nw, nb, norm, layerNorm, integerDot(t));
            float[] want = new float[rows];
            double scale = 0;
            for (int i = 0; i < rows; i++) {
                double s = 0, mag = 0;
                for (int j = 0; j < cols; j++) {
                    s += wq[i * cols + j] * used[j];
                    mag += Math.abs(wq[i * cols + j] * used[j]);
                }
                if (bias) s += b[i];
                if (gelu) s = 0.5 * s * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (s + 0.044715 * s * s * s)));
                if (accumulate) s += y0[i];
                want[i] = (float) s;
                scale = Math.max(scale, mag);
            }
            try (Arena a = Arena.ofConfined()) {
                DeviceMatrix W = DeviceMatrix.upload(cx, a, t);
                long xd = cx.upload(a, x), nd = cx.upload(a, nw), nbd = cx.upload(a, nb), bd = cx.upload(a, b), yd = cx.upload(a, y0);
                ops.matvec(0, W, xd, norm ? nd : 0, layerNorm ? nbd : 0, act, 1e-5f, bias ? bd : 0, yd, accumulate, gelu);
                close(want, cx.downloadFloats(yd, rows), 2e-5, Math.max(1, scale), type + " " + rows + "x" + cols + " act " + act + " norm "
                        + norm + " layerNorm " + layerNorm + " bias " + bias + " gelu " + gelu + " acc " + accumulate);
            }
        }
    }

    @Test
    void gatedMatvecOnInterleavedRowsMatchesTheCpu() {
        CudaContext cx = Gpu.context();
        CudaOps ops = new CudaOps(cx);
        Random r = new Random(21);
        DType[] types = {DType.F32, DType.F16, DType.Q8_0, DType.Q4_0};
        for (int c = 0; c < 12; c++) {
            DType type = types[c % types.length];
            int f = 1 + r.nextInt(c < 4 ? 3000 : 300), cols = 32 * (1 + r.nextInt(64)), act = 1 + r.nextInt(2);
            boolean norm = r.nextBoolean();
            Tensor gate = Gpu.tensor(type, f, cols, Gpu.random(r, f * cols, 0.05f)), up = Gpu.tensor(type, f, cols, Gpu.random(r, f * cols, 0.05f));
            float[] x = Gpu.random(r, cols, 1f), nw = Gpu.random(r, cols, 1f);
            double[] in = staged(x, nw, null, norm, false, integerDot(gate));
            float[] g = gate.toFloats(k), u = up.toFloats(k), want = new float[f];
            double scale = 0;
            for (int i = 0; i < f; i++) {
                double a = 0, b = 0, mag = 0;
                for (int j = 0; j < cols; j++) {
                    a += g[i * cols + j] * in[j];
                    b += u[i * cols + j] * in[j];
                    mag += Math.abs(u[i * cols + j] * in[j]);
                }
                float ga = (float) a;
                want[i] = (act == 1 ? ga / (1f + (float) Math.exp(-ga)) : Math.max(ga, 0) * Math.max(ga, 0)) * (float) b;
                scale = Math.max(scale, mag * (1 + Math.abs(a)));
            }
            try (Arena a = Arena.ofConfined()) {
                DeviceMatrix W = DeviceMatrix.uploadInterleaved(cx, a, gate, up);
                long xd = cx.upload(a, x), nd = cx.upload(a, nw), yd = cx.allocate(a, 4L * f);
                ops.gatedMatvec(0, W, xd, norm ? nd : 0, 1e-5f, act, yd);
                close(want, cx.downloadFloats(yd, f), 2e-5, Math.max(1, scale), "gated " + type + " " + f + "x" + cols + " act " + act + " norm " + norm);
            }
        }
    }

    @Test
    void embeddingAndDequantisationAreExact() {
        CudaContext cx = Gpu.context();
        CudaOps ops = new CudaOps(cx);
        Random r = new Random(3);
        for (DType type : new DType[] {DType.F32, DType.F16, DType.Q8_0, DType.Q4_0}) {
            int rows = 37, cols = 32 * (1 + r.nextInt(20));
            Tensor t = Gpu.tensor(type, rows, cols, Gpu.random(r, rows * cols, 1f));
            float[] all = t.toFloats(k);
            int[] tokens = {0, 36, 5, 5, 17};
            float[] want = new float[tokens.length * cols];
            for (int i = 0; i < tokens.length; i++) System.arraycopy(all, tokens[i] * cols, want, i * cols, cols);
            try (Arena a = Arena.ofConfined()) {
                DeviceMatrix W = DeviceMatrix.upload(cx, a, t);
                long td = cx.upload(a, java.lang.foreign.MemorySegment.ofArray(tokens)), X = cx.allocate(a, 4L * want.length);
                ops.embed(0, W, td, tokens.length, X);
                close(want, cx.downloadFloats(X, want.length), 0, 1, type + " embedding");
                if (type == DType.Q8_0 || type == DType.Q4_0) {
                    long h = cx.allocate(a, 2L * rows * cols);
                    ops.dequantF16(0, W, h);
                    short[] half = cx.downloadShorts(h, rows * cols);
                    for (int i = 0; i < half.length; i++) {
                        float f = Float.float16ToFloat(half[i]);
                        assertEquals(Float.float16ToFloat(Float.floatToFloat16(all[i])), f, 0, type + " dequantised element " + i);
                    }
                }
            }
        }
    }

    @Test
    void rowNormsGatesAndHalfCopiesMatchTheCpu() {
        CudaContext cx = Gpu.context();
        CudaOps ops = new CudaOps(cx);
        Random r = new Random(11);
        for (int c = 0; c < 10; c++) {
            int T = 1 + r.nextInt(40), cols = 1 + r.nextInt(3000), act = 1 + r.nextInt(2);
            float[] x = Gpu.random(r, T * cols, 2f), w = Gpu.random(r, cols, 1f), gu = Gpu.random(r, T * 2 * cols, 2f);
            float[] norm = new float[T * cols], gate = new float[T * cols];
            for (int t = 0; t < T; t++) {
                k.rmsnorm(norm, t * cols, x, t * cols, w, cols, 1e-6f);
                for (int i = 0; i < cols; i++) {
                    float g = gu[t * 2 * cols + 2 * i], u = gu[t * 2 * cols + 2 * i + 1]; // gate and up interleaved
                    gate[t * cols + i] = (act == 1 ? g / (1f + (float) Math.exp(-g)) : Math.max(g, 0) * Math.max(g, 0)) * u;
                }
            }
            try (Arena a = Arena.ofConfined()) {
                long xd = cx.upload(a, x), wd = cx.upload(a, w), gd = cx.upload(a, gu), out = cx.allocate(a, 4L * T * cols),
                        out16 = cx.allocate(a, 2L * T * cols), h = cx.allocate(a, 4L * T * cols);
                ops.rmsnormRows(0, xd, wd, out, out16, T, cols, 1e-6f);
                close(norm, cx.downloadFloats(out, T * cols), 1e-5, 1, "rmsnorm rows " + T + "x" + cols);
                short[] half = cx.downloadShorts(out16, T * cols);
                for (int i = 0; i < half.length; i++) assertEquals(norm[i], Float.float16ToFloat(half[i]), Math.abs(norm[i]) * 1e-3 + 1e-4);
                ops.gateRows(0, gd, h, 0, T, cols, act);
                close(gate, cx.downloadFloats(h, T * cols), 1e-5, 1, "gate rows act " + act);
                // LayerNorm rows (GPT-2), bias + gelu_tanh rows with a half copy, learned positions added.
                float[] nb = Gpu.random(r, cols, 1f), ln = new float[T * cols], biased = x.clone(), pos = Gpu.random(r, (T + 7) * cols, 1f);
                float[] withPos = x.clone();
                for (int t = 0; t < T; t++) {
                    k.layernorm(ln, t * cols, x, t * cols, w, nb, cols, 1e-5f);
                    k.add(biased, t * cols, nb, 0, biased, t * cols, cols);
                    k.geluTanh(biased, t * cols, cols);
                    k.add(withPos, t * cols, pos, (t + 5) * cols, withPos, t * cols, cols);
                }
                long nbd = cx.upload(a, nb), yd = cx.upload(a, x), xp = cx.upload(a, x), P = cx.upload(a, java.lang.foreign.MemorySegment.ofArray(new int[] {5}));
                ops.normRows(0, xd, wd, nbd, out, 0, T, cols, 1e-5f);
                close(ln, cx.downloadFloats(out, T * cols), 1e-5, 1, "layernorm rows " + T + "x" + cols);
                ops.biasRows(0, yd, nbd, out16, T, cols, true);
                close(biased, cx.downloadFloats(yd, T * cols), 1e-5, 1, "bias + gelu rows");
                half = cx.downloadShorts(out16, T * cols);
                for (int i = 0; i < half.length; i++) assertEquals(biased[i], Float.float16ToFloat(half[i]), Math.abs(biased[i]) * 1e-3 + 1e-4);
                DeviceMatrix table = DeviceMatrix.upload(cx, a, Gpu.tensor(DType.F32, T + 7, cols, pos));
                ops.addPosition(0, table, P, T, xp);
                close(withPos, cx.downloadFloats(xp, T * cols), 0, 1, "positions added");
            }
        }
    }

    @Test
    void ropeWithCacheStoreMatchesTheCpu() {
        CudaContext cx = Gpu.context();
        Random r = new Random(5);
        for (int c = 0; c < 12; c++) {
            boolean half = c % 2 == 1; // the F16 KV cache
            CudaOps ops = new CudaOps(cx, false, half, false);
            int kvHeads = 1 + r.nextInt(4), heads = kvHeads * (1 + r.nextInt(4)), hd = 2 * (1 + r.nextInt(64)), T = 1 + r.nextInt(9);
            int pos = r.nextInt(100), cap = pos + T;
            boolean interleaved = r.nextBoolean(), qk = r.nextBoolean();
            int rot = r.nextBoolean() ? hd : 2 * (1 + r.nextInt(hd / 2)); // partial rotation (Qwen3-Next) too
            int qDim = heads * hd, kvDim = kvHeads * hd, stride = qDim + 2 * kvDim;
            float[] qkv = Gpu.random(r, T * stride, 1f), inv = new float[rot / 2], qn = Gpu.random(r, hd, 1f), kn = Gpu.random(r, hd, 1f);
            for (int j = 0; j < rot / 2; j++) inv[j] = (float) (1 / Math.pow(10000, 2.0 * j / rot));
            float[] want = qkv.clone(), wantK = new float[cap * kvDim], wantV = new float[cap * kvDim];
            float[] cos = new float[rot / 2], sin = new float[rot / 2];
            for (int t = 0; t < T; t++) {
                for (int j = 0; j < rot / 2; j++) {
                    double angle = (double) (float) (pos + t) * inv[j];
                    cos[j] = (float) Math.cos(angle);
                    sin[j] = (float) Math.sin(angle);
                }
                int o = t * stride;
                if (qk) {
                    for (int h = 0; h < heads; h++) k.rmsnorm(want, o + h * hd, want, o + h * hd, qn, hd, 1e-6f);
                    for (int h = 0; h < kvHeads; h++) k.rmsnorm(want, o + qDim + h * hd, want, o + qDim + h * hd, kn, hd, 1e-6f);
                }
                k.rope(want, o, heads, hd, rot, cos, sin, interleaved);
                k.rope(want, o + qDim, kvHeads, hd, rot, cos, sin, interleaved);
                System.arraycopy(want, o + qDim, wantK, (pos + t) * kvDim, kvDim);
                System.arraycopy(want, o + qDim + kvDim, wantV, (pos + t) * kvDim, kvDim);
            }
            if (half) {
                roundToHalf(wantK, 0, wantK.length);
                roundToHalf(wantV, 0, wantV.length);
            }
            try (Arena a = Arena.ofConfined()) {
                long qd = cx.upload(a, qkv), kc = cache(cx, a, new float[cap * kvDim], half), vc = cache(cx, a, new float[cap * kvDim], half),
                        id = cx.upload(a, CudaOps.ropeTable(inv, cap)), qnd = cx.upload(a, qn), knd = cx.upload(a, kn),
                        P = cx.upload(a, java.lang.foreign.MemorySegment.ofArray(new int[] {pos, 0}));
                ops.ropeStore(0, qd, stride, kc, vc, id, qk ? qnd : 0, qk ? knd : 0, P, T, heads, kvHeads, hd, rot, interleaved, 1e-6f);
                String what = "rope " + heads + "/" + kvHeads + " heads of " + hd + " (" + rot + " rotated) T " + T + " pos " + pos + " interleaved "
                        + interleaved + " qk " + qk;
                close(want, cx.downloadFloats(qd, T * stride), 1e-5, 1, what);
                close(wantK, cacheValues(cx, kc, cap * kvDim, half), half ? 1e-3 : 1e-5, 1, what + " keys (half " + half + ")");
                close(wantV, cacheValues(cx, vc, cap * kvDim, half), 0, 1, what + " values (half " + half + ")");
            }
        }
    }

    @Test
    void splitKAttentionMatchesNaiveAttention() {
        CudaContext cx = Gpu.context();
        Random r = new Random(9);
        for (int c = 0; c < 24; c++) {
            boolean half = c % 2 == 1; // the F16 KV cache
            boolean sigmoid = c % 3 == 2; // sigmoid attention
            CudaOps ops = new CudaOps(cx, false, half, sigmoid);
            int kvHeads = 1 + r.nextInt(4), heads = kvHeads * (1 + r.nextInt(4)), hd = new int[] {8, 32, 64, 80, 128, 256}[r.nextInt(6)];
            int T = c % 3 == 0 ? 1 : 1 + r.nextInt(20), pos = c < 2 ? 0 : r.nextInt(700), window = r.nextInt(3) == 0 ? 1 + r.nextInt(300) : 0;
            int n = pos + T, chunk = 64 * (1 + r.nextInt(4)), nsplit = (n + chunk - 1) / chunk;
            int qDim = heads * hd, kvDim = kvHeads * hd, stride = qDim + 2 * kvDim;
            float[] qkv = Gpu.random(r, T * stride, 1f), K = Gpu.random(r, n * kvDim, 1f), V = Gpu.random(r, n * kvDim, 1f);
            float[] Q = new float[T * qDim];
            for (int t = 0; t < T; t++) System.arraycopy(qkv, t * stride, Q, t * qDim, qDim);
            float[] want = new float[T * qDim];
            try (Arena a = Arena.ofConfined()) {
                long kd = cache(cx, a, K, half), vd = cache(cx, a, V, half);
                Attention.naive(k, Q, T, pos, K, V, new Attention.Shape(heads, kvHeads, hd, window, sigmoid), want);
                long qd = cx.upload(a, qkv), part = cx.allocate(a, 4L * T * heads * nsplit * (hd + 2)),
                        out = cx.allocate(a, 4L * T * qDim), P = cx.upload(a, java.lang.foreign.MemorySegment.ofArray(new int[] {pos, 0}));
                ops.attention(0, qd, stride, kd, vd, part, P, T, heads, kvHeads, hd, window, chunk, nsplit, out);
                close(want, cx.downloadFloats(out, T * qDim), 1e-5, 1,
                        "attention " + heads + "/" + kvHeads + " heads of " + hd + " T " + T + " pos " + pos + " window " + window + " chunk " + chunk
                                + " half " + half + " sigmoid " + sigmoid);
            }
        }
    }

    @Test
    void fusedDecodeAttentionMatchesRopeThenNaiveAttention() {
        CudaContext cx = Gpu.context();
        Random r = new Random(17);
        for (int c = 0; c < 30; c++) {
            boolean half = c % 2 == 1; // the F16 KV cache
            boolean sigmoid = c % 3 == 2; // sigmoid attention
            CudaOps ops = new CudaOps(cx, false, half, sigmoid);
            int kvHeads = 1 + r.nextInt(4), heads = kvHeads * (1 + r.nextInt(4));
            int hd = new int[] {6, 8, 32, 64, 80, 128, 256}[r.nextInt(7)];
            int pos = c < 3 ? c : r.nextInt(1500), cap = pos + 1 + r.nextInt(50), window = r.nextInt(3) == 0 ? 1 + r.nextInt(400) : 0;
            int chunk = 64 * (1 + r.nextInt(4)), nsplit = (cap + chunk - 1) / chunk;
            boolean interleaved = r.nextBoolean(), qk = r.nextBoolean();
            int rot = c % 3 == 2 ? 2 * (1 + r.nextInt(hd / 2)) : hd; // partial rotation (Qwen3-Next) too
            int qDim = heads * hd, kvDim = kvHeads * hd;
            float[] qkv = Gpu.random(r, qDim + 2 * kvDim, 1f), K = Gpu.random(r, cap * kvDim, 1f), V = Gpu.random(r, cap * kvDim, 1f);
            float[] inv = new float[rot / 2], qn = Gpu.random(r, hd, 1f), kn = Gpu.random(r, hd, 1f);
            for (int j = 0; j < rot / 2; j++) inv[j] = (float) (1 / Math.pow(10000, 2.0 * j / rot));
            float[] table = CudaOps.ropeTable(inv, cap);
            // CPU: norm and rotate q and the new k, store k and v at pos, naive attention.
            float[] row = qkv.clone(), cos = new float[rot / 2], sin = new float[rot / 2];
            for (int j = 0; j < rot / 2; j++) {
                cos[j] = table[(pos * (rot / 2) + j) * 2];
                sin[j] = table[(pos * (rot / 2) + j) * 2 + 1];
            }
            if (qk) {
                for (int h = 0; h < heads; h++) k.rmsnorm(row, h * hd, row, h * hd, qn, hd, 1e-6f);
                for (int h = 0; h < kvHeads; h++) k.rmsnorm(row, qDim + h * hd, row, qDim + h * hd, kn, hd, 1e-6f);
            }
            k.rope(row, 0, heads, hd, rot, cos, sin, interleaved);
            k.rope(row, qDim, kvHeads, hd, rot, cos, sin, interleaved);
            try (Arena a = Arena.ofConfined()) {
                long kc = cache(cx, a, K, half), vc = cache(cx, a, V, half); // rounds K, V when half
                float[] wantK = K.clone(), wantV = V.clone(), want = new float[qDim];
                System.arraycopy(row, qDim, wantK, pos * kvDim, kvDim);
                System.arraycopy(row, qDim + kvDim, wantV, pos * kvDim, kvDim);
                if (half) {
                    roundToHalf(wantK, pos * kvDim, kvDim);
                    roundToHalf(wantV, pos * kvDim, kvDim);
                }
                Attention.naive(k, java.util.Arrays.copyOf(row, qDim), 1, pos, wantK, wantV, new Attention.Shape(heads, kvHeads, hd, window, sigmoid),
                        want);
                long qd = cx.upload(a, qkv), rope = cx.upload(a, table), qnd = cx.upload(a, qn),
                        knd = cx.upload(a, kn), part = cx.allocate(a, 4L * heads * nsplit * (hd + 2)), count = cx.upload(a, new float[heads]),
                        out = cx.allocate(a, 4L * qDim), P = cx.upload(a, java.lang.foreign.MemorySegment.ofArray(new int[] {pos, 0}));
                String what = "decode attention " + heads + "/" + kvHeads + " heads of " + hd + " (" + rot + " rotated) pos " + pos + " window "
                        + window + " chunk " + chunk + " interleaved " + interleaved + " qk " + qk + " half " + half + " sigmoid " + sigmoid;
                for (int run = 0; run < 2; run++) { // twice: the chunk counters must be back at zero
                    ops.attentionDecode(0, qd, kc, vc, rope, qk ? qnd : 0, qk ? knd : 0, P, part, count, out, heads, kvHeads, hd, rot, interleaved,
                            1e-6f, window, chunk, nsplit);
                    // With a half cache the new key is rounded from the GPU's rotation and the CPU's: one half ulp apart at most.
                    close(want, cx.downloadFloats(out, qDim), half ? 2e-3 : 1e-5, 1, what + " run " + run);
                }
                close(wantK, cacheValues(cx, kc, cap * kvDim, half), half ? 1e-3 : 1e-5, 1, what + " keys");
                close(wantV, cacheValues(cx, vc, cap * kvDim, half), 0, 1, what + " values");
                close(new float[heads], cx.downloadFloats(count, heads), 0, 1, what + " counters");
            }
        }
    }

    @Test
    void cublasProductsMatchTheCpu() {
        CudaContext cx = Gpu.context();
        CudaOps ops = new CudaOps(cx);
        Random r = new Random(13);
        long stream = cx.driver.createStream();
        try (Cublas blas = new Cublas(cx, stream)) {
            assertTrue(blas.version() > 0);
            for (int c = 0; c < 8; c++) {
                int T = 1 + r.nextInt(70), n = 1 + r.nextInt(300), kk = 8 * (1 + r.nextInt(100));
                boolean half = c % 2 == 1, acc = c % 4 >= 2;
                float[] W = Gpu.random(r, n * kk, 0.1f), X = Gpu.random(r, T * kk, 1f), Y0 = Gpu.random(r, T * n, 1f);
                if (half) { // what the product sees: both rounded to half
                    for (int i = 0; i < W.length; i++) W[i] = Float.float16ToFloat(Float.floatToFloat16(W[i]));
                    for (int i = 0; i < X.length; i++) X[i] = Float.float16ToFloat(Float.floatToFloat16(X[i]));
                }
                float[] want = new float[T * n];
                for (int t = 0; t < T; t++) {
                    for (int i = 0; i < n; i++) {
                        double s = acc ? Y0[t * n + i] : 0;
                        for (int j = 0; j < kk; j++) s += (double) X[t * kk + j] * W[i * kk + j];
                        want[t * n + i] = (float) s;
                    }
                }
                try (Arena a = Arena.ofConfined()) {
                    long w = cx.upload(a, W), x = cx.upload(a, X), y = cx.upload(a, Y0);
                    if (half) {
                        long w16 = cx.allocate(a, 2L * W.length), x16 = cx.allocate(a, 2L * X.length);
                        ops.toF16(stream, w, w16, W.length);
                        ops.toF16(stream, x, x16, X.length);
                        blas.gemmRowMajorNT(T, n, kk, w16, x16, Cublas.R_16F, y, acc);
                    } else {
                        blas.gemmRowMajorNT(T, n, kk, w, x, Cublas.R_32F, y, acc);
                    }
                    cx.driver.synchronize(stream);
                    close(want, cx.downloadFloats(y, T * n), half ? 1e-3 : 1e-5, Math.sqrt(kk), (half ? "GemmEx F16 " : "SGEMM ") + T + "x" + n + "x" + kk);
                }
            }
            // Strided batched: batch of independent products.
            int B = 3, m = 17, nn = 9, kk = 33;
            float[] A = Gpu.random(r, B * m * kk, 1f), Bm = Gpu.random(r, B * kk * nn, 1f);
            float[] want = new float[B * m * nn];
            for (int b = 0; b < B; b++) { // column-major C[m×n] = A[m×k]·B[k×n]
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < nn; j++) {
                        double s = 0;
                        for (int p = 0; p < kk; p++) s += (double) A[b * m * kk + p * m + i] * Bm[b * kk * nn + j * kk + p];
                        want[b * m * nn + j * m + i] = (float) s;
                    }
                }
            }
            try (Arena a = Arena.ofConfined()) {
                long ad = cx.upload(a, A), bd = cx.upload(a, Bm), cd = cx.allocate(a, 4L * want.length);
                blas.sgemmStridedBatched(Cublas.OP_N, Cublas.OP_N, m, nn, kk, 1f, ad, m, (long) m * kk, bd, kk, (long) kk * nn, 0f, cd, m,
                        (long) m * nn, B);
                cx.driver.synchronize(stream);
                close(want, cx.downloadFloats(cd, want.length), 1e-5, Math.sqrt(kk), "strided batched SGEMM");
            }
        } finally {
            cx.driver.destroyStream(stream);
        }
    }

    /**
     * The SSM kernels on random shapes, as Mamba-2 uses them (heads of P rows, B and C per group) and as
     * Mamba does (A per channel and state): conv + SiLU against its definition (including the carried
     * window, state in and out), step sizes against softplus/clamp, and the scan against the CPU's
     * chunked forms — {@link dev.panamax.simd.Ssd#chunked} per head, {@link dev.panamax.simd.LinearScan#chunked}
     * per state index — with D·x and the SiLU(z) gate added here.
     */
    @Test
    void ssmConvStepSizesAndScanMatchTheCpu() {
        CudaContext cx = Gpu.context();
        CudaOps ops = new CudaOps(cx);
        Random r = new Random(11);
        for (int c = 0; c < 24; c++) {
            boolean mamba2 = c % 2 == 0;
            int T = c < 4 ? 1 : 1 + r.nextInt(80), kc = 2 + r.nextInt(3), N = c % 6 == 2 ? 128 + r.nextInt(129) : 1 + r.nextInt(64);
            int groups = mamba2 ? 1 + r.nextInt(3) : 1, heads = mamba2 ? groups * (1 + r.nextInt(4)) : 0, P = 1 + r.nextInt(24);
            int inner = mamba2 ? heads * P : 1 + r.nextInt(200), rank = mamba2 ? 0 : 1 + r.nextInt(12);
            int channels = mamba2 ? inner + 2 * groups * N : inner, nh = mamba2 ? heads : inner;
            String what = (mamba2 ? "mamba2" : "mamba") + " T " + T + " N " + N + " inner " + inner + " groups " + groups + " kc " + kc;
            // conv + SiLU over T rows (stride wider than the channels), from a random window.
            int stride = channels + 3;
            float[] in = Gpu.random(r, T * stride, 1f), w = Gpu.random(r, channels * kc, 0.5f), b = Gpu.random(r, channels, 0.1f),
                    state = Gpu.random(r, channels * (kc - 1), 1f);
            float[] convWant = new float[T * channels], stateWant = new float[state.length];
            for (int ch = 0; ch < channels; ch++) {
                for (int t = 0; t < T; t++) {
                    double acc = b[ch];
                    for (int j = 0; j < kc; j++) {
                        int src = t - (kc - 1) + j;
                        acc += w[ch * kc + j] * (src >= 0 ? in[src * stride + ch] : state[ch * (kc - 1) + kc - 1 + src]);
                    }
                    convWant[t * channels + ch] = (float) (acc / (1 + Math.exp(-acc)));
                }
                for (int j = 0; j < kc - 1; j++) {
                    int src = T - (kc - 1) + j;
                    stateWant[ch * (kc - 1) + j] = src >= 0 ? in[src * stride + ch] : state[ch * (kc - 1) + kc - 1 + src];
                }
            }
            // Step sizes: Mamba's from a low-rank projection of the first `rank` values of each row.
            int dw = mamba2 ? nh : rank + 5;
            float[] dIn = Gpu.random(r, T * dw, 1f), dW = Gpu.random(r, Math.max(1, nh * rank), 0.5f), dB = Gpu.random(r, nh, 1f);
            float lo = mamba2 ? 0.01f : 0f, hi = mamba2 ? 2f : Float.POSITIVE_INFINITY;
            float[] dtWant = new float[T * nh];
            for (int t = 0; t < T; t++) {
                for (int i = 0; i < nh; i++) {
                    double v = dB[i];
                    if (rank > 0) for (int j = 0; j < rank; j++) v += dW[i * rank + j] * dIn[t * dw + j];
                    else v += dIn[t * dw + i];
                    double sp = v > 20 ? v : Math.log1p(Math.exp(v));
                    dtWant[t * nh + i] = (float) Math.min(Math.max(sp, lo), hi);
                }
            }
            // The scan, on the conv's output (x, and for Mamba-2 B and C) and the step sizes.
            int bcw = mamba2 ? channels : 2 * N + 1, bOff = mamba2 ? inner : 1, cOff = bOff + groups * N;
            float[] bc = mamba2 ? convWant : Gpu.random(r, T * bcw, 1f), z = Gpu.random(r, T * inner, 1f);
            float[] A = new float[mamba2 ? heads : inner * N], D = Gpu.random(r, nh, 1f), S0 = Gpu.random(r, inner * N, 0.5f);
            for (int i = 0; i < A.length; i++) A[i] = (float) -Math.exp(r.nextGaussian() * 0.5);
            float[] yWant = new float[T * inner], sWant = new float[inner * N];
            if (mamba2) {
                int perGroup = heads / groups;
                for (int h = 0; h < heads; h++) {
                    int g = h / perGroup;
                    float[] xh = new float[T * P], dth = new float[T], bg = new float[T * N], cg = new float[T * N], yh = new float[T * P];
                    float[] sh = java.util.Arrays.copyOfRange(S0, h * P * N, (h + 1) * P * N);
                    for (int t = 0; t < T; t++) {
                        System.arraycopy(convWant, t * channels + h * P, xh, t * P, P);
                        System.arraycopy(bc, t * bcw + bOff + g * N, bg, t * N, N);
                        System.arraycopy(bc, t * bcw + cOff + g * N, cg, t * N, N);
                        dth[t] = dtWant[t * nh + h];
                    }
                    dev.panamax.simd.Ssd.chunked(xh, dth, A[h], bg, cg, sh, yh, T, P, N, 1 + r.nextInt(16));
                    System.arraycopy(sh, 0, sWant, h * P * N, P * N);
                    for (int t = 0; t < T; t++) {
                        for (int p = 0; p < P; p++) yWant[t * inner + h * P + p] = yh[t * P + p] + D[h] * xh[t * P + p];
                    }
                }
            } else {
                float[] a = new float[T * inner], bb = new float[T * inner], hh = new float[T * inner], h0 = new float[inner];
                for (int n = 0; n < N; n++) {
                    for (int t = 0; t < T; t++) {
                        for (int ch = 0; ch < inner; ch++) {
                            float d = dtWant[t * nh + ch];
                            a[t * inner + ch] = (float) Math.exp(d * A[ch * N + n]);
                            bb[t * inner + ch] = d * bc[t * bcw + bOff + n] * convWant[t * channels + ch];
                        }
                    }
                    for (int ch = 0; ch < inner; ch++) h0[ch] = S0[ch * N + n];
                    dev.panamax.simd.LinearScan.chunked(k, a, bb, h0, hh, T, inner, 1 + r.nextInt(16));
                    for (int t = 0; t < T; t++) {
                        for (int ch = 0; ch < inner; ch++) yWant[t * inner + ch] += hh[t * inner + ch] * bc[t * bcw + cOff + n];
                    }
                    for (int ch = 0; ch < inner; ch++) sWant[ch * N + n] = hh[(T - 1) * inner + ch];
                }
                for (int t = 0; t < T; t++) {
                    for (int ch = 0; ch < inner; ch++) yWant[t * inner + ch] += D[ch] * convWant[t * channels + ch];
                }
            }
            for (int i = 0; i < yWant.length; i++) yWant[i] *= z[i] / (1 + (float) Math.exp(-z[i]));
            try (Arena ar = Arena.ofConfined()) {
                long ind = cx.upload(ar, in), wd = cx.upload(ar, w), bd = cx.upload(ar, b), std = cx.upload(ar, state);
                long out = cx.upload(ar, new float[T * channels]);
                ops.ssmConv(0, ind, stride, out, T, channels, wd, bd, std, kc);
                close(convWant, cx.downloadFloats(out, T * channels), 1e-5, 1, what + " conv");
                close(stateWant, cx.downloadFloats(std, state.length), 0, 1, what + " conv state");
                long dind = cx.upload(ar, dIn), dWd = cx.upload(ar, dW), dBd = cx.upload(ar, dB), dtd = cx.upload(ar, new float[T * nh]);
                ops.ssmDt(0, dind, dw, rank > 0 ? dWd : 0, rank, dBd, lo, hi, dtd, T, nh);
                close(dtWant, cx.downloadFloats(dtd, T * nh), 1e-5, 1, what + " dt");
                // The scan reads the CPU's conv output and step sizes, so only the scan is compared.
                long xd = cx.upload(ar, convWant), dtx = cx.upload(ar, dtWant), bcd = mamba2 ? xd : cx.upload(ar, bc), zd = cx.upload(ar, z);
                long Ad = cx.upload(ar, A), Dd = cx.upload(ar, D), Sd = cx.upload(ar, S0), yd = cx.upload(ar, new float[T * inner]);
                ops.ssmScan(0, xd, channels, dtx, nh, bcd, bcw, bOff, cOff, zd, inner, Ad, !mamba2, Dd, Sd, yd, inner, N,
                        mamba2 ? P : 1, mamba2 ? heads / groups : inner, T);
                close(yWant, cx.downloadFloats(yd, T * inner), 1e-4, 1, what + " scan");
                close(sWant, cx.downloadFloats(Sd, inner * N), 1e-4, 1, what + " state");
            }
        }
    }

    /**
     * Qwen3-Next's kernels: the gated delta rule (l2-normalised q and k, β, the decay, the gated RMSNorm
     * of the output) against {@link dev.panamax.simd.DeltaRule#chunked} per value head; routing (softmax,
     * top-k with ties to the lower index, renormalised weights, the shared expert's gate), the selected
     * experts' matvecs, the combination and the output gate against plain Java.
     */
    @Test
    void deltaRuleRoutingAndExpertsMatchTheCpu() {
        CudaContext cx = Gpu.context();
        CudaOps ops = new CudaOps(cx);
        Random r = new Random(23);
        for (int c = 0; c < 12; c++) {
            int nk = 1 + r.nextInt(3), nv = nk * (1 + r.nextInt(3)), dk = 4 * (1 + r.nextInt(40)), dv = 4 * (1 + r.nextInt(40)), T = c < 3 ? 1 : 1 + r.nextInt(40);
            int cs = 2 * nk * dk + nv * dv + 3, bOff = 1, aOff = bOff + nv, zOff = aOff + nv + 2, ps = zOff + nv * dv + 1, os = nv * dv + 5;
            float[] XC = Gpu.random(r, T * cs, 1f), P = Gpu.random(r, T * ps, 1f), aNeg = new float[nv], dtBias = Gpu.random(r, nv, 1f),
                    normW = Gpu.random(r, dv, 1f), S0 = Gpu.random(r, nv * dk * dv, 0.3f);
            for (int h = 0; h < nv; h++) aNeg[h] = (float) -Math.exp(r.nextGaussian() * 0.5);
            float[] wantO = new float[T * os], wantS = new float[nv * dk * dv];
            for (int h = 0; h < nv; h++) {
                int kh = h / (nv / nk);
                float[] q = new float[T * dk], kk = new float[T * dk], v = new float[T * dv], g = new float[T], beta = new float[T], o = new float[T * dv];
                for (int t = 0; t < T; t++) {
                    double qq = 0, ks = 0;
                    for (int i = 0; i < dk; i++) {
                        q[t * dk + i] = XC[t * cs + kh * dk + i];
                        kk[t * dk + i] = XC[t * cs + nk * dk + kh * dk + i];
                        qq += q[t * dk + i] * q[t * dk + i];
                        ks += kk[t * dk + i] * kk[t * dk + i];
                    }
                    for (int i = 0; i < dk; i++) {
                        q[t * dk + i] *= (float) (1 / Math.sqrt(qq + 1e-6) / Math.sqrt(dk));
                        kk[t * dk + i] *= (float) (1 / Math.sqrt(ks + 1e-6));
                    }
                    System.arraycopy(XC, t * cs + 2 * nk * dk + h * dv, v, t * dv, dv);
                    beta[t] = (float) (1 / (1 + Math.exp(-P[t * ps + bOff + h])));
                    double a = P[t * ps + aOff + h] + dtBias[h];
                    g[t] = aNeg[h] * (float) (a > 20 ? a : Math.log1p(Math.exp(a)));
                }
                float[] Sh = java.util.Arrays.copyOfRange(S0, h * dk * dv, (h + 1) * dk * dv);
                dev.panamax.simd.DeltaRule.chunked(q, kk, v, g, beta, Sh, o, T, dk, dv, 1 + r.nextInt(16));
                System.arraycopy(Sh, 0, wantS, h * dk * dv, dk * dv);
                for (int t = 0; t < T; t++) {
                    float[] row = new float[dv];
                    k.rmsnorm(row, 0, o, t * dv, normW, dv, 1e-6f);
                    for (int j = 0; j < dv; j++) {
                        float z = P[t * ps + zOff + h * dv + j];
                        wantO[t * os + h * dv + j] = row[j] * z / (1 + (float) Math.exp(-z));
                    }
                }
            }
            String what = "delta rule nk " + nk + " nv " + nv + " dk " + dk + " dv " + dv + " T " + T;
            try (Arena a = Arena.ofConfined()) {
                long xd = cx.upload(a, XC), pd = cx.upload(a, P), an = cx.upload(a, aNeg), db = cx.upload(a, dtBias), nw = cx.upload(a, normW),
                        sd = cx.upload(a, S0), od = cx.upload(a, new float[T * os]);
                ops.deltaRule(0, xd, cs, pd, ps, bOff, aOff, zOff, an, db, nw, 1e-6f, sd, od, os, nk, nv, dk, dv, T);
                close(wantO, cx.downloadFloats(od, T * os), 1e-4, 1, what + " outputs");
                close(wantS, cx.downloadFloats(sd, nv * dk * dv), 1e-4, 1, what + " states");
            }
        }
        for (int c = 0; c < 12; c++) {
            int E = 1 + r.nextInt(40), K = 1 + r.nextInt(Math.min(E, 8)), T = 1 + r.nextInt(20), d = 1 + r.nextInt(200), hidden = 1 + r.nextInt(90);
            int shared = r.nextInt(3), ls = E + (shared == 2 ? 1 : 0);
            boolean norm = r.nextBoolean();
            float[] L = Gpu.random(r, T * ls, 2f);
            if (E > 3) for (int t = 0; t < T; t++) L[t * ls + 2] = L[t * ls + 1]; // a tie: the lower index first
            int[] wantSel = new int[T * K];
            float[] wantW = new float[T * (K + 1)];
            for (int t = 0; t < T; t++) {
                float[] p = java.util.Arrays.copyOfRange(L, t * ls, t * ls + E);
                k.softmax(p, 0, E);
                boolean[] taken = new boolean[E];
                float sum = 0;
                for (int s2 = 0; s2 < K; s2++) {
                    int best = -1;
                    for (int e = 0; e < E; e++) if (!taken[e] && (best < 0 || p[e] > p[best])) best = e;
                    taken[best] = true;
                    wantSel[t * K + s2] = best;
                    wantW[t * (K + 1) + s2] = p[best];
                    sum += p[best];
                }
                if (norm) for (int s2 = 0; s2 < K; s2++) wantW[t * (K + 1) + s2] /= sum;
                wantW[t * (K + 1) + K] = shared == 2 ? (float) (1 / (1 + Math.exp(-L[t * ls + E]))) : shared;
            }
            // Experts: gate/up interleaved [E·2·hidden × d], down [E·d × hidden]; slot (t, s) runs expert sel[t·K + s].
            float[] gu = Gpu.random(r, E * 2 * hidden * d, 0.2f), down = Gpu.random(r, E * d * hidden, 0.2f), X = Gpu.random(r, T * d, 1f);
            float[] D = new float[T * K * d], X0 = X.clone(), G = Gpu.random(r, T * (d + 3), 2f), gated = X.clone();
            for (int t = 0; t < T; t++) {
                for (int s2 = 0; s2 < K; s2++) {
                    int e = wantSel[t * K + s2];
                    float[] h = new float[hidden];
                    for (int i = 0; i < hidden; i++) {
                        double g = 0, u = 0;
                        for (int j = 0; j < d; j++) {
                            g += gu[((e * hidden + i) * 2) * d + j] * X[t * d + j];
                            u += gu[((e * hidden + i) * 2 + 1) * d + j] * X[t * d + j];
                        }
                        h[i] = (float) (g / (1 + Math.exp(-g)) * u);
                    }
                    for (int o = 0; o < d; o++) {
                        double acc = 0;
                        for (int i = 0; i < hidden; i++) acc += down[(e * d + o) * hidden + i] * h[i];
                        D[(t * K + s2) * d + o] = (float) acc;
                    }
                }
                for (int o = 0; o < d; o++) {
                    float acc = 0;
                    for (int s2 = 0; s2 < K; s2++) acc += wantW[t * (K + 1) + s2] * D[(t * K + s2) * d + o];
                    acc += wantW[t * (K + 1) + K] * X0[t * d + o]; // X itself stands in for the shared expert's output
                    X[t * d + o] += acc;
                    gated[t * d + o] *= (float) (1 / (1 + Math.exp(-G[t * (d + 3) + o])));
                }
            }
            String what = "moe E " + E + " k " + K + " T " + T + " d " + d + " hidden " + hidden + " shared " + shared + " norm " + norm;
            try (Arena a = Arena.ofConfined()) {
                long ld = cx.upload(a, L), sel = cx.allocate(a, 4L * T * K), w = cx.allocate(a, 4L * T * (K + 1));
                ops.moeRoute(0, ld, ls, E, K, norm, shared, sel, w, T);
                float[] gotSelBits = cx.downloadFloats(sel, T * K);
                int[] gotSel = new int[T * K];
                for (int i = 0; i < gotSel.length; i++) gotSel[i] = Float.floatToRawIntBits(gotSelBits[i]);
                org.junit.jupiter.api.Assertions.assertArrayEquals(wantSel, gotSel, what + " chosen experts");
                close(wantW, cx.downloadFloats(w, T * (K + 1)), 1e-5, 1, what + " weights");
                DeviceMatrix GU = DeviceMatrix.upload(cx, a, Gpu.tensor(DType.F32, E * 2 * hidden, d, gu));
                DeviceMatrix DN = DeviceMatrix.upload(cx, a, Gpu.tensor(DType.F32, E * d, hidden, down));
                long xd = cx.upload(a, X0), hs = cx.allocate(a, 4L * T * K * hidden), ds = cx.allocate(a, 4L * T * K * d);
                ops.selectedMatvec(0, GU, 2 * hidden, sel, T * K, xd, K, d, 0, 1e-6f, true, hs);
                ops.selectedMatvec(0, DN, d, sel, T * K, hs, 1, hidden, 0, 1e-6f, false, ds);
                close(D, cx.downloadFloats(ds, T * K * d), 1e-4, 1, what + " experts");
                long x2 = cx.upload(a, X0);
                ops.moeCombine(0, x2, ds, w, shared > 0 ? xd : 0, K, d, T);
                close(X, cx.downloadFloats(x2, T * d), 1e-4, 1, what + " combined");
                long g = cx.upload(a, G), og = cx.upload(a, X0);
                ops.sigmoidGateRows(0, og, g, d + 3, T, d);
                close(gated, cx.downloadFloats(og, T * d), 1e-5, 1, what + " output gate");
            }
        }
    }
}
