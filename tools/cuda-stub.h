// Just enough of CUDA's device-side names for a host C++ compiler to parse kernels.cu
// (tools/cuda-syntax-check.sh): CI has no GPU and no NVRTC, and a typo in kernels.cu would otherwise
// surface only on a GPU, where the whole module fails to compile. Nothing here computes anything.
#include <cmath>
#include <cstddef>
#define __device__
#define __global__
#define __forceinline__ inline
#define __shared__
#define __launch_bounds__(a, b)
#define __align__(n)
#define __restrict__
#define __CUDA_ARCH__ 900
struct dim3s { unsigned x, y, z; };
extern dim3s threadIdx, blockIdx, blockDim, gridDim;
struct uint4 { unsigned x, y, z, w; };
struct float4 { float x, y, z, w; };
struct float2 { float x, y; };
struct int4 { int x, y, z, w; };
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
inline float2 make_float2(float a, float b) { return {a, b}; }
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }
inline void __syncthreads() {}
inline void __threadfence() {}
inline float __shfl_xor_sync(unsigned, float v, int, int = 32) { return v; }
inline int __shfl_xor_sync(unsigned, int v, int, int = 32) { return v; }
inline float __shfl_sync(unsigned, float v, int, int = 32) { return v; }
inline int atomicAdd(int* p, int v) { return *p += v; }
inline float atomicAdd(float* p, float v) { return *p += v; }
inline float __uint_as_float(unsigned u) { float f; __builtin_memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; __builtin_memcpy(&u, &f, 4); return u; }
inline int __float_as_int(float f) { int u; __builtin_memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int u) { float f; __builtin_memcpy(&f, &u, 4); return f; }
template <typename T> inline T __ldcg(const T* p) { return *p; }
template <typename T> inline T __ldg(const T* p) { return *p; }
using std::min; using std::max;
inline float fmaxf(float a, float b) { return a > b ? a : b; }
inline float fminf(float a, float b) { return a < b ? a : b; }
inline float __expf(float x) { return expf(x); }
inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline void __syncwarp(unsigned = 0xffffffff) {}
struct uint2 { unsigned x, y; };
inline uint2 make_uint2(unsigned a, unsigned b) { return {a, b}; }
struct ushort2 { unsigned short x, y; };
inline unsigned __shfl_xor_sync(unsigned, unsigned v, int, int = 32) { return v; }
inline int __float2int_rn(float x) { return (int) nearbyintf(x); }
inline int __dp4a(int a, int b, int c) { return a * b + c; }
inline unsigned __vsub4(unsigned a, unsigned b) { return a - b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
