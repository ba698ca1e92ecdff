#!/usr/bin/env python3
"""What a long prompt does to the requests already decoding, from outside a running `panamax serve` (or
llama-server) with Python's standard library: STREAMS greedy streams of 200 tokens start, DELAY seconds
later one prompt of WORDS words arrives (max_tokens 1); prints the long prompt's time to its first token
and the gaps between the streams' chunks while it was fed and otherwise.
    tools/serve-long-prompt.py PORT [WORDS] [STREAMS] [DELAY]"""
import http.client, json, sys, threading, time

port = int(sys.argv[1])
n_long = int(sys.argv[2]) if len(sys.argv) > 2 else 300
streams = int(sys.argv[3]) if len(sys.argv) > 3 else 4
delay = float(sys.argv[4]) if len(sys.argv) > 4 else 4.0
events = {}

def stream(key, prompt, max_tokens):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True})
    t0 = time.time()
    c.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    r, ts = c.getresponse(), []
    for line in iter(r.readline, b""):
        if line.startswith(b"data: ") and b"[DONE]" not in line:
            ts.append(time.time())
    events[key] = (t0, ts)

words = "and the LORD said unto Moses go in unto Pharaoh and tell him thus saith the LORD God of the Hebrews let my people go".split()
long_prompt = " ".join(words[k % len(words)] for k in range(n_long))
threads = [threading.Thread(target=stream, args=(i, f"In the beginning {i}", 200)) for i in range(streams)]
for t in threads: t.start()
time.sleep(delay)
stream("long", long_prompt, 1)
for t in threads: t.join()
l0, lts = events["long"]
l1 = lts[0] if lts else time.time()
print(f"long prompt ({n_long} words): first token after {l1 - l0:.2f} s")
during, other = [], []
for i in range(streams):
    ts = events[i][1]
    for a, b in zip(ts, ts[1:]):
        (during if b > l0 and a < l1 else other).append(b - a)
def q(g, p):
    g = sorted(g)
    return g[min(len(g) - 1, int(p * len(g)))] * 1000 if g else float("nan")
print(f"the streams' gaps while it was fed: {len(during)}, p50 {q(during, .5):.0f} ms, max {max(during or [0]) * 1000:.0f} ms; "
      f"otherwise: {len(other)}, p50 {q(other, .5):.0f} ms, p99 {q(other, .99):.0f} ms")
