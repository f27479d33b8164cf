// Dense-layer elementwise kernels: the fused bias + activation after the GEMM, the activation
// gradient before the backward GEMMs, and the per-element halves of softmax (whose row max, row
// sum and row dot product are CuPy reductions in the launcher).
//
// Layout: row-major (rows, cols) buffers, C-contiguous; element i is in row i / cols, column
// i % cols. Entry points per dtype: <name>_f32 / <name>_f64. Input and output may alias (in place).
#include "activations.cuh"

// y[r, c] = act(z[r, c] + bias[c]); bias is ignored (may be any pointer) when has_bias == 0.
template <typename T>
__device__ void bias_activation_loop(const T* z, const T* bias, T* y, long long rows,
                                     long long cols, int has_bias, int act) {
    const long long n = rows * cols, stride = nk_thread_count();
    for (long long i = nk_thread_id(); i < n; i += stride) {
        T pre = has_bias ? z[i] + bias[i % cols] : z[i];
        y[i] = activation_forward_element(act, pre);
    }
}

// grad_z[i] = grad_y[i] act'(z[i]) from y[i]; grad_z may alias grad_y.
template <typename T>
__device__ void activation_grad_loop(const T* y, const T* grad_y, T* grad_z, long long n, int act) {
    const long long stride = nk_thread_count();
    for (long long i = nk_thread_id(); i < n; i += stride)
        grad_z[i] = activation_backward_element(act, y[i], grad_y[i]);
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

// --- extern "C" entry points, one per dtype ------------------------------------------------

extern "C" __global__ void bias_activation_f32(const float* z, const float* bias, float* y,
                                               long long rows, long long cols, int has_bias,
                                               int act) {
    bias_activation_loop<float>(z, bias, y, rows, cols, has_bias, act);
}

extern "C" __global__ void bias_activation_f64(const double* z, const double* bias, double* y,
                                               long long rows, long long cols, int has_bias,
                                               int act) {
    bias_activation_loop<double>(z, bias, y, rows, cols, has_bias, act);
}

extern "C" __global__ void activation_grad_f32(const float* y, const float* grad_y, float* grad_z,
                                               long long n, int act) {
    activation_grad_loop<float>(y, grad_y, grad_z, n, act);
}

extern "C" __global__ void activation_grad_f64(const double* y, const double* grad_y,
                                               double* grad_z, long long n, int act) {
    activation_grad_loop<double>(y, grad_y, grad_z, n, act);
}

extern "C" __global__ void softmax_numerator_f32(const float* z, const float* row_max, float* out,
                                                 long long rows, long long cols) {
    softmax_numerator_loop<float>(z, row_max, out, rows, cols);
}

extern "C" __global__ void softmax_numerator_f64(const double* z, const double* row_max,
                                                 double* out, long long rows, long long cols) {
    softmax_numerator_loop<double>(z, row_max, out, rows, cols);
}

extern "C" __global__ void softmax_grad_f32(const float* y, const float* grad_y,
                                            const float* row_dot, float* grad_z, long long rows,
                                            long long cols) {
    softmax_grad_loop<float>(y, grad_y, row_dot, grad_z, rows, cols);
}

extern "C" __global__ void softmax_grad_f64(const double* y, const double* grad_y,
                                            const double* row_dot, double* grad_z, long long rows,
                                            long long cols) {
    softmax_grad_loop<double>(y, grad_y, row_dot, grad_z, rows, cols);
}
