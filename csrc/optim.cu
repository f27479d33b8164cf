// Fused in-place optimizer updates: one launch over one flat contiguous buffer per update.
//
// Each entry point is a thin grid-stride loop around an element rule of optim.cuh. Where every
// array is 16-byte aligned the loop moves whole float4/double2 vectors (one 16-byte load or store
// per array per iteration) and a scalar loop finishes the last n mod lanes elements; otherwise the
// whole range runs scalar. Entry points per dtype: <name>_f32 (float, float scalars) and
// <name>_f64 (double, double scalars); scalars are precomputed on the host (see optim.cuh).
#include "optim.cuh"

template <typename T>
__device__ void sgd_loop(T* __restrict__ w, const T* __restrict__ g, long long n, T decay, T lr) {
    const long long first = nk_thread_id(), stride = nk_thread_count();
    long long head = 0;
    if (nk_aligned16(w, g, w, w)) {
        const int L = Pack<T>::lanes;
        const long long vectors = n / L;
        for (long long j = first; j < vectors; j += stride) {
            Pack<T> pw = nk_load(w, j), pg = nk_load(g, j);
            for (int k = 0; k < L; ++k) sgd_element(pw.v[k], pg.v[k], decay, lr);
            nk_store(w, j, pw);
        }
        head = vectors * L;
    }
    for (long long i = head + first; i < n; i += stride) sgd_element(w[i], g[i], decay, lr);
}

template <typename T>
__device__ void momentum_loop(T* __restrict__ w, const T* __restrict__ g, T* __restrict__ velocity,
                              long long n, T decay, T lr, T mu, bool nesterov) {
    const long long first = nk_thread_id(), stride = nk_thread_count();
    long long head = 0;
    if (nk_aligned16(w, g, velocity, w)) {
        const int L = Pack<T>::lanes;
        const long long vectors = n / L;
        for (long long j = first; j < vectors; j += stride) {
            Pack<T> pw = nk_load(w, j), pg = nk_load(g, j), pu = nk_load(velocity, j);
            for (int k = 0; k < L; ++k)
                momentum_element(pw.v[k], pg.v[k], pu.v[k], decay, lr, mu, nesterov);
            nk_store(w, j, pw);
            nk_store(velocity, j, pu);
        }
        head = vectors * L;
    }
    for (long long i = head + first; i < n; i += stride)
        momentum_element(w[i], g[i], velocity[i], decay, lr, mu, nesterov);
}

template <typename T>
__device__ void adam_loop(T* __restrict__ w, const T* __restrict__ g, T* __restrict__ m,
                          T* __restrict__ v, long long n, T decay, T one_minus_beta_1,
                          T one_minus_beta_2, T eps, T alpha) {
    const long long first = nk_thread_id(), stride = nk_thread_count();
    long long head = 0;
    if (nk_aligned16(w, g, m, v)) {
        const int L = Pack<T>::lanes;
        const long long vectors = n / L;
        for (long long j = first; j < vectors; j += stride) {
            Pack<T> pw = nk_load(w, j), pg = nk_load(g, j), pm = nk_load(m, j), pv = nk_load(v, j);
            for (int k = 0; k < L; ++k)
                adam_element(pw.v[k], pg.v[k], pm.v[k], pv.v[k], decay, one_minus_beta_1,
                             one_minus_beta_2, eps, alpha);
            nk_store(w, j, pw);
            nk_store(m, j, pm);
            nk_store(v, j, pv);
        }
        head = vectors * L;
    }
    for (long long i = head + first; i < n; i += stride)
        adam_element(w[i], g[i], m[i], v[i], decay, one_minus_beta_1, one_minus_beta_2, eps, alpha);
}

// `velocity` is only touched when use_momentum is set (the launcher passes w as a stand-in).
template <typename T>
__device__ void rmsprop_loop(T* __restrict__ w, const T* __restrict__ g, T* __restrict__ v,
                             T* velocity, long long n, T decay, T lr, T rho, T one_minus_rho,
                             T eps, T momentum, bool use_momentum) {
    const long long first = nk_thread_id(), stride = nk_thread_count();
    long long head = 0;
    if (nk_aligned16(w, g, v, velocity)) {
        const int L = Pack<T>::lanes;
        const long long vectors = n / L;
        for (long long j = first; j < vectors; j += stride) {
            Pack<T> pw = nk_load(w, j), pg = nk_load(g, j), pv = nk_load(v, j), pu = {};
            if (use_momentum) pu = nk_load(velocity, j);
            for (int k = 0; k < L; ++k)
                rmsprop_element(pw.v[k], pg.v[k], pv.v[k], pu.v[k], decay, lr, rho, one_minus_rho,
                                eps, momentum, use_momentum);
            nk_store(w, j, pw);
            nk_store(v, j, pv);
            if (use_momentum) nk_store(velocity, j, pu);
        }
        head = vectors * L;
    }
    for (long long i = head + first; i < n; i += stride) {
        T unused = T(0);
        rmsprop_element(w[i], g[i], v[i], use_momentum ? velocity[i] : unused, decay, lr, rho,
                        one_minus_rho, eps, momentum, use_momentum);
    }
}

template <typename T>
__device__ void adagrad_loop(T* __restrict__ w, const T* __restrict__ g, T* __restrict__ acc,
                             long long n, T decay, T lr, T eps) {
    const long long first = nk_thread_id(), stride = nk_thread_count();
    long long head = 0;
    if (nk_aligned16(w, g, acc, w)) {
        const int L = Pack<T>::lanes;
        const long long vectors = n / L;
        for (long long j = first; j < vectors; j += stride) {
            Pack<T> pw = nk_load(w, j), pg = nk_load(g, j), pa = nk_load(acc, j);
            for (int k = 0; k < L; ++k) adagrad_element(pw.v[k], pg.v[k], pa.v[k], decay, lr, eps);
            nk_store(w, j, pw);
            nk_store(acc, j, pa);
        }
        head = vectors * L;
    }
    for (long long i = head + first; i < n; i += stride)
        adagrad_element(w[i], g[i], acc[i], decay, lr, eps);
}

// --- extern "C" entry points: NK_OPTIM_ENTRIES(S, T) writes <name>_S for element type T -------
// (one statement of each signature, as cpu/native_optim.cpp; nastoolkit.kernels._sources
// .entry_points reads them for the launch checks)

#define NK_OPTIM_ENTRIES(S, T)                                                                    \
    extern "C" __global__ void sgd_update_##S(T* w, const T* g, long long n, T decay, T lr) {    \
        sgd_loop<T>(w, g, n, decay, lr);                                                          \
    }                                                                                             \
    extern "C" __global__ void momentum_update_##S(T* w, const T* g, T* velocity, long long n,   \
                                                   T decay, T lr, T mu, int nesterov) {          \
        momentum_loop<T>(w, g, velocity, n, decay, lr, mu, nesterov != 0);                        \
    }                                                                                             \
    extern "C" __global__ void adam_update_##S(T* w, const T* g, T* m, T* v, long long n,        \
                                               T decay, T one_minus_beta_1, T one_minus_beta_2,  \
                                               T eps, T alpha) {                                 \
        adam_loop<T>(w, g, m, v, n, decay, one_minus_beta_1, one_minus_beta_2, eps, alpha);       \
    }                                                                                             \
    extern "C" __global__ void rmsprop_update_##S(T* w, const T* g, T* v, T* velocity,           \
                                                  long long n, T decay, T lr, T rho,             \
                                                  T one_minus_rho, T eps, T momentum,            \
                                                  int use_momentum) {                            \
        rmsprop_loop<T>(w, g, v, velocity, n, decay, lr, rho, one_minus_rho, eps, momentum,      \
                        use_momentum != 0);                                                       \
    }                                                                                             \
    extern "C" __global__ void adagrad_update_##S(T* w, const T* g, T* acc, long long n,         \
                                                  T decay, T lr, T eps) {                        \
        adagrad_loop<T>(w, g, acc, n, decay, lr, eps);                                            \
    }

NK_OPTIM_ENTRIES(f32, float)
NK_OPTIM_ENTRIES(f64, double)
