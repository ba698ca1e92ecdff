package dev.panamax.cuda;

/**
 * The launches of {@code kernels.cu}, one method per kernel with its grid worked out: what the
 * CUDA decoder is built from, and what the GPU tests hold against the CPU kernels. All pointers are
 * device addresses; {@code P} points at the device ints {position of the first row, token}.
 */
public final class CudaOps {
    private final CudaContext cx;
    private final boolean dependent, halfKv, sigmoid;

    public CudaOps(CudaContext cx) {
        this(cx, false);
    }

    public CudaOps(CudaContext cx, boolean dependent) {
        this(cx, dependent, false, false);
    }

    /**
     * With {@code dependent}, the decode kernels (embedding, matvec, decode attention) launch as
     * programmatic dependents where the GPU has them: each starts while the previous drains and
     * loads its weights before it waits for the previous kernel's output. With {@code halfKv} the
     * attention kernels read and write a KV cache of half floats (2 bytes an element) instead of
     * floats; with {@code sigmoid} their weights are σ(score − log n), not normalised, instead of the
     * softmax (sigmoid attention).
     */
    public CudaOps(CudaContext cx, boolean dependent, boolean halfKv, boolean sigmoid) {
        this.cx = cx;
        this.dependent = dependent;
        this.halfKv = halfKv;
        this.sigmoid = sigmoid;
    }

    private static int blocks(long n) {
        return (int) Math.max(1, Math.min(8192, (n + 255) / 256));
    }

    /** X[t] = row tokens[t] of W, for T tokens (device ints). */
    public void embed(long stream, DeviceMatrix W, long tokens, int T, long X) {
        cx.launch(dependent, "embed_" + W.suffix(), new int[] {T}, 256, 0, stream, W.pointer, W.rows, W.cols, tokens, X);
    }

    /**
     * y (+)= W · in + bias, one row of input: in = x (act 0), silu(x[:c])·x[c:] (1), relu(x[:c])²·x[c:] (2),
     * then RMS-normalised with weights nw when nw ≠ 0. bias may be 0.
     */
    public void matvec(long stream, DeviceMatrix W, long x, long nw, int act, float eps, long bias, long y, boolean accumulate) {
        matvec(stream, W, x, nw, 0, act, eps, bias, y, accumulate, false);
    }

    /**
     * The same with LayerNorm instead of RMSNorm when nb (its bias) ≠ 0 — in = (in − mean)·rstd·nw + nb —
     * and, with {@code gelu}, y = gelu_tanh(W · in + bias) (GPT-2's feed-forward up projection).
     */
    public void matvec(long stream, DeviceMatrix W, long x, long nw, long nb, int act, float eps, long bias, long y, boolean accumulate,
                       boolean gelu) {
        if (mma(W, nb)) {
            launchMma(stream, W, 1, x, nw, act, eps, bias, y, accumulate, gelu ? 3 : 0);
            return;
        }
        int rpb = rowsPerBlock(W);
        String kernel = oneInputKernel(W);
        cx.launch(dependent, kernel, new int[] {loopedBlocks((W.rows + rpb - 1) / rpb, 1, oneInputPerSm(rpb))}, 32 * rpb, matvecShared(W, kernel, 1),
                stream, W.pointer, W.rows, W.cols, x, nw, nb, act, eps, bias, y, accumulate ? 1 : 0, gelu ? 3 : 0, 0L, 0, 1, 0, 0);
    }

    /**
     * At most this many blocks an SM for the tensor-core matvec, and this many times 512 threads an SM
     * for the one-input matvec ({@link #oneInputPerSm}): a launch of more blocks of rows than that gives
     * each block several in turn (kernels.cu, matvec and matvec_mma), so a block stages (and quantizes)
     * its input once for all of them instead of once per block of rows — the same sums, the same bits.
     * {@code -Dpanamax.cuda.rowLoop=0}: a block per block of rows, as before; tests set it. Measured in
     * docs/benchmarks.md (seventeenth and eighteenth sessions).
     */
    static volatile int rowLoop = dev.panamax.simd.Tuning.speed("cuda.rowLoop", 2);

    /** The grid of a launch of {@code blocks} blocks of rows × {@code groups} groups of inputs (a multiple of groups). */
    private int loopedBlocks(int blocks, int groups) {
        return loopedBlocks(blocks, groups, rowLoop);
    }

    /**
     * Blocks an SM for the one-input matvec of {@code rpb} rows a block: as many threads an SM as rowLoop
     * blocks of 16 rows (8 rows a block: four blocks an SM).
     */
    private int oneInputPerSm(int rpb) {
        return rowLoop <= 0 ? 0 : Math.max(1, rowLoop * 16 / rpb);
    }

    /** The same with at most {@code perSm} blocks an SM (none when ≤ 0). */
    private int loopedBlocks(int blocks, int groups, int perSm) {
        long cap = (long) perSm * cx.multiprocessors;
        if (perSm <= 0 || (long) blocks * groups <= cap) return blocks * groups;
        return groups * (int) Math.max(1, cap / groups);
    }

    /**
     * Whether the decode matvecs of Q8_0 and Q4_0 run on the integer tensor cores ({@code matvec_mma_*},
     * kernels.cu says how): 16 rows and up to 16 inputs a block, each weight load serving all the
     * inputs, the same kernel for one sequence and for a batched step — so a step's rows stay bit for
     * bit their solo selves. On GPUs of compute capability 8.0 on, for inputs without LayerNorm (GPT-2's
     * keep the dp4a kernels, alone and batched alike), where sixteen inputs' codes fit in shared memory.
     * Measured on an H200 (docs/benchmarks.md, 2026-12-06): TinyLlama-shape Q8_0 916 against 867
     * tokens/s alone and 4 487 against 1 686 for sixteen sequences; Q4_0 907 against 970 alone, 4 506
     * against 1 124. {@code -Dpanamax.cuda.mma=false} takes the dp4a kernels (matvec, matvec4x4); tests
     * switch it.
     */
    static volatile boolean mma = dev.panamax.simd.Tuning.flagOn("cuda.mma");

    /**
     * Whether F16's decode matvecs run on the half-float tensor cores as well ({@code matvec_mma_f16}:
     * each input value split into two halves, kernels.cu says how), alone and batched alike, where
     * the matrix's columns are a multiple of 32; {@code -Dpanamax.cuda.mmaF16=false} keeps them on the
     * CUDA cores. One kernel serves one sequence and a batched step (batch invariance), so it is on
     * where it costs one sequence little: on an H100 (docs/benchmarks.md, twenty-first session, with
     * {@link #mmaWarps} 16 and {@link #tilePipe}) TinyLlama-shape F16 decodes 16 sequences a step 2.1×
     * faster (6 052–6 162 against 2 768–2 837 tokens/s) and one sequence 2% faster (819–821 against
     * 802–803); SmolLM-135M shape 1.5× (8 905 against 5 958) and 3% slower alone (1 415 against 1 460).
     */
    static volatile boolean mmaF16 = dev.panamax.simd.Tuning.flagOn("cuda.mmaF16");

    private boolean mma(DeviceMatrix W, long nb) {
        boolean format = integerDot(W.format) ? INT_DOT : W.format == DeviceMatrix.F16 && mmaF16 && W.cols % 32 == 0;
        // (the kernel's own shared arrays take another ~9.3 KB with 8 warps, ~17.5 KB with 16)
        return mma && nb == 0 && format && cx.ccMajor >= 8 && mmaShared(W, 16) + (warps(W) == 16 ? 18 : 10) * 1024 <= cx.maxSharedOptIn;
    }

    /**
     * Warps a block of the tensor-core matvecs for all formats: 16 ({@code matvec_mma_*_w16}: each warp
     * a sixteenth of the columns, one block an SM) or 8, from {@code -Dpanamax.cuda.mmaWarps=16|8} with
     * experiments on (16 warps add the blocks' sums in another order than 8: the last bits move); 0
     * (not given): each format its own, {@link #warps}.
     */
    static volatile int mmaWarps = switch (dev.panamax.simd.Tuning.experiment("cuda.mmaWarps", 0)) {
        case 8 -> 8;
        case 16 -> 16;
        default -> 0;
    };

    /**
     * Whether the tensor-core matvecs and F16's one-input matvec load a block's next rows before its
     * reduction and epilogue instead of after them (the {@code *_pipe} kernels: the same sums, the loads
     * in flight over the barriers), for all formats: {@code -Dpanamax.cuda.tilePipe=true|false}; null
     * (not given): each format its own, {@link #piped}.
     */
    static volatile Boolean tilePipe = switch (String.valueOf(dev.panamax.simd.Tuning.word("cuda.tilePipe"))) {
        case "true" -> Boolean.TRUE;
        case "false" -> Boolean.FALSE;
        default -> null;
    };

    /**
     * W's warps a block on the tensor cores: 16 for F16 and Q8_0, 8 for Q4_0 (or {@link #mmaWarps} where
     * given). Measured on an H100 (docs/benchmarks.md, twenty-second session, `bench --batch B`):
     * TinyLlama-shape Q8_0 with 16 warps and early loads 966 tokens/s alone and 6 576–6 595 for 16
     * sequences, against 957 and 5 259–5 271 with 8; F16 848 and 6 788–6 831 against 750 and 5 537–5 567;
     * Q4_0 with 16 warps 906–908 and 6 651–6 698 (no early loads), with 8 971–972 and 5 567–5 600 —
     * one sequence, the figure a single user sees, goes first there (16 sequences are 5.7× one with 8).
     * A format's warps are fixed, whatever the batch: 16 warps sum in another order than 8.
     */
    static int warps(DeviceMatrix W) {
        if (mmaWarps != 0) return mmaWarps;
        return W.format == DeviceMatrix.Q4_0 ? 8 : 16;
    }

    /**
     * Whether W's matvecs take the early loads: F16 and Q8_0 (or {@link #tilePipe} where given). On an
     * H100 (twenty-second session) they took TinyLlama-shape Q8_0 from 931 to 966 tokens/s alone (16
     * sequences 6 615–6 634 → 6 576–6 595) and F16 from 811 to 848 (6 524–6 540 → 6 788–6 831); Q4_0's
     * they took from 906–908 to 867–868 alone and 6 651–6 698 to 6 344–6 373 for 16, so it goes without.
     */
    static boolean piped(DeviceMatrix W) {
        if (tilePipe != null) return tilePipe;
        return W.format != DeviceMatrix.Q4_0;
    }

    /** Inputs a block of {@code matvec_mma_*} takes (kernels.cu's mma_inputs). */
    static int mmaInputs(DeviceMatrix W) {
        return W.format == DeviceMatrix.F16 ? 8 : 16;
    }

    /**
     * Prompts of at most this many tokens multiply Q8_0 and Q4_0 matrices with the tensor-core matvec
     * (the T rows as its inputs, the weights read once per 16 of them) instead of dequantizing each
     * matrix to half floats for a cuBLAS GEMM ({@link PromptGemm}); {@code
     * -Dpanamax.cuda.mmaPromptRows=N} with experiments on (0: always the GEMM). Measured on an H100
     * (`tools/gpu.sh run mmaprompt --big`, TinyLlama shape, prefill tokens/s, GEMM → matvec): Q8_0 2
     * tokens 274 → 430, 8: 1 100 → 1 714, 16: 2 426 → 2 535, 32: 4 171 → 4 318, 64: 9 293 → 6 075; Q4_0
     * 295 → 497, 1 060 → 1 793, 2 084 → 2 971, 4 265 → 4 494, 8 933 → 6 007. 32 would be faster still;
     * 16 is what the GPU tests last ran with (the device time ran out before a run at 32).
     */
    static final int MMA_PROMPT_ROWS = dev.panamax.simd.Tuning.experiment("cuda.mmaPromptRows", 16);

    /** Whether a prompt of T tokens multiplies W with the tensor-core matvec ({@link #rowsMatvec}). */
    boolean promptRows(DeviceMatrix W, int T) {
        return T <= MMA_PROMPT_ROWS && integerDot(W.format) && mma(W, 0);
    }

    /** Y[t] (+)= W · X[t] for T rows of W.cols floats (Y rows of W.rows), on the tensor-core matvec. */
    public void rowsMatvec(long stream, DeviceMatrix W, int T, long X, long Y, boolean accumulate) {
        launchMma(stream, W, T, X, 0, 0, 0f, 0, Y, accumulate, 0);
    }

    /**
     * Dynamic shared memory of {@code matvec_mma_*} for a block of {@code inputs} inputs (kernels.cu's
     * mma_q_stride; F16's mma_h_stride: two halves and a block's scale per column).
     */
    static int mmaShared(DeviceMatrix W, int inputs) {
        int block = Math.min(mmaInputs(W), inputs);
        if (W.format == DeviceMatrix.F16) return block * (((4 * W.cols + W.cols / 8 + 127) & ~127) + 64);
        int q8 = (W.cols + W.cols / 8 + 15) & ~15;
        return block * (((q8 + 127) & ~127) + 32);
    }

    private void launchMma(long stream, DeviceMatrix W, int inputs, long x, long nw, int act, float eps, long bias, long y, boolean accumulate,
                           int pairAct) {
        int per = mmaInputs(W), tiles = (W.rows + 15) / 16, groups = (inputs + per - 1) / per;
        boolean wide = warps(W) == 16; // 16 warps a block, one block an SM
        String kernel = "matvec_mma_" + W.suffix() + (wide ? "_w16" : "") + (piped(W) ? "_pipe" : "");
        cx.launch(dependent, kernel, new int[] {loopedBlocks(tiles, groups, wide ? 1 : rowLoop)}, wide ? 512 : 256, mmaShared(W, inputs), stream, W.pointer,
                W.rows, W.cols, x, nw, act, eps, bias, y, accumulate ? 1 : 0, pairAct, inputs);
    }

    /**
     * The decode matvec of B inputs at once, for a step of several sequences: input b at x + b·W.cols,
     * its output at y + b·W.rows (or + b·W.rows/2 with gated pairs). It is the one-input kernel with its
     * block rows repeated per input (grid.y; {@code zeros}: B device ints of 0, the kernel's matrix
     * selector), so every input's sums are computed by the same code, in the same order, as
     * {@link #matvec} computes them alone: the GPU's batched decode is batch-invariant by
     * construction. pairAct: 0, or 1 SiLU / 2 ReLU² of interleaved gate and up rows
     * ({@link #gatedMatvec}), or 3 GELU(tanh) of the sum ({@code gelu}).
     */
    /**
     * Whether a batched matvec orders its blocks input-fastest (the blocks reading the same rows side
     * by side, so the rows come from L2 after the first) — {@code -Dpanamax.cuda.batchSlotsFast=false}
     * orders them input-slowest, for measuring. The sums are the same either way.
     */
    static final boolean SLOTS_FAST = dev.panamax.simd.Tuning.flagOn("cuda.batchSlotsFast");

    /**
     * Whether a batched matvec takes four inputs a block, loading each weight once for them
     * ({@code matvec4_*}, with {@code -Dpanamax.cuda.batchMulti=true}); by default the one-input
     * blocks are repeated per input, input-fastest. Measured on an H100 (docs/benchmarks.md,
     * 2026-12-06): the four-input kernel lost at every batch size — TinyLlama F16 at 16 sequences
     * 799 tok/s against 1 672 — each 128-thread block staging four inputs for four rows (a quarter
     * of its work, and 16 bytes a column of shared memory holding occupancy down). Kept to measure.
     */
    static final boolean MULTI = dev.panamax.simd.Tuning.flag("cuda.batchMulti");

    /**
     * Whether a batched matvec of at least two inputs takes four rows a warp and four inputs a block
     * ({@code matvec4x4_*}): each weight load used for the four inputs, each staged input value read
     * once for the warp's four rows. {@code -Dpanamax.cuda.batchRows=false} repeats the one-input
     * blocks per input instead, for measuring.
     */
    static final boolean ROWS = dev.panamax.simd.Tuning.flagOn("cuda.batchRows");

    /**
     * When a batched matvec takes {@code matvec4x4_*}: by default (-1) from four groups of four inputs
     * (thirteen sequences) and three blocks (row blocks × groups) per SM; tests set a block count to
     * run both kernels. Measured on an H100 (docs/benchmarks.md, 2026-12-06): with fewer blocks its
     * 128-thread blocks leave the GPU idle (smol135 F16 at sixteen sequences, 144 blocks on most
     * matrices: 4 135 tok/s against the one-input blocks' 4 654), and at four sequences the one-input
     * kernel's many more warps stream the weights from memory faster (TinyLlama F16: 1 213 against
     * 1 513); from sixteen sequences on the big matrices it gains (TinyLlama 1 674 → 2 028 at sixteen,
     * 1 779 → 2 330 at 64; smol135 4 900 → 6 112 at 64).
     */
    static volatile int rowsFromBlocks = -1;

    public void batchMatvec(long stream, DeviceMatrix W, int B, long zeros, long x, long nw, long nb, float eps, long bias, long y,
                            boolean accumulate, int pairAct) {
        if (mma(W, nb)) {
            launchMma(stream, W, B, x, nw, 0, eps, bias, y, accumulate, pairAct);
            return;
        }
        int rpb = rowsPerBlock(W), blocks = (W.rows + rpb - 1) / rpb;
        int groups = (B + 3) / 4, rowBlocks = (W.rows + 15) / 16;
        boolean wide = rowsFromBlocks >= 0 ? (long) rowBlocks * groups >= rowsFromBlocks : groups >= 4 && rowBlocks * groups >= 3 * cx.multiprocessors;
        String kernel = matvecKernel(W);
        int shared4 = matvecShared(W, kernel, 4);
        if (ROWS && !MULTI && B >= 2 && rpb % 4 == 0 && rpb <= 16 && wide && kernel.equals("matvec_" + W.suffix()) && shared4 <= cx.maxSharedOptIn) {
            // 16 rows a block of four warps (four rows each), four inputs a block; staged as the one-input kernel's
            // blocks of 32·rpb threads stage them (the same sums bit for bit).
            // Its 128-thread blocks fit twice as many an SM as the one-input kernel's: each takes several blocks of rows
            // from twice rowLoop blocks an SM on, staging its four inputs once for them.
            cx.launch(dependent, "matvec4x4_" + W.suffix(), new int[] {loopedBlocks(rowBlocks, groups, 2 * rowLoop)}, 128, shared4, stream, W.pointer,
                    W.rows, W.cols, x, nw, nb, eps, bias, y, accumulate ? 1 : 0, pairAct, B, 32 * rpb);
            return;
        }
        if (MULTI && rpb <= 16 && rpb % 4 == 0 && kernel.equals("matvec_" + W.suffix()) && shared4 <= cx.maxSharedOptIn) {
            // Four inputs a block, each weight loaded once for the four (matvec_multi), the usual loads per
            // batch only. Four rows a block (the kernel's launch bounds: 128 threads), so that the grid has as
            // many blocks as the one-input kernel's at four times the rows: 36 blocks of 16 rows on a 576-row
            // matrix left most of an H100's 132 SMs idle.
            int multiBlocks = (W.rows + 3) / 4;
            cx.launch(dependent, "matvec4_" + W.suffix(), new int[] {multiBlocks * groups}, 128, shared4, stream, W.pointer, W.rows, W.cols,
                    x, nw, nb, eps, bias, y, accumulate ? 1 : 0, pairAct, B, 32 * rpb);
            return;
        }
        boolean fast = SLOTS_FAST && (long) blocks * B < Integer.MAX_VALUE;
        cx.launch(dependent, kernel, fast ? new int[] {blocks * B} : new int[] {blocks, B}, 32 * rpb, matvecShared(W, kernel, 1), stream, W.pointer,
                W.rows, W.cols, x, nw, nb, 0, eps, bias, y, accumulate ? 1 : 0, pairAct, zeros, W.rows, 1, W.cols, fast ? B : 0);
    }

    /**
     * Experts' matvecs, one per slot: W stacks E experts of {@code expertRows} rows each; slot s
     * (of {@code slots}) multiplies expert sel[s] (device ints) with x + (s / xDiv)·xStride and writes
     * y + s·expertRows — or, {@code gated} (rows interleaving gate and up), y + s·expertRows/2 with
     * SiLU(gate)·up. nw ≠ 0 fuses the RMSNorm of the input.
     */
    public void selectedMatvec(long stream, DeviceMatrix W, int expertRows, long sel, int slots, long x, int xDiv, int xStride, long nw,
                               float eps, boolean gated, long y) {
        int rpb = rowsPerBlock(W);
        String kernel = matvecKernel(W);
        cx.launch(dependent, kernel, new int[] {(expertRows + rpb - 1) / rpb, slots}, 32 * rpb, matvecShared(W, kernel, 1), stream, W.pointer,
                W.rows, W.cols, x, nw, 0L, 0, eps, 0L, y, 0, gated ? 1 : 0, sel, expertRows, xDiv, xStride, 0);
    }

    /**
     * Whether the decode matvecs of Q8_0 and Q4_0 quantize their input per block of 32 and take integer
     * dot products (dp4a; kernels.cu says how); {@code -Dpanamax.cuda.intDot=false} runs the float
     * products of before (one input at a time only), for measuring.
     */
    static final boolean INT_DOT = dev.panamax.simd.Tuning.flagOn("cuda.intDot");

    /** The formats whose decode matvecs have integer dot products (kernels.cu's int_dot). */
    static boolean integerDot(int format) {
        return format == DeviceMatrix.Q8_0 || format == DeviceMatrix.Q4_0;
    }

    /**
     * The matvec kernel for W's format; -Dpanamax.cuda.matvecBatch picks another batch of loads a lane
     * where one is compiled (F16: 8, 16; Q8_0: 4, 16), for measuring.
     */
    static String matvecKernel(DeviceMatrix W) {
        if (integerDot(W.format) && !INT_DOT) return "matvec_" + W.suffix() + "_float";
        int batch = dev.panamax.simd.Tuning.experiment("cuda.matvecBatch", 0), usual = W.format == DeviceMatrix.F16 ? 4 : 8;
        if (batch == 0 || batch == usual || (W.format != DeviceMatrix.F16 && W.format != DeviceMatrix.Q8_0)) return "matvec_" + W.suffix();
        return "matvec_" + W.suffix() + "_b" + batch;
    }

    /** The one-input matvec's kernel: {@link #matvecKernel}, or where {@link #piped} F16's {@code matvec_f16_pipe}. */
    static String oneInputKernel(DeviceMatrix W) {
        String kernel = matvecKernel(W);
        return piped(W) && kernel.equals("matvec_f16") ? "matvec_f16_pipe" : kernel;
    }

    /**
     * Dynamic shared memory of a matvec kernel taking {@code inputs} inputs a block: the staged floats
     * of each input, or for the integer dot products (Q8_0, Q4_0) one input's floats and each input's
     * codes and scales (kernels.cu's q8_stride).
     */
    static int matvecShared(DeviceMatrix W, String kernel, int inputs) {
        if (!integerDot(W.format) || kernel.endsWith("_float")) return 4 * inputs * W.cols;
        return 4 * W.cols + inputs * ((W.cols + W.cols / 8 + 15) & ~15);
    }

    /**
     * 1 when the decode attention, launched as a dependent, should ask for the chunk's cached keys
     * and values to be brought into L2 before it waits for the QKV matvec ({@code -Dpanamax.cuda.prefetch},
     * default on). Measured on an H100: smol135 decode +7%, TinyLlama unchanged; the same for the
     * matvecs' weights cost TinyLlama 6% (the prefetches compete with the running kernel's stream).
     */
    int prefetch() {
        return dependent && dev.panamax.simd.Tuning.flagOn("cuda.prefetch") ? 1 : 0;
    }

    /**
     * Rows (warps) per block of the one-input matvec. Each block stages (and normalises) the whole input;
     * since blocks take several blocks of rows (rowLoop), staging is once a block whatever its rows, and
     * 8 rows a block at four blocks an SM beat 16 at two on an H100 (TinyLlama F16 decode +3%,
     * docs/benchmarks.md, eighteenth session; before the row loop 16 had beaten 8). The block size sets
     * how RMSNorm's Σ x² is summed, so the batched kernels stage as blocks of 32·rpb threads would.
     */
    static int rowsPerBlock(DeviceMatrix W) {
        return dev.panamax.simd.Tuning.experiment("cuda.matvecRows", 8);
    }

    /**
     * The gated feed-forward's first half on a matrix whose rows alternate gate and up
     * ({@link DeviceMatrix#uploadInterleaved}): y[i] = act(gate_i · in) · (up_i · in), act 1 SiLU or
     * 2 ReLU², in = RMSNorm(x)·nw when nw ≠ 0. y has W.rows / 2 values.
     */
    public void gatedMatvec(long stream, DeviceMatrix W, long x, long nw, float eps, int act, long y) {
        if (mma(W, 0)) {
            launchMma(stream, W, 1, x, nw, 0, eps, 0, y, false, act);
            return;
        }
        int rpb = rowsPerBlock(W);
        String kernel = oneInputKernel(W);
        cx.launch(dependent, kernel, new int[] {loopedBlocks((W.rows + rpb - 1) / rpb, 1, oneInputPerSm(rpb))}, 32 * rpb, matvecShared(W, kernel, 1),
                stream, W.pointer, W.rows, W.cols, x, nw, 0L, 0, eps, 0L, y, 0, act, 0L, 0, 1, 0, 0);
    }

    /** half(W) into out (rows × cols halfs), for the quantized formats. */
    public void dequantF16(long stream, DeviceMatrix W, long out) {
        cx.launch("dequant_" + W.suffix() + "_f16", new int[] {blocks((long) W.rows * W.cols)}, 256, 0, stream, W.pointer, W.rows, W.cols, out);
    }

    /** float(W) into out (rows × cols floats), for BF16 weights. */
    public void widenBf16(long stream, DeviceMatrix W, long out) {
        long n = (long) W.rows * W.cols;
        cx.launch("widen_bf16_f32", new int[] {blocks(n)}, 256, 0, stream, W.pointer, n, out);
    }

    /** out[t] = RMSNorm(x[t])·w for T rows of {@code cols}; out or out16 (half copy) may be 0. */
    public void rmsnormRows(long stream, long x, long w, long out, long out16, int T, int cols, float eps) {
        normRows(stream, x, w, 0, out, out16, T, cols, eps);
    }

    /** The same, or LayerNorm with bias b when b ≠ 0: out[t] = (x[t] − mean)·rstd·w + b. */
    public void normRows(long stream, long x, long w, long b, long out, long out16, int T, int cols, float eps) {
        cx.launch("norm_rows", new int[] {T}, 256, 0, stream, x, w, b, out, out16, cols, eps);
    }

    /** h[t, c] = act(gu[t, 2c])·gu[t, 2c+1] (act 1 SiLU, 2 ReLU²; gate and up interleaved); h or h16 may be 0. */
    public void gateRows(long stream, long gu, long h, long h16, int T, int f, int act) {
        cx.launch("gate_rows", new int[] {blocks((long) T * f)}, 256, 0, stream, gu, h, h16, T, f, act);
    }

    /** out [N, C·P·P] = the P×P patches of the image [C, H, W] at img (kernels.cu unfold_patches). */
    public void unfoldPatches(long stream, long img, int C, int H, int W, int P, long out) {
        long n = (long) (H / P) * (W / P) * C * P * P;
        cx.launch("unfold_patches", new int[] {blocks(n)}, 256, 0, stream, img, C, H, W, P, out);
    }

    public void toF16(long stream, long x, long y, long n) {
        cx.launch("f32_to_f16", new int[] {blocks(n)}, 256, 0, stream, x, y, n);
    }

    public void addBiasRows(long stream, long y, long bias, int T, int n) {
        biasRows(stream, y, bias, 0, T, n, false);
    }

    /** y[t] = y[t] + bias, through gelu_tanh when {@code gelu}; also into the half copy y16 when y16 ≠ 0. */
    public void biasRows(long stream, long y, long bias, long y16, int T, int n, boolean gelu) {
        biasRows(stream, y, bias, y16, T, n, gelu ? GELU_TANH : 0);
    }

    /** Activations of {@link #biasRows(long, long, long, long, int, int, int)}. */
    public static final int GELU_TANH = 3, GELU_ERF = 4, QUICK_GELU = 5;

    /** y[t] = act(y[t] + bias) (act 0, {@link #GELU_TANH} or {@link #GELU_ERF}), and its half copy when y16 ≠ 0. */
    public void biasRows(long stream, long y, long bias, long y16, int T, int n, int act) {
        cx.launch("bias_rows", new int[] {blocks((long) T * n)}, 256, 0, stream, y, bias, y16, T, n, act);
    }

    /** X[t] += row P[0] + t of the learned position table W, for T rows. */
    public void addPosition(long stream, DeviceMatrix W, long P, int T, long X) {
        cx.launch(dependent, "add_position_" + W.suffix(), new int[] {T}, 256, 0, stream, W.pointer, W.rows, W.cols, P, X);
    }

    /**
     * RoPE's table for positions 0..positions−1: {cos, sin}(p·θ_j) for each pair j, computed in double
     * as the CPU does ({@code (double) (float) p * invFreq[j]}), so both rotate by the same floats.
     */
    public static float[] ropeTable(float[] invFreq, int positions) {
        int half = invFreq.length;
        float[] t = new float[positions * half * 2];
        for (int p = 0; p < positions; p++) {
            for (int j = 0; j < half; j++) {
                double angle = (double) (float) p * invFreq[j];
                t[(p * half + j) * 2] = (float) Math.cos(angle);
                t[(p * half + j) * 2 + 1] = (float) Math.sin(angle);
            }
        }
        return t;
    }

    /**
     * For T rows of qkv ([q | k | v] of width stride): per-head RMSNorm when qNorm/kNorm ≠ 0, RoPE on q
     * and k at positions P[0] + t (table from {@link #ropeTable}; none when rope is 0), and k, v stored into the layer's
     * caches kc, vc ([positions × kvHeads·hd]).
     */
    public void ropeStore(long stream, long qkv, int stride, long kc, long vc, long rope, long qNorm, long kNorm, long P, int T,
                          int heads, int kvHeads, int hd, int rot, boolean interleaved, float eps) {
        cx.launch(halfKv ? "rope_store_f16" : "rope_store_f32", new int[] {(heads + kvHeads + 7) / 8, T}, 256, 0, stream, qkv, stride, kc, vc, rope, qNorm, kNorm, P,
                heads, kvHeads, hd, rot, interleaved ? 1 : 0, eps);
    }

    /**
     * Keys per chunk of the split-K decode attention for a cache of {@code capacity} positions: at
     * least 64 (a block's four warps take 8 keys each at a time) and at most 64 chunks. (On an H100,
     * TinyLlama at 600 positions, 32, 64 and 128 took the same 15-16 µs a layer.)
     */
    public static int decodeChunk(int capacity) {
        return Math.max(64, ((capacity + 63) / 64 + 63) / 64 * 64);
    }

    /**
     * A decoded token's attention in one launch: q and the new k normalised and rotated in the kernel,
     * the new k, v stored at P[0], then softmax(q·Kᵀ/√hd)·V over the positions it sees, in chunks of
     * {@code chunk} keys (nsplit of them cover the cache) merged by the last chunk to finish. part holds
     * heads·nsplit·(hd+2) floats; count holds heads ints, zero before the first call (the kernel
     * leaves them zero).
     */
    public void attentionDecode(long stream, long qkv, long kc, long vc, long rope, long qNorm, long kNorm, long P, long part, long count,
                                long out, int heads, int kvHeads, int hd, int rot, boolean interleaved, float eps, int window, int chunk,
                                int nsplit) {
        String kernel = (hd == 64 || hd == 128 ? "attention_decode_" + hd : "attention_decode_any") + (halfKv ? "_h" : ""); // head sizes compiled in
        cx.launch(dependent, kernel, new int[] {heads, nsplit}, 128, 0, stream, qkv, kc, vc, rope, qNorm, kNorm, P, part, count, out, heads,
                kvHeads, hd, rot, interleaved ? 1 : 0, eps, window, chunk, (float) (1.0 / Math.sqrt(hd)), prefetch(), sigmoid ? 1 : 0);
    }

    /**
     * {@link #attentionDecode} for the B rows of a batched decode step in one launch: row b's q/k/v at
     * qkv + b·qkvDim floats, its output at out + b·heads·hd, its position at P[2b], its sequence's K
     * cache, V cache, partials and counts at table[4b..4b+3] (device pointers; the caches' layer 0), the
     * layer's cache {@code layer} elements in. Every row computes exactly as the one-row kernel.
     */
    public void attentionDecodeRows(long stream, long qkv, int qkvDim, long table, long layer, int B, long rope, long qNorm, long kNorm, long P,
                                    long out, int heads, int kvHeads, int hd, int rot, boolean interleaved, float eps, int window, int chunk,
                                    int nsplit) {
        String kernel = (hd == 64 || hd == 128 ? "attention_decode_rows_" + hd : "attention_decode_rows_any") + (halfKv ? "_h" : "");
        cx.launch(dependent, kernel, new int[] {heads, nsplit, B}, 128, 0, stream, qkv, qkvDim, table, layer, rope, qNorm, kNorm, P, out, heads,
                kvHeads, hd, rot, interleaved ? 1 : 0, eps, window, chunk, (float) (1.0 / Math.sqrt(hd)), prefetch(), sigmoid ? 1 : 0);
    }

    /**
     * softmax(q·Kᵀ/√hd)·V for T rows of q (in qkv rows of width stride) at positions P[0] + t, over the
     * cached keys each sees (the last {@code window}, or all), into out [T × heads·hd]: nsplit chunks
     * of {@code chunk} keys each in parallel (partials in part: T·heads·nsplit·(hd+2) floats), merged.
     */
    public void attention(long stream, long qkv, int stride, long kc, long vc, long part, long P, int T, int heads, int kvHeads, int hd,
                          int window, int chunk, int nsplit, long out) {
        attention(stream, qkv, stride, kc, vc, part, P, T, heads, kvHeads, hd, window, chunk, nsplit, out, 0);
    }

    /** The same, with keys > 0: every row sees cached positions 0..keys−1 (an encoder's bidirectional attention). */
    public void attention(long stream, long qkv, int stride, long kc, long vc, long part, long P, int T, int heads, int kvHeads, int hd,
                          int window, int chunk, int nsplit, long out, int keys) {
        float scale = (float) (1.0 / Math.sqrt(hd));
        String sized = (hd == 64 || hd == 128 ? "_" + hd : "_any") + (halfKv ? "_h" : ""); // head sizes compiled in
        if (!SPLIT_PROMPT_ATTENTION) {
            // Sixteen warps of query vectors of one KV head a block (four vectors a warp with head size 64),
            // each K/V tile read once for them all.
            int vectors = T * (heads / kvHeads), perBlock = hd == 64 ? 64 : 16;
            cx.launch("attention_prompt" + sized, new int[] {kvHeads, (vectors + perBlock - 1) / perBlock}, 512, 0, stream, qkv, stride, kc, vc, out, P, heads,
                    kvHeads, hd, window, T, scale, keys, sigmoid ? 1 : 0);
            return;
        }
        cx.launch("attention_partial" + sized, new int[] {heads, nsplit, T}, 128, 0, stream, qkv, stride, kc, vc, part, P, heads, kvHeads, hd, window,
                chunk, nsplit, scale, keys, sigmoid ? 1 : 0);
        cx.launch("attention_merge", new int[] {heads, T}, 128, 0, stream, part, out, heads, hd, nsplit, sigmoid ? 1 : 0);
    }

    /**
     * Whether a prompt's attention runs flash-decoding's split kernel and merge, one query vector a
     * block ({@code -Dpanamax.cuda.splitPromptAttention=true}, a kernel experiment: it sums in another
     * order), instead of {@code attention_prompt} (a block's query vectors — 64 at head size 64, else
     * 16 — sharing each K/V tile).
     */
    private static final boolean SPLIT_PROMPT_ATTENTION = dev.panamax.simd.Tuning.experimentFlag("cuda.splitPromptAttention");

    /**
     * Device bytes a prompt block's attention partials take for {@code rows} rows (flash-decoding's
     * split kernel, up to 8 chunks a row); 4 where {@code attention_prompt} runs, which writes none.
     */
    static long promptPartialBytes(long rows, int heads, int hd) {
        return SPLIT_PROMPT_ATTENTION ? 4L * rows * heads * 8 * (hd + 2) : 4;
    }

    // ---- selective state spaces ----

    /**
     * The causal depthwise conv (kc taps, weights w [channels × kc], bias b) then SiLU over T rows of
     * in (rows {@code inStride} apart) into out [T × channels], continuing from and updating the conv
     * state [channels × (kc−1)].
     */
    public void ssmConv(long stream, long in, int inStride, long out, int T, int channels, long w, long b, long state, int kc) {
        cx.launch(dependent, "ssm_conv", new int[] {(channels + 127) / 128}, 128, 0, stream, in, inStride, out, T, channels, w, b, state, kc);
    }

    /**
     * dt [T × n] = clamp(softplus(bias + δ), lo, hi): δ = W [n × rank] · the row's first rank values
     * (Mamba), or with rank 0 the row's value i itself (Mamba-2).
     */
    public void ssmDt(long stream, long in, int inStride, long W, int rank, long bias, float lo, float hi, long dt, int T, int n) {
        cx.launch(dependent, "ssm_dt", new int[] {blocks((long) T * n)}, 256, 0, stream, in, inStride, W, rank, bias, lo, hi, dt, T, n);
    }

    /**
     * The selective scan of {@code kernels.cu}'s ssm_scan over T steps for R state rows of N states
     * (state S [R × N], updated), gated by silu(Z), into Y [T × R].
     */
    public void ssmScan(long stream, long X, int xs, long dt, int heads, long BC, int bcs, int bOff, int cOff, long Z, int zs, long A,
                        boolean aPerRow, long D, long S, long Y, int R, int N, int rowsPerHead, int headsPerGroup, int T) {
        if (N > 256) throw new IllegalArgumentException("state size " + N + " (the CUDA scan takes up to 256)");
        cx.launch(dependent, "ssm_scan", new int[] {(R + 3) / 4}, 128, 0, stream, X, xs, dt, heads, BC, bcs, bOff, cOff, Z, zs, A, aPerRow ? 1 : 0,
                D, S, Y, R, N, rowsPerHead, headsPerGroup, T);
    }

    // ---- Gated DeltaNet, gated attention, mixtures of experts ----

    /**
     * The gated delta rule over T steps for nv value heads (kernels.cu's delta_rule): q, k, v from the
     * conv output XC (rows cs apart), b, a, z from P (rows ps apart, at bOff, aOff, zOff); states S
     * [nv × dk × dv] updated; the gated-normalised outputs into O (rows os apart).
     */
    public void deltaRule(long stream, long XC, int cs, long P, int ps, int bOff, int aOff, int zOff, long aNeg, long dtBias, long normW,
                          float eps, long S, long O, int os, int nk, int nv, int dk, int dv, int T) {
        int threads = Math.max(32, (Math.max(dk, dv) + 31) / 32 * 32);
        if (threads > 1024) throw new IllegalArgumentException("head sizes " + dk + ", " + dv + " (the CUDA delta rule takes up to 1024)");
        cx.launch(dependent, "delta_rule", new int[] {nv}, threads, 8 * dk, stream, XC, cs, P, ps, bOff, aOff, zOff, aNeg, dtBias, normW, eps,
                S, O, os, nk, nv, dk, dv, T);
    }

    /** O[t, i] *= σ(G[t·gs + i]) for T rows of n. */
    public void sigmoidGateRows(long stream, long O, long G, int gs, int T, int n) {
        cx.launch(dependent, "sigmoid_gate_rows", new int[] {blocks((long) T * n)}, 256, 0, stream, O, G, gs, T, n);
    }

    /**
     * Routing for T rows of router logits (rows ls apart, E experts then, when shared is 2, the shared
     * expert's gate logit): sel [T × k] experts, w [T × (k+1)] weights (the last the shared expert's:
     * σ(gate) for shared 2, 1 for shared 1, 0 for none).
     */
    public void moeRoute(long stream, long L, int ls, int E, int k, boolean norm, int shared, long sel, long w, int T) {
        cx.launch(dependent, "moe_route", new int[] {(T + 63) / 64}, 64, 0, stream, L, ls, E, k, norm ? 1 : 0, shared, sel, w, T);
    }

    /** X[t] += Σ_s w[t, s]·D[t·k + s] + w[t, k]·Dsh[t] (Dsh may be 0), rows of d. */
    public void moeCombine(long stream, long X, long D, long w, long Dsh, int k, int d, int T) {
        cx.launch(dependent, "moe_combine", new int[] {blocks((long) T * d)}, 256, 0, stream, X, D, w, Dsh, k, d, T);
    }
}
