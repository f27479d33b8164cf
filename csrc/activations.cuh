// Per-element activations, each forward step beside its derivative (the table of
// nastoolkit/kernels/_numpy.py, operation by operation).
//
// Forward maps the pre-activation z to y = act(z); backward maps (y, z, dL/dy) to dL/dz. The
// derivative is written with the OUTPUT y wherever y determines it, because that is all a dense
// layer keeps; GELU and SiLU cannot be (their outputs do not determine z) and read z, which the
// launcher passes only for them (kernels.NEEDS_PREACTIVATION; z is y's stand-in otherwise). Codes
// match ACTIVATION_CODES in nastoolkit/kernels/_cuda.py. Softmax is a row operation and lives in
// dense.cu (row kernels).
#pragma once
#include "common.cuh"

enum NkActivation {
    NK_LINEAR = 0,
    NK_RELU = 1,
    NK_TANH = 2,
    NK_SIGMOID = 3,
    NK_LEAKY_RELU = 4,    // negative slope 0.2 (Keras 3 default)
    NK_ELU = 5,           // alpha = 1 (Keras default)
    NK_SELU = 6,
    NK_GELU = 7,          // exact (erf) form, Keras's default; needs z
    NK_SILU = 8,          // also named swish; needs z
    NK_SOFTPLUS = 9,
    NK_SOFTSIGN = 10,
    NK_HARD_SIGMOID = 11, // Keras 3: relu6(z + 3) / 6
    NK_EXPONENTIAL = 12,
};

#define NK_SELU_ALPHA 1.6732632423543772848170429916717
#define NK_SELU_SCALE 1.0507009873554804934193349852946
#define NK_SQRT_HALF 0.7071067811865476    // 1 / sqrt(2)
#define NK_INV_SQRT_2PI 0.3989422804014327 // 1 / sqrt(2 pi)

// sigmoid(z) = (1 + tanh(z / 2)) / 2: no overflow for large |z|.
template <typename T>
NK_HD T nk_sigmoid(T z) { return (nk_tanh(z * T(0.5)) + T(1)) * T(0.5); }

// sigmoid(z) to full relative accuracy for z < 0 too (SiLU multiplies it by z):
// (1 or e^-|z|) / (1 + e^-|z|).
template <typename T>
NK_HD T nk_sigmoid_accurate(T z) {
    T e = nk_exp(-(z < T(0) ? -z : z));
    return (z >= T(0) ? T(1) : e) / (e + T(1));
}

// Phi(z) = erfc(-z / sqrt 2) / 2, the standard normal CDF, accurate in both tails.
template <typename T>
NK_HD T nk_normal_cdf(T z) { return nk_erfc(z * T(-NK_SQRT_HALF)) * T(0.5); }

// y = act(z).
template <typename T>
NK_HD T activation_forward_element(int act, T z) {
    switch (act) {
        case NK_RELU: return z < T(0) ? T(0) : z;
        case NK_TANH: return nk_tanh(z);
        case NK_SIGMOID: return nk_sigmoid(z);
        case NK_LEAKY_RELU: return z < T(0) ? z * T(0.2) : z;
        case NK_ELU: return z < T(0) ? nk_expm1(z) : z;
        case NK_SELU: return (z < T(0) ? nk_expm1(z) * T(NK_SELU_ALPHA) : z) * T(NK_SELU_SCALE);
        case NK_GELU: return z * nk_normal_cdf(z);
        case NK_SILU: return z * nk_sigmoid_accurate(z);
        case NK_SOFTPLUS: {  // max(z, 0) + log1p(e^-|z|): no overflow
            T a = z < T(0) ? -z : z;
            return (z < T(0) ? T(0) : z) + nk_log1p(nk_exp(-a));
        }
        case NK_SOFTSIGN: return z / ((z < T(0) ? -z : z) + T(1));
        case NK_HARD_SIGMOID: {
            T y = z * T(1.0 / 6.0) + T(0.5);
            return y < T(0) ? T(0) : (y > T(1) ? T(1) : y);
        }
        case NK_EXPONENTIAL: return nk_exp(z);
        default: return z;  // NK_LINEAR
    }
}

// dL/dz = dL/dy * act'(z), with act' written in terms of y = act(z) (z only for GELU and SiLU).
template <typename T>
NK_HD T activation_backward_element(int act, T y, T z, T grad_y) {
    switch (act) {
        case NK_RELU: return y > T(0) ? grad_y : T(0);          // 1 where y > 0
        case NK_TANH: return grad_y * (T(1) - y * y);           // 1 - y^2
        case NK_SIGMOID: return grad_y * ((T(1) - y) * y);      // y (1 - y)
        case NK_LEAKY_RELU: return grad_y * (y > T(0) ? T(1) : T(0.2));
        case NK_ELU: {                                          // 1 where y > 0 else y + 1
            T slope = y + T(1);
            return grad_y * (slope < T(1) ? slope : T(1));
        }
        case NK_SELU:                                           // scale, or y + scale alpha
            return grad_y * (y > T(0) ? T(NK_SELU_SCALE) : y + T(NK_SELU_SCALE * NK_SELU_ALPHA));
        case NK_GELU:                                           // Phi(z) + z phi(z)
            return grad_y * (nk_normal_cdf(z) + z * nk_exp(T(-0.5) * z * z) * T(NK_INV_SQRT_2PI));
        case NK_SILU: {                                         // s (1 + z (1 - s)), s = sigmoid
            T s = nk_sigmoid_accurate(z);
            return grad_y * (((T(1) - s) * z + T(1)) * s);
        }
        case NK_SOFTPLUS: return grad_y * -nk_expm1(-y);       // sigmoid(z) = 1 - e^-y
        case NK_SOFTSIGN: {                                     // (1 - |y|)^2
            T t = T(1) - (y < T(0) ? -y : y);
            return grad_y * (t * t);
        }
        case NK_HARD_SIGMOID:                                   // 1/6 inside (0, 1)
            return (y > T(0) && y < T(1)) ? grad_y * T(1.0 / 6.0) : T(0);
        case NK_EXPONENTIAL: return grad_y * y;                 // e^z = y
        default: return grad_y;  // NK_LINEAR
    }
}

// Softmax pieces per element of row r (the row reductions are done by the caller):
// forward numerator e^(z - max_r); backward y (g - sum_r(g y)).
template <typename T>
NK_HD T softmax_numerator_element(T z, T row_max) { return nk_exp(z - row_max); }

template <typename T>
NK_HD T softmax_backward_element(T y, T grad_y, T row_dot) { return (grad_y - row_dot) * y; }
