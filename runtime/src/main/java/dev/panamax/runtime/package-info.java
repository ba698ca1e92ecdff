/**
 * Tensors over memory-mapped files, model formats (GGUF, safetensors, llama2.c), tokenizers,
 * sampling, caches, the backend and architecture SPIs and the generation loop. Built on
 * {@code dev.panamax.quant} and {@code dev.panamax.simd}; filled by the model issue.
 */
package dev.panamax.runtime;
