#!/usr/bin/python3
"""transformers' own ViT on the GPU, eager, fp32 and fp16, batch 1: issue 26's GPU peer.

    tools/hf-vit-gpu.py VIT_DIR [--seconds 3]

VIT_DIR is a Hugging Face ViTForImageClassification directory (config.json, model.safetensors; the
random ViT-B/16 of `java tools/RandomVit.java DIR` works). Prints images/s one image at a time for
float32 and float16 (model.half()), eager (no torch.compile), after a warm-up, with the GPU
synchronised before the clock stops. `tools/gpu.sh run vision-peer` runs it on the device machine
when torch and transformers are there. Not part of CI.
"""
import argparse, time
import torch
import transformers

p = argparse.ArgumentParser()
p.add_argument("dir")
p.add_argument("--seconds", type=float, default=3.0)
a = p.parse_args()
print(f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.cuda.get_device_name(0)}")
for dtype in (torch.float32, torch.float16):
    m = transformers.ViTForImageClassification.from_pretrained(a.dir, torch_dtype=dtype, attn_implementation="eager").cuda().eval()
    size = m.config.image_size
    x = torch.randn(1, 3, size, size, device="cuda", dtype=dtype)
    with torch.inference_mode():
        for _ in range(10):
            m(pixel_values=x)
        torch.cuda.synchronize()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < a.seconds:
            m(pixel_values=x)
            n += 1
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    print(f"transformers eager {str(dtype).replace('torch.', '')}, batch 1: {n / dt:.2f} images/s")
