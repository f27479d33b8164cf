// Per-element optimizer update rules (Keras 3 forms), shared by the CUDA kernels in optim.cu, the
// CPU shim tests and the compiled CPU fast path (cpu/native_optim.cpp).
//
// Each function updates one parameter w and its state in place. Scalars arrive precomputed on the
// host in the array's dtype (nastoolkit/kernels/_native.py, *_scalars): `decay` = 1 - weight_decay lr
// (decoupled weight decay, Keras: w -= w weight_decay lr, before the update), and the Adam step
// size alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t). The order of operations is exactly that of
// nastoolkit/kernels/_numpy.py, so with contraction off both round identically.
#pragma once
#include "common.cuh"

// w <- w - lr g
template <typename T>
NK_HD void sgd_element(T& w, T g, T decay, T lr) {
    w = w * decay;
    w = w - g * lr;
}

// velocity <- mu velocity - lr g;  w <- w + velocity  or (Nesterov)  w <- w - lr g + mu velocity
template <typename T>
NK_HD void momentum_element(T& w, T g, T& velocity, T decay, T lr, T mu, bool nesterov) {
    w = w * decay;
    T step = g * lr;
    velocity = velocity * mu - step;
    w = nesterov ? (w - step) + velocity * mu : w + velocity;
}

// m <- m + (1 - beta_1)(g - m);  v <- v + (1 - beta_2)(g^2 - v);  w <- w - alpha m / (sqrt(v) + eps)
template <typename T>
NK_HD void adam_element(T& w, T g, T& m, T& v, T decay, T one_minus_beta_1,
                        T one_minus_beta_2, T eps, T alpha) {
    w = w * decay;
    m = m + (g - m) * one_minus_beta_1;
    v = v + (g * g - v) * one_minus_beta_2;
    w = w - (m / (nk_sqrt(v) + eps)) * alpha;
}

// v <- rho v + (1 - rho) g^2;  step = lr g / sqrt(v + eps)  (Keras 3: eps inside the root);
// with momentum: velocity <- momentum velocity + step, w <- w - velocity;  else w <- w - step
template <typename T>
NK_HD void rmsprop_element(T& w, T g, T& v, T& velocity, T decay, T lr, T rho,
                           T one_minus_rho, T eps, T momentum, bool use_momentum) {
    w = w * decay;
    v = v * rho + (g * g) * one_minus_rho;
    T step = (g / nk_sqrt(v + eps)) * lr;
    if (use_momentum) {
        velocity = velocity * momentum + step;
        w = w - velocity;
    } else {
        w = w - step;
    }
}

// accumulator <- accumulator + g^2;  w <- w - lr g / sqrt(accumulator + eps)
template <typename T>
NK_HD void adagrad_element(T& w, T g, T& accumulator, T decay, T lr, T eps) {
    w = w * decay;
    accumulator = accumulator + g * g;
    w = w - (g / nk_sqrt(accumulator + eps)) * lr;
}
