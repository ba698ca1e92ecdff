package dev.panamax.cuda;

import dev.panamax.runtime.backend.SsmSpec;
import dev.panamax.runtime.model.LanguageModel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Mamba and Mamba-2 resident on the GPU (equations in {@link SsmSpec}). Per session the device holds
 * each layer's conv window and SSM state: O(1) memory whatever the length. A decoded token is one
 * graph replay of, per layer: W_in with the RMSNorm fused → conv + SiLU → (Mamba: W_x, then Δ from
 * the low-rank W_dt; Mamba-2: Δ from W_in's dt columns) → the scan with the SiLU(z) gate → W_out
 * (Mamba-2: the gated RMSNorm fused) with the residual. A prompt runs the projections as cuBLAS GEMMs
 * over the block and the same conv and scan kernels over its T steps, continuing the session's state.
 */
final class CudaSsm extends CudaModel {
    final SsmSpec s;
    final DeviceMatrix embed, output;
    final long finalNorm;
    final Layer[] layers;
    /** W_in's row width, and where the conv input and the Mamba-2 dt columns start in it. */
    final int projWidth, convOff, dtOff, convChannels, xWidth, rowsPerHead, headsPerGroup;

    record Layer(long norm, DeviceMatrix inProj, long convW, long convB, DeviceMatrix xProj, long dtProj, long dtBias, long a, long d,
                 long gateNorm, DeviceMatrix outProj) {}

    CudaSsm(CudaContext cx, SsmSpec s, LanguageModel cpu) {
        super(cx, cpu, s.vocab());
        this.s = s;
        int inner = s.inner();
        convChannels = s.convChannels();
        if (s.version() == 1) { // [x | z]
            projWidth = 2 * inner;
            convOff = 0;
            dtOff = -1;
            xWidth = s.dtRank() + 2 * s.state();
            rowsPerHead = 1;
            headsPerGroup = inner;
        } else { // [z | xBC | dt]
            projWidth = inner + convChannels + s.heads();
            convOff = inner;
            dtOff = inner + convChannels;
            xWidth = 0;
            rowsPerHead = inner / s.heads();
            headsPerGroup = s.heads() / s.groups();
        }
        try (Uploads up = cx.beginUploads()) {
            Map<Object, DeviceMatrix> uploaded = new IdentityHashMap<>();
            embed = DeviceMatrix.upload(cx, weights, s.embed());
            uploaded.put(s.embed(), embed);
            output = uploaded.computeIfAbsent(s.output(), t -> DeviceMatrix.upload(cx, weights, s.output())); // tied: the same table
            finalNorm = cx.upload(weights, s.finalNorm());
            layers = new Layer[s.layers()];
            for (int i = 0; i < s.layers(); i++) {
                SsmSpec.Layer L = s.layerWeights().get(i);
                layers[i] = new Layer(cx.upload(weights, L.norm()), DeviceMatrix.upload(cx, weights, L.inProj()), cx.upload(weights, L.convW()),
                        cx.upload(weights, L.convB()), L.xProj() == null ? null : DeviceMatrix.upload(cx, weights, L.xProj()), opt(L.dtProj()),
                        cx.upload(weights, L.dtBias()), cx.upload(weights, L.a()), cx.upload(weights, L.d()), opt(L.gateNorm()),
                        DeviceMatrix.upload(cx, weights, L.outProj()));
            }
            up.close();
            uploaded(up);
        } catch (RuntimeException e) {
            throw failed(e);
        }
    }

    /** No context limit: the state does not grow. */
    @Override
    public int contextLength() {
        return Integer.MAX_VALUE;
    }

    @Override
    GraphSession openSession() {
        return new Session(this);
    }

    /**
     * The layer's mixer after its input projection, for T rows of P (width projWidth): conv, step
     * sizes, scan into Y [T × inner]. XC [T × convChannels], XDB [T × xWidth] (Mamba) and DT are scratch.
     */
    void mix(CudaOps o, long stream, Layer L, long convState, long ssmState, long P, long XC, long XC16, long XDB, long DT, long Y, int T,
             boolean prompt) {
        int inner = s.inner(), N = s.state();
        o.ssmConv(stream, P + 4L * convOff, projWidth, XC, T, convChannels, L.convW(), L.convB(), convState, s.conv());
        if (s.version() == 1) {
            int r = s.dtRank();
            if (prompt) {
                if (L.xProj().halfInput()) o.toF16(stream, XC, XC16, (long) T * inner);
                gemm(L.xProj(), XC, XC16, T, XDB, false);
            } else {
                o.matvec(stream, L.xProj(), XC, 0, 0, s.normEps(), 0, XDB, false);
            }
            o.ssmDt(stream, XDB, xWidth, L.dtProj(), r, L.dtBias(), s.dtMin(), s.dtMax(), DT, T, inner);
            o.ssmScan(stream, XC, inner, DT, inner, XDB, xWidth, r, r + N, P + 4L * inner, projWidth, L.a(), true, L.d(), ssmState, Y,
                    inner, N, 1, inner, T);
        } else {
            o.ssmDt(stream, P + 4L * dtOff, projWidth, 0, 0, L.dtBias(), s.dtMin(), s.dtMax(), DT, T, s.heads());
            o.ssmScan(stream, XC, convChannels, DT, s.heads(), XC, convChannels, inner, inner + s.groups() * N, P, projWidth, L.a(), false,
                    L.d(), ssmState, Y, inner, N, rowsPerHead, headsPerGroup, T);
        }
    }

    /** One sequence: per layer the conv window and SSM state, and the decode step's activations. */
    static final class Session extends GraphSession {
        final CudaSsm m;
        final long conv, ssm, x, proj, xc, xdb, dt, y;
        final long convLayer, ssmLayer;
        Prompt prompt;

        Session(CudaSsm m) {
            super(m);
            this.m = m;
            SsmSpec s = m.s;
            Arena a = arena;
            convLayer = 4L * m.convChannels * (s.conv() - 1);
            ssmLayer = 4L * s.inner() * s.state();
            conv = cx.zeros(a, convLayer * s.layers());
            ssm = cx.zeros(a, ssmLayer * s.layers());
            x = cx.allocate(a, 4L * s.dim());
            proj = cx.allocate(a, 4L * m.projWidth);
            xc = cx.allocate(a, 4L * m.convChannels);
            xdb = cx.allocate(a, 4L * Math.max(1, m.xWidth));
            dt = cx.allocate(a, 4L * Math.max(s.inner(), s.heads()));
            y = cx.allocate(a, 4L * s.inner());
        }

        @Override
        void decodeStep() {
            SsmSpec s = m.s;
            CudaOps o = m.decodeOps;
            float eps = s.normEps();
            o.embed(stream, m.embed, params + 4, 1, x);
            for (int l = 0; l < s.layers(); l++) {
                Layer L = m.layers[l];
                o.matvec(stream, L.inProj(), x, L.norm(), 0, eps, 0, proj, false);
                m.mix(o, stream, L, conv + l * convLayer, ssm + l * ssmLayer, proj, xc, 0, xdb, dt, y, 1, false);
                o.matvec(stream, L.outProj(), y, L.gateNorm(), 0, eps, 0, x, true); // Mamba-2: the gated RMSNorm fused
            }
            o.matvec(stream, m.output, x, m.finalNorm, 0, eps, 0, logits, false);
        }

        @Override
        float[] promptChunk(int[] tokens, float[] all, int from) {
            if (prompt == null) prompt = new Prompt(this);
            return prompt.run(tokens, all, from);
        }
    }

    /** A prompt block's buffers (rows × width) and its launches. */
    static final class Prompt {
        final Session se;
        final CudaSsm m;
        final long X, XB, XB16, P, XC, XC16, XDB, DT, Y, Y16, tokens;

        Prompt(Session se) {
            this.se = se;
            this.m = se.m;
            SsmSpec s = m.s;
            CudaContext cx = se.cx;
            Arena a = se.arena;
            long R = PREFILL_ROWS;
            X = cx.allocate(a, 4 * R * s.dim());
            XB = cx.allocate(a, 4 * R * s.dim());
            XB16 = cx.allocate(a, 2 * R * s.dim());
            P = cx.allocate(a, 4 * R * m.projWidth);
            XC = cx.allocate(a, 4 * R * m.convChannels);
            XC16 = cx.allocate(a, 2 * R * m.convChannels);
            XDB = cx.allocate(a, 4 * R * Math.max(1, m.xWidth));
            DT = cx.allocate(a, 4 * R * Math.max(s.inner(), s.heads()));
            Y = cx.allocate(a, 4 * R * s.inner());
            Y16 = cx.allocate(a, 2 * R * s.inner());
            tokens = cx.allocate(a, 4 * R);
        }

        float[] run(int[] toks, float[] all, int from) {
            SsmSpec s = m.s;
            int T = toks.length, d = s.dim(), inner = s.inner();
            float eps = s.normEps();
            long st = m.cublasStream;
            CudaOps o = m.ops;
            se.cx.copyIn(tokens, MemorySegment.ofArray(toks));
            o.embed(st, m.embed, tokens, T, X);
            for (int l = 0; l < s.layers(); l++) {
                Layer L = m.layers[l];
                o.rmsnormRows(st, X, L.norm(), XB, XB16, T, d, eps);
                m.gemm(L.inProj(), XB, XB16, T, P, false);
                m.mix(o, st, L, se.conv + l * se.convLayer, se.ssm + l * se.ssmLayer, P, XC, XC16, XDB, DT, Y, T, true);
                if (L.gateNorm() != 0) o.rmsnormRows(st, Y, L.gateNorm(), Y, Y16, T, inner, eps);
                else if (L.outProj().halfInput()) o.toF16(st, Y, Y16, (long) T * inner);
                m.gemm(L.outProj(), Y, Y16, T, X, true);
            }
            return se.promptLogits(m.output, m.finalNorm, 0, eps, X, XB, XB16, T, d, all, from);
        }
    }
}
