// Panamax's CUDA kernels. Compiled at run time by NVRTC for the device's compute capability
// (CudaContext.module); no headers, so half floats go through PTX conversions.
//
// Weight formats on the device (DeviceMatrix.java uploads them; one row per output):
//   FMT 0  F32   float   [rows × cols]
//   FMT 1  F16   half    [rows × cols]
//   FMT 3  Q8_0  int8 codes [rows × cols], then half scales [rows × cols/32]    (w = d · q)
//   FMT 4  Q4_0  nibbles [rows × cols/2], 16 bytes per 32-block as in GGUF (byte j: low nibble is
//                element j, high nibble element j+16), then half scales [rows × cols/32]  (w = d · (q − 8))
// The GGUF blocks are split into codes and scales at upload so every load is aligned.
//
// Positions are read from device memory (P[0] = position of the first new token, P[1] = the token
// of a decode step), so one captured CUDA graph replays every decode step.

#define WARP 32
#define MV_WARPS 8
#define NEG_INF (-__int_as_float(0x7f800000))

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

// One element of a matrix in any device format (embedding rows, dequantisation).
template <int FMT>
__device__ __forceinline__ float element(const void* W, size_t rows, int cols, size_t r, int c) {
    if (FMT == 0) return ((const float*) W)[r * cols + c];
    if (FMT == 1) return h2f(((const unsigned short*) W)[r * cols + c]);
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
    int tok = tokens[blockIdx.x];
    for (int c = threadIdx.x; c < cols; c += blockDim.x) X[(size_t) blockIdx.x * cols + c] = element<FMT>(W, rows, cols, tok, c);
}
extern "C" __global__ void embed_f32(const void* W, int rows, int cols, const int* tokens, float* X) { embed<0>(W, rows, cols, tokens, X); }
extern "C" __global__ void embed_f16(const void* W, int rows, int cols, const int* tokens, float* X) { embed<1>(W, rows, cols, tokens, X); }
extern "C" __global__ void embed_q8_0(const void* W, int rows, int cols, const int* tokens, float* X) { embed<3>(W, rows, cols, tokens, X); }
extern "C" __global__ void embed_q4_0(const void* W, int rows, int cols, const int* tokens, float* X) { embed<4>(W, rows, cols, tokens, X); }

// out = half(W) for cuBLAS (prompt GEMMs on quantized weights); grid-stride over all elements.
template <int FMT>
__device__ void dequant_f16(const void* W, int rows, int cols, unsigned short* out) {
    size_t n = (size_t) rows * cols;
    for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x) {
        out[i] = f2h(element<FMT>(W, rows, cols, i / cols, (int) (i % cols)));
    }
}
extern "C" __global__ void dequant_q8_0_f16(const void* W, int rows, int cols, unsigned short* out) { dequant_f16<3>(W, rows, cols, out); }
extern "C" __global__ void dequant_q4_0_f16(const void* W, int rows, int cols, unsigned short* out) { dequant_f16<4>(W, rows, cols, out); }

// ---- matrix × vector (decode) ----
//
// y[r] = (accumulate ? y[r] : 0) + bias[r] + Σ_c W[r, c] · in[c], one warp per row, MV_WARPS rows per
// block. The input is first staged in shared memory, transformed on the way:
//   act 0: in = x;   act 1: in[c] = silu(x[c]) · x[cols + c];   act 2: in[c] = relu(x[c])² · x[cols + c]
// then, when nw is given, RMS-normalised: in[c] · rstd · nw[c] (the layer's RMSNorm fused in).

__device__ void stage_input(const float* x, const float* nw, int cols, int act, float eps, float* xs) {
    float ss = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = x[c];
        if (act == 1) v = silu(v) * x[cols + c];
        else if (act == 2) { float r = fmaxf(v, 0.f); v = r * r * x[cols + c]; }
        xs[c] = v;
        ss += v * v;
    }
    if (nw != 0) {
        float total = block_sum(ss);
        float inv = (float) (1.0 / sqrt((double) (total / cols + eps)));
        for (int c = threadIdx.x; c < cols; c += blockDim.x) xs[c] = xs[c] * inv * nw[c];
    }
    __syncthreads();
}

template <int FMT>
__device__ float row_dot(const void* W, int rows, int cols, int r, const float* xs, int lane) {
    float acc = 0.f;
    if (FMT == 0) {
        const float* w = (const float*) W + (size_t) r * cols;
        if ((cols & 3) == 0) {
            #pragma unroll 4
            for (int c = lane * 4; c < cols; c += 128) {
                float4 a = *(const float4*) (w + c);
                float4 b = *(const float4*) (xs + c);
                acc += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
            }
        } else {
            for (int c = lane; c < cols; c += WARP) acc += w[c] * xs[c];
        }
    } else if (FMT == 1) {
        const unsigned short* w = (const unsigned short*) W + (size_t) r * cols;
        if ((cols & 7) == 0) {
            #pragma unroll 4
            for (int c = lane * 8; c < cols; c += 256) {
                uint4 u = *(const uint4*) (w + c);
                const float* b = xs + c;
                acc += h2f(u.x & 0xffff) * b[0] + h2f(u.x >> 16) * b[1] + h2f(u.y & 0xffff) * b[2] + h2f(u.y >> 16) * b[3]
                     + h2f(u.z & 0xffff) * b[4] + h2f(u.z >> 16) * b[5] + h2f(u.w & 0xffff) * b[6] + h2f(u.w >> 16) * b[7];
            }
        } else {
            for (int c = lane; c < cols; c += WARP) acc += h2f(w[c]) * xs[c];
        }
    } else if (FMT == 3) {
        const signed char* q = (const signed char*) W + (size_t) r * cols;
        const unsigned short* sc = (const unsigned short*) ((const char*) W + (size_t) rows * cols) + (size_t) r * (cols / 32);
        #pragma unroll 2
        for (int c = lane * 16; c < cols; c += 512) {
            int4 u = *(const int4*) (q + c);
            const float* b = xs + c;
            int words[4] = {u.x, u.y, u.z, u.w};
            float s = 0.f;
            #pragma unroll
            for (int k = 0; k < 4; k++) {
                int v = words[k];
                s += (float) (signed char) (v) * b[4 * k] + (float) (signed char) (v >> 8) * b[4 * k + 1]
                   + (float) (signed char) (v >> 16) * b[4 * k + 2] + (float) (signed char) (v >> 24) * b[4 * k + 3];
            }
            acc += s * h2f(sc[c / 32]);
        }
    } else if (FMT == 4) {
        const unsigned char* q = (const unsigned char*) W + (size_t) r * (cols / 2);
        const unsigned short* sc = (const unsigned short*) ((const char*) W + (size_t) rows * cols / 2) + (size_t) r * (cols / 32);
        int blocks = cols / 32;
        #pragma unroll 2
        for (int blk = lane; blk < blocks; blk += WARP) {
            uint4 u = *(const uint4*) (q + blk * 16);
            const float* b = xs + blk * 32;
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
            acc += s * h2f(sc[blk]);
        }
    }
    return warp_sum(acc);
}

template <int FMT>
__device__ void matvec(const void* W, int rows, int cols, const float* x, const float* nw, int act, float eps,
                       const float* bias, float* y, int accumulate) {
    extern __shared__ float xs[];
    stage_input(x, nw, cols, act, eps, xs);
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int r = blockIdx.x * MV_WARPS + warp;
    if (r >= rows) return;
    float v = row_dot<FMT>(W, rows, cols, r, xs, lane);
    if (lane == 0) {
        if (bias != 0) v += bias[r];
        y[r] = accumulate ? y[r] + v : v;
    }
}

#define MATVEC(name, FMT) \
extern "C" __global__ void name(const void* W, int rows, int cols, const float* x, const float* nw, int act, float eps, \
                                const float* bias, float* y, int accumulate) { \
    matvec<FMT>(W, rows, cols, x, nw, act, eps, bias, y, accumulate); \
}
MATVEC(matvec_f32, 0)
MATVEC(matvec_f16, 1)
MATVEC(matvec_q8_0, 3)
MATVEC(matvec_q4_0, 4)

// ---- rows (prompt) ----

// out[t] = x[t] · rstd · w, and/or its half-float copy; one block per row.
extern "C" __global__ void rmsnorm_rows(const float* x, const float* w, float* out, unsigned short* out16, int cols, float eps) {
    const float* xr = x + (size_t) blockIdx.x * cols;
    float ss = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) ss += xr[c] * xr[c];
    float total = block_sum(ss);
    float inv = (float) (1.0 / sqrt((double) (total / cols + eps)));
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = xr[c] * inv * w[c];
        if (out != 0) out[(size_t) blockIdx.x * cols + c] = v;
        if (out16 != 0) out16[(size_t) blockIdx.x * cols + c] = f2h(v);
    }
}

// H[t, c] = act(GU[t, c]) · GU[t, f + c] (gate and up side by side in each row), and its half copy.
extern "C" __global__ void gate_rows(const float* gu, float* h, unsigned short* h16, int T, int f, int act) {
    size_t n = (size_t) T * f;
    for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x) {
        size_t t = i / f, c = i % f;
        float g = gu[t * 2 * f + c], u = gu[t * 2 * f + f + c];
        float a = act == 2 ? fmaxf(g, 0.f) * fmaxf(g, 0.f) : silu(g);
        float v = a * u;
        if (h != 0) h[i] = v;
        if (h16 != 0) h16[i] = f2h(v);
    }
}

extern "C" __global__ void f32_to_f16(const float* x, unsigned short* y, long long n) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) y[i] = f2h(x[i]);
}

extern "C" __global__ void add_bias_rows(float* y, const float* b, int T, int n) {
    size_t total = (size_t) T * n;
    for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) y[i] += b[i % n];
}

// ---- attention ----

// Per-head RMSNorm (Qwen3, when qn/kn are given), RoPE on q and k, and k, v into the cache at their
// positions. qkv rows hold [q (heads·hd) | k (kvHeads·hd) | v (kvHeads·hd)]; one warp per head.
extern "C" __global__ void rope_store(float* qkv, int stride, float* kc, float* vc, const float* invFreq, const float* qn,
                                      const float* kn, const int* P, int heads, int kvHeads, int hd, int interleaved, float eps) {
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int hh = blockIdx.x * (blockDim.x >> 5) + warp;
    if (hh >= heads + kvHeads) return;
    int t = blockIdx.y, pos = P[0] + t, qDim = heads * hd, kvDim = kvHeads * hd;
    float* row = qkv + (size_t) t * stride;
    bool isK = hh >= heads;
    float* x = isK ? row + qDim + (hh - heads) * hd : row + hh * hd;
    const float* nw = isK ? kn : qn;
    if (nw != 0) {
        float ss = 0.f;
        for (int d = lane; d < hd; d += WARP) ss += x[d] * x[d];
        ss = warp_sum(ss);
        float inv = (float) (1.0 / sqrt((double) (ss / hd + eps)));
        __syncwarp();
        for (int d = lane; d < hd; d += WARP) x[d] = x[d] * inv * nw[d];
        __syncwarp();
    }
    int half = hd / 2;
    for (int j = lane; j < half; j += WARP) {
        int i0 = interleaved ? 2 * j : j, i1 = interleaved ? 2 * j + 1 : j + half;
        double angle = (double) (float) pos * (double) invFreq[j];
        float c = (float) cos(angle), s = (float) sin(angle);
        float x0 = x[i0], x1 = x[i1];
        x[i0] = x0 * c - x1 * s;
        x[i1] = x1 * c + x0 * s;
    }
    if (isK) {
        __syncwarp();
        int kh = hh - heads;
        float* kd = kc + (size_t) pos * kvDim + kh * hd;
        float* vd = vc + (size_t) pos * kvDim + kh * hd;
        const float* v = row + qDim + kvDim + kh * hd;
        for (int d = lane; d < hd; d += WARP) {
            kd[d] = x[d];
            vd[d] = v[d];
        }
    }
}

#define ATT_WARPS 4
#define ATT_MAX_PER_LANE 8  // head size up to 256

// Flash-decoding, first half: block (h, s, t) takes query head h of row t over the s-th chunk of the
// keys row t sees (positions start..n−1, n = P[0]+t+1, start = n − window when windowed) and writes
// the chunk's running max m, sum l and unnormalised Σ softmax-weight · v to part. Each warp takes
// every ATT_WARPS-th key with an online softmax; the warps are merged at the end.
extern "C" __global__ void attention_partial(const float* qkv, int stride, const float* kc, const float* vc, float* part,
                                             const int* P, int heads, int kvHeads, int hd, int window, int chunk, int nsplit,
                                             float scale) {
    int h = blockIdx.x, s = blockIdx.y, t = blockIdx.z;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int n = P[0] + t + 1;
    int start = window > 0 ? max(0, n - window) : 0;
    int s0 = start + s * chunk, s1 = min(s0 + chunk, n);
    int kvDim = kvHeads * hd, kh = h / (heads / kvHeads);
    const float* q = qkv + (size_t) t * stride + h * hd;
    float qr[ATT_MAX_PER_LANE], acc[ATT_MAX_PER_LANE];
    #pragma unroll
    for (int i = 0; i < ATT_MAX_PER_LANE; i++) {
        int d = lane + WARP * i;
        qr[i] = d < hd ? q[d] : 0.f;
        acc[i] = 0.f;
    }
    float m = NEG_INF, l = 0.f;
    for (int p = s0 + warp; p < s1; p += ATT_WARPS) {
        const float* kp = kc + (size_t) p * kvDim + kh * hd;
        float dot = 0.f;
        #pragma unroll
        for (int i = 0; i < ATT_MAX_PER_LANE; i++) {
            int d = lane + WARP * i;
            if (d < hd) dot += qr[i] * kp[d];
        }
        dot = warp_sum(dot) * scale;
        float mn = fmaxf(m, dot);
        float corr = m == NEG_INF ? 0.f : expf(m - mn), w = expf(dot - mn);
        l = l * corr + w;
        const float* vp = vc + (size_t) p * kvDim + kh * hd;
        #pragma unroll
        for (int i = 0; i < ATT_MAX_PER_LANE; i++) {
            int d = lane + WARP * i;
            if (d < hd) acc[i] = acc[i] * corr + w * vp[d];
        }
        m = mn;
    }
    __shared__ float sm[ATT_WARPS], sl[ATT_WARPS], sacc[ATT_WARPS][WARP * ATT_MAX_PER_LANE];
    if (lane == 0) { sm[warp] = m; sl[warp] = l; }
    #pragma unroll
    for (int i = 0; i < ATT_MAX_PER_LANE; i++) {
        int d = lane + WARP * i;
        if (d < hd) sacc[warp][d] = acc[i];
    }
    __syncthreads();
    float M = NEG_INF;
    for (int w = 0; w < ATT_WARPS; w++) M = fmaxf(M, sm[w]);
    float* out = part + (((size_t) t * heads + h) * nsplit + s) * (hd + 2);
    float L = 0.f;
    for (int w = 0; w < ATT_WARPS; w++) if (sm[w] != NEG_INF) L += sl[w] * expf(sm[w] - M);
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float a = 0.f;
        for (int w = 0; w < ATT_WARPS; w++) if (sm[w] != NEG_INF) a += sacc[w][d] * expf(sm[w] - M);
        out[2 + d] = a;
    }
    if (threadIdx.x == 0) { out[0] = M; out[1] = L; }
}

// Flash-decoding, second half: merges the chunks of (head h, row t) into out[t, h·hd ..].
extern "C" __global__ void attention_merge(const float* part, float* out, int heads, int hd, int nsplit) {
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
        out[(size_t) t * heads * hd + h * hd + d] = a / L;
    }
}
