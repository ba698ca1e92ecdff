#!/usr/bin/env python3
"""A running `panamax serve` checked from outside with nothing but Python's standard library (the GPU
machine has no Java tools of ours beyond the server): N greedy completions, first one at a time, then all at
once as streams, must give the same texts (each request computes as it would alone), and the aggregate
tokens/s of both passes are printed.
    tools/serve-check.py URL [N] [MAX_TOKENS]"""
import json, sys, threading, time, urllib.request

url = sys.argv[1].rstrip('/')
n = int(sys.argv[2]) if len(sys.argv) > 2 else 16
max_tokens = int(sys.argv[3]) if len(sys.argv) > 3 else 32
words = ["In the beginning", "And God said", "The LORD is my shepherd", "Blessed are the", "And it came to pass",
         "Then Jesus answered", "Now the serpent", "Let there be", "He that hath ears", "For God so loved",
         "Vanity of vanities", "The fool hath said", "Honour thy father", "Thou shalt not", "By the rivers of", "Ask, and"]
prompts = [words[i % len(words)] + ("" if i < len(words) else " " * (i // len(words))) for i in range(n)]

def complete(prompt, stream):
    body = json.dumps({"model": "m", "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": stream}).encode()
    req = urllib.request.Request(url + "/v1/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        if not stream:
            j = json.load(r)
            return j["choices"][0]["text"], j["usage"]["completion_tokens"]
        text, count = "", 0
        for line in r:
            line = line.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]": continue
            c = json.loads(line[6:])["choices"]
            if c and c[0].get("text"): text += c[0]["text"]; count += 1
        return text, count

for _ in range(600):
    try:
        urllib.request.urlopen(url + "/health", timeout=2).read(); break
    except Exception: time.sleep(0.5)
t0 = time.time(); alone = [complete(p, False) for p in prompts]; t_alone = time.time() - t0
together = [None] * n
def one(i): together[i] = complete(prompts[i], True)
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
t0 = time.time()
for t in threads: t.start()
for t in threads: t.join()
t_together = time.time() - t0
bad = [i for i in range(n) if together[i] is None or together[i][0] != alone[i][0]]
tok_alone, tok_together = sum(c for _, c in alone), sum(c for _, c in together if together)
print("one at a time: %d tokens in %.2f s = %.1f tok/s" % (tok_alone, t_alone, tok_alone / t_alone))
print("%d at once (streams): %d tokens in %.2f s = %.1f tok/s (%.2fx)" % (n, tok_together, t_together, tok_together / t_together,
      (tok_together / t_together) / (tok_alone / t_alone)))
metrics = urllib.request.urlopen(url + "/metrics").read().decode()
print("\n".join(l for l in metrics.splitlines() if l.startswith("panamax_") and ("step" in l or "batch" in l) and "bucket" not in l)[:1500])
if bad:
    for i in bad[:4]: print("DIFFERENT %d: alone %r / together %r" % (i, alone[i][0], together[i] and together[i][0]))
    print("FAIL: %d of %d texts differ between alone and together" % (len(bad), n)); sys.exit(1)
print("OK: %d texts equal alone and together" % n)
