// Dense-layer elementwise kernels: the fused bias + activation after the GEMM, the activation
// gradient before the backward GEMMs, and the per-element halves of softmax (whose row max, row
// sum and row dot product are CuPy reductions in the launcher).
//
// Layout: row-major (rows, cols) buffers, C-contiguous; element i is in row i / cols, column
// i % cols. Entry points per dtype: <name>_f32 / <name>_f64. Input and output may alias (in place).
#include "activations.cuh"

// y[r, c] = act(z[r, c] + bias[c]); bias is ignored (may be any pointer) when has_bias == 0.
// With keep_pre, pre[r, c] = z[r, c] + bias[c] is stored too (the pre-activation that GELU and
// SiLU gradients read); pre may be z itself. z and y may alias.
template <typename T>
__device__ void bias_activation_loop(const T* z, const T* bias, T* y, T* pre, long long rows,
                                     long long cols, int has_bias, int keep_pre, int act) {
    const long long n = rows * cols, stride = nk_thread_count();
    for (long long i = nk_thread_id(); i < n; i += stride) {
        T value = has_bias ? z[i] + bias[i % cols] : z[i];
        if (keep_pre) pre[i] = value;
        y[i] = activation_forward_element(act, value);
    }
}

// grad_z[i] = grad_y[i] act'(z[i]) from y[i] (and z[i], read only for GELU and SiLU; the
// launcher passes y in its place otherwise); grad_z may alias grad_y.
template <typename T>
__device__ void activation_grad_loop(const T* y, const T* z, const T* grad_y, T* grad_z,
                                     long long n, int act) {
    const long long stride = nk_thread_count();
    for (long long i = nk_thread_id(); i < n; i += stride)
        grad_z[i] = activation_backward_element(act, y[i], z[i], grad_y[i]);
}

// out[r, c] = e^(z[r, c] - row_max[r]); the caller divides by the row sums afterwards.
template <typename T>
__device__ void softmax_numerator_loop(const T* z, const T* row_max, T* out, long long rows,
                                       long long cols) {
    const long long n = rows * cols, stride = nk_thread_count();
    for (long long i = nk_thread_id(); i < n; i += stride)
        out[i] = softmax_numerator_element(z[i], row_max[i / cols]);
}

// grad_z[r, c] = y[r, c] (grad_y[r, c] - row_dot[r]), row_dot[r] = sum_c grad_y[r, c] y[r, c].
template <typename T>
__device__ void softmax_grad_loop(const T* y, const T* grad_y, const T* row_dot, T* grad_z,
                                  long long rows, long long cols) {
    const long long n = rows * cols, stride = nk_thread_count();
    for (long long i = nk_thread_id(); i < n; i += stride)
        grad_z[i] = softmax_backward_element(y[i], grad_y[i], row_dot[i / cols]);
}

// --- extern "C" entry points: NK_DENSE_ENTRIES(S, T) writes <name>_S for element type T -------
// (nastoolkit.kernels._sources.entry_points reads these signatures for the launch checks)

#define NK_DENSE_ENTRIES(S, T)                                                                    \
    extern "C" __global__ void bias_activation_##S(const T* z, const T* bias, T* y, T* pre,      \
                                                   long long rows, long long cols, int has_bias, \
                                                   int keep_pre, int act) {                      \
        bias_activation_loop<T>(z, bias, y, pre, rows, cols, has_bias, keep_pre, act);           \
    }                                                                                             \
    extern "C" __global__ void activation_grad_##S(const T* y, const T* z, const T* grad_y,      \
                                                   T* grad_z, long long n, int act) {            \
        activation_grad_loop<T>(y, z, grad_y, grad_z, n, act);                                    \
    }                                                                                             \
    extern "C" __global__ void softmax_numerator_##S(const T* z, const T* row_max, T* out,       \
                                                     long long rows, long long cols) {           \
        softmax_numerator_loop<T>(z, row_max, out, rows, cols);                                   \
    }                                                                                             \
    extern "C" __global__ void softmax_grad_##S(const T* y, const T* grad_y, const T* row_dot,   \
                                                T* grad_z, long long rows, long long cols) {     \
        softmax_grad_loop<T>(y, grad_y, row_dot, grad_z, rows, cols);                             \
    }

NK_DENSE_ENTRIES(f32, float)
NK_DENSE_ENTRIES(f64, double)
