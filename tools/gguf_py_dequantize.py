# Dumps every tensor of a GGUF file, dequantized by llama.cpp's gguf-py (numpy), for tools/DequantCheck.java.
# sentencepiece is stubbed: gguf-py imports it at package level, the quant code does not need it.
import sys, numpy as np
import os; sys.path.insert(0, os.environ['LLAMA_GGUF_PY'])
import types; sys.modules['sentencepiece'] = types.SimpleNamespace(SentencePieceProcessor=None)
from gguf import GGUFReader
from gguf.quants import dequantize
path, out = sys.argv[1], sys.argv[2]
r = GGUFReader(path)
with open(out, 'w') as f:
    for t in r.tensors:
        d = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
        np.save(out + '.' + t.name + '.npy', d)
        f.write(f"{t.name} {t.tensor_type.name} {d.size}\n")
