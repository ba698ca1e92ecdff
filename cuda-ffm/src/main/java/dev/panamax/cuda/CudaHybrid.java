package dev.panamax.cuda;

import dev.panamax.runtime.ModelException;
import dev.panamax.runtime.backend.HybridSpec;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Qwen3-Next resident on the GPU (equations in {@link HybridSpec}). Rows of the input projections
 * are reordered at upload so that each layer's outputs come out in the order the kernels read them:
 * DeltaNet [q | k | v | z | b | a] (the conv runs over the first three), attention [q | k | v | gate].
 * Mixture-of-experts layers route on the device (moe_route writes the chosen experts and weights) and
 * run only the chosen experts: the matvec kernel picks each slot's expert from device memory, so the
 * decode step stays one CUDA graph. Prompts: projections as cuBLAS GEMMs, the delta rule and the conv
 * over the block's steps, attention by the prompt kernels, experts per (token, slot) by the same
 * selected matvecs.
 */
final class CudaHybrid extends CudaModel {
    static final int MAX_CONTEXT = CudaDecoder.MAX_CONTEXT;

    final HybridSpec s;
    final DeviceMatrix embed, output;
    final long finalNorm, rope;
    final Layer[] layers;
    final int capacity, qDim, kvDim, qkvDim, gateWidth, convChannels, deltaWidth, zOff, bOff, aOff, rot, widest, ffnWidest;
    final int experts, topK, slotsPerToken;

    record Delta(DeviceMatrix in, long convW, long convB, long aNeg, long dtBias, long norm, DeviceMatrix out) {}

    record Attn(DeviceMatrix qkvg, long qNorm, long kNorm, DeviceMatrix o) {}

    /** gateUp interleaves each expert's gate and up rows; expertRows = 2·hidden of one expert. */
    record Moe(DeviceMatrix router, int shared, DeviceMatrix gateUp, DeviceMatrix down, int hidden, DeviceMatrix sharedGateUp,
               DeviceMatrix sharedDown, boolean normTopK) {}

    record Mlp(DeviceMatrix gateUp, DeviceMatrix down) {}

    /** One of delta/attn and one of moe/mlp is null; kv is the layer's index among the attention layers (−1 for DeltaNet). */
    record Layer(long inNorm, long postNorm, Delta delta, Attn attn, int kv, Moe moe, Mlp mlp) {}

    CudaHybrid(CudaContext cx, HybridSpec s, LanguageModel cpu) {
        super(cx, cpu, s.vocab());
        this.s = s;
        capacity = Math.min(s.context(), MAX_CONTEXT);
        int hd = s.headDim(), nk = s.nk(), nv = s.nv(), dk = s.dk(), dv = s.dv();
        qDim = s.heads() * hd;
        kvDim = s.kvHeads() * hd;
        qkvDim = qDim + 2 * kvDim;
        gateWidth = qkvDim + qDim;
        convChannels = 2 * nk * dk + nv * dv;
        zOff = convChannels;
        bOff = zOff + nv * dv;
        aOff = bOff + nv;
        deltaWidth = aOff + nv;
        rot = 2 * s.invFreq().length;
        int e = 0, k = 0, ffn = 0;
        for (HybridSpec.Layer L : s.layerWeights()) {
            if (L.moe() != null) {
                e = Math.max(e, L.moe().experts().size());
                k = Math.max(k, L.moe().topK());
                if (L.moe().shared() != null) ffn = Math.max(ffn, L.moe().shared().gate().rows());
                ffn = Math.max(ffn, L.moe().experts().get(0).gate().rows());
            } else {
                ffn = Math.max(ffn, L.mlp().gate().rows());
            }
        }
        experts = e;
        topK = k;
        slotsPerToken = Math.max(1, k);
        ffnWidest = ffn;
        widest = Math.max(Math.max(deltaWidth, gateWidth), Math.max(s.dim(), nv * dv));
        try (Uploads up = cx.beginUploads()) {
            embed = DeviceMatrix.upload(cx, weights, s.embed());
            output = s.output() == s.embed() ? embed : DeviceMatrix.upload(cx, weights, s.output());
            finalNorm = cx.upload(weights, s.finalNorm());
            rope = cx.upload(weights, CudaOps.ropeTable(s.invFreq(), capacity));
            layers = new Layer[s.layers()];
            int kv = 0;
            for (int i = 0; i < s.layers(); i++) {
                HybridSpec.Layer L = s.layerWeights().get(i);
                Delta delta = L.delta() == null ? null : delta(L.delta());
                Attn attn = L.attn() == null ? null : attn(L.attn());
                Moe moe = L.moe() == null ? null : moe(L.moe());
                Mlp mlp = L.mlp() == null ? null
                        : new Mlp(DeviceMatrix.uploadInterleaved(cx, weights, L.mlp().gate(), L.mlp().up()), DeviceMatrix.upload(cx, weights, L.mlp().down()));
                layers[i] = new Layer(cx.upload(weights, L.inNorm()), cx.upload(weights, L.postNorm()), delta, attn, attn != null ? kv++ : -1, moe, mlp);
            }
            up.close();
            uploaded(up);
        } catch (RuntimeException ex) {
            throw failed(ex);
        }
    }

    /** W_qkvz's rows (grouped by key head) reordered to [q | k | v | z], W_ba's to [b | a], stacked as one matrix. */
    private Delta delta(HybridSpec.DeltaNet D) {
        int nk = s.nk(), dk = s.dk(), r = s.nv() / nk, rv = r * s.dv(), group = 2 * dk + 2 * rv;
        List<Tensor> parts = new ArrayList<>();
        for (int part = 0; part < 4; part++) {
            for (int g = 0; g < nk; g++) {
                int base = g * group;
                parts.add(switch (part) {
                    case 0 -> D.inQkvz().rows(base, dk);
                    case 1 -> D.inQkvz().rows(base + dk, dk);
                    case 2 -> D.inQkvz().rows(base + 2 * dk, rv);
                    default -> D.inQkvz().rows(base + 2 * dk + rv, rv);
                });
            }
        }
        for (int part = 0; part < 2; part++) {
            for (int g = 0; g < nk; g++) parts.add(D.inBa().rows(g * 2 * r + part * r, r));
        }
        return new Delta(DeviceMatrix.upload(cx, weights, parts.toArray(new Tensor[0])), cx.upload(weights, D.convW()),
                cx.upload(weights, new float[convChannels]), cx.upload(weights, D.aNeg()), cx.upload(weights, D.dtBias()), cx.upload(weights, D.norm()),
                DeviceMatrix.upload(cx, weights, D.out()));
    }

    /** W_q's rows ([q_h, gate_h] per head) split and stacked with W_k, W_v as [q | k | v | gate]. */
    private Attn attn(HybridSpec.Attention A) {
        int hd = s.headDim(), H = s.heads();
        Tensor[] parts = new Tensor[2 * H + 2];
        for (int h = 0; h < H; h++) {
            parts[h] = A.q().rows(2 * h * hd, hd);
            parts[H + 2 + h] = A.q().rows(2 * h * hd + hd, hd);
        }
        parts[H] = A.k();
        parts[H + 1] = A.v();
        return new Attn(DeviceMatrix.upload(cx, weights, parts), cx.upload(weights, A.qNorm()), cx.upload(weights, A.kNorm()),
                DeviceMatrix.upload(cx, weights, A.o()));
    }

    private Moe moe(HybridSpec.Moe M) {
        List<Tensor> gates = new ArrayList<>(), ups = new ArrayList<>();
        Tensor[] downs = new Tensor[M.experts().size()];
        for (int e = 0; e < downs.length; e++) {
            gates.add(M.experts().get(e).gate());
            ups.add(M.experts().get(e).up());
            downs[e] = M.experts().get(e).down();
        }
        int shared = M.shared() == null ? 0 : M.sharedGate() == null ? 1 : 2;
        DeviceMatrix router = shared == 2 ? DeviceMatrix.upload(cx, weights, M.router(), M.sharedGate()) : DeviceMatrix.upload(cx, weights, M.router());
        return new Moe(router, shared, DeviceMatrix.uploadInterleaved(cx, weights, gates, ups), DeviceMatrix.upload(cx, weights, downs),
                M.experts().get(0).gate().rows(), shared == 0 ? null : DeviceMatrix.uploadInterleaved(cx, weights, M.shared().gate(), M.shared().up()),
                shared == 0 ? null : DeviceMatrix.upload(cx, weights, M.shared().down()), M.normTopK());
    }

    @Override
    public int contextLength() {
        return capacity;
    }

    @Override
    GraphSession openSession() {
        return new Session(this);
    }

    /**
     * The feed-forward half of layer L for T rows of X (already normalised into XB/XB16 for prompts; for
     * a decoded token, T = 1, the norm is fused into the first matvecs and XB is X itself).
     */
    void feedForward(CudaOps o, long st, Layer L, long X, long XB, long XB16, int T, boolean prompt, Buffers b) {
        int d = s.dim();
        float eps = s.normEps();
        long nw = prompt ? 0 : L.postNorm();
        if (L.mlp() != null) {
            if (prompt) {
                gemm(L.mlp().gateUp(), XB, XB16, T, b.GU, false);
                o.gateRows(st, b.GU, b.H, b.H16, T, L.mlp().gateUp().rows / 2, 1);
                gemm(L.mlp().down(), b.H, b.H16, T, X, true);
            } else {
                o.gatedMatvec(st, L.mlp().gateUp(), X, nw, eps, 1, b.H);
                o.matvec(st, L.mlp().down(), b.H, 0, 0, eps, 0, X, true);
            }
            return;
        }
        Moe M = L.moe();
        int E = M.gateUp().rows / (2 * M.hidden()), k = topK;
        if (prompt) gemm(M.router(), XB, XB16, T, b.RL, false);
        else o.matvec(st, M.router(), X, nw, 0, eps, 0, b.RL, false);
        o.moeRoute(st, b.RL, M.router().rows, E, k, M.normTopK(), M.shared(), b.sel, b.w, T);
        // Each (row, slot) runs its expert: gate/up on the row's input, then down on that slot's hidden values.
        o.selectedMatvec(st, M.gateUp(), 2 * M.hidden(), b.sel, T * k, prompt ? XB : X, k, d, nw, eps, true, b.HS);
        o.selectedMatvec(st, M.down(), d, b.sel, T * k, b.HS, 1, M.hidden(), 0, eps, false, b.DS);
        long dsh = 0;
        if (M.shared() != 0) {
            if (prompt) {
                gemm(M.sharedGateUp(), XB, XB16, T, b.GU, false);
                o.gateRows(st, b.GU, b.H, b.H16, T, M.sharedGateUp().rows / 2, 1);
                gemm(M.sharedDown(), b.H, b.H16, T, b.DSH, false);
            } else {
                o.gatedMatvec(st, M.sharedGateUp(), X, nw, eps, 1, b.H);
                o.matvec(st, M.sharedDown(), b.H, 0, 0, eps, 0, b.DSH, false);
            }
            dsh = b.DSH;
        }
        o.moeCombine(st, X, b.DS, b.w, dsh, k, d, T);
    }

    /** Activations for up to R rows (1 for decoding). */
    static final class Buffers {
        final long P, XC, O, O16, RL, sel, w, HS, DS, GU, H, H16, DSH;

        Buffers(CudaHybrid m, CudaContext cx, Arena a, long R) {
            int k = m.slotsPerToken;
            P = cx.allocate(a, 4 * R * m.widest);
            XC = cx.allocate(a, 4 * R * m.convChannels);
            O = cx.allocate(a, 4 * R * m.widest);
            O16 = cx.allocate(a, 2 * R * m.widest);
            RL = cx.allocate(a, 4 * R * (m.experts + 1));
            sel = cx.allocate(a, 4 * R * k);
            w = cx.allocate(a, 4 * R * (k + 1));
            HS = cx.allocate(a, 4 * R * k * m.ffnWidest);
            DS = cx.allocate(a, 4 * R * k * m.s.dim());
            GU = cx.allocate(a, 8 * R * m.ffnWidest);
            H = cx.allocate(a, 4 * R * m.ffnWidest);
            H16 = cx.allocate(a, 2 * R * m.ffnWidest);
            DSH = cx.allocate(a, 4 * R * m.s.dim());
        }
    }

    /** One sequence: per DeltaNet layer the conv window and states, per attention layer the KV cache. */
    static final class Session extends GraphSession {
        final CudaHybrid m;
        final long[] conv, state, kc, vc;
        final long x, part, count;
        final int chunk, nsplit;
        final Buffers one;
        Prompt prompt;

        Session(CudaHybrid m) {
            super(m);
            this.m = m;
            HybridSpec s = m.s;
            Arena a = arena;
            int L = s.layers();
            conv = new long[L];
            state = new long[L];
            kc = new long[L];
            vc = new long[L];
            for (int l = 0; l < L; l++) {
                if (m.layers[l].delta() != null) {
                    conv[l] = cx.zeros(a, 4L * m.convChannels * (s.conv() - 1));
                    state[l] = cx.zeros(a, 4L * s.nv() * s.dk() * s.dv());
                } else {
                    kc[l] = cx.allocate(a, 4L * m.capacity * m.kvDim);
                    vc[l] = cx.allocate(a, 4L * m.capacity * m.kvDim);
                }
            }
            x = cx.allocate(a, 4L * s.dim());
            chunk = CudaOps.decodeChunk(m.capacity);
            nsplit = (m.capacity + chunk - 1) / chunk;
            part = cx.allocate(a, 4L * s.heads() * nsplit * (s.headDim() + 2));
            count = cx.zeros(a, 4L * s.heads()); // per-head chunk counters
            one = new Buffers(m, cx, a, 1);
        }

        @Override
        void checkRoom(int n) {
            if (pos + n > m.capacity) {
                throw new ModelException("the sequence reached the context length of " + m.capacity + " tokens"
                        + (m.capacity < m.s.context() ? " (the CUDA KV cache's limit; -Dpanamax.cuda.context raises it)" : ""));
            }
        }

        @Override
        void decodeStep() {
            HybridSpec s = m.s;
            CudaOps o = m.decodeOps;
            float eps = s.normEps();
            Buffers b = one;
            o.embed(stream, m.embed, params + 4, 1, x);
            for (int l = 0; l < s.layers(); l++) {
                Layer L = m.layers[l];
                if (L.delta() != null) {
                    Delta D = L.delta();
                    o.matvec(stream, D.in(), x, L.inNorm(), 0, eps, 0, b.P, false);
                    o.ssmConv(stream, b.P, m.deltaWidth, b.XC, 1, m.convChannels, D.convW(), D.convB(), conv[l], s.conv());
                    o.deltaRule(stream, b.XC, m.convChannels, b.P, m.deltaWidth, m.bOff, m.aOff, m.zOff, D.aNeg(), D.dtBias(), D.norm(), eps,
                            state[l], b.O, s.nv() * s.dv(), s.nk(), s.nv(), s.dk(), s.dv(), 1);
                    o.matvec(stream, D.out(), b.O, 0, 0, eps, 0, x, true);
                } else {
                    Attn A = L.attn();
                    o.matvec(stream, A.qkvg(), x, L.inNorm(), 0, eps, 0, b.P, false);
                    o.attentionDecode(stream, b.P, kc[l], vc[l], m.rope, A.qNorm(), A.kNorm(), params, part, count, b.O, s.heads(), s.kvHeads(),
                            s.headDim(), m.rot, false, eps, 0, chunk, nsplit);
                    o.sigmoidGateRows(stream, b.O, b.P + 4L * m.qkvDim, m.gateWidth, 1, m.qDim);
                    o.matvec(stream, A.o(), b.O, 0, 0, eps, 0, x, true);
                }
                m.feedForward(o, stream, L, x, x, 0, 1, false, b);
            }
            o.matvec(stream, m.output, x, m.finalNorm, 0, eps, 0, logits, false);
        }

        @Override
        float[] promptChunk(int[] tokens, float[] all, int from) {
            if (prompt == null) prompt = new Prompt(this);
            return prompt.run(tokens, all, from);
        }
    }

    /** A prompt block's buffers and launches. */
    static final class Prompt {
        final Session se;
        final CudaHybrid m;
        final long X, XB, XB16, part, tokens, params;
        final Buffers b;

        Prompt(Session se) {
            this.se = se;
            this.m = se.m;
            CudaContext cx = se.cx;
            Arena a = se.arena;
            long R = PREFILL_ROWS, d = m.s.dim();
            X = cx.allocate(a, 4 * R * d);
            XB = cx.allocate(a, 4 * R * d);
            XB16 = cx.allocate(a, 2 * R * d);
            part = cx.allocate(a, CudaOps.promptPartialBytes(R, m.s.heads(), m.s.headDim()));
            tokens = cx.allocate(a, 4 * R);
            params = cx.allocate(a, 8);
            b = new Buffers(m, cx, a, R);
        }

        float[] run(int[] toks, float[] all, int from) {
            HybridSpec s = m.s;
            int T = toks.length, d = s.dim(), pos = se.pos;
            float eps = s.normEps();
            long st = m.cublasStream;
            CudaOps o = m.ops;
            se.cx.copyIn(tokens, MemorySegment.ofArray(toks));
            se.cx.copyIn(params, MemorySegment.ofArray(new int[] {pos, 0}));
            o.embed(st, m.embed, tokens, T, X);
            int n = pos + T, chunk = Math.max(64, ((n + 7) / 8 + 63) / 64 * 64), nsplit = (n + chunk - 1) / chunk;
            for (int l = 0; l < s.layers(); l++) {
                Layer L = m.layers[l];
                o.rmsnormRows(st, X, L.inNorm(), XB, XB16, T, d, eps);
                if (L.delta() != null) {
                    Delta D = L.delta();
                    m.gemm(D.in(), XB, XB16, T, b.P, false);
                    o.ssmConv(st, b.P, m.deltaWidth, b.XC, T, m.convChannels, D.convW(), D.convB(), se.conv[l], s.conv());
                    int ow = s.nv() * s.dv();
                    o.deltaRule(st, b.XC, m.convChannels, b.P, m.deltaWidth, m.bOff, m.aOff, m.zOff, D.aNeg(), D.dtBias(), D.norm(), eps,
                            se.state[l], b.O, ow, s.nk(), s.nv(), s.dk(), s.dv(), T);
                    if (D.out().halfInput()) o.toF16(st, b.O, b.O16, (long) T * ow);
                    m.gemm(D.out(), b.O, b.O16, T, X, true);
                } else {
                    Attn A = L.attn();
                    m.gemm(A.qkvg(), XB, XB16, T, b.P, false);
                    o.ropeStore(st, b.P, m.gateWidth, se.kc[l], se.vc[l], m.rope, A.qNorm(), A.kNorm(), params, T, s.heads(), s.kvHeads(),
                            s.headDim(), m.rot, false, eps);
                    o.attention(st, b.P, m.gateWidth, se.kc[l], se.vc[l], part, params, T, s.heads(), s.kvHeads(), s.headDim(), 0, chunk, nsplit,
                            b.O);
                    o.sigmoidGateRows(st, b.O, b.P + 4L * m.qkvDim, m.gateWidth, T, m.qDim);
                    if (A.o().halfInput()) o.toF16(st, b.O, b.O16, (long) T * m.qDim);
                    m.gemm(A.o(), b.O, b.O16, T, X, true);
                }
                o.rmsnormRows(st, X, L.postNorm(), XB, XB16, T, d, eps);
                m.feedForward(o, st, L, X, XB, XB16, T, true, b);
            }
            return se.promptLogits(m.output, m.finalNorm, 0, eps, X, XB, XB16, T, d, all, from);
        }
    }
}
