package dev.panamax.cuda;

import dev.panamax.runtime.backend.Backend;
import dev.panamax.runtime.backend.DecoderSpec;
import dev.panamax.runtime.backend.EncoderSpec;
import dev.panamax.runtime.backend.HybridSpec;
import dev.panamax.runtime.backend.SsmSpec;
import dev.panamax.runtime.backend.VisionSpec;
import dev.panamax.runtime.model.EncoderModel;
import dev.panamax.runtime.model.LanguageModel;
import dev.panamax.runtime.model.Model;
import dev.panamax.runtime.model.VisionModel;

/**
 * The CUDA backend ({@code --device cuda}): the Llama family (Llama, Mistral, Qwen2/3, SmolLM,
 * TinyLlama, BitNet in float), GPT-2, Mamba, Mamba-2, Qwen3-Next, the BERT encoder and the ViT, DeiT and CLIP image encoders resident on the GPU. Usable when the NVIDIA driver sees a GPU and
 * NVRTC and cuBLAS are found ({@link CudaLibraries}); otherwise {@link #unavailableReason()} says
 * which of them is missing, and the CPU path runs as always.
 */
public final class CudaBackend implements Backend {
    private static volatile String reason;
    private static volatile boolean probed;

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String unavailableReason() {
        if (!probed) {
            synchronized (CudaBackend.class) {
                if (!probed) {
                    reason = probe();
                    probed = true;
                }
            }
        }
        return reason;
    }

    /** Nanoseconds the probe took: the driver's context, NVRTC and cuBLAS opened. */
    static volatile long setupNanos;

    /**
     * Opens the driver and its context, NVRTC and cuBLAS: ~0.4 s on an H100 host (binding the driver's
     * functions, retaining the primary context, loading the two libraries). Opening them on three threads
     * measured no faster (the dynamic loader loads one library at a time); the CLI starts this while the
     * model loads instead ({@code Backends.probeInBackground}).
     */
    private static String probe() {
        long t = System.nanoTime();
        try {
            CudaContext.get();
            Nvrtc.get().version();
            Cublas.library();
            setupNanos = System.nanoTime() - t;
            return null;
        } catch (CudaException e) {
            return e.getMessage();
        } catch (RuntimeException | LinkageError e) {
            return "CUDA cannot be used: " + e;
        }
    }

    @Override
    public String describe() {
        return CudaContext.get().describe() + ", NVRTC " + Nvrtc.get().version();
    }

    @Override
    public String cannotRun(Model model) {
        if (model instanceof EncoderModel) {
            if (!(model instanceof EncoderSpec.Source src)) return "the " + model.architecture() + " encoder has no CUDA path yet (BERT has)";
            EncoderSpec s = src.encoderSpec();
            int hd = s.dim() / s.heads();
            return hd > 256 || hd % 2 != 0 ? "head size " + hd + " (the CUDA attention takes even sizes up to 256)" : null;
        }
        if (model instanceof VisionModel) {
            if (!(model instanceof VisionSpec.Source src)) return "the " + model.architecture() + " image model has no CUDA path yet (ViT, DeiT and CLIP have)";
            VisionSpec s = src.visionSpec();
            int hd = s.dim() / s.heads();
            return hd > 256 || hd % 2 != 0 ? "head size " + hd + " (the CUDA attention takes even sizes up to 256)" : null;
        }
        if (model instanceof HybridSpec.Source hybrid) {
            HybridSpec s = hybrid.hybridSpec();
            if (s.headDim() > 256 || s.headDim() % 2 != 0) return "head size " + s.headDim() + " (the CUDA attention takes even sizes up to 256)";
            if (Math.max(s.dk(), s.dv()) > 1024) return "DeltaNet head sizes " + s.dk() + ", " + s.dv() + " (the CUDA delta rule takes up to 1024)";
            return null;
        }
        if (model instanceof SsmSpec.Source ssm) {
            SsmSpec s = ssm.ssmSpec();
            return s.state() > 256 ? "state size " + s.state() + " (the CUDA scan takes up to 256)" : null;
        }
        if (!(model instanceof DecoderSpec.Source src)) {
            return "the " + model.architecture() + " architecture has no CUDA path yet (the Llama family, GPT-2, Mamba, Mamba-2 and Qwen3-Next have)";
        }
        DecoderSpec s = src.decoderSpec();
        if (s.headDim() > 256 || s.headDim() % 2 != 0) return "head size " + s.headDim() + " (the CUDA attention takes even sizes up to 256)";
        boolean gated = !s.layerWeights().isEmpty() && s.layerWeights().get(0).gate() != null;
        if (!(gated ? s.activation().equals("silu") || s.activation().equals("relu2") : s.activation().equals("gelu_tanh"))) {
            return "the " + s.activation() + " activation " + (gated ? "in a gated" : "in a plain") + " feed-forward has no CUDA kernel";
        }
        return null;
    }

    @Override
    public Model place(Model model) {
        String why = unavailableReason();
        if (why == null) why = cannotRun(model);
        if (why != null) throw new CudaException("cannot run on CUDA: " + why);
        if (model instanceof EncoderModel enc) return new CudaEncoder(CudaContext.get(), ((EncoderSpec.Source) enc).encoderSpec(), enc);
        if (model instanceof VisionModel v) return new CudaVision(CudaContext.get(), ((VisionSpec.Source) v).visionSpec(), v);
        LanguageModel lm = (LanguageModel) model;
        if (model instanceof SsmSpec.Source ssm) return new CudaSsm(CudaContext.get(), ssm.ssmSpec(), lm);
        if (model instanceof HybridSpec.Source hybrid) return new CudaHybrid(CudaContext.get(), hybrid.hybridSpec(), lm);
        return new CudaDecoder(CudaContext.get(), ((DecoderSpec.Source) model).decoderSpec(), lm);
    }
}
