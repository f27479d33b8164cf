// Shared helpers for every kernel family: math overloads per dtype and the grid-stride loop.
//
// Only what NVRTC provides is used (no <cmath>, no <cstdint>): the math builtins sqrtf/sqrt,
// tanhf/tanh, expm1f/expm1, expf/exp, log1pf/log1p, erfcf/erfc, and plain integer types. On the
// CPU the same text is compiled by g++ through cpu_shim.h, which defines
// __host__/__device__/__global__ away and supplies float4/double2.
//
// Rounding: these kernels are compiled with fused multiply-add contraction off (NVRTC/nvcc
// `--fmad=false`, g++ `-ffp-contract=off`) so that every + - * / sqrt rounds once, exactly like the
// NumPy twin in nastoolkit/kernels/_numpy.py, which evaluates the same formulas one ufunc at a time.
#pragma once

#define NK_HD __host__ __device__ __forceinline__

// Overloads so a template over T in {float, double} calls the single- or double-precision builtin.
NK_HD float nk_sqrt(float x) { return sqrtf(x); }
NK_HD double nk_sqrt(double x) { return sqrt(x); }
NK_HD float nk_tanh(float x) { return tanhf(x); }
NK_HD double nk_tanh(double x) { return tanh(x); }
NK_HD float nk_expm1(float x) { return expm1f(x); }
NK_HD double nk_expm1(double x) { return expm1(x); }
NK_HD float nk_exp(float x) { return expf(x); }
NK_HD double nk_exp(double x) { return exp(x); }
NK_HD float nk_log1p(float x) { return log1pf(x); }
NK_HD double nk_log1p(double x) { return log1p(x); }
NK_HD float nk_erfc(float x) { return erfcf(x); }
NK_HD double nk_erfc(double x) { return erfc(x); }

// Grid-stride loop bounds for thread (blockIdx.x, threadIdx.x): start at the global thread id and
// step by the total number of threads, so any grid covers any n (the launcher caps the grid size).
__device__ __forceinline__ long long nk_thread_id() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ long long nk_thread_count() {
    return (long long)gridDim.x * blockDim.x;
}

// True when every pointer is 16-byte aligned, so float4/double2 loads of whole vectors are legal.
// The launch-uniform branch costs nothing; views into a flat parameter buffer may be misaligned.
__device__ __forceinline__ bool nk_aligned16(const void* a, const void* b, const void* c,
                                             const void* d) {
    unsigned long long bits = (unsigned long long)a | (unsigned long long)b |
                              (unsigned long long)c | (unsigned long long)d;
    return (bits & 15ull) == 0ull;
}

// Pack<T>: the lanes of one 16-byte vector access (float4 or double2), unpacked into an array so
// the per-element functions run on each lane in registers.
template <typename T> struct Pack;
template <> struct Pack<float> {
    static const int lanes = 4;
    float v[4];
};
template <> struct Pack<double> {
    static const int lanes = 2;
    double v[2];
};

__device__ __forceinline__ Pack<float> nk_load(const float* p, long long j) {
    float4 t = reinterpret_cast<const float4*>(p)[j];
    Pack<float> r;
    r.v[0] = t.x; r.v[1] = t.y; r.v[2] = t.z; r.v[3] = t.w;
    return r;
}
__device__ __forceinline__ void nk_store(float* p, long long j, const Pack<float>& r) {
    float4 t;
    t.x = r.v[0]; t.y = r.v[1]; t.z = r.v[2]; t.w = r.v[3];
    reinterpret_cast<float4*>(p)[j] = t;
}
__device__ __forceinline__ Pack<double> nk_load(const double* p, long long j) {
    double2 t = reinterpret_cast<const double2*>(p)[j];
    Pack<double> r;
    r.v[0] = t.x; r.v[1] = t.y;
    return r;
}
__device__ __forceinline__ void nk_store(double* p, long long j, const Pack<double>& r) {
    double2 t;
    t.x = r.v[0]; t.y = r.v[1];
    reinterpret_cast<double2*>(p)[j] = t;
}
