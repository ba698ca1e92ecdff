/**
 * CUDA offload through the Foreign Function &amp; Memory API (driver API, NVRTC, cuBLAS bound with
 * {@code Linker.downcallHandle}; no JNI), plugged into the runtime's backend SPI. Filled by the
 * CUDA issue; the CPU path never needs it.
 */
package dev.panamax.cuda;
