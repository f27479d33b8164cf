// Per-element activations and their gradients, written next to each other.
//
// Forward maps the pre-activation z to y = act(z); backward maps (y, dL/dy) to dL/dz using only
// the OUTPUT y, because that is all a dense layer keeps. Codes match ACTIVATION_CODES in
// nastoolkit/kernels/_cuda.py. Softmax is a row operation and lives in dense.cu (row kernels).
// Formulas follow nastoolkit/kernels/_numpy.py operation by operation.
#pragma once
#include "common.cuh"

enum NkActivation {
    NK_LINEAR = 0,
    NK_RELU = 1,
    NK_TANH = 2,
    NK_SIGMOID = 3,
    NK_LEAKY_RELU = 4,  // negative slope 0.2 (Keras 3 default)
    NK_ELU = 5,         // alpha = 1 (Keras default)
};

// y = act(z). Sigmoid as (1 + tanh(z / 2)) / 2: no overflow for large |z|.
template <typename T>
NK_HD T activation_forward_element(int act, T z) {
    switch (act) {
        case NK_RELU: return z < T(0) ? T(0) : z;
        case NK_TANH: return nk_tanh(z);
        case NK_SIGMOID: return (nk_tanh(z * T(0.5)) + T(1)) * T(0.5);
        case NK_LEAKY_RELU: return z < T(0) ? z * T(0.2) : z;
        case NK_ELU: return z < T(0) ? nk_expm1(z) : z;
        default: return z;  // NK_LINEAR
    }
}

// dL/dz = dL/dy * act'(z), with act' written in terms of y = act(z).
template <typename T>
NK_HD T activation_backward_element(int act, T y, T grad_y) {
    switch (act) {
        case NK_RELU: return y > T(0) ? grad_y : T(0);          // 1 where y > 0
        case NK_TANH: return grad_y * (T(1) - y * y);           // 1 - y^2
        case NK_SIGMOID: return grad_y * ((T(1) - y) * y);      // y (1 - y)
        case NK_LEAKY_RELU: return grad_y * (y > T(0) ? T(1) : T(0.2));
        case NK_ELU: {                                          // 1 where y > 0 else y + 1
            T slope = y + T(1);
            return grad_y * (slope < T(1) ? slope : T(1));
        }
        default: return grad_y;  // NK_LINEAR
    }
}

// Softmax pieces per element of row r (the row reductions are done by the caller):
// forward numerator e^(z - max_r); backward y (g - sum_r(g y)).
template <typename T>
NK_HD T softmax_numerator_element(T z, T row_max) { return nk_exp(z - row_max); }

template <typename T>
NK_HD T softmax_backward_element(T y, T grad_y, T row_dot) { return (grad_y - row_dot) * y; }
