// Compiled CPU fast path for the in-place optimizer updates (nastoolkit/kernels/_native.py).
//
// Built with g++ -O3 -march=native -fopenmp -ffp-contract=off -include cpu_shim.h, from the very
// element functions the CUDA kernels use (optim.cuh), so CPU and GPU share one statement of each
// rule. Each loop is split over `threads` OpenMP threads (small buffers run on one: waking a team
// costs more than the update) and vectorised over the element function; no FMA contraction, so the
// result rounds like the NumPy twin. Scalars are precomputed in Python (see optim.cuh).
#include "../optim.cuh"

// Below this many elements one thread does it all (a parallel region costs a few microseconds).
static const long long kParallelMin = 1 << 16;

#define NK_PARALLEL_FOR _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= kParallelMin)")

template <typename T>
static void sgd(T* __restrict w, const T* __restrict g, long long n, T decay, T lr, int threads) {
    NK_PARALLEL_FOR
    for (long long i = 0; i < n; ++i) sgd_element(w[i], g[i], decay, lr);
}

template <typename T>
static void momentum(T* __restrict w, const T* __restrict g, T* __restrict velocity, long long n,
                     T decay, T lr, T mu, int nesterov, int threads) {
    if (nesterov) {
        NK_PARALLEL_FOR
        for (long long i = 0; i < n; ++i) momentum_element(w[i], g[i], velocity[i], decay, lr, mu, true);
    } else {
        NK_PARALLEL_FOR
        for (long long i = 0; i < n; ++i) momentum_element(w[i], g[i], velocity[i], decay, lr, mu, false);
    }
}

template <typename T>
static void adam(T* __restrict w, const T* __restrict g, T* __restrict m, T* __restrict v,
                 long long n, T decay, T one_minus_beta_1, T one_minus_beta_2, T eps, T alpha,
                 int threads) {
    NK_PARALLEL_FOR
    for (long long i = 0; i < n; ++i)
        adam_element(w[i], g[i], m[i], v[i], decay, one_minus_beta_1, one_minus_beta_2, eps, alpha);
}

// `velocity` may be null when use_momentum is 0.
template <typename T>
static void rmsprop(T* __restrict w, const T* __restrict g, T* __restrict v, T* __restrict velocity,
                    long long n, T decay, T lr, T rho, T one_minus_rho, T eps, T mom,
                    int use_momentum, int threads) {
    if (use_momentum) {
        NK_PARALLEL_FOR
        for (long long i = 0; i < n; ++i)
            rmsprop_element(w[i], g[i], v[i], velocity[i], decay, lr, rho, one_minus_rho, eps, mom, true);
    } else {
        NK_PARALLEL_FOR
        for (long long i = 0; i < n; ++i) {
            T unused = T(0);
            rmsprop_element(w[i], g[i], v[i], unused, decay, lr, rho, one_minus_rho, eps, mom, false);
        }
    }
}

template <typename T>
static void adagrad(T* __restrict w, const T* __restrict g, T* __restrict acc, long long n, T decay,
                    T lr, T eps, int threads) {
    NK_PARALLEL_FOR
    for (long long i = 0; i < n; ++i) adagrad_element(w[i], g[i], acc[i], decay, lr, eps);
}

// --- extern "C" entry points for ctypes, one per dtype ----------------------------------------

#define NK_NATIVE_ENTRIES(SUFFIX, T)                                                              \
    extern "C" void nk_sgd_##SUFFIX(T* w, const T* g, long long n, T decay, T lr, int threads) {   \
        sgd<T>(w, g, n, decay, lr, threads);                                                      \
    }                                                                                             \
    extern "C" void nk_momentum_##SUFFIX(T* w, const T* g, T* velocity, long long n, T decay,      \
                                         T lr, T mu, int nesterov, int threads) {                 \
        momentum<T>(w, g, velocity, n, decay, lr, mu, nesterov, threads);                         \
    }                                                                                             \
    extern "C" void nk_adam_##SUFFIX(T* w, const T* g, T* m, T* v, long long n, T decay, T b1c,    \
                                     T b2c, T eps, T alpha, int threads) {                        \
        adam<T>(w, g, m, v, n, decay, b1c, b2c, eps, alpha, threads);                             \
    }                                                                                             \
    extern "C" void nk_rmsprop_##SUFFIX(T* w, const T* g, T* v, T* velocity, long long n,          \
                                        T decay, T lr, T rho, T one_minus_rho, T eps, T mom,      \
                                        int use_momentum, int threads) {                          \
        rmsprop<T>(w, g, v, velocity, n, decay, lr, rho, one_minus_rho, eps, mom, use_momentum,   \
                   threads);                                                                      \
    }                                                                                             \
    extern "C" void nk_adagrad_##SUFFIX(T* w, const T* g, T* acc, long long n, T decay, T lr,      \
                                        T eps, int threads) {                                     \
        adagrad<T>(w, g, acc, n, decay, lr, eps, threads);                                        \
    }

NK_NATIVE_ENTRIES(f32, float)
NK_NATIVE_ENTRIES(f64, double)
