/**
 * Quantized block formats and their dot products, built on {@code dev.panamax.simd}. Each format
 * lives in one class: its layout as a comment, a reference (de)quantizer and its dot product
 * against Q8_0 activations side by side ({@link dev.panamax.quant.Q8_0Block},
 * {@link dev.panamax.quant.Q4_0Block}); {@link dev.panamax.quant.QuantizedMatvec} multiplies a
 * quantized matrix by a float vector without dequantizing it. K-quants, ternary and binary
 * formats are to come.
 */
package dev.panamax.quant;
