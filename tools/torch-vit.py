#!/usr/bin/python3
"""PyTorch's own ViT on the same weights as Panamax, for speed and agreement (issue 26's CPU peer).

    tools/torch-vit.py VIT_DIR [--threads 2] [--batch 16] [--rounds 3] [--pixels FILE.f32 --out LOGITS.f32]

VIT_DIR is a Hugging Face ViTForImageClassification directory (config.json, model.safetensors).
The weights are read from the safetensors file here (no safetensors package needed) into
torchvision's VisionTransformer (eps from config.json; GELU, erf form, as transformers' ViT), in
float32, eval mode, torch.inference_mode. Prints images/s one at a time and --batch a pass
(median of --rounds rounds of at least 2 s each, after one warm-up round). With --pixels, writes
that image's logits for comparison with `panamax forward DIR --pixels FILE.f32 --out ...`.

Needs PyTorch and torchvision (Debian: apt-get install python3-torch python3-torchvision, and
libopenblas0-pthread — without it Debian's torch multiplies with the reference BLAS).
Not part of CI.
"""
import argparse, functools, json, struct, sys, time
import numpy as np
import torch
import torchvision

DTYPES = {"F32": np.float32, "F16": np.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        arr = np.frombuffer(data, dtype=DTYPES[t["dtype"]], count=(b - a) // np.dtype(DTYPES[t["dtype"]]).itemsize, offset=8 + n + a)
        out[name] = torch.from_numpy(arr.astype(np.float32).reshape(t["shape"]))
    return out


def build(d):
    c = json.load(open(f"{d}/config.json"))
    labels = len(c.get("id2label", {})) or 1000
    m = torchvision.models.VisionTransformer(
        image_size=c["image_size"], patch_size=c["patch_size"], num_layers=c["num_hidden_layers"], num_heads=c["num_attention_heads"],
        hidden_dim=c["hidden_size"], mlp_dim=c["intermediate_size"], num_classes=labels,
        norm_layer=functools.partial(torch.nn.LayerNorm, eps=c.get("layer_norm_eps", 1e-12)))
    w = read_safetensors(f"{d}/model.safetensors")
    s = {"conv_proj.weight": w["vit.embeddings.patch_embeddings.projection.weight"],
         "conv_proj.bias": w["vit.embeddings.patch_embeddings.projection.bias"],
         "class_token": w["vit.embeddings.cls_token"],
         "encoder.pos_embedding": w["vit.embeddings.position_embeddings"],
         "encoder.ln.weight": w["vit.layernorm.weight"], "encoder.ln.bias": w["vit.layernorm.bias"],
         "heads.head.weight": w["classifier.weight"], "heads.head.bias": w["classifier.bias"]}
    for i in range(c["num_hidden_layers"]):
        p, q = f"vit.encoder.layer.{i}.", f"encoder.layers.encoder_layer_{i}."
        a = p + "attention.attention."
        s[q + "ln_1.weight"], s[q + "ln_1.bias"] = w[p + "layernorm_before.weight"], w[p + "layernorm_before.bias"]
        s[q + "self_attention.in_proj_weight"] = torch.cat([w[a + "query.weight"], w[a + "key.weight"], w[a + "value.weight"]])
        s[q + "self_attention.in_proj_bias"] = torch.cat([w[a + "query.bias"], w[a + "key.bias"], w[a + "value.bias"]])
        s[q + "self_attention.out_proj.weight"] = w[p + "attention.output.dense.weight"]
        s[q + "self_attention.out_proj.bias"] = w[p + "attention.output.dense.bias"]
        s[q + "ln_2.weight"], s[q + "ln_2.bias"] = w[p + "layernorm_after.weight"], w[p + "layernorm_after.bias"]
        s[q + "mlp.0.weight"], s[q + "mlp.0.bias"] = w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"]
        s[q + "mlp.3.weight"], s[q + "mlp.3.bias"] = w[p + "output.dense.weight"], w[p + "output.dense.bias"]
    m.load_state_dict(s, strict=True)
    return m.eval(), c


def rate(m, x, seconds=2.0):
    n, t0 = 0, time.perf_counter()
    while True:
        m(x)
        n += x.shape[0]
        t = time.perf_counter() - t0
        if t >= seconds:
            return n / t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pixels")
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    m, c = build(a.dir)
    size = c["image_size"]
    with torch.inference_mode():
        if a.pixels:
            px = torch.from_numpy(np.fromfile(a.pixels, dtype="<f4").reshape(1, 3, size, size))
            m(px)[0].numpy().astype("<f4").tofile(a.out)
            print(f"wrote {a.out}", file=sys.stderr)
            return
        g = torch.Generator().manual_seed(42)
        one, many = torch.randn(1, 3, size, size, generator=g), torch.randn(a.batch, 3, size, size, generator=g)
        rate(m, one), rate(m, many)  # warm-up
        ones, manys = [], []
        for _ in range(a.rounds):
            ones.append(rate(m, one))
            manys.append(rate(m, many))
        med = lambda v: sorted(v)[len(v) // 2]
        blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower() and l.split()[-1].startswith("/")})
        print(f"torch {torch.__version__}, {a.threads} threads, BLAS: {', '.join(blas) or 'none loaded'}")
        print(f"PyTorch classify {size}x{size}: {med(ones):.2f} images/s one at a time, {med(manys):.2f} images/s {a.batch} a pass "
              f"(runs {', '.join('%.2f' % r for r in ones)} / {', '.join('%.2f' % r for r in manys)})")


if __name__ == "__main__":
    main()
