/**
 * Quantized block formats (GGUF Q8_0, Q4_0, K-quants, ternary, binary) and their dot products,
 * built on {@code dev.panamax.simd}. Each format lives in one class: its layout as a comment, a
 * reference (de)quantizer and a fast dot product side by side. The formats arrive with the
 * quantization issue; this module exists now so the dependency direction is fixed from the start.
 */
package dev.panamax.quant;
