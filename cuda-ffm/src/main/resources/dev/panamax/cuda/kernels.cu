// Panamax's CUDA kernels. Compiled at run time by NVRTC for the device's compute capability
// (CudaContext.module); no headers, so half floats go through PTX conversions.
//
// Weight formats on the device (DeviceMatrix.java uploads them; one row per output):
//   FMT 0  F32   float   [rows × cols]
//   FMT 1  F16   half    [rows × cols]
//   FMT 2  BF16  bfloat16 [rows × cols]                                         (w = bits << 16)
//   FMT 3  Q8_0  int8 codes [rows × cols], then half scales [rows × cols/32]    (w = d · q)
//   FMT 4  Q4_0  nibbles [rows × cols/2], 16 bytes per 32-block as in GGUF (byte j: low nibble is
//                element j, high nibble element j+16), then half scales [rows × cols/32]  (w = d · (q − 8))
// The GGUF blocks are split into codes and scales at upload so every load is aligned.
//
// Positions are read from device memory (P[0] = position of the first new token, P[1] = the token
// of a decode step), so one captured CUDA graph replays every decode step.

// Compiled in parts, side by side (CudaContext.modules): NVRTC builds one program per part with
// -DPANAMAX_PART=n, holding the helpers below and only the kernels between "#if PANAMAX_PART_IS(n)"
// and "#endif" — a part a process does not need is not built, and the parts it needs build on as many
// cores. Without PANAMAX_PART (tools/cuda-syntax-check.sh, tools/cuda-resources.sh) all of them.
#ifdef PANAMAX_PART
#define PANAMAX_PART_IS(n) (PANAMAX_PART == (n))
#else
#define PANAMAX_PART_IS(n) 1
#endif

#define WARP 32
#define NEG_INF (-__int_as_float(0x7f800000))

__device__ __forceinline__ float bf2f(unsigned short h) { return __uint_as_float((unsigned) h << 16); }
__device__ __forceinline__ float h2f(unsigned short h) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f; }
__device__ __forceinline__ unsigned short f2h(float f) { unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h; }

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Programmatic dependent launch (Hopper): a decode kernel lets the next one start at once
// (launch_dependents) and waits for the previous one's results (wait) only after loading what does not
// depend on them (its weights). Launched normally, both are no-ops.
__device__ __forceinline__ void pdl_trigger() {
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_wait() {
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Asks for the 128-byte line at p to be brought into L2, without waiting for it.
__device__ __forceinline__ void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];" :: "l"(p)); }

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ float block_sum(float v) {
    __shared__ float part[32];
    __shared__ float total;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float s = lane < warps ? part[lane] : 0.f;
        s = warp_sum(s);
        if (lane == 0) total = s;
    }
    __syncthreads();
    return total;
}

__device__ __forceinline__ float silu(float g) { return g / (1.f + expf(-g)); }

// GPT-2's gelu_new: 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))).
__device__ __forceinline__ float gelu_tanh(float v) { return 0.5f * v * (1.f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v))); }

// One element of a matrix in any device format (embedding rows, dequantisation).
template <int FMT>
__device__ __forceinline__ float element(const void* W, size_t rows, int cols, size_t r, int c) {
    if (FMT == 0) return ((const float*) W)[r * cols + c];
    if (FMT == 1) return h2f(((const unsigned short*) W)[r * cols + c]);
    if (FMT == 2) return bf2f(((const unsigned short*) W)[r * cols + c]);
    const unsigned short* sc = (const unsigned short*) ((const char*) W + (FMT == 3 ? rows * cols : rows * cols / 2));
    float d = h2f(sc[r * (cols / 32) + c / 32]);
    if (FMT == 3) return d * ((const signed char*) W)[r * cols + c];
    const unsigned char* q = (const unsigned char*) W + r * (cols / 2) + (c / 32) * 16;
    int j = c & 31;
    int nib = j < 16 ? (q[j] & 15) : (q[j - 16] >> 4);
    return d * (nib - 8);
}

// X[t, :] = row tokens[t] of the embedding table; grid: one block per token.
template <int FMT>
__device__ void embed(const void* W, int rows, int cols, const int* tokens, float* X) {
    pdl_trigger();
    pdl_wait();
    int tok = tokens[blockIdx.x];
    for (int c = threadIdx.x; c < cols; c += blockDim.x) X[(size_t) blockIdx.x * cols + c] = element<FMT>(W, rows, cols, tok, c);
}
#if PANAMAX_PART_IS(1)
extern "C" __global__ void embed_f32(const void* W, int rows, int cols, const int* tokens, float* X) { embed<0>(W, rows, cols, tokens, X); }
extern "C" __global__ void embed_f16(const void* W, int rows, int cols, const int* tokens, float* X) { embed<1>(W, rows, cols, tokens, X); }
extern "C" __global__ void embed_bf16(const void* W, int rows, int cols, const int* tokens, float* X) { embed<2>(W, rows, cols, tokens, X); }
extern "C" __global__ void embed_q8_0(const void* W, int rows, int cols, const int* tokens, float* X) { embed<3>(W, rows, cols, tokens, X); }
extern "C" __global__ void embed_q4_0(const void* W, int rows, int cols, const int* tokens, float* X) { embed<4>(W, rows, cols, tokens, X); }
#endif

// X[t, :] += row P[0] + t of a learned position table (GPT-2); grid: one block per row.
template <int FMT>
__device__ void add_position(const void* W, int rows, int cols, const int* P, float* X) {
    pdl_trigger();
    pdl_wait();
    int pos = P[0] + blockIdx.x;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) X[(size_t) blockIdx.x * cols + c] += element<FMT>(W, rows, cols, pos, c);
}
#if PANAMAX_PART_IS(1)
extern "C" __global__ void add_position_f32(const void* W, int rows, int cols, const int* P, float* X) { add_position<0>(W, rows, cols, P, X); }
extern "C" __global__ void add_position_f16(const void* W, int rows, int cols, const int* P, float* X) { add_position<1>(W, rows, cols, P, X); }
extern "C" __global__ void add_position_bf16(const void* W, int rows, int cols, const int* P, float* X) { add_position<2>(W, rows, cols, P, X); }
extern "C" __global__ void add_position_q8_0(const void* W, int rows, int cols, const int* P, float* X) { add_position<3>(W, rows, cols, P, X); }
extern "C" __global__ void add_position_q4_0(const void* W, int rows, int cols, const int* P, float* X) { add_position<4>(W, rows, cols, P, X); }
#endif

// out = half(W) for cuBLAS (prompt GEMMs on quantized weights); grid-stride over all elements.
template <int FMT>
__device__ void dequant_f16(const void* W, int rows, int cols, unsigned short* out) {
    size_t n = (size_t) rows * cols;
    for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x) {
        out[i] = f2h(element<FMT>(W, rows, cols, i / cols, (int) (i % cols)));
    }
}
// BF16 weights widened to F32 for cuBLAS SGEMM (exact; F16 could not hold BF16's range).
#if PANAMAX_PART_IS(1)
extern "C" __global__ void widen_bf16_f32(const unsigned short* W, long long n, float* out) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) out[i] = bf2f(W[i]);
}
// An image [C, H, W] cut into P×P patches [N, C·P·P]: patches row-major over the grid, each as the
// convolution's weight is laid out (channel, row, column) — the input of the patch embedding's GEMM
// (models/PreLnEncoder.patches on the CPU; rows and columns past the last whole patch dropped).
extern "C" __global__ void unfold_patches(const float* img, int C, int H, int W, int P, float* out) {
    int gw = W / P, gh = H / P, cpp = C * P * P;
    long long n = (long long) gh * gw * cpp;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        int p = (int) (i / cpp), e = (int) (i % cpp);
        int py = p / gw, px = p % gw, ch = e / (P * P), ky = (e / P) % P, kx = e % P;
        out[i] = img[((long long) ch * H + py * P + ky) * W + px * P + kx];
    }
}
extern "C" __global__ void dequant_q8_0_f16(const void* W, int rows, int cols, unsigned short* out) { dequant_f16<3>(W, rows, cols, out); }
extern "C" __global__ void dequant_q4_0_f16(const void* W, int rows, int cols, unsigned short* out) { dequant_f16<4>(W, rows, cols, out); }
// GGUF's Q8_0 / Q4_0 blocks as they are in the file (a half scale, then codeBytes = 32 or 16 bytes of
// codes: 17 or 9 shorts) split into the device layout at upload: block j's codes to codes + j·codeBytes,
// its scale to scales[j]. The CPU then only copies whole rows (DeviceMatrix, Uploads).
extern "C" __global__ void split_blocks(const unsigned short* raw, long long blocks, int codeBytes, unsigned short* codes, unsigned short* scales) {
    int halves = codeBytes / 2;
    for (long long j = (long long) blockIdx.x * blockDim.x + threadIdx.x; j < blocks; j += (long long) gridDim.x * blockDim.x) {
        const unsigned short* b = raw + j * (1 + halves);
        scales[j] = b[0];
        for (int i = 0; i < halves; i++) codes[j * halves + i] = b[1 + i];
    }
}
#endif

// ---- matrix × vector (decode) ----
//
// y[r] = (accumulate ? y[r] : 0) + bias[r] + Σ_c W[r, c] · in[c], one warp per row, blockDim/32 rows per
// block. The input is first staged in shared memory, transformed on the way:
//   act 0: in = x;   act 1: in[c] = silu(x[c]) · x[cols + c];   act 2: in[c] = relu(x[c])² · x[cols + c]
// then, when nw is given, normalised: RMSNorm in[c] · rstd · nw[c], or with nb also given LayerNorm
// (in[c] − mean) · rstd · nw[c] + nb[c] (the layer's norm fused in). RMSNorm's rstd is one number per
// input, so it is applied to each row's sum at the end instead: the staging stores in[c] · nw[c] and
// returns this thread's share of Σ in², and the weights start streaming without waiting for a
// reduction over the block (see matvec).

__device__ __forceinline__ float act_one(float v, float up, int act) {
    if (act == 1) return silu(v) * up;
    if (act == 2) { float r = fmaxf(v, 0.f); return r * r * up; }
    return v;
}

// Whether the input is staged four columns a load (a long input, W_down's, in a few rounds of 16-byte loads).
__device__ __forceinline__ bool stage_by_four(const float* x, const float* nw, const float* nb, int cols) {
    return nb == 0 && (cols & 3) == 0 && ((size_t) x & 15) == 0 && (nw == 0 || ((size_t) nw & 15) == 0);
}

// One thread's share of the staging, as thread t of a block of V threads: columns 4t, 4t + 4V, ... (by
// four) or t, t + V, ...; returns its Σ in² (RMSNorm and none) or Σ in (LayerNorm, nb given).
__device__ __forceinline__ float stage_part(const float* x, const float* nw, const float* nb, int cols, int act, float* xs, int t, int V, bool four) {
    float ss = 0.f;
    bool rms = nw != 0 && nb == 0;
    if (four) {
        #pragma unroll 2
        for (int c = 4 * t; c < cols; c += 4 * V) {
            float4 v = *(const float4*) (x + c);
            if (act != 0) {
                float4 u = *(const float4*) (x + cols + c);
                v = make_float4(act_one(v.x, u.x, act), act_one(v.y, u.y, act), act_one(v.z, u.z, act), act_one(v.w, u.w, act));
            }
            ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
            if (rms) {
                float4 w = *(const float4*) (nw + c);
                v = make_float4(v.x * w.x, v.y * w.y, v.z * w.z, v.w * w.w);
            }
            *(float4*) (xs + c) = v;
        }
        return ss;
    }
    #pragma unroll 4
    for (int c = t; c < cols; c += V) {
        float v = x[c];
        if (act == 1) v = silu(v) * x[cols + c];
        else if (act == 2) { float r = fmaxf(v, 0.f); v = r * r * x[cols + c]; }
        xs[c] = rms ? v * nw[c] : v;
        ss += nb != 0 ? v : v * v;
    }
    return ss;
}

// LayerNorm's variance share of thread t of V, and the normalisation of its columns.
__device__ __forceinline__ float stage_var_part(const float* xs, int cols, float mean, int t, int V) {
    float var = 0.f;
    for (int c = t; c < cols; c += V) var += (xs[c] - mean) * (xs[c] - mean);
    return var;
}
__device__ __forceinline__ void stage_normalise(float* xs, const float* nw, const float* nb, int cols, float mean, float inv, int t, int V) {
    for (int c = t; c < cols; c += V) xs[c] = (xs[c] - mean) * inv * nw[c] + nb[c];
}

__device__ float stage_input(const float* x, const float* nw, const float* nb, int cols, int act, float eps, float* xs) {
    float ss = stage_part(x, nw, nb, cols, act, xs, threadIdx.x, blockDim.x, stage_by_four(x, nw, nb, cols));
    if (nw != 0 && nb != 0) {
        float mean = block_sum(ss) / cols;
        float inv = (float) (1.0 / sqrt((double) (block_sum(stage_var_part(xs, cols, mean, threadIdx.x, blockDim.x)) / cols + eps)));
        stage_normalise(xs, nw, nb, cols, mean, inv, threadIdx.x, blockDim.x);
    }
    __syncthreads();
    return ss;
}

// block_sum as a block of n·blockDim.x threads (n ≤ 4) computes it, real thread t holding virtual
// thread t + k·blockDim.x's value in v[k]: virtual warp k·warps + warp, the same lanes, the same tree.
__device__ float block_sum_as(const float* v, int n) {
    __shared__ float part[32];
    __shared__ float total;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    float w[4];
    #pragma unroll
    for (int k = 0; k < 4; k++) w[k] = k < n ? warp_sum(v[k]) : 0.f;
    __syncthreads();
    if (lane == 0) {
        #pragma unroll
        for (int k = 0; k < 4; k++) if (k < n) part[k * warps + warp] = w[k];
    }
    __syncthreads();
    if (warp == 0) {
        float s = lane < n * warps ? part[lane] : 0.f;
        s = warp_sum(s);
        if (lane == 0) total = s;
    }
    __syncthreads();
    return total;
}

// stage_input as a block of V threads would stage it (V = n·blockDim.x, n ≤ 4), so that a kernel with
// fewer threads stages bit for bit what matvec's blocks stage; returns the block's Σ in² (the RMSNorm
// total), not a share.
__device__ float stage_input_as(const float* x, const float* nw, const float* nb, int cols, int act, float eps, float* xs, int V) {
    int n = V / blockDim.x;
    bool four = stage_by_four(x, nw, nb, cols);
    float ss[4];
    #pragma unroll
    for (int k = 0; k < 4; k++) ss[k] = k < n ? stage_part(x, nw, nb, cols, act, xs, threadIdx.x + k * blockDim.x, V, four) : 0.f;
    __syncthreads();
    float total = block_sum_as(ss, n);
    if (nw != 0 && nb != 0) {
        float mean = total / cols, var[4];
        #pragma unroll
        for (int k = 0; k < 4; k++) var[k] = k < n ? stage_var_part(xs, cols, mean, threadIdx.x + k * blockDim.x, V) : 0.f;
        float inv = (float) (1.0 / sqrt((double) (block_sum_as(var, n) / cols + eps)));
        for (int k = 0; k < n; k++) stage_normalise(xs, nw, nb, cols, mean, inv, threadIdx.x + k * blockDim.x, V);
    }
    __syncthreads();
    return total;
}

// One row's dot product with the staged input, by one warp. Each lane first issues a batch of
// independent 16-byte loads (B of them, lane-interleaved so a warp reads 512 contiguous bytes per
// load), then does the arithmetic: enough bytes in flight per SM to stream at full bandwidth.

// A 16-byte load's weights as floats (F16 and BF16: 8 of them; Q8_0: 16 codes), and their products
// with b summed in the one order every matvec uses (Q8_0's float form: the *_float kernels, for
// measuring). The one-input kernels unpack and sum at once (dot8h, dot8bf); the batched matvec_rows
// unpacks an F16 load once and sums it with each of its
// inputs — the same float products in the same order, so each input's result is its own bit for bit.
__device__ __forceinline__ void unpack8h(uint4 u, float* w) {
    w[0] = h2f(u.x & 0xffff); w[1] = h2f(u.x >> 16); w[2] = h2f(u.y & 0xffff); w[3] = h2f(u.y >> 16);
    w[4] = h2f(u.z & 0xffff); w[5] = h2f(u.z >> 16); w[6] = h2f(u.w & 0xffff); w[7] = h2f(u.w >> 16);
}
__device__ __forceinline__ void unpack8bf(uint4 u, float* w) {
    w[0] = bf2f(u.x & 0xffff); w[1] = bf2f(u.x >> 16); w[2] = bf2f(u.y & 0xffff); w[3] = bf2f(u.y >> 16);
    w[4] = bf2f(u.z & 0xffff); w[5] = bf2f(u.z >> 16); w[6] = bf2f(u.w & 0xffff); w[7] = bf2f(u.w >> 16);
}
__device__ __forceinline__ void unpack16q8(uint4 u, float* w) {
    unsigned words[4] = {u.x, u.y, u.z, u.w};
    #pragma unroll
    for (int k = 0; k < 4; k++) {
        int v = (int) words[k];
        w[4 * k] = (float) (signed char) (v); w[4 * k + 1] = (float) (signed char) (v >> 8);
        w[4 * k + 2] = (float) (signed char) (v >> 16); w[4 * k + 3] = (float) (signed char) (v >> 24);
    }
}
__device__ __forceinline__ float dot8f(const float* w, const float* b) {
    return w[0] * b[0] + w[1] * b[1] + w[2] * b[2] + w[3] * b[3] + w[4] * b[4] + w[5] * b[5] + w[6] * b[6] + w[7] * b[7];
}
__device__ __forceinline__ float dot16f(const float* w, const float* b) {
    float s = 0.f;
    #pragma unroll
    for (int k = 0; k < 4; k++) s += w[4 * k] * b[4 * k] + w[4 * k + 1] * b[4 * k + 1] + w[4 * k + 2] * b[4 * k + 2] + w[4 * k + 3] * b[4 * k + 3];
    return s;
}
__device__ __forceinline__ float dot8h(uint4 u, const float* b) { float w[8]; unpack8h(u, w); return dot8f(w, b); }
__device__ __forceinline__ float dot8bf(uint4 u, const float* b) { float w[8]; unpack8bf(u, w); return dot8f(w, b); }
__device__ __forceinline__ float dot16q8(uint4 u, const float* b) { float w[16]; unpack16q8(u, w); return dot16f(w, b); }

// ---- integer dot products of the quantized formats (Q8_0, Q4_0) ----
//
// The decode matvecs of Q8_0 and Q4_0 quantize their staged input once per block, per block of 32
// values as Q8_0 quantizes (d = max|x| / 127, q = round-to-even(x / d)), and take each 16-byte load of
// weight codes against the input's codes with dp4a: four multiply-adds of bytes a 32-bit instruction,
// exact in integers, against 16 float conversions and multiply-adds a load before. Each load's integer
// sum becomes fma(float(Σ w·x), d_w · d_x, running sum) — spelled with explicit roundings so that
// every kernel (one input, four inputs, four rows) computes the same bits. The CPU's quantized dot
// products quantize their input the same way (Q8_0Block); a NaN or infinity in a block makes its
// scale NaN, so it reaches the output instead of vanishing.
template <int FMT> __device__ __forceinline__ constexpr bool int_dot() { return FMT == 3 || FMT == 4; }

// Bytes of shared memory one quantized input takes: cols codes, then cols / 32 float scales, rounded
// up to 16 (the codes are read 16 bytes at a time). CudaOps.matvecShared computes the same.
__device__ __forceinline__ int q8_stride(int cols) { return (cols + cols / 8 + 15) & ~15; }

// The staged input xs (cols floats, a multiple of 32) quantized into q: codes q[0, cols), scales as
// floats after them. Warps take blocks of 32 in turn; every thread of the block takes part.
__device__ void quantize_staged(const float* xs, int cols, signed char* q) {
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    float* qd = (float*) (q + cols);
    for (int b = warp; b < cols / 32; b += warps) {
        float v = xs[32 * b + lane];
        unsigned m = __float_as_uint(fabsf(v)); // max of |v| as bits: NaN above infinity above every number
        for (int o = 16; o > 0; o >>= 1) m = max(m, __shfl_xor_sync(0xffffffffu, m, o));
        float d = __uint_as_float(m) / 127.f, id = d != 0.f ? 1.f / d : 0.f;
        q[32 * b + lane] = (signed char) __float2int_rn(v * id);
        if (lane == 0) qd[b] = d;
    }
    __syncthreads();
}

// Σ w·x over 16 Q8_0 codes and 16 input codes.
__device__ __forceinline__ int dot16i8(uint4 w, uint4 x) {
    int s = __dp4a((int) w.x, (int) x.x, 0);
    s = __dp4a((int) w.y, (int) x.y, s);
    s = __dp4a((int) w.z, (int) x.z, s);
    return __dp4a((int) w.w, (int) x.w, s);
}

// Σ (w − 8)·x over a Q4_0 block (16 bytes: byte i's low nibble is value i, its high nibble value 16 + i)
// and its 32 input codes (lo: values 0–15, hi: 16–31).
__device__ __forceinline__ int dot32q4i(uint4 w, uint4 lo, uint4 hi) {
    unsigned ws[4] = {w.x, w.y, w.z, w.w}, ls[4] = {lo.x, lo.y, lo.z, lo.w}, hs[4] = {hi.x, hi.y, hi.z, hi.w};
    int s = 0;
    #pragma unroll
    for (int k = 0; k < 4; k++) {
        s = __dp4a((int) __vsub4(ws[k] & 0x0f0f0f0fu, 0x08080808u), (int) ls[k], s);
        s = __dp4a((int) __vsub4((ws[k] >> 4) & 0x0f0f0f0fu, 0x08080808u), (int) hs[k], s);
    }
    return s;
}

// A load's integer sum with the quantized input q (its codes from column c), scaled and added to s.
template <int FMT>
__device__ __forceinline__ float int_term(uint4 w, const signed char* q, int cols, const unsigned short* sc, int c, float s) {
    int dot = FMT == 3 ? dot16i8(w, *(const uint4*) (q + c)) : dot32q4i(w, *(const uint4*) (q + c), *(const uint4*) (q + c + 16));
    return __fmaf_rn((float) dot, __fmul_rn(h2f(sc[c / 32]), ((const float*) (q + cols))[c / 32]), s);
}

__device__ __forceinline__ float dot32q4(uint4 u, const float* b) {
    unsigned words[4] = {u.x, u.y, u.z, u.w};
    float s = 0.f;
    #pragma unroll
    for (int k = 0; k < 4; k++) {
        unsigned v = words[k];
        #pragma unroll
        for (int e = 0; e < 4; e++) {
            unsigned byte = (v >> (8 * e)) & 0xff;
            s += (float) ((int) (byte & 15) - 8) * b[4 * k + e] + (float) ((int) (byte >> 4) - 8) * b[16 + 4 * k + e];
        }
    }
    return s;
}

// Where lane's k-th 16-byte load of the batch starting at column c0 falls (F32: 4 columns a load,
// F16: 8, Q8_0: 16, Q4_0: 32), and how many bytes of codes a row has.
template <int FMT> __device__ __forceinline__ int col_of(int c0, int k, int lane) {
    return c0 + (k * WARP + lane) * (FMT == 0 ? 4 : FMT <= 2 ? 8 : FMT == 3 ? 16 : 32);
}
template <int FMT> __device__ __forceinline__ size_t row_bytes(int cols) {
    return FMT == 0 ? (size_t) cols * 4 : FMT <= 2 ? (size_t) cols * 2 : FMT == 3 ? (size_t) cols : (size_t) cols / 2;
}
template <int FMT, int B> __device__ __forceinline__ int step_cols() { return WARP * B * (FMT == 0 ? 4 : FMT <= 2 ? 8 : FMT == 3 ? 16 : 32); }
template <int FMT> __device__ __forceinline__ bool vector_rows(int cols) { return FMT == 0 ? (cols & 3) == 0 : FMT <= 2 ? (cols & 7) == 0 : true; }

template <int FMT, int B>
__device__ __forceinline__ void load_batch(const char* row, int cols, int c0, int lane, uint4* u) {
    #pragma unroll
    for (int k = 0; k < B; k++) {
        int c = col_of<FMT>(c0, k, lane);
        if (c < cols) u[k] = *(const uint4*) (row + row_bytes<FMT>(c));
        else u[k].x = u[k].y = u[k].z = u[k].w = 0;
    }
}

// xs: the staged floats, or with INTQ (Q8_0, Q4_0) the quantized input (quantize_staged).
template <int FMT, int B, bool INTQ = int_dot<FMT>()>
__device__ __forceinline__ float use_batch(const uint4* u, const unsigned short* sc, int cols, int c0, int lane, const float* xs) {
    float acc = 0.f;
    #pragma unroll
    for (int k = 0; k < B; k++) {
        int c = col_of<FMT>(c0, k, lane);
        if (c >= cols) continue;
        if (INTQ) acc = int_term<FMT>(u[k], (const signed char*) xs, cols, sc, c, acc);
        else if (FMT == 0) acc += __uint_as_float(u[k].x) * xs[c] + __uint_as_float(u[k].y) * xs[c + 1] + __uint_as_float(u[k].z) * xs[c + 2]
                           + __uint_as_float(u[k].w) * xs[c + 3];
        else if (FMT == 1) acc += dot8h(u[k], xs + c);
        else if (FMT == 2) acc += dot8bf(u[k], xs + c);
        else if (FMT == 3) acc += dot16q8(u[k], xs + c) * h2f(sc[c / 32]);
        else acc += dot32q4(u[k], xs + c) * h2f(sc[c / 32]);
    }
    return acc;
}

// y[r] (+)= Σ_c W[r, c] · in[c] (+ bias[r]), through gelu_tanh when pairAct is 3: one warp per row. The warp loads
// the first batch of its row before waiting for the previous kernel (the weights do not depend on it),
// then stages the input, then streams the rest of the row a batch at a time.
// With sel (mixtures of experts), W stacks the experts' matrices of selRows rows each and block row
// blockIdx.y is slot s: its rows are those of expert sel[s], its input x + (s / xDiv)·xStride, its
// output y + s·(rows it writes); sel comes from the previous kernel, so nothing is loaded before the wait.
// With slotsFast = S > 0 (a batched decode step: S inputs, one matrix), the slot is blockIdx.x % S and
// the block of rows blockIdx.x / S instead, so the S blocks that read the same rows run side by side
// and all but the first find them in L2. Either way a row's sum is computed exactly as alone.
// One input and no selector: the launch may give fewer blocks than there are blocks of rows (CudaOps'
// rowLoop); block b then takes the blocks of rows b, b + gridDim.x, … in turn, staging the input once
// for all of them — each row is still one warp's, summed in the same order, so the bits do not move.
// Q8_0 and Q4_0 quantize the staged input (INTQ; shared memory: the floats, then the codes) and take
// integer dot products; with INTQ false (the *_float kernels, for measuring) they multiply floats.
// PIPE: the next rows' first batch loaded before this row's reduction (matvec_f16_pipe, F16's default).
template <int FMT, int B, bool INTQ = int_dot<FMT>(), bool PIPE = false>
__device__ void matvec(const void* W, int rows, int cols, const float* x, const float* nw, const float* nb, int act, float eps,
                       const float* bias, float* y, int accumulate, int pairAct, const int* sel, int selRows, int xDiv, int xStride,
                       int slotsFast) {
    extern __shared__ float xs[];
    __shared__ float pairs[32];
    pdl_trigger();
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int rb = slotsFast > 0 ? blockIdx.x / slotsFast : blockIdx.x;
    int warps = blockDim.x >> 5, base = 0, lim = rows;
    bool pair = pairAct == 1 || pairAct == 2, loop = slotsFast == 0 && sel == 0, rms = nw != 0 && nb == 0;
    if (sel != 0) {
        pdl_wait();
        int slot = slotsFast > 0 ? blockIdx.x % slotsFast : blockIdx.y;
        base = sel[slot] * selRows;
        lim = selRows;
        x += (size_t) (slot / xDiv) * xStride;
        y += (size_t) slot * (pair ? selRows / 2 : selRows);
    }
    bool vec = vector_rows<FMT>(cols);
    const unsigned short* scales = (const unsigned short*) ((const char*) W + (size_t) rows * row_bytes<FMT>(cols));
    int r = rb * warps + warp;
    bool has = r < lim;
    size_t g = (size_t) base + (has ? r : 0); // the row in W
    const char* row = (const char*) W + g * row_bytes<FMT>(cols);
    uint4 u[B];
    if (has && vec) load_batch<FMT, B>(row, cols, 0, lane, u);
    if (sel == 0) pdl_wait();
    float ss = stage_input(x, nw, nb, cols, act, eps, xs);
    const float* in = xs;
    if (INTQ) {
        quantize_staged(xs, cols, (signed char*) (xs + cols));
        in = xs + cols;
    }
    float rstd = 1.f;
    for (bool first = true; ; first = false) {
        if (!first) {
            r = rb * warps + warp;
            has = r < lim;
            g = (size_t) base + (has ? r : 0);
            row = (const char*) W + g * row_bytes<FMT>(cols);
            if (!PIPE && has && vec) load_batch<FMT, B>(row, cols, 0, lane, u);
        }
        const unsigned short* sc = scales + g * (cols / 32);
        float acc = 0.f;
        if (has && vec) {
            for (int c0 = 0; c0 < cols; c0 += step_cols<FMT, B>()) {
                if (c0 > 0) load_batch<FMT, B>(row, cols, c0, lane, u);
                acc += use_batch<FMT, B, INTQ>(u, sc, cols, c0, lane, in);
            }
        } else if (has && FMT == 0) {
            for (int c = lane; c < cols; c += WARP) acc += ((const float*) row)[c] * xs[c];
        } else if (has) {
            for (int c = lane; c < cols; c += WARP) acc += (FMT == 2 ? bf2f(((const unsigned short*) row)[c]) : h2f(((const unsigned short*) row)[c])) * xs[c];
        }
        // The next rows' first batch, loaded before this row's reduction and epilogue (gate/up's barriers among
        // them), so that it is in flight over them; u is free once the last batch is used. The same values.
        if (PIPE && loop && vec && (rb + (int) gridDim.x) * warps < lim) {
            int rn = (rb + (int) gridDim.x) * warps + warp;
            if (rn < lim) load_batch<FMT, B>((const char*) W + ((size_t) base + rn) * row_bytes<FMT>(cols), cols, 0, lane, u);
        }
        if (rms) { // RMSNorm: the row's sum times rstd (every thread takes part in the reduction, once)
            if (first) rstd = (float) (1.0 / sqrt((double) (block_sum(ss) / cols + eps)));
            acc *= rstd;
        }
        acc = warp_sum(acc);
        if (pair) { // rows 2i and 2i+1 are gate and up: write y[i] = act(gate) · up
            if (lane == 0) pairs[warp] = acc;
            __syncthreads();
            if (threadIdx.x < warps / 2) {
                int i = rb * (warps / 2) + threadIdx.x;
                if (2 * i + 1 < lim) {
                    float gt = pairs[2 * threadIdx.x], up = pairs[2 * threadIdx.x + 1];
                    y[i] = (pairAct == 2 ? fmaxf(gt, 0.f) * fmaxf(gt, 0.f) : silu(gt)) * up;
                }
            }
        } else if (has && lane == 0) {
            if (bias != 0) acc += bias[base + r];
            if (pairAct == 3) acc = gelu_tanh(acc);
            y[r] = accumulate ? y[r] + acc : acc;
        }
        if (!loop) break;
        rb += gridDim.x;
        if (rb * warps >= lim) break;
        if (pair) __syncthreads(); // pairs is written again for the next rows
    }
}

#define MATVEC_BODY(FMT, B) { matvec<FMT, B>(W, rows, cols, x, nw, nb, act, eps, bias, y, accumulate, pairAct, sel, selRows, xDiv, xStride, slotsFast); }
#define MATVEC_PARAMS const void* W, int rows, int cols, const float* x, const float* nw, const float* nb, int act, float eps, \
    const float* bias, float* y, int accumulate, int pairAct, const int* sel, int selRows, int xDiv, int xStride, int slotsFast
// At most 64 registers a thread (launch bounds of 1024 threads): 1 024 threads fit an SM (CudaOps launches
// blocks of 8 rows, four an SM; before the row loop, blocks of 16, two an SM), and
// measured on an H100 (tools/gpu.sh run matvec) that beat the unbounded kernels (70–93 registers) on
// every TinyLlama shape; F16 streams best with 4 loads a batch, the others with 8.
#define MATVEC(name, FMT, B) extern "C" __global__ void __launch_bounds__(1024, 1) name(MATVEC_PARAMS) MATVEC_BODY(FMT, B)
#if PANAMAX_PART_IS(2)
MATVEC(matvec_f32, 0, 8)
MATVEC(matvec_f16, 1, 4)
MATVEC(matvec_bf16, 2, 4)
MATVEC(matvec_q8_0, 3, 8)
MATVEC(matvec_q4_0, 4, 8)
#endif
// Other batch sizes, for measuring (CudaOps takes them with -Dpanamax.cuda.matvecBatch).
#if PANAMAX_PART_IS(3)
MATVEC(matvec_f16_b8, 1, 8)
MATVEC(matvec_f16_b16, 1, 16)
MATVEC(matvec_q8_0_b4, 3, 4)
MATVEC(matvec_q8_0_b16, 3, 16)
// Q8_0 and Q4_0 with float products (each code converted, the input unquantized), as before the
// integer ones: -Dpanamax.cuda.intDot=false, for measuring.
extern "C" __global__ void __launch_bounds__(1024, 1) matvec_q8_0_float(MATVEC_PARAMS) {
    matvec<3, 8, false>(W, rows, cols, x, nw, nb, act, eps, bias, y, accumulate, pairAct, sel, selRows, xDiv, xStride, slotsFast);
}
extern "C" __global__ void __launch_bounds__(1024, 1) matvec_q4_0_float(MATVEC_PARAMS) {
    matvec<4, 8, false>(W, rows, cols, x, nw, nb, act, eps, bias, y, accumulate, pairAct, sel, selRows, xDiv, xStride, slotsFast);
}
#endif

// ---- matrix × several vectors (a batched decode step) ----
//
// NB inputs of a step share a block: staged side by side in shared memory (xs + j·cols), each weight
// batch loaded once by the warp and used for every input, each input's sum kept in its own
// accumulator in exactly the order matvec keeps it (same loads per batch B, same block size), so each
// input's result is bit for bit matvec's for it alone. Block b: rows (b / groups)·warps.., inputs
// (b % groups)·NB.. of `inputs`; input j at x + j·cols, output at y + j·rows (gated pairs: j·rows/2).
// The inputs come already activated (act 0). Blocks are smaller than matvec's (so that the grid still
// fills the GPU), so the inputs are staged as matvec's blocks of vthreads threads stage them
// (stage_input_as): the same RMSNorm and LayerNorm sums, bit for bit.
// Shared memory of the several-input kernels: the float formats stage input j at xs + j·cols; Q8_0
// and Q4_0 stage each input in turn at xs (cols floats) and keep input j's codes at quantized_at.
__device__ __forceinline__ signed char* quantized_at(float* xs, int cols, int j) { return (signed char*) (xs + cols) + (size_t) j * q8_stride(cols); }
template <int FMT> __device__ __forceinline__ float* staged_at(float* xs, int cols, int j) { return int_dot<FMT>() ? xs : xs + (size_t) j * cols; }
template <int FMT> __device__ __forceinline__ const float* input_at(float* xs, int cols, int j) {
    return int_dot<FMT>() ? (const float*) quantized_at(xs, cols, j) : xs + (size_t) j * cols;
}

template <int FMT, int B, int NB>
__device__ void matvec_multi(const void* W, int rows, int cols, const float* x, const float* nw, const float* nb, float eps,
                             const float* bias, float* y, int accumulate, int pairAct, int inputs, int vthreads) {
    extern __shared__ float xs[];
    pdl_trigger();
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    int groups = (inputs + NB - 1) / NB, rb = blockIdx.x / groups, j0 = (blockIdx.x % groups) * NB;
    int n = min(NB, inputs - j0), r = rb * warps + warp;
    bool pair = pairAct == 1 || pairAct == 2, has = r < rows, vec = vector_rows<FMT>(cols);
    size_t g = has ? r : 0;
    const char* row = (const char*) W + g * row_bytes<FMT>(cols);
    const unsigned short* sc = (const unsigned short*) ((const char*) W + (size_t) rows * row_bytes<FMT>(cols)) + g * (cols / 32);
    uint4 u[B];
    if (has && vec) load_batch<FMT, B>(row, cols, 0, lane, u);
    pdl_wait();
    float ss[NB], acc[NB];
    #pragma unroll
    for (int j = 0; j < NB; j++) {
        ss[j] = j < n ? stage_input_as(x + (size_t) (j0 + j) * cols, nw, nb, cols, 0, eps, staged_at<FMT>(xs, cols, j), vthreads) : 0.f;
        if (int_dot<FMT>() && j < n) quantize_staged(xs, cols, quantized_at(xs, cols, j));
        acc[j] = 0.f;
    }
    if (has && vec) {
        for (int c0 = 0; c0 < cols; c0 += step_cols<FMT, B>()) {
            if (c0 > 0) load_batch<FMT, B>(row, cols, c0, lane, u);
            #pragma unroll
            for (int j = 0; j < NB; j++) if (j < n) acc[j] += use_batch<FMT, B>(u, sc, cols, c0, lane, input_at<FMT>(xs, cols, j));
        }
    } else if (has) {
        #pragma unroll
        for (int j = 0; j < NB; j++) {
            if (j >= n) continue;
            const float* xj = xs + (size_t) j * cols;
            if (FMT == 0) for (int c = lane; c < cols; c += WARP) acc[j] += ((const float*) row)[c] * xj[c];
            else for (int c = lane; c < cols; c += WARP) acc[j] += (FMT == 2 ? bf2f(((const unsigned short*) row)[c]) : h2f(((const unsigned short*) row)[c])) * xj[c];
        }
    }
    if (nw != 0 && nb == 0) { // RMSNorm: each input's sum times its rstd (ss[j] is the block's total)
        #pragma unroll
        for (int j = 0; j < NB; j++) if (j < n) acc[j] *= (float) (1.0 / sqrt((double) (ss[j] / cols + eps)));
    }
    #pragma unroll
    for (int j = 0; j < NB; j++) acc[j] = warp_sum(acc[j]);
    if (pair) {
        __shared__ float pairs[NB][32];
        if (lane == 0) {
            #pragma unroll
            for (int j = 0; j < NB; j++) pairs[j][warp] = acc[j];
        }
        __syncthreads();
        if (threadIdx.x < warps / 2) {
            int i = rb * (warps / 2) + threadIdx.x;
            if (2 * i + 1 < rows) {
                for (int j = 0; j < n; j++) {
                    float gt = pairs[j][2 * threadIdx.x], up = pairs[j][2 * threadIdx.x + 1];
                    y[(size_t) (j0 + j) * (rows / 2) + i] = (pairAct == 2 ? fmaxf(gt, 0.f) * fmaxf(gt, 0.f) : silu(gt)) * up;
                }
            }
        }
        return;
    }
    if (has && lane == 0) {
        #pragma unroll
        for (int j = 0; j < NB; j++) {
            if (j >= n) continue;
            float a = acc[j];
            if (bias != 0) a += bias[r];
            if (pairAct == 3) a = gelu_tanh(a);
            float* yj = y + (size_t) (j0 + j) * rows;
            yj[r] = accumulate ? yj[r] + a : a;
        }
    }
}

#define MATVEC_MULTI(name, FMT, B, NB) extern "C" __global__ void __launch_bounds__(128, 4) name(const void* W, int rows, int cols, \
    const float* x, const float* nw, const float* nb, float eps, const float* bias, float* y, int accumulate, int pairAct, int inputs, \
    int vthreads) { matvec_multi<FMT, B, NB>(W, rows, cols, x, nw, nb, eps, bias, y, accumulate, pairAct, inputs, vthreads); }
// Four inputs a block, the loads per batch of the one-input kernels above (their sums' grouping).
#if PANAMAX_PART_IS(4)
MATVEC_MULTI(matvec4_f32, 0, 8, 4)
MATVEC_MULTI(matvec4_f16, 1, 4, 4)
MATVEC_MULTI(matvec4_bf16, 2, 4, 4)
MATVEC_MULTI(matvec4_q8_0, 3, 8, 4)
MATVEC_MULTI(matvec4_q4_0, 4, 8, 4)
#endif

// ---- matrix × several vectors, each input value reused for several rows ----
//
// matvec_multi above loads each weight once for NB inputs, but every product still reads its input
// from shared memory, one shared load per multiply-add as in matvec — on an H100 that bound it
// (Nsight Compute: shared-memory stalls, 2.6× matvec's time for four inputs). Here a warp takes R
// rows: at each of a batch's loads the lane reads its chunk of input j from shared memory once into
// registers and uses it for its R rows, and each weight load serves the block's NB inputs. Every
// (row, input) sum still has matvec's order — per batch of B loads a local sum over the loads in
// order (use_batch), added to the running sum; the same RMSNorm scaling, warp reduction and epilogue —
// so each input's result is bit for bit matvec's for it alone. Block b: rows (b / groups)·warps·R..,
// inputs (b % groups)·NB..; inputs staged as matvec's blocks of vthreads threads stage them.
// chunk_dot spells the per-format float products of use_batch again, over an input chunk held in
// registers (F32 and BF16 take it; F16 and the integer formats have their own branches below); left as
// a twin until a GPU run can check that use_batch written through it keeps every decode bit.
template <int FMT> __device__ __forceinline__ constexpr int chunk_cols() { return FMT == 0 ? 4 : FMT <= 2 ? 8 : FMT == 3 ? 16 : 32; }

template <int FMT>
__device__ __forceinline__ float chunk_dot(uint4 w, const float* xv, const unsigned short* sc, int c) {
    if (FMT == 0) return __uint_as_float(w.x) * xv[0] + __uint_as_float(w.y) * xv[1] + __uint_as_float(w.z) * xv[2] + __uint_as_float(w.w) * xv[3];
    if (FMT == 1) return dot8h(w, xv);
    if (FMT == 2) return dot8bf(w, xv);
    if (FMT == 3) return dot16q8(w, xv) * h2f(sc[c / 32]);
    return dot32q4(w, xv) * h2f(sc[c / 32]);
}

template <int FMT, int B, int R, int NB>
__device__ void matvec_rows(const void* W, int rows, int cols, const float* x, const float* nw, const float* nb, float eps,
                            const float* bias, float* y, int accumulate, int pairAct, int inputs, int vthreads) {
    extern __shared__ float xs[];
    pdl_trigger();
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    // Block b: rows block b / groups, inputs group b % groups; where the launch gives fewer blocks (a
    // multiple of groups: CudaOps' rowLoop), the rows blocks b / groups + gridDim.x / groups, … of the
    // same inputs in turn, staged once — each row's sums computed as alone.
    int groups = (inputs + NB - 1) / NB, rb = blockIdx.x / groups, j0 = (blockIdx.x % groups) * NB;
    int n = min(NB, inputs - j0);
    bool pair = pairAct == 1 || pairAct == 2, vec = vector_rows<FMT>(cols);
    pdl_wait();
    float ss[NB], acc[R][NB];
    #pragma unroll
    for (int j = 0; j < NB; j++) {
        ss[j] = j < n ? stage_input_as(x + (size_t) (j0 + j) * cols, nw, nb, cols, 0, eps, staged_at<FMT>(xs, cols, j), vthreads) : 0.f;
        if (int_dot<FMT>() && j < n) quantize_staged(xs, cols, quantized_at(xs, cols, j));
    }
    for (; rb * warps * R < rows; rb += gridDim.x / groups) {
        int r0 = (rb * warps + warp) * R;
        const char* rowp[R];
        const unsigned short* scp[R];
        #pragma unroll
        for (int i = 0; i < R; i++) {
            size_t g = r0 + i < rows ? r0 + i : 0;
            rowp[i] = (const char*) W + g * row_bytes<FMT>(cols);
            scp[i] = (const unsigned short*) ((const char*) W + (size_t) rows * row_bytes<FMT>(cols)) + g * (cols / 32);
        }
        #pragma unroll
        for (int j = 0; j < NB; j++)
            #pragma unroll
            for (int i = 0; i < R; i++) acc[i][j] = 0.f;
        if (vec) {
            for (int c0 = 0; c0 < cols; c0 += step_cols<FMT, B>()) {
                float loc[R][NB];
                #pragma unroll
                for (int i = 0; i < R; i++)
                    #pragma unroll
                    for (int j = 0; j < NB; j++) loc[i][j] = 0.f;
                #pragma unroll
                for (int k = 0; k < B; k++) {
                    int c = col_of<FMT>(c0, k, lane);
                    if (c >= cols) continue;
                    uint4 w[R];
                    #pragma unroll
                    for (int i = 0; i < R; i++) {
                        if (r0 + i < rows) w[i] = *(const uint4*) (rowp[i] + row_bytes<FMT>(c));
                        else w[i].x = w[i].y = w[i].z = w[i].w = 0;
                    }
                    // Q8_0 and Q4_0: each input's codes for the load read once, for the R rows; the same
                    // int_term as use_batch.
                    if (int_dot<FMT>()) {
                        #pragma unroll
                        for (int j = 0; j < NB; j++) {
                            if (j >= n) continue;
                            const signed char* q = quantized_at(xs, cols, j);
                            #pragma unroll
                            for (int i = 0; i < R; i++) loc[i][j] = int_term<FMT>(w[i], q, cols, scp[i], c, loc[i][j]);
                        }
                        continue;
                    }
                    // F16: each load's weights converted to floats once, for all NB inputs. (BF16 too
                    // measured its products contracted otherwise than in matvec — one logit 1 ulp off in
                    // batchedStepsGiveEachSequenceItsLogitsAlone — so it converts per input, as before.)
                    if (FMT == 1) {
                        float wf[R][8];
                        #pragma unroll
                        for (int i = 0; i < R; i++) unpack8h(w[i], wf[i]);
                        #pragma unroll
                        for (int j = 0; j < NB; j++) {
                            if (j >= n) continue;
                            float xv[8];
                            #pragma unroll
                            for (int e = 0; e < 8; e += 4) {
                                float4 v = *(const float4*) (xs + (size_t) j * cols + c + e);
                                xv[e] = v.x; xv[e + 1] = v.y; xv[e + 2] = v.z; xv[e + 3] = v.w;
                            }
                            #pragma unroll
                            for (int i = 0; i < R; i++) loc[i][j] += dot8f(wf[i], xv);
                        }
                        continue;
                    }
                    #pragma unroll
                    for (int j = 0; j < NB; j++) {
                        if (j >= n) continue;
                        float xv[chunk_cols<FMT>()];
                        #pragma unroll
                        for (int e = 0; e < chunk_cols<FMT>(); e += 4) {
                            float4 v = *(const float4*) (xs + (size_t) j * cols + c + e);
                            xv[e] = v.x; xv[e + 1] = v.y; xv[e + 2] = v.z; xv[e + 3] = v.w;
                        }
                        #pragma unroll
                        for (int i = 0; i < R; i++) loc[i][j] += chunk_dot<FMT>(w[i], xv, scp[i], c);
                    }
                }
                #pragma unroll
                for (int i = 0; i < R; i++)
                    #pragma unroll
                    for (int j = 0; j < NB; j++) acc[i][j] += loc[i][j];
            }
        } else {
            #pragma unroll
            for (int i = 0; i < R; i++) {
                if (r0 + i >= rows) continue;
                #pragma unroll
                for (int j = 0; j < NB; j++) {
                    if (j >= n) continue;
                    const float* xj = xs + (size_t) j * cols;
                    if (FMT == 0) for (int c = lane; c < cols; c += WARP) acc[i][j] += ((const float*) rowp[i])[c] * xj[c];
                    else for (int c = lane; c < cols; c += WARP) acc[i][j] += (FMT == 2 ? bf2f(((const unsigned short*) rowp[i])[c]) : h2f(((const unsigned short*) rowp[i])[c])) * xj[c];
                }
            }
        }
        #pragma unroll
        for (int j = 0; j < NB; j++) {
            float rstd = nw != 0 && nb == 0 ? (float) (1.0 / sqrt((double) (ss[j] / cols + eps))) : 1.f;
            #pragma unroll
            for (int i = 0; i < R; i++) {
                if (nw != 0 && nb == 0) acc[i][j] *= rstd;
                acc[i][j] = warp_sum(acc[i][j]);
            }
        }
        if (lane != 0) continue;
        #pragma unroll
        for (int j = 0; j < NB; j++) {
            if (j >= n) continue;
            if (pair) { // rows 2i and 2i+1 are gate and up (R is even and r0 a multiple of R: each pair within the warp)
                #pragma unroll
                for (int i = 0; i < R; i += 2) {
                    if (r0 + i + 1 >= rows) continue;
                    float gt = acc[i][j], up = acc[i + 1][j];
                    y[(size_t) (j0 + j) * (rows / 2) + (r0 + i) / 2] = (pairAct == 2 ? fmaxf(gt, 0.f) * fmaxf(gt, 0.f) : silu(gt)) * up;
                }
                continue;
            }
            float* yj = y + (size_t) (j0 + j) * rows;
            #pragma unroll
            for (int i = 0; i < R; i++) {
                int r = r0 + i;
                if (r >= rows) continue;
                float a = acc[i][j];
                if (bias != 0) a += bias[r];
                if (pairAct == 3) a = gelu_tanh(a);
                yj[r] = accumulate ? yj[r] + a : a;
            }
        }
    }
}

#define MATVEC_ROWS(name, FMT, B) extern "C" __global__ void __launch_bounds__(128, 3) name(const void* W, int rows, int cols, \
    const float* x, const float* nw, const float* nb, float eps, const float* bias, float* y, int accumulate, int pairAct, int inputs, \
    int vthreads) { matvec_rows<FMT, B, 4, 4>(W, rows, cols, x, nw, nb, eps, bias, y, accumulate, pairAct, inputs, vthreads); }
// Four rows a warp, four inputs a block, the loads per batch of the one-input kernels (their sums' grouping).
#if PANAMAX_PART_IS(4)
MATVEC_ROWS(matvec4x4_f32, 0, 8)
MATVEC_ROWS(matvec4x4_f16, 1, 4)
MATVEC_ROWS(matvec4x4_bf16, 2, 4)
MATVEC_ROWS(matvec4x4_q8_0, 3, 8)
MATVEC_ROWS(matvec4x4_q4_0, 4, 8)
#endif

// ---- matrix × up to 16 vectors on the integer tensor cores (Q8_0, Q4_0) ----
//
// The decode matvec of a quantized matrix as int8 MMAs (sm_80 on): mma.m16n8k32 multiplies 16 rows'
// codes of one block of 32 columns by the codes of 8 inputs, quantized as quantize_staged quantizes
// them, and gives each (row, input) its block's integer sum Σ w·x — exact, so the order inside the
// tensor core does not matter. Each sum then takes one fma(float(Σ), d_w·d_x, running sum), blocks
// in ascending order within a warp; the block's 8 warps take blocks warp, warp + 8, … and their
// partial sums are added in warp order. Nothing in a (row, input)'s arithmetic depends on the other
// inputs or on how many there are, so a sequence decoded alone (one input, seven zero columns) and the
// same sequence among 15 others get the same bits: batch invariance, with one weight load serving 16
// inputs where the dp4a kernels (matvec, matvec4x4) load once per one or four.
//
// Fragments (PTX ISA, mma.m16n8k32 .s8; lane = 4·g + t): A (16 × 32, row-major) a0 = row g, k 4t…4t+3;
// a1 = row g + 8, k 4t…; a2 = row g, k 16 + 4t…; a3 = row g + 8, k 16 + 4t…. B (32 × 8) b0 = input g,
// k 4t…4t+3; b1 = input g, k 16 + 4t…. D: d0, d1 = row g, inputs 2t, 2t + 1; d2, d3 = row g + 8.
// Which column a k slot holds is free as long as A and B agree: Q8_0 gives lane t the 8 contiguous
// bytes 8t…8t+7 of the block (one 8-byte load; k 4t… = columns 8t…8t+3, k 16 + 4t… = 8t+4…8t+7);
// Q4_0's block byte i holds column i (low nibble) and 16 + i (high), so lane t's 4 bytes 4t…4t+3 are
// exactly k 4t… and 16 + 4t….
//
// Block: 256 threads, 16 rows, up to 16 inputs (blockIdx.x = row tile · groups + input group). The
// input takes matvec's transformation (act; RMSNorm's weight, its rstd applied to the sums at the end),
// staged straight into codes: no LayerNorm (GPT-2's layers keep the dp4a kernels, alone and batched).
// Dynamic shared memory: each input's codes and scales, mma_q_stride apart (CudaOps.mmaShared).
//
// F16 (FMT 1) on the half-float tensor cores, mma.m16n8k16 with float sums: A is 16 rows' weights as
// stored, B 8 inputs' values as halves. A float keeps 24 bits, a half 11, so each staged value v is
// split into two halves hi + lo of v·2^s, with 2^s a power of two per block of 32 columns and input
// that puts the block's max |v| in [2^14, 2^15): hi = half(v·2^s), lo = half(v·2^s − hi), 22 bits of
// v's kept whatever the block's range, and a half times a half is exact in a float. A block's four MMAs
// (two k16 halves of its columns, hi then lo each) start from zero; their sum takes one
// fma(Σ, 2^−s, running sum) as Q8_0's blocks do. The integer formats' sums are exact; these are
// floats summed inside the tensor core, so batch invariance here rests on each (row, input) result
// depending only on its own row and input — what CudaKernelsTest holds it to, as it does for the others.
// Fragments (m16n8k16 .f16): a0 = row g, k 2t, 2t+1; a1 = row g + 8, k 2t…; a2 = row g, k 2t+8, 2t+9;
// a3 = row g + 8, k 2t+8…; b0 = input g, k 2t, 2t+1; b1 = input g, k 2t+8…; D as above. Lane t loads
// the 16 bytes of columns 8t…8t+7 of a block of 32 from rows g and g + 8: the first MMA takes columns
// 8t…8t+3 (k 2t, 2t+1 ← 8t, 8t+1; k 2t+8, 2t+9 ← 8t+2, 8t+3), the second 8t+4…8t+7; the input's halves
// are stored in column order, so its lane loads the same 16 bytes of them. Eight inputs a block (one
// tile: sixteen inputs' floats would not fit in shared memory for W_down's 5 632 columns); a step of
// sixteen runs two groups, the second reading the rows from L2.
#define MMA_WARPS 8
// Blocks of 32 columns a warp loads before it multiplies: bytes in flight. Q4_0's blocks are half
// Q8_0's bytes, so twice as many (its codes kept as loaded, two words a block, and unpacked at use;
// measured on TinyLlama's shapes no faster than 8, and no slower).
template <int FMT> __device__ __forceinline__ constexpr int mma_batch() { return FMT == 3 ? 8 : FMT == 1 ? 4 : 16; }
// Inputs a block: 16 (two tiles of 8) for the integer formats, 8 for F16.
template <int FMT> __device__ __forceinline__ constexpr int mma_inputs() { return FMT == 1 ? 8 : 16; }

// A per-input stride of q8_stride rounded so that the 8 inputs of a fragment's 8-byte loads fall in
// different banks (stride ≡ 32 bytes mod 128: inputs g and g + 4 share a wavefront's banks, no more).
__device__ __forceinline__ int mma_q_stride(int cols) { return ((q8_stride(cols) + 127) & ~127) + 32; }
// F16's input: hi halves [cols], lo halves [cols], then float 2^−s a block [cols / 32]; a stride ≡ 64 bytes
// mod 128, so that the two inputs of a quarter warp's 16-byte loads fall in different banks.
__device__ __forceinline__ int mma_h_stride(int cols) { return ((4 * cols + cols / 8 + 127) & ~127) + 64; }
template <int FMT> __device__ __forceinline__ int mma_stride(int cols) { return FMT == 1 ? mma_h_stride(cols) : mma_q_stride(cols); }

__device__ __forceinline__ void mma_f16(float* d, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) {
#if __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]) : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#endif
}

__device__ __forceinline__ void mma_s8(int* d, const unsigned* a, unsigned b0, unsigned b1) {
#if __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%10,%10,%10};" : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(0));
#else
    d[0] = d[1] = d[2] = d[3] = 0; // CudaOps launches these kernels on sm_80 and later only
#endif
}

// Lane (g, t)'s codes of block kb as loaded, rows ra (= row g) and rc (= row g + 8): Q8_0 four words
// (row g's two, then row g + 8's), Q4_0 two (one a row).
template <int FMT>
__device__ __forceinline__ void mma_load_a(const char* ra, const char* rc, int kb, int t, unsigned* a) {
    if (FMT == 1) { // F16: 16 bytes of each row (columns 8t…8t+7 of the block), row g's four words, then row g + 8's
        uint4 u = *(const uint4*) (ra + 64 * kb + 16 * t), v = *(const uint4*) (rc + 64 * kb + 16 * t);
        a[0] = u.x; a[1] = u.y; a[2] = u.z; a[3] = u.w; a[4] = v.x; a[5] = v.y; a[6] = v.z; a[7] = v.w;
    } else if (FMT == 3) {
        uint2 u = *(const uint2*) (ra + 32 * kb + 8 * t), v = *(const uint2*) (rc + 32 * kb + 8 * t);
        a[0] = u.x; a[1] = u.y; a[2] = v.x; a[3] = v.y;
    } else {
        a[0] = *(const unsigned*) (ra + 16 * kb + 4 * t);
        a[1] = *(const unsigned*) (rc + 16 * kb + 4 * t);
    }
}
// The A fragment (a0 row g k 4t…, a1 row g + 8 k 4t…, a2 row g k 16 + 4t…, a3 row g + 8 k 16 + 4t…)
// from what mma_load_a loaded; Q4_0's nibbles become signed bytes (code − 8).
template <int FMT>
__device__ __forceinline__ void mma_fragment(const unsigned* a, unsigned* f) {
    if (FMT == 3) { f[0] = a[0]; f[1] = a[2]; f[2] = a[1]; f[3] = a[3]; return; }
    f[0] = __vsub4(a[0] & 0x0f0f0f0fu, 0x08080808u);
    f[1] = __vsub4(a[1] & 0x0f0f0f0fu, 0x08080808u);
    f[2] = __vsub4((a[0] >> 4) & 0x0f0f0f0fu, 0x08080808u);
    f[3] = __vsub4((a[1] >> 4) & 0x0f0f0f0fu, 0x08080808u);
}
// Input g's B fragment of block kb from its codes q (zeros past the inputs).
template <int FMT>
__device__ __forceinline__ void mma_load_b(const signed char* q, int kb, int t, unsigned& b0, unsigned& b1) {
    if (FMT == 3) { uint2 u = *(const uint2*) (q + 32 * kb + 8 * t); b0 = u.x; b1 = u.y; }
    else { b0 = *(const unsigned*) (q + 32 * kb + 4 * t); b1 = *(const unsigned*) (q + 32 * kb + 16 + 4 * t); }
}

__device__ __forceinline__ float4 load4(const float* p, bool aligned) {
    return aligned ? *(const float4*) p : make_float4(p[0], p[1], p[2], p[3]);
}

// WARPS and PIPE: 16 warps a block, the next tile's first blocks loaded before this tile's reduction (the
// *_w16_pipe kernels below, the default; the others for measuring).
template <int FMT, int WARPS = MMA_WARPS, bool PIPE = false>
__device__ void matvec_mma(const void* W, int rows, int cols, const float* x, const float* nw, int act, float eps,
                           const float* bias, float* y, int accumulate, int pairAct, int inputs) {
    extern __shared__ float xs[];
    constexpr int TILES = (mma_inputs<FMT>() + 7) / 8;
    __shared__ float red[WARPS][TILES][128];
    __shared__ float tot[16][17];
    __shared__ float ssq[16];
    pdl_trigger();
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    // Block b takes tile b — 16 rows (b / groups) and up to 16 inputs (b % groups) — and, where the launch
    // gives fewer blocks than tiles (CudaOps' rowLoop, a multiple of groups), tiles b + gridDim.x, … of
    // the same inputs after it, staging them once: each tile's sums are computed as alone.
    constexpr int PER = mma_inputs<FMT>();
    int groups = (inputs + PER - 1) / PER, all = (rows + 15) / 16 * groups, bt = blockIdx.x;
    int r0 = (bt / groups) * 16, j0 = (bt % groups) * PER;
    int n = min(PER, inputs - j0), tiles = (n + 7) / 8, nblk = cols / 32, stride = mma_stride<FMT>(cols);
    size_t rb = row_bytes<FMT>(cols);
    const unsigned short* sc = (const unsigned short*) ((const char*) W + (size_t) rows * rb);
    const char *ra, *rc;
    const unsigned short *scA, *scC;
    signed char* q = (signed char*) xs;
    constexpr int MB = mma_batch<FMT>(), AW = FMT == 1 ? 8 : FMT == 3 ? 4 : 2;
    unsigned a[MB][AW];
    unsigned short sa[MB], sb[MB]; // the rows' scales of each block loaded
    // The rows of the tile from row tr0 (rows past the end read the last; dropped below) and its first blocks.
    auto first_blocks = [&](int tr0) {
        int rowA = min(tr0 + g, rows - 1), rowC = min(tr0 + g + 8, rows - 1);
        ra = (const char*) W + (size_t) rowA * rb;
        rc = (const char*) W + (size_t) rowC * rb;
        scA = sc + (size_t) rowA * nblk;
        scC = sc + (size_t) rowC * nblk;
        #pragma unroll
        for (int u = 0; u < MB; u++) {
            int kb = warp + WARPS * u;
            if (kb < nblk) { mma_load_a<FMT>(ra, rc, kb, t, a[u]); if (FMT != 1) { sa[u] = scA[kb]; sb[u] = scC[kb]; } }
        }
    };
    first_blocks(r0);
    pdl_wait();
    // Staging and quantizing in one pass, four inputs at a time (their loads in flight together): thread
    // k takes columns 4c … 4c + 3 for c = k, k + 256, …, applies act and the norm's weight, and the 8
    // lanes of a block of 32 columns find its max |v| (the scale, as quantize_staged computes it; F16:
    // the power of two that splits the block into hi and lo halves).
    // Σ in² (RMSNorm) is summed per thread over its columns, then over the warp, then over the warps
    // in order: no input's sum depends on n or on the other inputs.
    int chunks = cols / 4, span = (chunks + 31) & ~31; // lanes past the columns take part in the shuffles only
    bool al = ((size_t) x & 15) == 0 && ((size_t) nw & 15) == 0; // 16-byte loads, else four (the same values)
    for (int j = 0; j < n; j += 4) {
        float ss[4] = {0.f, 0.f, 0.f, 0.f};
        for (int c = threadIdx.x; c < span; c += blockDim.x) {
            bool in = c < chunks;
            float4 v[4], w4 = make_float4(1.f, 1.f, 1.f, 1.f);
            #pragma unroll
            for (int k = 0; k < 4; k++) {
                v[k] = make_float4(0.f, 0.f, 0.f, 0.f);
                if (in && j + k < n) {
                    const float* xj = x + (size_t) (j0 + j + k) * cols;
                    v[k] = load4(xj + 4 * c, al);
                    if (act != 0) {
                        float4 up = load4(xj + cols + 4 * c, al);
                        v[k] = make_float4(act_one(v[k].x, up.x, act), act_one(v[k].y, up.y, act), act_one(v[k].z, up.z, act), act_one(v[k].w, up.w, act));
                    }
                }
            }
            if (in && nw != 0) w4 = load4(nw + 4 * c, al);
            #pragma unroll
            for (int k = 0; k < 4; k++) {
                if (j + k >= n) break;
                float4 e = v[k];
                // rounded as written (no contraction): the k-th copy of this code gives input j + k what the first gives it alone
                ss[k] = __fadd_rn(ss[k], __fadd_rn(__fadd_rn(__fmul_rn(e.x, e.x), __fmul_rn(e.y, e.y)), __fadd_rn(__fmul_rn(e.z, e.z), __fmul_rn(e.w, e.w))));
                if (nw != 0) e = make_float4(e.x * w4.x, e.y * w4.y, e.z * w4.z, e.w * w4.w);
                unsigned m = max(max(__float_as_uint(fabsf(e.x)), __float_as_uint(fabsf(e.y))), max(__float_as_uint(fabsf(e.z)), __float_as_uint(fabsf(e.w))));
                for (int o = 4; o > 0; o >>= 1) m = max(m, __shfl_xor_sync(0xffffffffu, m, o));
                if (FMT == 1) {
                    // 2^s with the block's max in [2^14, 2^15) (its biased exponent ex: s = 14 − (ex − 127)); a
                    // block of zeros or subnormals takes 2^126, one holding an infinity or NaN 2^0 (it reaches the sums)
                    int ex = (int) (m >> 23), sx = ex == 255 ? 0 : ex == 0 ? 126 : max(-126, min(126, 141 - ex));
                    float up = __uint_as_float((unsigned) (127 + sx) << 23), down = __uint_as_float((unsigned) (127 - sx) << 23);
                    if (!in) continue;
                    char* qj = (char*) q + (size_t) (j + k) * stride;
                    float v4[4] = {e.x * up, e.y * up, e.z * up, e.w * up};
                    unsigned short hi[4], lo[4];
                    #pragma unroll
                    for (int i = 0; i < 4; i++) { hi[i] = f2h(v4[i]); lo[i] = f2h(v4[i] - h2f(hi[i])); }
                    *(uint2*) (qj + 8 * c) = make_uint2(hi[0] | (unsigned) hi[1] << 16, hi[2] | (unsigned) hi[3] << 16);
                    *(uint2*) (qj + 2 * cols + 8 * c) = make_uint2(lo[0] | (unsigned) lo[1] << 16, lo[2] | (unsigned) lo[3] << 16);
                    if ((c & 7) == 0) ((float*) (qj + 4 * cols))[c / 8] = down;
                    continue;
                }
                float d = __uint_as_float(m) / 127.f, id = d != 0.f ? 1.f / d : 0.f;
                if (!in) continue;
                signed char* qj = q + (size_t) (j + k) * stride;
                unsigned code = (__float2int_rn(e.x * id) & 0xff) | (__float2int_rn(e.y * id) & 0xff) << 8
                              | (__float2int_rn(e.z * id) & 0xff) << 16 | (unsigned) (__float2int_rn(e.w * id) & 0xff) << 24;
                *(unsigned*) (qj + 4 * c) = code;
                if ((c & 7) == 0) ((float*) (qj + cols))[c / 8] = d;
            }
        }
        #pragma unroll
        for (int k = 0; k < 4; k++) {
            float sw = warp_sum(ss[k]);
            if (lane == 0 && j + k < n) red[warp][0][j + k] = sw;
        }
    }
    __syncthreads();
    if (threadIdx.x < n) {
        float s = red[0][0][threadIdx.x];
        for (int v = 1; v < WARPS; v++) s += red[v][0][threadIdx.x];
        ssq[threadIdx.x] = s;
    }
    __syncthreads();
    for (bool first = true; ; first = false) {
        if (!PIPE && !first) first_blocks(r0); // the next tile's rows, its first blocks loaded as the first tile's were before the wait
        float acc[TILES][4];
        #pragma unroll
        for (int h = 0; h < TILES; h++)
            #pragma unroll
            for (int i = 0; i < 4; i++) acc[h][i] = 0.f;
        for (int kb0 = warp; kb0 < nblk; kb0 += WARPS * MB) {
            if (kb0 != warp) {
                #pragma unroll
                for (int u = 0; u < MB; u++) {
                    int kb = kb0 + WARPS * u;
                    if (kb < nblk) { mma_load_a<FMT>(ra, rc, kb, t, a[u]); if (FMT != 1) { sa[u] = scA[kb]; sb[u] = scC[kb]; } }
                }
            }
            #pragma unroll
            for (int u = 0; u < MB; u++) {
                int kb = kb0 + WARPS * u;
                if (kb >= nblk) break;
                if (FMT == 1) {
                    #pragma unroll
                    for (int h = 0; h < TILES; h++) {
                        if (h >= tiles) break;
                        int jb = 8 * h + g, jd = 8 * h + 2 * t;
                        uint4 hi = make_uint4(0u, 0u, 0u, 0u), lo = hi;
                        if (jb < n) {
                            const char* qb = (const char*) q + (size_t) jb * stride + 64 * kb + 16 * t;
                            hi = *(const uint4*) qb;
                            lo = *(const uint4*) (qb + 2 * cols);
                        }
                        float d[4] = {0.f, 0.f, 0.f, 0.f};
                        mma_f16(d, a[u][0], a[u][4], a[u][1], a[u][5], hi.x, hi.y);
                        mma_f16(d, a[u][0], a[u][4], a[u][1], a[u][5], lo.x, lo.y);
                        mma_f16(d, a[u][2], a[u][6], a[u][3], a[u][7], hi.z, hi.w);
                        mma_f16(d, a[u][2], a[u][6], a[u][3], a[u][7], lo.z, lo.w);
                        float s0 = jd < n ? ((const float*) (q + (size_t) jd * stride + 4 * cols))[kb] : 0.f;
                        float s1 = jd + 1 < n ? ((const float*) (q + (size_t) (jd + 1) * stride + 4 * cols))[kb] : 0.f;
                        acc[h][0] = __fmaf_rn(d[0], s0, acc[h][0]);
                        acc[h][1] = __fmaf_rn(d[1], s1, acc[h][1]);
                        acc[h][2] = __fmaf_rn(d[2], s0, acc[h][2]);
                        acc[h][3] = __fmaf_rn(d[3], s1, acc[h][3]);
                    }
                    continue;
                }
                unsigned w[4];
                mma_fragment<FMT>(a[u], w);
                float dwA = h2f(sa[u]), dwC = h2f(sb[u]);
                #pragma unroll
                for (int h = 0; h < TILES; h++) {
                    if (h >= tiles) break;
                    int jb = 8 * h + g, jd = 8 * h + 2 * t; // the input this lane supplies to B; the inputs of its results
                    unsigned b0 = 0, b1 = 0;
                    if (jb < n) mma_load_b<FMT>(q + (size_t) jb * stride, kb, t, b0, b1);
                    int d[4];
                    mma_s8(d, w, b0, b1);
                    float dx0 = jd < n ? ((const float*) (q + (size_t) jd * stride + cols))[kb] : 0.f;
                    float dx1 = jd + 1 < n ? ((const float*) (q + (size_t) (jd + 1) * stride + cols))[kb] : 0.f;
                    acc[h][0] = __fmaf_rn((float) d[0], __fmul_rn(dwA, dx0), acc[h][0]);
                    acc[h][1] = __fmaf_rn((float) d[1], __fmul_rn(dwA, dx1), acc[h][1]);
                    acc[h][2] = __fmaf_rn((float) d[2], __fmul_rn(dwC, dx0), acc[h][2]);
                    acc[h][3] = __fmaf_rn((float) d[3], __fmul_rn(dwC, dx1), acc[h][3]);
                }
            }
        }
        // The next tile's rows and its first blocks, loaded before this tile's sums are reduced: the loads are in
        // flight over the reduction's barriers and the epilogue instead of after them (a[] is free once the last
        // block is multiplied; the same values, the same sums).
        if (PIPE && bt + (int) gridDim.x < all) first_blocks(((bt + (int) gridDim.x) / groups) * 16);
        #pragma unroll
        for (int h = 0; h < TILES; h++)
            #pragma unroll
            for (int i = 0; i < 4; i++) red[warp][h][4 * lane + i] = acc[h][i];
        __syncthreads();
        // Thread e: row i = e / 16 of the tile, input j = e % 16 — found in each warp's fragment, summed in warp order.
        int i = threadIdx.x >> 4, j = threadIdx.x & 15;
        bool mine = threadIdx.x < 256; // (blocks of more than 8 warps: the tile's 16 × 16 results, one a thread)
        if (mine && j < n) {
            int h = j >> 3, jj = j & 7, at = 4 * (4 * (i & 7) + (jj >> 1)) + 2 * (i >> 3) + (jj & 1);
            float s = red[0][h][at];
            #pragma unroll
            for (int v = 1; v < WARPS; v++) s += red[v][h][at];
            if (nw != 0) s *= (float) (1.0 / sqrt((double) (ssq[j] / cols + eps)));
            tot[i][j] = s;
        }
        __syncthreads();
        if (mine && j < n && r0 + i < rows) {
            float s = tot[i][j];
            if (pairAct == 1 || pairAct == 2) { // rows 2p and 2p + 1 are gate and up (a tile starts at an even row)
                if ((i & 1) == 0 && r0 + i + 1 < rows) {
                    float up = tot[i + 1][j];
                    y[(size_t) (j0 + j) * (rows / 2) + (r0 + i) / 2] = (pairAct == 2 ? fmaxf(s, 0.f) * fmaxf(s, 0.f) : silu(s)) * up;
                }
            } else {
                if (bias != 0) s += bias[r0 + i];
                if (pairAct == 3) s = gelu_tanh(s);
                float* yj = y + (size_t) (j0 + j) * rows;
                yj[r0 + i] = accumulate ? yj[r0 + i] + s : s;
            }
        }
        // red and tot are written again only past the next tile's first barrier, which every thread reaches
        // after its reads of them here.
        bt += gridDim.x;
        if (bt >= all) break;
        r0 = (bt / groups) * 16;
    }
}

// The decode matvecs on the tensor cores as they run by default (CudaOps.warps, CudaOps.piped): F16 and
// Q8_0 with 16 warps a block (each a sixteenth of the columns; one block an SM) and a block's next rows
// loaded before its reduction and epilogue instead of after (PIPE: the loads in flight over the
// barriers; the same sums as without); Q4_0 with 8 warps and without (one sequence is faster so); F16's
// one-input matvec (the CUDA cores, where the columns are not whole blocks of 32) pipelined.
// Measured on an H100 (docs/benchmarks.md, twenty-first and twenty-second sessions).
#define MMA_KERNEL(name, bounds, ...) extern "C" __global__ void __launch_bounds__ bounds name(const void* W, int rows, int cols, \
    const float* x, const float* nw, int act, float eps, const float* bias, float* y, int accumulate, int pairAct, int inputs) { \
    matvec_mma<__VA_ARGS__>(W, rows, cols, x, nw, act, eps, bias, y, accumulate, pairAct, inputs); }
#if PANAMAX_PART_IS(10)
MMA_KERNEL(matvec_mma_f16_w16_pipe, (512, 1), 1, 16, true)
MMA_KERNEL(matvec_mma_q8_0_w16_pipe, (512, 1), 3, 16, true)
MMA_KERNEL(matvec_mma_q4_0, (256, 2), 4)
extern "C" __global__ void __launch_bounds__(1024, 1) matvec_f16_pipe(MATVEC_PARAMS) {
    matvec<1, 4, false, true>(W, rows, cols, x, nw, nb, act, eps, bias, y, accumulate, pairAct, sel, selRows, xDiv, xStride, slotsFast);
}
#endif

// The other warps and early loads (CudaOps: -Dpanamax.cuda.mmaWarps=8|16 with experiments on,
// -Dpanamax.cuda.tilePipe=true|false; for every format), kept for measuring. A 16-warp kernel sums other warps' shares than its 8-warp one,
// so its bits differ from it (the integer formats' sums within a block are exact, but the blocks' scaled
// sums and RMSNorm's Σ x² are summed over the warps), yet it is batch-invariant the same way; each
// *_pipe kernel gives the bits of the kernel without (CudaKernelsTest.decodeKernelShapesKeepTheGuarantees).
#if PANAMAX_PART_IS(11)
MMA_KERNEL(matvec_mma_q8_0, (256, 2), 3)
MMA_KERNEL(matvec_mma_f16, (256, 2), 1)
MMA_KERNEL(matvec_mma_f16_w16, (512, 1), 1, 16)
MMA_KERNEL(matvec_mma_q8_0_w16, (512, 1), 3, 16)
MMA_KERNEL(matvec_mma_q4_0_w16, (512, 1), 4, 16)
MMA_KERNEL(matvec_mma_f16_pipe, (256, 2), 1, 8, true)
MMA_KERNEL(matvec_mma_q8_0_pipe, (256, 2), 3, 8, true)
MMA_KERNEL(matvec_mma_q4_0_pipe, (256, 2), 4, 8, true)
MMA_KERNEL(matvec_mma_q4_0_w16_pipe, (512, 1), 4, 16, true)
#endif

// ---- rows (prompt) ----

// out[t] = x[t] · rstd · w (RMSNorm), or with b given (x[t] − mean) · rstd · w + b (LayerNorm), and/or
// its half-float copy; one block per row.
#if PANAMAX_PART_IS(1)
extern "C" __global__ void norm_rows(const float* x, const float* w, const float* b, float* out, unsigned short* out16, int cols, float eps) {
    const float* xr = x + (size_t) blockIdx.x * cols;
    float mean = 0.f;
    if (b != 0) {
        float s = 0.f;
        for (int c = threadIdx.x; c < cols; c += blockDim.x) s += xr[c];
        mean = block_sum(s) / cols;
    }
    float ss = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) ss += (xr[c] - mean) * (xr[c] - mean);
    float total = block_sum(ss);
    float inv = (float) (1.0 / sqrt((double) (total / cols + eps)));
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = (xr[c] - mean) * inv * w[c];
        if (b != 0) v += b[c];
        if (out != 0) out[(size_t) blockIdx.x * cols + c] = v;
        if (out16 != 0) out16[(size_t) blockIdx.x * cols + c] = f2h(v);
    }
}
#endif

// H[t, c] = act(GU[t, 2c]) · GU[t, 2c + 1] (the stacked matrix interleaves gate and up rows, so each
// output row holds the pairs side by side), and its half copy.
#if PANAMAX_PART_IS(1)
extern "C" __global__ void gate_rows(const float* gu, float* h, unsigned short* h16, int T, int f, int act) {
    size_t n = (size_t) T * f;
    for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x) {
        size_t t = i / f, c = i % f;
        float g = gu[t * 2 * f + 2 * c], u = gu[t * 2 * f + 2 * c + 1];
        float a = act == 2 ? fmaxf(g, 0.f) * fmaxf(g, 0.f) : silu(g);
        float v = a * u;
        if (h != 0) h[i] = v;
        if (h16 != 0) h16[i] = f2h(v);
    }
}
#endif

#if PANAMAX_PART_IS(1)
extern "C" __global__ void f32_to_f16(const float* x, unsigned short* y, long long n) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) y[i] = f2h(x[i]);
}
#endif

// y[t, i] = act(y[t, i] + b[i]) for T rows of n (act 0: none, 3: gelu_tanh, 4: gelu with erf), and its half
// copy when y16 ≠ 0.
#if PANAMAX_PART_IS(1)
extern "C" __global__ void bias_rows(float* y, const float* b, unsigned short* y16, int T, int n, int act) {
    size_t total = (size_t) T * n;
    for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) {
        float v = y[i] + b[i % n];
        if (act == 3) v = gelu_tanh(v);
        else if (act == 4) v = 0.5f * v * (1.f + erff(v * 0.70710678f));
        else if (act == 5) v = v / (1.f + expf(-1.702f * v)); // CLIP's QuickGELU, x·σ(1.702x)
        y[i] = v;
        if (y16 != 0) y16[i] = f2h(v);
    }
}
#endif

// ---- attention ----

// RoPE's cos and sin come from a table built on the host in double precision, as the CPU computes
// them: rope[(p · hd/2 + j) · 2 + {0, 1}] = {cos, sin}(p · θ_j).

// A head of hd values through the optional per-head RMSNorm and RoPE at position pos on its first
// rot dimensions (rot = hd unless the rotation is partial), by one warp, into dst (which may be src).
__device__ void prep_head(const float* src, float* dst, const float* nw, const float* rope, int pos, int hd, int rot, int interleaved,
                          float eps, int lane) {
    float ss = 0.f;
    for (int d = lane; d < hd; d += WARP) {
        float v = src[d];
        ss += v * v;
    }
    if (nw != 0) {
        ss = warp_sum(ss);
        float inv = (float) (1.0 / sqrt((double) (ss / hd + eps)));
        __syncwarp();
        for (int d = lane; d < hd; d += WARP) dst[d] = src[d] * inv * nw[d];
    } else if (dst != src) {
        __syncwarp();
        for (int d = lane; d < hd; d += WARP) dst[d] = src[d];
    }
    __syncwarp();
    if (rope == 0) return; // learned absolute positions (GPT-2): no rotation
    int half = rot / 2;
    const float* cs = rope + (size_t) pos * half * 2;
    for (int j = lane; j < half; j += WARP) {
        int i0 = interleaved ? 2 * j : j, i1 = interleaved ? 2 * j + 1 : j + half;
        float c = cs[2 * j], s = cs[2 * j + 1];
        float x0 = dst[i0], x1 = dst[i1];
        dst[i0] = x0 * c - x1 * s;
        dst[i1] = x1 * c + x0 * s;
    }
    __syncwarp();
}

// The KV cache holds floats, or half floats (--kv-type f16: half the memory and bandwidth, rounded
// to nearest as the CPU's cache): KV is float or unsigned short, these read and write either.
__device__ __forceinline__ float4 kv4(const float* p) { return *(const float4*) p; }
__device__ __forceinline__ float4 kv4(const unsigned short* p) {
    uint2 u = *(const uint2*) p;
    return make_float4(h2f(u.x & 0xffff), h2f(u.x >> 16), h2f(u.y & 0xffff), h2f(u.y >> 16));
}
__device__ __forceinline__ float kv1(const float* p) { return *p; }
__device__ __forceinline__ float kv1(const unsigned short* p) { return h2f(*p); }
__device__ __forceinline__ void kv_put(float* p, float v) { *p = v; }
__device__ __forceinline__ void kv_put(unsigned short* p, float v) { *p = f2h(v); }

// Per-head RMSNorm (Qwen3, when qn/kn are given), RoPE on q and k, and k, v into the cache at their
// positions, for T rows of a prompt. qkv rows hold [q (heads·hd) | k (kvHeads·hd) | v (kvHeads·hd)];
// one warp per head.
template <typename KV>
__device__ void rope_store(float* qkv, int stride, KV* kc, KV* vc, const float* rope, const float* qn,
                           const float* kn, const int* P, int heads, int kvHeads, int hd, int rot, int interleaved, float eps) {
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int hh = blockIdx.x * (blockDim.x >> 5) + warp;
    if (hh >= heads + kvHeads) return;
    int t = blockIdx.y, pos = P[0] + t, qDim = heads * hd, kvDim = kvHeads * hd;
    float* row = qkv + (size_t) t * stride;
    bool isK = hh >= heads;
    float* x = isK ? row + qDim + (hh - heads) * hd : row + hh * hd;
    prep_head(x, x, isK ? kn : qn, rope, pos, hd, rot, interleaved, eps, lane);
    if (isK) {
        int kh = hh - heads;
        KV* kd = kc + (size_t) pos * kvDim + kh * hd;
        KV* vd = vc + (size_t) pos * kvDim + kh * hd;
        const float* v = row + qDim + kvDim + kh * hd;
        for (int d = lane; d < hd; d += WARP) {
            kv_put(kd + d, x[d]);
            kv_put(vd + d, v[d]);
        }
    }
}
#define ROPE_STORE(name, KV) \
extern "C" __global__ void name(float* qkv, int stride, KV* kc, KV* vc, const float* rope, const float* qn, const float* kn, const int* P, \
                                int heads, int kvHeads, int hd, int rot, int interleaved, float eps) { \
    rope_store<KV>(qkv, stride, kc, vc, rope, qn, kn, P, heads, kvHeads, hd, rot, interleaved, eps); \
}
#if PANAMAX_PART_IS(5)
ROPE_STORE(rope_store_f32, float)
ROPE_STORE(rope_store_f16, unsigned short)
#endif

#define ATT_WARPS 4
#define ATT_MAX_PER_LANE 8  // head size up to 256

// One warp's share (of NW warps taking turns) of softmax(q·Kᵀ·scale)·V
// over keys s0..s1−1 (rows of kbase/vbase, kvDim apart), as a
// running max m, sum l and unnormalised acc (DPL values a lane: adjacent dimensions when HD > 0,
// strided by 32 otherwise). q is in shared memory. With HD known, each warp takes 8 keys at a time,
// 4 lanes a key for the score, then all lanes over the dimensions for the values: short dependency
// chains, since attention over a few hundred keys is latency, not bandwidth.
#define DEC_WARPS 4

// A key's weight: with softmax, e^(score − running max) and the correction of what came before
// (running max m → mn); with sigmoid attention σ(score + bias), bias = −log(keys the row sees), no
// normalisation (m stays 0, so the merges below add the sums as they are).
__device__ __forceinline__ void weigh(float score, bool valid, float m, int sigmoid, float bias, float& mn, float& corr, float& w) {
    if (sigmoid) {
        mn = 0.f;
        corr = 1.f;
        w = valid ? 1.f / (1.f + expf(-(score + bias))) : 0.f;
    } else {
        mn = fmaxf(m, warp_max(score));
        corr = m == NEG_INF ? 0.f : expf(m - mn);
        w = valid ? expf(score - mn) : 0.f;
    }
}

template <int HD, int DPL, typename KV, int NW = DEC_WARPS>
__device__ __forceinline__ void attend_chunk(const float* q, const KV* kbase, const KV* vbase, int kvDim, int hd, int s0, int s1,
                                             float scale, int sigmoid, float bias, int warp, int lane, float& m, float& l, float* acc) {
    if (HD > 0) {
        constexpr int KPW = 8, LPK = WARP / KPW, SEG = HD / LPK;
        int kj = lane / LPK, seg = lane % LPK;
        for (int base = s0 + warp * KPW; base < s1; base += NW * KPW) {
            int p = base + kj;
            float dot = 0.f;
            if (p < s1) {
                const KV* kp = kbase + (size_t) p * kvDim + seg * SEG;
                const float* qs = q + seg * SEG;
                #pragma unroll
                for (int d = 0; d < SEG; d += 4) {
                    float4 kv = kv4(kp + d);
                    float4 qv = *(const float4*) (qs + d);
                    dot += qv.x * kv.x + qv.y * kv.y + qv.z * kv.z + qv.w * kv.w;
                }
            }
            #pragma unroll
            for (int o = 1; o < LPK; o <<= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
            float score = p < s1 ? dot * scale : NEG_INF;
            float mn, corr, w;
            weigh(score, p < s1, m, sigmoid, bias, mn, corr, w);
            l = l * corr + warp_sum(seg == 0 ? w : 0.f);
            #pragma unroll
            for (int i = 0; i < DPL; i++) acc[i] *= corr;
            #pragma unroll
            for (int j = 0; j < KPW; j++) {
                float wj = __shfl_sync(0xffffffffu, w, j * LPK);
                if (base + j < s1) {
                    const KV* vp = vbase + (size_t) (base + j) * kvDim + lane * DPL;
                    #pragma unroll
                    for (int i = 0; i < DPL; i++) acc[i] += wj * kv1(vp + i);
                }
            }
            m = mn;
        }
    } else {
        for (int base = s0 + warp * WARP; base < s1; base += NW * WARP) {
            int p = base + lane;
            float score = NEG_INF;
            if (p < s1) {
                const KV* kp = kbase + (size_t) p * kvDim;
                float dot = 0.f;
                if (HD > 0 && HD % 4 == 0) {
                    #pragma unroll
                    for (int d = 0; d < HD; d += 4) {
                        float4 kv = kv4(kp + d);
                        dot += q[d] * kv.x + q[d + 1] * kv.y + q[d + 2] * kv.z + q[d + 3] * kv.w;
                    }
                } else if ((hd & 3) == 0) {
                    #pragma unroll 8
                    for (int d = 0; d < hd; d += 4) {
                        float4 kv = kv4(kp + d);
                        dot += q[d] * kv.x + q[d + 1] * kv.y + q[d + 2] * kv.z + q[d + 3] * kv.w;
                    }
                } else {
                    for (int d = 0; d < hd; d++) dot += q[d] * kv1(kp + d);
                }
                score = dot * scale;
            }
            float mn, corr, w;
            weigh(score, p < s1, m, sigmoid, bias, mn, corr, w);
            l = l * corr + warp_sum(w);
            #pragma unroll
            for (int i = 0; i < DPL; i++) acc[i] *= corr;
            int nk = min(WARP, s1 - base);
            const KV* vrow = vbase + (size_t) base * kvDim;
            #pragma unroll 8
            for (int j = 0; j < nk; j++) {
                float wj = __shfl_sync(0xffffffffu, w, j);
                const KV* vp = vrow + (size_t) j * kvDim;
                #pragma unroll
                for (int i = 0; i < DPL; i++) {
                    if (HD > 0) acc[i] += wj * kv1(vp + lane * DPL + i);
                    else if (lane + WARP * i < hd) acc[i] += wj * kv1(vp + lane + WARP * i);
                }
            }
            m = mn;
        }
    }
}

// The block's warps over keys s0..s1−1 (attend_chunk each), merged. With `finished` (the only chunk),
// dst[d] is the softmax-weighted mean of the values; otherwise dst is the chunk's partial: dst[0] the
// max, dst[1] the sum, dst[2 + d] the unnormalised weighted sum.
template <int HD, typename KV>
__device__ void attend_block(const float* q, const KV* kbase, const KV* vbase, int kvDim, int hd, int s0, int s1, float scale,
                             int sigmoid, float bias, bool finished, float* dst) {
    constexpr int DPL = HD > 0 ? HD / WARP : ATT_MAX_PER_LANE;
    __shared__ float sm[DEC_WARPS], sl[DEC_WARPS], sacc[DEC_WARPS][256];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    float m = NEG_INF, l = 0.f, acc[DPL];
    #pragma unroll
    for (int i = 0; i < DPL; i++) acc[i] = 0.f;
    attend_chunk<HD, DPL, KV>(q, kbase, vbase, kvDim, hd, s0, s1, scale, sigmoid, bias, warp, lane, m, l, acc);
    if (lane == 0) { sm[warp] = m; sl[warp] = l; }
    #pragma unroll
    for (int i = 0; i < DPL; i++) {
        int d = HD > 0 ? lane * DPL + i : lane + WARP * i;
        if (d < hd) sacc[warp][d] = acc[i];
    }
    __syncthreads();
    float M = NEG_INF, L = 0.f;
    for (int w = 0; w < DEC_WARPS; w++) M = fmaxf(M, sm[w]);
    for (int w = 0; w < DEC_WARPS; w++) if (sm[w] != NEG_INF) L += sl[w] * expf(sm[w] - M);
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float a = 0.f;
        for (int w = 0; w < DEC_WARPS; w++) if (sm[w] != NEG_INF) a += sacc[w][d] * expf(sm[w] - M);
        if (finished) dst[d] = sigmoid ? a : a / L;
        else dst[2 + d] = a;
    }
    if (!finished && threadIdx.x == 0) { dst[0] = M; dst[1] = L; }
}

// Flash-decoding over a prompt, first half: block (h, s, t) takes query head h of row t over the s-th
// chunk of the keys row t sees (positions start..n−1, n = P[0]+t+1, start = n − window when windowed;
// with keys > 0 every row sees positions 0..keys−1: an encoder's bidirectional attention) and writes
// the chunk's max m, sum l and unnormalised Σ softmax-weight · v to part.
template <int HD, typename KV>
__device__ void attention_partial(const float* qkv, int stride, const KV* kc, const KV* vc, float* part, const int* P, int heads,
                                  int kvHeads, int hdRun, int window, int chunk, int nsplit, float scale, int keys, int sigmoid) {
    const int hd = HD > 0 ? HD : hdRun;
    int h = blockIdx.x, s = blockIdx.y, t = blockIdx.z;
    int n = keys > 0 ? keys : P[0] + t + 1;
    int start = window > 0 ? max(0, n - window) : 0;
    int s0 = start + s * chunk, s1 = min(s0 + chunk, n);
    int kvDim = kvHeads * hd, kh = h / (heads / kvHeads);
    __shared__ __align__(16) float q[256];
    for (int d = threadIdx.x; d < hd; d += blockDim.x) q[d] = qkv[(size_t) t * stride + h * hd + d];
    __syncthreads();
    attend_block<HD, KV>(q, kc + kh * hd, vc + kh * hd, kvDim, hd, s0, s1, scale, sigmoid, -logf((float) (n - start)), false,
                         part + (((size_t) t * heads + h) * nsplit + s) * (hd + 2));
}

#define ATTENTION_PARTIAL(name, HD, KV) \
extern "C" __global__ void name(const float* qkv, int stride, const KV* kc, const KV* vc, float* part, const int* P, int heads, \
                                int kvHeads, int hd, int window, int chunk, int nsplit, float scale, int keys, int sigmoid) { \
    attention_partial<HD, KV>(qkv, stride, kc, vc, part, P, heads, kvHeads, hd, window, chunk, nsplit, scale, keys, sigmoid); \
}
#if PANAMAX_PART_IS(5)
ATTENTION_PARTIAL(attention_partial_any, 0, float)
ATTENTION_PARTIAL(attention_partial_64, 64, float)
ATTENTION_PARTIAL(attention_partial_128, 128, float)
ATTENTION_PARTIAL(attention_partial_any_h, 0, unsigned short)
ATTENTION_PARTIAL(attention_partial_64_h, 64, unsigned short)
ATTENTION_PARTIAL(attention_partial_128_h, 128, unsigned short)
#endif

// A warp's online softmax over a staged tile (K rows kstride floats apart, V rows hd) for QPW query
// vectors at once (q: QPW rows qstride floats apart, in shared memory), query i over the tile's keys
// s0[i]..s1[i]−1 (empty when s0[i] = s1[i]): a key per lane — each K row read once for all QPW
// vectors, its whole score for each, four partial sums — then one max and one sum per vector for the
// warp's 32 keys, and the 32 weighted value rows, each V value read once for all QPW vectors, each
// lane its DPL dimensions. The keys go in groups of 32 from the tile's start (tile starts are
// multiples of KT), whatever the vectors' ranges: a group a vector sees none of changes nothing of
// it (max, sum and accumulator stay as they are, bit for bit), so each vector's result is the same
// whichever vectors share its warp. K's rows are padded (kstride = hd + 4, or hd + 1 for the scalar
// loads of any head size) so that 32 lanes reading 32 rows fall in different banks.
template <int HD, int DPL, int QPW>
__device__ __forceinline__ void attend_lanes(const float* q, int qstride, const float* ks, int kstride, const float* vs, int hd,
                                             const int (&s0)[QPW], const int (&s1)[QPW], int lo, int hi, float scale, int sigmoid,
                                             const float (&bias)[QPW], int lane, float (&m)[QPW], float (&l)[QPW], float (&acc)[QPW][DPL]) {
    for (int base = lo / WARP * WARP; base < hi; base += WARP) {
        int p = base + lane;
        float d[QPW][4];
        #pragma unroll
        for (int i = 0; i < QPW; i++) d[i][0] = d[i][1] = d[i][2] = d[i][3] = 0.f;
        if (p < hi) {
            const float* kp = ks + p * kstride;
            if (HD > 0) {
                #pragma unroll
                for (int e = 0; e < HD; e += 4) {
                    float4 k = *(const float4*) (kp + e);
                    #pragma unroll
                    for (int i = 0; i < QPW; i++) {
                        float4 x = *(const float4*) (q + i * qstride + e);
                        d[i][0] = fmaf(x.x, k.x, d[i][0]);
                        d[i][1] = fmaf(x.y, k.y, d[i][1]);
                        d[i][2] = fmaf(x.z, k.z, d[i][2]);
                        d[i][3] = fmaf(x.w, k.w, d[i][3]);
                    }
                }
            } else {
                for (int e = 0; e < hd; e++) {
                    float k = kp[e];
                    #pragma unroll
                    for (int i = 0; i < QPW; i++) d[i][0] = fmaf(q[i * qstride + e], k, d[i][0]);
                }
            }
        }
        float w[QPW];
        #pragma unroll
        for (int i = 0; i < QPW; i++) {
            bool valid = p >= s0[i] && p < s1[i];
            float score = valid ? ((d[i][0] + d[i][1]) + (d[i][2] + d[i][3])) * scale : NEG_INF;
            float mn, corr;
            weigh(score, valid, m[i], sigmoid, bias[i], mn, corr, w[i]);
            l[i] = l[i] * corr + warp_sum(w[i]);
            #pragma unroll
            for (int k = 0; k < DPL; k++) acc[i][k] *= corr;
            m[i] = mn;
        }
        int nk = min(WARP, hi - base);
        for (int j = 0; j < nk; j++) {
            const float* vp = vs + (base + j) * hd;
            float v[DPL];
            #pragma unroll
            for (int k = 0; k < DPL; k++) {
                int e = HD > 0 ? lane * DPL + k : lane + WARP * k;
                v[k] = HD > 0 || e < hd ? vp[e] : 0.f;
            }
            #pragma unroll
            for (int i = 0; i < QPW; i++) {
                float wj = __shfl_sync(0xffffffffu, w[i], j);
                #pragma unroll
                for (int k = 0; k < DPL; k++) acc[i][k] = fmaf(wj, v[k], acc[i][k]);
            }
        }
    }
}

// Attention over a prompt with each K/V tile shared by the block's query vectors: block (kh, c) takes
// the vectors v = QB·c .. QB·c + QB − 1 of KV head kh (QB = 16 warps × QPW) — row t = v / G, query head
// kh·G + v % G, G = heads / kvHeads — QPW consecutive ones a warp, and walks the keys any of them sees a
// tile of KT at a time, staged in shared memory as floats; each vector keeps a running max, sum and
// accumulator over its own row's keys (positions start..n−1 as in attention_partial) tile after tile,
// and its normalised row goes to out[t, h·hd ..] — no partials, no merge. The split kernel above reads
// K and V from L2 once per query vector (a 512-token TinyLlama prompt: 409 µs a layer, two thirds of
// the prompt's GPU time); here once per QB. Within a tile each warp scores a key per lane
// (attend_lanes): with eight keys a pass and four lanes a key, as the decode kernels score them, the
// shuffles of the dot products and of the max and sum bound the kernel — a key per lane took
// TinyLlama's pp512 on an H100 from 35 100 to 50 400 tokens/s (docs/cuda.md). With head size 64 a
// warp takes four vectors (QPW = 4), reading each K and V value from shared memory once for the four:
// TinyLlama's pp512 on an H100 54 300–56 600 tokens/s against 48 500–51 100 with one vector a warp.
#define PROMPT_WARPS 16
#define PROMPT_TILE 4096 // floats in the V tile with QPW = 1: KT = PROMPT_TILE / hd keys (any head size: / (hd + 1))
template <int HD, typename KV, int QPW>
__device__ void attention_prompt(const float* qkv, int stride, const KV* kc, const KV* vc, float* out, const int* P, int heads,
                                 int kvHeads, int hdRun, int window, int T, float scale, int keys, int sigmoid) {
    const int hd = HD > 0 ? HD : hdRun;
    constexpr int DPL = HD > 0 ? HD / WARP : ATT_MAX_PER_LANE, QMAX = HD > 0 ? HD : 256, QB = PROMPT_WARPS * QPW;
    // The V tile (KT rows of hd), K's (KT rows of kstride): 64 keys (HD 64), 32 (HD 128; HD 64 with four
    // vectors a warp, whose queries take the rest of the 48 KB), 4 096 / (hd + 1) (any size).
    constexpr int VT = QPW > 1 ? 32 * (HD > 0 ? HD : 1) : PROMPT_TILE, KS = HD > 0 ? VT / HD * (HD + 4) : PROMPT_TILE;
    __shared__ __align__(16) float ks[KS], vs[VT], qs[QB][QMAX];
    const int kstride = HD > 0 ? HD + 4 : hd + 1, KT = HD > 0 ? VT / HD : PROMPT_TILE / kstride;
    int G = heads / kvHeads, kh = blockIdx.x, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int kvDim = kvHeads * hd;
    int c = blockIdx.y, last = min(T * G, (c + 1) * QB) - 1;
    bool valid[QPW];
    int t[QPW], h[QPW], n[QPW], start[QPW];
    float bias[QPW], m[QPW], l[QPW], acc[QPW][DPL];
    #pragma unroll
    for (int i = 0; i < QPW; i++) {
        int v = c * QB + warp * QPW + i;
        valid[i] = v < T * G;
        t[i] = valid[i] ? v / G : 0;
        h[i] = kh * G + (valid[i] ? v % G : 0);
        n[i] = keys > 0 ? keys : P[0] + t[i] + 1;
        start[i] = window > 0 ? max(0, n[i] - window) : 0;
        bias[i] = -logf((float) (n[i] - start[i]));
        m[i] = NEG_INF;
        l[i] = 0.f;
        #pragma unroll
        for (int k = 0; k < DPL; k++) acc[i][k] = 0.f;
        if (valid[i]) for (int d = lane; d < hd; d += WARP) qs[warp * QPW + i][d] = qkv[(size_t) t[i] * stride + h[i] * hd + d];
    }
    // Keys row r sees: start(r)..n(r)−1; the block's span runs from its first row's start to its last row's n.
    int firstN = keys > 0 ? keys : P[0] + c * QB / G + 1, lo = window > 0 ? max(0, firstN - window) : 0;
    int hi = keys > 0 ? keys : P[0] + last / G + 1;
    for (int base = lo / KT * KT; base < hi; base += KT) {
        __syncthreads(); // the tile before this one is done with
        int count = min(KT, hi - base);
        for (int i = threadIdx.x; i < count * hd; i += blockDim.x) {
            int key = i / hd, d = i % hd;
            size_t at = (size_t) (base + key) * kvDim + kh * hd + d;
            ks[key * kstride + d] = kv1(kc + at);
            vs[i] = kv1(vc + at);
        }
        __syncthreads();
        int s0[QPW], s1[QPW], wlo = KT, whi = 0;
        #pragma unroll
        for (int i = 0; i < QPW; i++) {
            s0[i] = max(start[i], base) - base;
            s1[i] = min(n[i], base + count) - base;
            if (!valid[i] || s0[i] >= s1[i]) s0[i] = s1[i] = 0;
            else { wlo = min(wlo, s0[i]); whi = max(whi, s1[i]); }
        }
        if (wlo < whi) attend_lanes<HD, DPL, QPW>(qs[warp * QPW], QMAX, ks, kstride, vs, hd, s0, s1, wlo, whi, scale, sigmoid, bias, lane, m, l, acc);
    }
    #pragma unroll
    for (int i = 0; i < QPW; i++) {
        if (!valid[i]) continue;
        #pragma unroll
        for (int k = 0; k < DPL; k++) {
            int d = HD > 0 ? lane * DPL + k : lane + WARP * k;
            if (d < hd) out[(size_t) t[i] * heads * hd + h[i] * hd + d] = sigmoid ? acc[i][k] : acc[i][k] / l[i];
        }
    }
}

#define ATTENTION_PROMPT(name, HD, KV, QPW) \
extern "C" __global__ void __launch_bounds__(512, 1) name(const float* qkv, int stride, const KV* kc, const KV* vc, float* out, const int* P, \
                                int heads, int kvHeads, int hd, int window, int T, float scale, int keys, int sigmoid) { \
    attention_prompt<HD, KV, QPW>(qkv, stride, kc, vc, out, P, heads, kvHeads, hd, window, T, scale, keys, sigmoid); \
}
#if PANAMAX_PART_IS(5)
ATTENTION_PROMPT(attention_prompt_any, 0, float, 1)
ATTENTION_PROMPT(attention_prompt_64, 64, float, 4)
ATTENTION_PROMPT(attention_prompt_128, 128, float, 1)
ATTENTION_PROMPT(attention_prompt_any_h, 0, unsigned short, 1)
ATTENTION_PROMPT(attention_prompt_64_h, 64, unsigned short, 4)
ATTENTION_PROMPT(attention_prompt_128_h, 128, unsigned short, 1)
#endif

// Flash-decoding, second half: merges the chunks of (head h, row t) into out[t, h·hd ..].
#if PANAMAX_PART_IS(5)
extern "C" __global__ void attention_merge(const float* part, float* out, int heads, int hd, int nsplit, int sigmoid) {
    int h = blockIdx.x, t = blockIdx.y;
    const float* base = part + ((size_t) t * heads + h) * nsplit * (hd + 2);
    float M = NEG_INF;
    for (int s = 0; s < nsplit; s++) M = fmaxf(M, base[s * (hd + 2)]);
    float L = 0.f;
    for (int s = 0; s < nsplit; s++) {
        float ms = base[s * (hd + 2)];
        if (ms != NEG_INF) L += base[s * (hd + 2) + 1] * expf(ms - M);
    }
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float a = 0.f;
        for (int s = 0; s < nsplit; s++) {
            float ms = base[s * (hd + 2)];
            if (ms != NEG_INF) a += base[s * (hd + 2) + 2 + d] * expf(ms - M);
        }
        out[(size_t) t * heads * hd + h * hd + d] = sigmoid ? a : a / L;
    }
}
#endif

// The whole attention of one decoded token, one launch per layer: block (h, s) takes query head h
// over the s-th chunk of the keys. Each block normalises and rotates its q itself; the blocks whose
// chunk holds the new position also rotate the new k and write k and v into the cache (every query
// head of the group writes the same bits), so after a barrier all keys come from the cache. Scores:
// each lane one key (independent loads); values: lanes over dimensions, the warp's 32 keys in turn.
// The last block of a head to finish (an atomic count) merges the chunks' partial softmaxes and resets
// the count, so a captured graph replays it unchanged. HD > 0 compiles a head size in (every loop
// unrolled, each lane HD/32 adjacent dimensions); HD = 0 takes it at run time.
template <int HD, typename KV>
__device__ void attention_decode(const float* qkv, KV* kc, KV* vc, const float* rope, const float* qn, const float* kn,
                                 const int* P, float* part, int* count, float* out, int heads, int kvHeads, int hdRun, int rot,
                                 int interleaved, float eps, int window, int chunk, float scale, int prefetch, int sigmoid) {
    const int hd = HD > 0 ? HD : hdRun;
    pdl_trigger();
    int h = blockIdx.x, s = blockIdx.y;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int pos = P[0], n = pos + 1; // P is copied in before the step's first kernel, so it can be read before the wait
    int start = window > 0 ? max(0, n - window) : 0;
    int active = (n - start + chunk - 1) / chunk;
    if (s >= active) return;
    int s0 = start + s * chunk, s1 = min(s0 + chunk, n);
    int group = heads / kvHeads, kh = h / group, qDim = heads * hd, kvDim = kvHeads * hd;
    if (prefetch) { // the chunk's cached keys and values (earlier steps wrote them) towards L2 while the QKV matvec runs
        int lines = (hd * (int) sizeof(KV) + 127) / 128, per = 128 / (int) sizeof(KV);
        for (int i = threadIdx.x; i < (s1 - s0) * lines; i += blockDim.x) {
            size_t at = (size_t) (s0 + i / lines) * kvDim + kh * hd + (i % lines) * per;
            prefetch_l2(kc + at);
            prefetch_l2(vc + at);
        }
    }
    pdl_wait();
    __shared__ __align__(16) float q[256], kn1[256];
    __shared__ int last;
    if (warp == 0) prep_head(qkv + h * hd, q, qn, rope, pos, hd, rot, interleaved, eps, lane);
    if (warp == 1 && s1 == n) {
        prep_head(qkv + qDim + kh * hd, kn1, kn, rope, pos, hd, rot, interleaved, eps, lane);
        const float* v = qkv + qDim + kvDim + kh * hd;
        for (int d = lane; d < hd; d += WARP) {
            kv_put(kc + (size_t) pos * kvDim + kh * hd + d, kn1[d]);
            kv_put(vc + (size_t) pos * kvDim + kh * hd + d, v[d]);
        }
    }
    __syncthreads();
    // One chunk: the block writes the head's output itself; otherwise its partial, merged below.
    attend_block<HD, KV>(q, kc + kh * hd, vc + kh * hd, kvDim, hd, s0, s1, scale, sigmoid, -logf((float) (n - start)), active == 1,
                     active == 1 ? out + h * hd : part + ((size_t) h * gridDim.y + s) * (hd + 2));
    if (active == 1) return;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(&count[h], 1) == active - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    const float* all = part + (size_t) h * gridDim.y * (hd + 2);
    float MM = NEG_INF;
    for (int c = 0; c < active; c++) MM = fmaxf(MM, __ldcg(all + c * (hd + 2)));
    float LL = 0.f;
    for (int c = 0; c < active; c++) {
        float mc = __ldcg(all + c * (hd + 2));
        if (mc != NEG_INF) LL += __ldcg(all + c * (hd + 2) + 1) * expf(mc - MM);
    }
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float a = 0.f;
        for (int c = 0; c < active; c++) {
            float mc = __ldcg(all + c * (hd + 2));
            if (mc != NEG_INF) a += __ldcg(all + c * (hd + 2) + 2 + d) * expf(mc - MM);
        }
        out[h * hd + d] = sigmoid ? a : a / LL;
    }
    if (threadIdx.x == 0) count[h] = 0;
}

#define ATTENTION_DECODE(name, HD, KV) \
extern "C" __global__ void name(const float* qkv, KV* kc, KV* vc, const float* rope, const float* qn, const float* kn, \
                                const int* P, float* part, int* count, float* out, int heads, int kvHeads, int hd, int rot, \
                                int interleaved, float eps, int window, int chunk, float scale, int prefetch, int sigmoid) { \
    attention_decode<HD, KV>(qkv, kc, vc, rope, qn, kn, P, part, count, out, heads, kvHeads, hd, rot, interleaved, eps, window, chunk, \
                             scale, prefetch, sigmoid); \
}
#if PANAMAX_PART_IS(6)
ATTENTION_DECODE(attention_decode_any, 0, float)
ATTENTION_DECODE(attention_decode_64, 64, float)
ATTENTION_DECODE(attention_decode_128, 128, float)
ATTENTION_DECODE(attention_decode_any_h, 0, unsigned short)
ATTENTION_DECODE(attention_decode_64_h, 64, unsigned short)
ATTENTION_DECODE(attention_decode_128_h, 128, unsigned short)
#endif

// The same for the rows of a batched decode step, one launch: blockIdx.z is the row, whose q/k/v are
// row z of qkv (width qkvDim), output row z of out (width heads·hd), position P[2z], and whose cache
// and scratch come from its sequence: table[4z..4z+3] = {K cache, V cache (layer 0), partials, counts},
// the layer's cache at + layer elements. Each row runs exactly the one-token kernel above.
#define ATTENTION_DECODE_ROWS(name, HD, KV) \
extern "C" __global__ void name(const float* qkv, int qkvDim, const long long* table, long long layer, const float* rope, \
                                const float* qn, const float* kn, const int* P, float* out, int heads, int kvHeads, int hd, int rot, \
                                int interleaved, float eps, int window, int chunk, float scale, int prefetch, int sigmoid) { \
    int z = blockIdx.z; \
    const long long* t = table + 4 * z; \
    attention_decode<HD, KV>(qkv + (size_t) z * qkvDim, (KV*) t[0] + layer, (KV*) t[1] + layer, rope, qn, kn, P + 2 * z, (float*) t[2], \
                             (int*) t[3], out + (size_t) z * heads * (HD > 0 ? HD : hd), heads, kvHeads, hd, rot, interleaved, eps, window, \
                             chunk, scale, prefetch, sigmoid); \
}
#if PANAMAX_PART_IS(7)
ATTENTION_DECODE_ROWS(attention_decode_rows_any, 0, float)
ATTENTION_DECODE_ROWS(attention_decode_rows_64, 64, float)
ATTENTION_DECODE_ROWS(attention_decode_rows_128, 128, float)
ATTENTION_DECODE_ROWS(attention_decode_rows_any_h, 0, unsigned short)
ATTENTION_DECODE_ROWS(attention_decode_rows_64_h, 64, unsigned short)
ATTENTION_DECODE_ROWS(attention_decode_rows_128_h, 128, unsigned short)
#endif

// ---- selective state spaces (Mamba, Mamba-2) ----
// The same kernels serve a decoded token (T = 1, inside the captured graph) and a prompt block.

__device__ __forceinline__ float softplus(float v) { return v > 20.f ? v : log1pf(expf(v)); }

// The causal depthwise conv over time, then SiLU, for T rows and one thread per channel:
//   out[t, c] = silu(b[c] + Σ_j w[c, j] · in(t − (kc−1) + j)),   in(s) = in[s·inStride + c] for s ≥ 0,
// and for s < 0 the channel's state (the kc − 1 inputs before the block, oldest first), which ends
// holding the block's last kc − 1 inputs.
#if PANAMAX_PART_IS(8)
extern "C" __global__ void ssm_conv(const float* in, int inStride, float* out, int T, int channels, const float* w, const float* b,
                                    float* state, int kc) {
    pdl_trigger();
    pdl_wait();
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= channels) return;
    float* st = state + (size_t) c * (kc - 1);
    const float* wc = w + (size_t) c * kc;
    for (int t = 0; t < T; t++) {
        float acc = b[c];
        for (int j = 0; j < kc; j++) {
            int s = t - (kc - 1) + j;
            acc += wc[j] * (s >= 0 ? in[(size_t) s * inStride + c] : st[kc - 1 + s]);
        }
        out[(size_t) t * channels + c] = silu(acc);
    }
    for (int j = 0; j < kc - 1; j++) { // ascending j reads st[T + j] before it is overwritten
        int s = T - (kc - 1) + j;
        st[j] = s >= 0 ? in[(size_t) s * inStride + c] : st[kc - 1 + s];
    }
}
#endif

// Step sizes, one thread per (t, i):  dt[t·n + i] = clamp(softplus(bias[i] + δ), lo, hi), where
// δ = W[i, :rank] · in[t·inStride ..] (Mamba's low-rank projection) or, with rank 0, in[t·inStride + i] (Mamba-2).
#if PANAMAX_PART_IS(8)
extern "C" __global__ void ssm_dt(const float* in, int inStride, const float* W, int rank, const float* bias, float lo, float hi,
                                  float* dt, int T, int n) {
    pdl_trigger();
    pdl_wait();
    for (size_t k = (size_t) blockIdx.x * blockDim.x + threadIdx.x; k < (size_t) T * n; k += (size_t) gridDim.x * blockDim.x) {
        int t = (int) (k / n), i = (int) (k % n);
        const float* x = in + (size_t) t * inStride;
        float v;
        if (rank > 0) {
            v = 0.f;
            for (int j = 0; j < rank; j++) v += W[(size_t) i * rank + j] * x[j];
        } else {
            v = x[i];
        }
        dt[k] = fminf(fmaxf(softplus(bias[i] + v), lo), hi);
    }
}
#endif

// The selective scan over T steps, one warp per state row r < R, lanes over the state index n < N:
//   head = r / rowsPerHead,  g = head / headsPerGroup,  Δ = dt[t·heads + head],  x = X[t·xs + r]
//   h[n] = exp(Δ·A) · h[n] + Δ · B[t, g, n] · x        A = A[r·N + n] (Mamba) or A[head] (Mamba-2)
//   Y[t·R + r] = (Σ_n h[n] · C[t, g, n] + D[head] · x) · silu(Z[t·zs + r])
// with B[t, g, n] = BC[t·bcs + bOff + g·N + n] and C likewise at cOff. Mamba: a row is a channel
// (rowsPerHead 1, one group); Mamba-2: a row is one of a head's P dimensions. The state S[r·N + n]
// is read before and written after; time runs in order, so a decoded token and a prompt agree.
#define SCAN_PER_LANE 8  // N up to 256
#if PANAMAX_PART_IS(8)
extern "C" __global__ void ssm_scan(const float* X, int xs, const float* dt, int heads, const float* BC, int bcs, int bOff, int cOff,
                                    const float* Z, int zs, const float* A, int aPerRow, const float* D, float* S, float* Y,
                                    int R, int N, int rowsPerHead, int headsPerGroup, int T) {
    pdl_trigger();
    pdl_wait();
    int lane = threadIdx.x & 31, r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (r >= R) return;
    int head = r / rowsPerHead, g = head / headsPerGroup;
    float h[SCAN_PER_LANE], a[SCAN_PER_LANE];
    #pragma unroll
    for (int i = 0; i < SCAN_PER_LANE; i++) {
        int n = lane + WARP * i;
        h[i] = n < N ? S[(size_t) r * N + n] : 0.f;
        a[i] = n < N ? A[aPerRow ? (size_t) r * N + n : head] : 0.f;
    }
    float dd = D[head];
    for (int t = 0; t < T; t++) {
        float x = X[(size_t) t * xs + r], d = dt[(size_t) t * heads + head];
        const float* bt = BC + (size_t) t * bcs + bOff + g * N;
        const float* ct = BC + (size_t) t * bcs + cOff + g * N;
        float acc = 0.f;
        #pragma unroll
        for (int i = 0; i < SCAN_PER_LANE; i++) {
            int n = lane + WARP * i;
            if (n < N) {
                h[i] = expf(d * a[i]) * h[i] + d * bt[n] * x;
                acc += h[i] * ct[n];
            }
        }
        acc = warp_sum(acc);
        if (lane == 0) Y[(size_t) t * R + r] = (acc + dd * x) * silu(Z[(size_t) t * zs + r]);
    }
    #pragma unroll
    for (int i = 0; i < SCAN_PER_LANE; i++) {
        int n = lane + WARP * i;
        if (n < N) S[(size_t) r * N + n] = h[i];
    }
}
#endif

// ---- Gated DeltaNet, gated attention, mixtures of experts (Qwen3-Next) ----

// The gated delta rule over T steps, one block per value head h (key head h / (nv/nk)), a thread per
// state column j < dv (blockDim ≥ max(dk, dv)). Row t of XC holds the conv's output [q (nk·dk) | k (nk·dk)
// | v (nv·dv)]; row t of P holds b, a (one each per value head, at bOff and aOff) and z (nv·dv at zOff):
//   q = l2norm(q)/√dk,  k = l2norm(k),  β = σ(b),  g = aNeg·softplus(a + dtBias)
//   S = e^g·S;  S += k ⊗ β(v − Sᵀk);  o = Sᵀq;   O[t, h] = RMSNorm(o)·normW ⊙ SiLU(z)
// S[h] (dk × dv, row-major) is read and written in place.
#if PANAMAX_PART_IS(9)
extern "C" __global__ void delta_rule(const float* XC, int cs, const float* P, int ps, int bOff, int aOff, int zOff, const float* aNeg,
                                      const float* dtBias, const float* normW, float eps, float* S, float* O, int os, int nk, int nv,
                                      int dk, int dv, int T) {
    pdl_trigger();
    pdl_wait();
    extern __shared__ float qk[]; // q [dk], k [dk]
    int h = blockIdx.x, kh = h / (nv / nk), j = threadIdx.x;
    float* Sh = S + (size_t) h * dk * dv;
    float qscale = (float) (1.0 / sqrt((double) dk));
    for (int t = 0; t < T; t++) {
        const float* xr = XC + (size_t) t * cs;
        const float* pr = P + (size_t) t * ps;
        float qq = 0.f, kk = 0.f;
        for (int i = threadIdx.x; i < dk; i += blockDim.x) {
            float qv = xr[kh * dk + i], kv = xr[nk * dk + kh * dk + i];
            qk[i] = qv;
            qk[dk + i] = kv;
            qq += qv * qv;
            kk += kv * kv;
        }
        float qinv = (float) (1.0 / sqrt((double) (block_sum(qq) + 1e-6f))) * qscale;
        float kinv = (float) (1.0 / sqrt((double) (block_sum(kk) + 1e-6f)));
        float beta = 1.f / (1.f + expf(-pr[bOff + h])), decay = expf(aNeg[h] * softplus(pr[aOff + h] + dtBias[h]));
        float o = 0.f;
        if (j < dv) {
            float kv = 0.f;
            for (int i = 0; i < dk; i++) {
                float s = Sh[(size_t) i * dv + j] * decay;
                Sh[(size_t) i * dv + j] = s;
                kv += s * (qk[dk + i] * kinv);
            }
            float delta = (xr[2 * nk * dk + h * dv + j] - kv) * beta;
            for (int i = 0; i < dk; i++) {
                float s = Sh[(size_t) i * dv + j] + (qk[dk + i] * kinv) * delta;
                Sh[(size_t) i * dv + j] = s;
                o += s * (qk[i] * qinv);
            }
        }
        float inv = (float) (1.0 / sqrt((double) (block_sum(j < dv ? o * o : 0.f) / dv + eps)));
        if (j < dv) O[(size_t) t * os + h * dv + j] = o * inv * normW[j] * silu(pr[zOff + h * dv + j]);
    }
}
#endif

// O[t, i] *= σ(G[t·gs + i]) for T rows of n: gated attention's output gate.
#if PANAMAX_PART_IS(9)
extern "C" __global__ void sigmoid_gate_rows(float* O, const float* G, int gs, int T, int n) {
    pdl_trigger();
    pdl_wait();
    size_t total = (size_t) T * n;
    for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) {
        size_t t = i / n, c = i % n;
        O[i] *= 1.f / (1.f + expf(-G[t * gs + c]));
    }
}
#endif

// Routing, one thread per row t: p = softmax of the E router logits L[t·ls ..], the k largest (ties: the
// lower index, as torch.topk) into sel[t·k + s] with weights w[t·(k+1) + s] (renormalised to sum 1
// with norm), and the shared expert's weight w[t·(k+1) + k]: σ(L[t·ls + E]) (shared 2: gated), 1
// (shared 1) or 0 (none). The i-th pick is the best below the previous one in (p desc, index asc).
#if PANAMAX_PART_IS(9)
extern "C" __global__ void moe_route(const float* L, int ls, int E, int k, int norm, int shared, int* sel, float* w, int T) {
    pdl_trigger();
    pdl_wait();
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= T) return;
    const float* l = L + (size_t) t * ls;
    float mx = NEG_INF, sum = 0.f;
    for (int e = 0; e < E; e++) mx = fmaxf(mx, l[e]);
    for (int e = 0; e < E; e++) sum += expf(l[e] - mx);
    float prevP = 0.f, total = 0.f;
    int prevE = -1;
    for (int s = 0; s < k; s++) {
        int best = -1;
        float bp = 0.f;
        for (int e = 0; e < E; e++) {
            float p = expf(l[e] - mx) / sum;
            bool below = prevE < 0 || p < prevP || (p == prevP && e > prevE);
            if (below && (best < 0 || p > bp)) { best = e; bp = p; }
        }
        sel[t * k + s] = best;
        w[(size_t) t * (k + 1) + s] = bp;
        total += bp;
        prevP = bp;
        prevE = best;
    }
    if (norm) for (int s = 0; s < k; s++) w[(size_t) t * (k + 1) + s] /= total;
    w[(size_t) t * (k + 1) + k] = shared == 2 ? 1.f / (1.f + expf(-l[E])) : shared == 1 ? 1.f : 0.f;
}
#endif

// X[t] += Σ_s w[t, s]·D[t·k + s] + w[t, k]·Dsh[t] (Dsh may be 0): the experts' outputs combined.
#if PANAMAX_PART_IS(9)
extern "C" __global__ void moe_combine(float* X, const float* D, const float* w, const float* Dsh, int k, int d, int T) {
    pdl_trigger();
    pdl_wait();
    size_t total = (size_t) T * d;
    for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) {
        size_t t = i / d, c = i % d;
        const float* wt = w + t * (k + 1);
        float acc = 0.f;
        for (int s = 0; s < k; s++) acc += wt[s] * D[(t * k + s) * d + c];
        if (Dsh != 0) acc += wt[k] * Dsh[t * d + c];
        X[i] += acc;
    }
}
#endif
