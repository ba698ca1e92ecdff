#!/usr/bin/env python3
"""Turns one jmh/bench.sh run (STREAM, numpy SGEMM, JMH json) into the table in jmh/README.md."""
import json, re, sys, pathlib

out = pathlib.Path(sys.argv[1])
stream = {int(m[0]): float(m[1]) for m in re.findall(r"threads=(\d+) read\(dot\) ([\d.]+) GB/s", (out / "stream.txt").read_text())}
sgemm = {(int(m[0]), int(m[1])): float(m[2]) for m in re.findall(r"sgemm threads=(\d+) n=(\d+) ([\d.]+) GFLOP/s", (out / "sgemm.txt").read_text())}

rows = []
for r in json.loads((out / "jmh.json").read_text()):
    name = r["benchmark"].rsplit(".", 2)[-2] + "." + r["benchmark"].rsplit(".", 1)[-1]
    p = r["params"]
    t = int(p["threads"])
    score, err, unit = r["primaryMetric"]["score"], r["primaryMetric"]["scoreError"], r["primaryMetric"]["scoreUnit"]
    seconds = score / (1e3 if unit == "ms/op" else 1e6)
    if "QuantMatvec" in name:
        sizes = {"Q8_0": (32, 34), "Q4_0": (32, 18), "Q4_K": (256, 144), "Q6_K": (256, 210)}
        bs, bb = sizes[p["format"]]
        fig = 8192 * 4096 / bs * bb / seconds / 1e9
        peer = stream.get(t)
        rows.append((f"{name} {p['format']} 8192x4096", t, f"{fig:.1f} GB/s ({score:.0f} {unit})", f"{peer:.1f} GB/s (STREAM read)" if peer else "-",
                     f"{fig / peer:.0%}" if peer else "-", "-"))
    elif "Matmul" in name:
        n = int(p["n"])
        fig = 2 * n**3 / seconds / 1e9
        peer = sgemm.get((t, n))
        rows.append((f"{name} n={n}", t, f"{fig:.1f} GFLOP/s", f"{peer:.1f} GFLOP/s (OpenBLAS)" if peer else "-",
                     f"{fig / peer:.0%}" if peer else "-", "70%"))
    else:
        n = int(p["size"])
        fig = 4 * n * n / seconds / 1e9
        peer = stream.get(t)
        target = "80%" if n == 4096 else "-"
        rows.append((f"{name} {n}x{n}", t, f"{fig:.1f} GB/s ({score:.2f} {unit})", f"{peer:.1f} GB/s (STREAM read)" if peer else "-",
                     f"{fig / peer:.0%}" if peer else "-", target))

print("| benchmark | threads | Panamax | peer, same run | ratio | target |")
print("| --- | --- | --- | --- | --- | --- |")
for r in rows:
    print("| " + " | ".join(str(c) for c in r) + " |")
