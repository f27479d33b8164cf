// Inverted dropout with a counter-based mask (see dropout.cuh): out = x mask, mask = keep scale,
// scale = 1 / (1 - rate) rounded to the dtype. Writes the mask too, because backward multiplies
// the incoming gradient by it. Entry points per dtype: dropout_f32 / dropout_f64.
#include "dropout.cuh"

template <typename T>
__device__ void dropout_loop(const T* x, T* out, T* mask, long long n, unsigned int key,
                             unsigned int threshold, T scale) {
    const long long stride = nk_thread_count();
    for (long long i = nk_thread_id(); i < n; i += stride) {
        T keep = dropout_keep_element((unsigned int)i, key, threshold) ? scale : T(0);
        mask[i] = keep;
        out[i] = x[i] * keep;
    }
}

extern "C" __global__ void dropout_f32(const float* x, float* out, float* mask, long long n,
                                       unsigned int key, unsigned int threshold, float scale) {
    dropout_loop<float>(x, out, mask, n, key, threshold, scale);
}

extern "C" __global__ void dropout_f64(const double* x, double* out, double* mask, long long n,
                                       unsigned int key, unsigned int threshold, double scale) {
    dropout_loop<double>(x, out, mask, n, key, threshold, scale);
}
