// Compiled training engine for small MLPs (nastoolkit/kernels/_engine.py): whole epochs, or
// chunks of batches, of Sequential training in one call.
//
// A step does what Sequential.train_step does on the NumPy path, in the same order: gather the
// batch rows (indices from Python), each layer's forward (dense: register-blocked GEMM with the
// bias in the accumulators, then the activation over the tile while it is in L1; dropout: the
// counter-hash mask of dropout.cuh, so the bits equal kernels.dropout_masks), the loss and its
// gradient (the fused softmax/sigmoid + cross-entropy gradient when Python says the NumPy path
// fuses), the backward pass into the model's flat gradient buffer (plus L1/L2 terms), and one
// optimizer update over the flat buffer with the element rules of optim.cuh. Scratch is allocated
// once per call, never inside a step.
//
// Built with g++ -O3 -march=native -ffp-contract=off -include cpu_shim.h: the per-element rules
// (activations, optimizer updates, dropout bits) round exactly like their NumPy twins; only the
// GEMMs use fused multiply-adds (explicitly), so results agree with the NumPy path to float32
// rounding, not bit for bit (OpenBLAS sums in another order anyway).
// Denormals flush to zero inside a call (x86: MXCSR FTZ|DAZ, the caller's mode restored on
// return). Adam's first moment of a weight whose input is rarely non-zero (digits' border pixels)
// decays geometrically through the denormal range, and every operation on a denormal takes a
// microcode assist: measured, half the time of a digits search's epochs. Values below 1.2e-38
// (float32) count as zero here, where NumPy keeps them; that is the only difference it makes
// (the digits workload's weights after 30 epochs: bit for bit the same).
// With glibc's vector math library (libmvec, glibc >= 2.35; _engine.py builds with -DNK_LIBMVEC
// -lmvec where that links, else without), the activation loops call SIMD variants of these
// functions (<= 4 ulp, float32 rounding) instead of one scalar call per element.
#if defined(NK_LIBMVEC)
#define NK_SIMD_MATH(F) extern "C" F noexcept __attribute__((simd("notinbranch")));
NK_SIMD_MATH(float tanhf(float))
NK_SIMD_MATH(float expf(float))
NK_SIMD_MATH(float expm1f(float))
NK_SIMD_MATH(float log1pf(float))
NK_SIMD_MATH(float erfcf(float))
NK_SIMD_MATH(double tanh(double))
NK_SIMD_MATH(double exp(double))
NK_SIMD_MATH(double expm1(double))
NK_SIMD_MATH(double log1p(double))
NK_SIMD_MATH(double erfc(double))
#undef NK_SIMD_MATH
#endif

#include "../activations.cuh"
#include "../dropout.cuh"
#include "../optim.cuh"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif
#if defined(__AVX__)
#include <immintrin.h>
#endif

// The flush-to-zero mode for the lifetime of this object (see the header); elsewhere a no-op.
struct NkFlushDenormals {
#if defined(__SSE__)
    unsigned int saved;
    NkFlushDenormals() : saved(_mm_getcsr()) { _mm_setcsr(saved | 0x8040u); }
    ~NkFlushDenormals() { _mm_setcsr(saved); }
#endif
};

// ---- the interface shared with _engine.py (plain arrays of int64 and double) -----------------

enum NkLayerKind { NK_LAYER_DENSE = 0, NK_LAYER_DROPOUT = 1, NK_LAYER_ACTIVATION = 2 };
static const int NK_SOFTMAX = 13;  // engine-only activation code: a row operation

// i: kind, in, out, activation, use_bias, kernel_offset, bias_offset, seed, counter, threshold
// d: mask value 1 / (1 - rate), l1 kernel, l2 kernel, l1 bias, l2 bias
struct NkLayerSpec {
    long long i[10];
    double d[6];
};

enum NkLossKind { NK_MSE = 0, NK_MAE = 1, NK_HUBER = 2, NK_BCE = 3, NK_CCE = 4, NK_SCCE = 5 };
enum NkLossMode { NK_ON_OUTPUTS = 0, NK_FUSED = 1, NK_LOGITS = 2 };
enum NkReduction { NK_OVER_BATCH = 0, NK_SUM = 1, NK_OVER_WEIGHTS = 2 };

// i: kind, mode, reduction;  d: huber delta
struct NkLossSpec {
    long long i[4];
    double d[4];
};

enum NkOptKind { NK_SGD = 0, NK_MOMENTUM = 1, NK_ADAM = 2, NK_RMSPROP = 3, NK_ADAGRAD = 4 };

// i: kind, flag (nesterov / rmsprop momentum on), iterations before the first step
// d: weight_decay, then sgd: -; momentum: mu; adam: beta_1, beta_2, eps;
//    rmsprop: rho, eps, momentum; adagrad: eps
struct NkOptSpec {
    long long i[4];
    double d[8];
};

// ---- small GEMMs --------------------------------------------------------------------------------
// Register-blocked: a tile of R rows x NV vectors (GCC vector types of the widest registers
// -march=native gives: zmm, ymm or xmm) keeps R NV accumulators in registers over the k loop. Only
// these
// functions contract a*b+c into fused multiply-adds (the optimize attribute); the element rules
// elsewhere keep -ffp-contract=off.

#define NK_GEMM __attribute__((optimize("fp-contract=fast"))) static inline

#if defined(__AVX512F__)
#define NK_VECTOR_BYTES 64
#elif defined(__AVX__)
#define NK_VECTOR_BYTES 32
#else
#define NK_VECTOR_BYTES 16
#endif

template <typename T>
struct NkVec {
    typedef T type __attribute__((vector_size(NK_VECTOR_BYTES)));
};

template <typename T>
NK_GEMM typename NkVec<T>::type nk_loadv(const T* p) {
    typename NkVec<T>::type v;
    memcpy(&v, p, sizeof(v));
    return v;
}

// C[R rows, NV vectors at c] = (bias or 0) + sum_k A(r, k) B(k, .), A(r, k) = a[r sr + k sk],
// B row-major with leading dimension ldb.
template <typename T, int R, int NV>
NK_GEMM void gemm_tile(long long K, const T* __restrict a, long long sr, long long sk,
                       const T* __restrict b, long long ldb, T* __restrict c, long long ldc,
                       const T* __restrict bias) {
    typedef typename NkVec<T>::type V;
    constexpr int L = sizeof(V) / sizeof(T);
    V acc[R][NV];
    for (int v = 0; v < NV; ++v) {
        V init = bias ? nk_loadv(bias + v * L) : V{};
        for (int r = 0; r < R; ++r) acc[r][v] = init;
    }
    for (long long k = 0; k < K; ++k) {
        V bv[NV];
        for (int v = 0; v < NV; ++v) bv[v] = nk_loadv(b + k * ldb + v * L);
        for (int r = 0; r < R; ++r) {
            T av = a[r * sr + k * sk];
            for (int v = 0; v < NV; ++v) acc[r][v] += av * bv[v];
        }
    }
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) memcpy(c + r * ldc + v * L, &acc[r][v], sizeof(V));
}

// The last nc (< one vector) columns: scalar accumulators.
template <typename T, int R>
NK_GEMM void gemm_tile_tail(long long K, int nc, const T* __restrict a, long long sr,
                            long long sk, const T* __restrict b, long long ldb, T* __restrict c,
                            long long ldc, const T* __restrict bias) {
    for (int q = 0; q < nc; ++q) {
        T acc[R];
        for (int r = 0; r < R; ++r) acc[r] = bias ? bias[q] : T(0);
        for (long long k = 0; k < K; ++k) {
            T bk = b[k * ldb + q];
            for (int r = 0; r < R; ++r) acc[r] += a[r * sr + k * sk] * bk;
        }
        for (int r = 0; r < R; ++r) c[r * ldc + q] = acc[r];
    }
}

// The last nc (< one vector) columns from `pad`, a copy of them zero-padded to one vector per
// row of B (ld = one vector): vector accumulators as in gemm_tile, nc columns stored.
template <typename T, int R>
NK_GEMM void gemm_tile_padded(long long K, int nc, const T* __restrict a, long long sr,
                              long long sk, const T* __restrict pad, T* __restrict c,
                              long long ldc, const T* __restrict bias_pad) {
    typedef typename NkVec<T>::type V;
    constexpr int L = sizeof(V) / sizeof(T);
    V acc[R];
    for (int r = 0; r < R; ++r) acc[r] = bias_pad ? nk_loadv(bias_pad) : V{};
    for (long long k = 0; k < K; ++k) {
        V bv = nk_loadv(pad + k * L);
        for (int r = 0; r < R; ++r) acc[r] += a[r * sr + k * sk] * bv;
    }
    for (int r = 0; r < R; ++r) memcpy(c + r * ldc, &acc[r], sizeof(T) * nc);
}

// A register tile is R rows x NV vectors of accumulators. AVX-512's 32 vector registers hold
// 8 x 3 = 24 of them (measured against 4 x 2, median epoch: seed 1.86 -> 1.73 ms, digits
// 64-128-128-128-10 4.37 -> 3.77 ms); 16 registers (AVX2 and narrower) hold 6 x 2 = 12 (against
// 4 x 2: seed level at 2.07 ms, digits 64-128-128-10 3.24 -> 3.02 ms).
#if defined(__AVX512F__)
static const int NK_TILE_ROWS = 8, NK_TILE_VECS = 3;
#else
static const int NK_TILE_ROWS = 6, NK_TILE_VECS = 2;
#endif

template <typename T, int R>
NK_GEMM void gemm_rows(long long N, long long K, const T* a, long long sr, long long sk,
                       const T* b, long long ldb, T* c, long long ldc, const T* bias,
                       const T* pad, const T* bias_pad) {
    constexpr int L = NK_VECTOR_BYTES / sizeof(T);
    long long j = 0;
    if constexpr (NK_TILE_VECS >= 3)
        for (; j + 3 * L <= N; j += 3 * L)
            gemm_tile<T, R, 3>(K, a, sr, sk, b + j, ldb, c + j, ldc, bias ? bias + j : nullptr);
    for (; j + 2 * L <= N; j += 2 * L)
        gemm_tile<T, R, 2>(K, a, sr, sk, b + j, ldb, c + j, ldc, bias ? bias + j : nullptr);
    for (; j + L <= N; j += L)
        gemm_tile<T, R, 1>(K, a, sr, sk, b + j, ldb, c + j, ldc, bias ? bias + j : nullptr);
    if (j < N && pad)
        gemm_tile_padded<T, R>(K, int(N - j), a, sr, sk, pad, c + j, ldc,
                               bias ? bias_pad : nullptr);
    else if (j < N)
        gemm_tile_tail<T, R>(K, int(N - j), a, sr, sk, b + j, ldb, c + j, ldc,
                             bias ? bias + j : nullptr);
}

// N = 1 where A's rows are adjacent in memory (sr = 1: dL/dW = x^T g of a one-output layer):
// the M outputs as vectors along A's rows, each summed over k in order from its bias, as the
// tiles sum it (the padded tile spent a vector FMA per output row and k: measured 4% of the
// seed model's step).
template <typename T>
NK_GEMM void gemm_one_column(long long M, long long K, const T* __restrict a, long long sk,
                             const T* __restrict b, long long ldb, T* __restrict c,
                             long long ldc, const T* __restrict bias) {
    typedef typename NkVec<T>::type V;
    constexpr int L = sizeof(V) / sizeof(T);
    T init = bias ? bias[0] : T(0);
    long long i = 0;
    for (; i + 2 * L <= M && ldc == 1; i += 2 * L) {
        V acc0 = V{} + init, acc1 = V{} + init;
        for (long long k = 0; k < K; ++k) {
            T bk = b[k * ldb];
            acc0 += nk_loadv(a + k * sk + i) * bk;
            acc1 += nk_loadv(a + k * sk + i + L) * bk;
        }
        memcpy(c + i, &acc0, sizeof(V));
        memcpy(c + i + L, &acc1, sizeof(V));
    }
    for (; i < M; ++i) {
        T acc = init;
        for (long long k = 0; k < K; ++k) acc += a[k * sk + i] * b[k * ldb];
        c[i * ldc] = acc;
    }
}

// C (M x N, ldc) = bias + A (M x K, strides sr, sk) B (K x N, ldb). `pad` (K vectors of scratch,
// or null) holds the last N mod (vector width) columns of B zero-padded, so they run vectorised.
template <typename T>
__attribute__((optimize("fp-contract=fast"))) static void gemm(
    long long M, long long N, long long K, const T* a, long long sr, long long sk, const T* b,
    long long ldb, T* c, long long ldc, const T* bias, T* pad) {
    constexpr int L = NK_VECTOR_BYTES / sizeof(T);
    if (N == 1 && sr == 1) {
        gemm_one_column(M, K, a, sk, b, ldb, c, ldc, bias);
        return;
    }
    long long tail = N % L, j = N - tail;
    T bias_pad[L] = {};
    if (tail && pad) {
        for (long long k = 0; k < K; ++k)
            for (int q = 0; q < L; ++q) pad[k * L + q] = q < tail ? b[k * ldb + j + q] : T(0);
        if (bias)
            for (int q = 0; q < tail; ++q) bias_pad[q] = bias[j + q];
    } else {
        pad = nullptr;
    }
    long long i = 0;
    for (; i + NK_TILE_ROWS <= M; i += NK_TILE_ROWS)
        gemm_rows<T, NK_TILE_ROWS>(N, K, a + i * sr, sr, sk, b, ldb, c + i * ldc, ldc, bias, pad,
                                   bias_pad);
    if (NK_TILE_ROWS > 4 && i + 4 <= M) {
        gemm_rows<T, 4>(N, K, a + i * sr, sr, sk, b, ldb, c + i * ldc, ldc, bias, pad, bias_pad);
        i += 4;
    }
    switch (M - i) {
        case 3:
            gemm_rows<T, 3>(N, K, a + i * sr, sr, sk, b, ldb, c + i * ldc, ldc, bias, pad,
                              bias_pad);
            break;
        case 2:
            gemm_rows<T, 2>(N, K, a + i * sr, sr, sk, b, ldb, c + i * ldc, ldc, bias, pad,
                              bias_pad);
            break;
        case 1:
            gemm_rows<T, 1>(N, K, a + i * sr, sr, sk, b, ldb, c + i * ldc, ldc, bias, pad,
                              bias_pad);
            break;
        default: break;
    }
}

// ---- activations over a tile: the switch once, the element rule inlined in the loop ------------

template <typename T, int ACT>
static void forward_loop(const T* __restrict z, T* __restrict y, long long n) {
    for (long long i = 0; i < n; ++i) y[i] = activation_forward_element<T>(ACT, z[i]);
}

template <typename T, int ACT>
static void backward_loop(const T* __restrict y, const T* __restrict z, T* __restrict g,
                          long long n) {
    for (long long i = 0; i < n; ++i) g[i] = activation_backward_element<T>(ACT, y[i], z[i], g[i]);
}

// y = softmax(z) per row of `cols` (y may be z): shifted by the row max, as the NumPy twin.
template <typename T>
static void softmax_rows(const T* z, T* y, long long rows, long long cols) {
    for (long long r = 0; r < rows; ++r) {
        const T* zr = z + r * cols;
        T* yr = y + r * cols;
        T top = zr[0];
        for (long long k = 1; k < cols; ++k) top = zr[k] > top ? zr[k] : top;
        T total = T(0);
        for (long long k = 0; k < cols; ++k) {
            yr[k] = softmax_numerator_element(zr[k], top);
            total += yr[k];
        }
        for (long long k = 0; k < cols; ++k) yr[k] = yr[k] / total;
    }
}

#define NK_ACTIVATION_CASES(MACRO) \
    MACRO(NK_LINEAR) MACRO(NK_RELU) MACRO(NK_TANH) MACRO(NK_SIGMOID) MACRO(NK_LEAKY_RELU) \
    MACRO(NK_ELU) MACRO(NK_SELU) MACRO(NK_GELU) MACRO(NK_SILU) MACRO(NK_SOFTPLUS) \
    MACRO(NK_SOFTSIGN) MACRO(NK_HARD_SIGMOID) MACRO(NK_EXPONENTIAL)

// y = act(z) over rows x cols (y may be z).
template <typename T>
static void activation_forward(int act, const T* z, T* y, long long rows, long long cols) {
    long long n = rows * cols;
    if (act == NK_SOFTMAX) return softmax_rows(z, y, rows, cols);
    if (act == NK_LINEAR) {
        if (y != z) memcpy(y, z, sizeof(T) * n);
        return;
    }
    switch (act) {
#define NK_FORWARD_CASE(A) \
    case A: forward_loop<T, A>(z, y, n); break;
        NK_ACTIVATION_CASES(NK_FORWARD_CASE)
#undef NK_FORWARD_CASE
        default: break;
    }
}

// g <- dL/dz from y = act(z) and g = dL/dy, in place (z: the pre-activation, or y's stand-in).
template <typename T>
static void activation_backward(int act, const T* y, const T* z, T* g, long long rows,
                                long long cols) {
    if (act == NK_LINEAR) return;
    if (act == NK_SOFTMAX) {  // J = diag(y) - y y^T: y (g - sum(g y))
        for (long long r = 0; r < rows; ++r) {
            const T* yr = y + r * cols;
            T* gr = g + r * cols;
            T dot = T(0);
            for (long long k = 0; k < cols; ++k) dot += gr[k] * yr[k];
            for (long long k = 0; k < cols; ++k)
                gr[k] = softmax_backward_element(yr[k], gr[k], dot);
        }
        return;
    }
    long long n = rows * cols;
    switch (act) {
#define NK_BACKWARD_CASE(A) \
    case A: backward_loop<T, A>(y, z, g, n); break;
        NK_ACTIVATION_CASES(NK_BACKWARD_CASE)
#undef NK_BACKWARD_CASE
        default: break;
    }
}

// ---- dropout: the bits of kernels.dropout_masks (element i = r cols + c of the batch) ----------

static inline unsigned int nk_dropout_key(unsigned int seed, unsigned long long counter) {
    return nk_hash32(seed ^ nk_hash32((unsigned int)(counter + 0x9E3779B9ull)));
}

// y = x mask, mask kept for the backward pass (g <- g mask): the hash runs once per element.
template <typename T>
static void dropout_forward(const T* __restrict x, T* __restrict y, T* __restrict mask,
                            long long n, unsigned int key, unsigned int threshold, T keep_value) {
    for (long long i = 0; i < n; ++i) {
        mask[i] = dropout_keep_element((unsigned int)i, key, threshold) ? keep_value : T(0);
        y[i] = x[i] * mask[i];
    }
}

template <typename T>
static void scale_by(T* __restrict g, const T* __restrict mask, long long n) {
    for (long long i = 0; i < n; ++i) g[i] = g[i] * mask[i];
}

// ---- losses: value (double) and dL/d(output or pre-activation) into g, the NumPy order --------

static const double NK_EPSILON = 1e-7;  // Keras's clip of probabilities

// clip(p, eps, 1 - eps), NaN staying NaN as with np.maximum/np.minimum: a diverged model's NaN
// probabilities must give a NaN loss (fit stops on it), not -log(eps).
template <typename T>
static inline T clip_probability(T p) {
    if (p != p) return p;
    T q = p > T(NK_EPSILON) ? p : T(NK_EPSILON);
    return q < T(1.0 - NK_EPSILON) ? q : T(1.0 - NK_EPSILON);
}

// The per-sample loss total t_r (before the mean over the row, if any) of row r, gradient
// `scale dt/dp` into g (scale already in T).
template <typename T>
static double loss_row(const NkLossSpec& loss, const T* p, const T* y, long long label, T* g,
                       long long d, T scale, double scale_d) {
    long long kind = loss.i[0], mode = loss.i[1];
    double t = 0.0;
    switch (kind) {
        case NK_MSE: {
            T two_scale = T(2.0 * scale_d);
            for (long long k = 0; k < d; ++k) {
                T e = p[k] - y[k];
                t += double(e) * double(e);
                g[k] = e * two_scale;
            }
            break;
        }
        case NK_MAE:
            for (long long k = 0; k < d; ++k) {
                T e = p[k] - y[k];
                t += double(e < T(0) ? -e : e);
                g[k] = (e > T(0) ? T(1) : (e < T(0) ? T(-1) : T(0))) * scale;
            }
            break;
        case NK_HUBER: {
            double delta = loss.d[0];
            T dt = T(delta);
            for (long long k = 0; k < d; ++k) {
                T e = p[k] - y[k];
                double a = double(e < T(0) ? -e : e);
                t += a <= delta ? 0.5 * a * a : delta * a - 0.5 * delta * delta;
                T c = e < -dt ? -dt : (e > dt ? dt : e);
                g[k] = c * scale;
            }
            break;
        }
        case NK_BCE:
            if (mode == NK_LOGITS) {
                for (long long k = 0; k < d; ++k) {
                    double z = p[k], a = z < 0 ? -z : z;
                    t += (z > 0 ? z : 0.0) - z * double(y[k]) + log1p(exp(-a));
                    g[k] = (nk_sigmoid(p[k]) - y[k]) * scale;
                }
            } else {  // fused with the sigmoid: dt/dz = p - y
                for (long long k = 0; k < d; ++k) {
                    double q = clip_probability(p[k]), yk = y[k];
                    t -= yk * log(q) + (1.0 - yk) * log1p(-q);
                    g[k] = (p[k] - y[k]) * scale;
                }
            }
            break;
        case NK_CCE: {
            T total = T(0);
            for (long long k = 0; k < d; ++k) total += y[k];
            if (mode == NK_LOGITS) {  // t = (sum y) lse(z) - y . z;  dt/dz = softmax(z) sum y - y
                softmax_rows(p, g, 1, d);
                T top = p[0];
                for (long long k = 1; k < d; ++k) top = p[k] > top ? p[k] : top;
                double sum = 0.0, dot = 0.0;
                for (long long k = 0; k < d; ++k) {
                    sum += exp(double(p[k]) - double(top));
                    dot += double(y[k]) * double(p[k]);
                }
                t = double(total) * (double(top) + log(sum)) - dot;
                for (long long k = 0; k < d; ++k) g[k] = (g[k] * total - y[k]) * scale;
            } else {  // fused with the softmax: dt/dz = p sum y - y
                for (long long k = 0; k < d; ++k) {
                    t -= double(y[k]) * log(double(clip_probability(p[k])));
                    g[k] = (p[k] * total - y[k]) * scale;
                }
            }
            break;
        }
        case NK_SCCE:
            if (mode == NK_LOGITS) {  // t = lse(z) - z_label;  dt/dz = softmax(z) - onehot
                softmax_rows(p, g, 1, d);
                T top = p[0];
                for (long long k = 1; k < d; ++k) top = p[k] > top ? p[k] : top;
                double sum = 0.0;
                for (long long k = 0; k < d; ++k) sum += exp(double(p[k]) - double(top));
                t = double(top) + log(sum) - double(p[label]);
                g[label] -= T(1);
                for (long long k = 0; k < d; ++k) g[k] *= scale;
            } else {  // fused with the softmax: dt/dz = p - onehot
                t = -log(double(clip_probability(p[label])));
                for (long long k = 0; k < d; ++k) g[k] = p[k] * scale;
                g[label] -= scale;
            }
            break;
        default: break;
    }
    return t;
}

// ---- the optimizer step over the flat buffer (optim.cuh rules, scalars as _numpy computes them)

template <typename T>
static void optimizer_step(const NkOptSpec& opt, long long step, double lr, T* __restrict w,
                           const T* __restrict g, T* __restrict s0, T* __restrict s1,
                           long long n) {
    double wd = opt.d[0];
    T decay = T(wd != 0.0 ? 1.0 - wd * lr : 1.0);
    switch (opt.i[0]) {
        case NK_SGD: {
            T tlr = T(lr);
            for (long long i = 0; i < n; ++i) sgd_element(w[i], g[i], decay, tlr);
            break;
        }
        case NK_MOMENTUM: {
            T tlr = T(lr), mu = T(opt.d[1]);
            if (opt.i[1]) {
                for (long long i = 0; i < n; ++i)
                    momentum_element(w[i], g[i], s0[i], decay, tlr, mu, true);
            } else {
                for (long long i = 0; i < n; ++i)
                    momentum_element(w[i], g[i], s0[i], decay, tlr, mu, false);
            }
            break;
        }
        case NK_ADAM: {
            double beta_1 = opt.d[1], beta_2 = opt.d[2];
            double t = double(opt.i[2] + step + 1);
            T alpha = T(lr * sqrt(1.0 - pow(beta_2, t)) / (1.0 - pow(beta_1, t)));
            T b1c = T(1.0 - beta_1), b2c = T(1.0 - beta_2), eps = T(opt.d[3]);
            for (long long i = 0; i < n; ++i)
                adam_element(w[i], g[i], s0[i], s1[i], decay, b1c, b2c, eps, alpha);
            break;
        }
        case NK_RMSPROP: {
            double rho = opt.d[1];
            T tlr = T(lr), trho = T(rho), omr = T(1.0 - rho), eps = T(opt.d[2]);
            T mom = T(opt.d[3]);
            if (opt.i[1]) {
                for (long long i = 0; i < n; ++i)
                    rmsprop_element(w[i], g[i], s0[i], s1[i], decay, tlr, trho, omr, eps, mom,
                                    true);
            } else {
                for (long long i = 0; i < n; ++i) {
                    T unused = T(0);
                    rmsprop_element(w[i], g[i], s0[i], unused, decay, tlr, trho, omr, eps,
                                    mom, false);
                }
            }
            break;
        }
        case NK_ADAGRAD: {
            T tlr = T(lr), eps = T(opt.d[1]);
            for (long long i = 0; i < n; ++i) adagrad_element(w[i], g[i], s0[i], decay, tlr, eps);
            break;
        }
        default: break;
    }
}

// ---- dst (cols x rows) = src (rows x cols)^T, for dL/dx = g W^T -----------------------------

// Rows [i0, i1) x columns [j0, j1), in 16 x 16 blocks that stay in L1.
template <typename T>
static void transpose_range(const T* __restrict src, T* __restrict dst, long long rows,
                            long long cols, long long i0, long long i1, long long j0,
                            long long j1) {
    const long long B = 16;
    for (long long ib = i0; ib < i1; ib += B)
        for (long long jb = j0; jb < j1; jb += B) {
            long long ie = ib + B < i1 ? ib + B : i1, je = jb + B < j1 ? jb + B : j1;
            for (long long j = jb; j < je; ++j)  // contiguous stores (measured: 5% faster)
                for (long long i = ib; i < ie; ++i) dst[j * rows + i] = src[i * cols + j];
        }
}

#if defined(__AVX__)
// One 8 x 8 float block in registers: 8 row loads, 24 shuffles, 8 row stores (the scalar loop
// above gathers one element per load: measured 1/6 of a digits model's step at width 128).
static inline void transpose8x8(const float* src, long long lds, float* dst, long long ldd) {
    __m256 r[8], t[8], u[8];
    for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + k * lds);
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
        u[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int k = 0; k < 4; ++k) {
        _mm256_storeu_ps(dst + k * ldd, _mm256_permute2f128_ps(u[k], u[k + 4], 0x20));
        _mm256_storeu_ps(dst + (k + 4) * ldd, _mm256_permute2f128_ps(u[k], u[k + 4], 0x31));
    }
}
#endif

template <typename T>
static void transpose(const T* __restrict src, T* __restrict dst, long long rows, long long cols) {
#if defined(__AVX__)
    if constexpr (sizeof(T) == sizeof(float)) {
        long long r8 = rows - rows % 8, c8 = cols - cols % 8;
        for (long long i = 0; i < r8; i += 8)
            for (long long j = 0; j < c8; j += 8)
                transpose8x8((const float*)src + i * cols + j, cols, (float*)dst + j * rows + i,
                             rows);
        transpose_range(src, dst, rows, cols, 0, r8, c8, cols);
        transpose_range(src, dst, rows, cols, r8, rows, 0, cols);
        return;
    }
#endif
    transpose_range(src, dst, rows, cols, 0, rows, 0, cols);
}

// ---- regularizers: penalty (before the update) and gradient (after the data gradient) ---------

// sum |w| or sum w^2 over 16 interleaved partial sums in T (as NumPy's float32 dot sums in
// SIMD lanes): an order of our choosing, so the compiler vectorises it without reassociating.
template <typename T, bool SQUARE>
static double sum_of(const T* __restrict w, long long n) {
    T part[16] = {};
    long long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; ++k) {
            T v = w[i + k];
            part[k] += SQUARE ? v * v : (v < T(0) ? -v : v);
        }
    double total = 0.0;
    for (; i < n; ++i) {
        double v = double(w[i]);
        total += SQUARE ? v * v : (v < 0.0 ? -v : v);
    }
    for (int k = 0; k < 16; ++k) total += double(part[k]);
    return total;
}

template <typename T>
static double penalty_of(const T* w, long long n, double l1, double l2) {
    return (l1 != 0.0 ? l1 * sum_of<T, false>(w, n) : 0.0) +
           (l2 != 0.0 ? l2 * sum_of<T, true>(w, n) : 0.0);
}

// grad += l1 sign(w), then grad += (2 l2) w: the order of regularizers.Regularizer.add_gradient.
template <typename T>
static void add_penalty_gradient(const T* w, T* g, long long n, double l1, double l2) {
    if (l1 != 0.0) {
        T c = T(l1);
        for (long long i = 0; i < n; ++i)
            g[i] = g[i] + c * (w[i] > T(0) ? T(1) : (w[i] < T(0) ? T(-1) : T(0)));
    }
    if (l2 != 0.0) {
        T c = T(2.0 * l2);
        for (long long i = 0; i < n; ++i) g[i] = g[i] + c * w[i];
    }
}

// ---- sums[k] = sum over the rows r of g[r, k], added row after row

// A chunk of columns accumulates in vector registers over all rows, instead of a load and a
// store of every sum per row (measured: 12% of the engine's own time in the seed epoch); each
// sum still adds the rows in order from 0. (An array of per-column scalars here took 6% of the
// seed model's step, measured with a cycle counter: 3.6 times the cycles of the vector form.)
template <typename T, int NV>
NK_GEMM void column_vectors(const T* __restrict g, T* __restrict sums, long long rows,
                            long long cols) {
    typedef typename NkVec<T>::type V;
    constexpr int L = sizeof(V) / sizeof(T);
    V acc[NV] = {};
    for (long long r = 0; r < rows; ++r)
        for (int v = 0; v < NV; ++v) acc[v] += nk_loadv(g + r * cols + v * L);
    for (int v = 0; v < NV; ++v) memcpy(sums + v * L, &acc[v], sizeof(V));
}

template <typename T>
static void column_sums(const T* __restrict g, T* __restrict sums, long long rows,
                        long long cols) {
    constexpr int L = NK_VECTOR_BYTES / sizeof(T);
    long long k0 = 0;
    for (; k0 + 2 * L <= cols; k0 += 2 * L) column_vectors<T, 2>(g + k0, sums + k0, rows, cols);
    for (; k0 + L <= cols; k0 += L) column_vectors<T, 1>(g + k0, sums + k0, rows, cols);
    for (long long k = k0; k < cols; ++k) {  // the last cols mod L columns
        T acc = T(0);
        for (long long r = 0; r < rows; ++r) acc += g[r * cols + k];
        sums[k] = acc;
    }
}

// ---- one model: its buffers and scratch, and one step ------------------------------------------

// A model as ctypes passes it (all pointers as 64-bit words; see _engine.MODEL_DTYPE).
struct NkModelArgs {
    const NkLayerSpec* layers;
    long long n_layers;
    const NkLossSpec* loss;
    const NkOptSpec* opt;
    void* params;
    void* grads;
    long long n_params;
    void* s0;
    void* s1;
    const void* y;              // (n, out) targets, or null with labels
    const long long* labels;    // (n,) class labels, or null
    long long out_dim;
    const double* lrs;          // one learning rate per step
    double* losses_out;         // one loss per step run
    void* predictions;          // (n_order, out) or null
    long long fused_last;
    long long done;             // out: steps run (a non-finite loss ends the model's run)
    const long long* order;     // this model's own rows in training order, or null: the call's
    long long n_order;          // rows in `order`
    long long batch_size;       // this model's rows per step (with its own `order`)
};

template <typename T>
struct NkModel {
    NkModelArgs* a;
    T* block;          // scratch: layer outputs (and z / dropout masks), gradients, W^T
    long long* out_at; // per layer: output offset, z/mask offset (-1: none)
    T* grad_a;
    T* grad_b;
    T* wt;
    T* pad;  // GEMM tail columns, zero-padded (see gemm)
    T* xt;   // a one-output layer's input, transposed (see model_forward)
};

// Scratch for batches of up to batch_size rows, allocated once per call. False: out of memory.
template <typename T>
static bool model_init(NkModel<T>& model, NkModelArgs* args, long long batch_size,
                       long long in_dim) {
    model.a = args;
    const NkLayerSpec* layers = args->layers;
    long long n_layers = args->n_layers, widest = in_dim, wt_size = 1, total = 0;
    model.out_at = (long long*)malloc(sizeof(long long) * 2 * n_layers);
    model.block = nullptr;
    if (!model.out_at) return false;
    for (long long l = 0; l < n_layers; ++l) {
        long long width = layers[l].i[2];
        widest = width > widest ? width : widest;
        model.out_at[2 * l] = total;
        total += batch_size * width;
        model.out_at[2 * l + 1] = -1;
        // dense layers whose derivative needs z keep it; dropout layers keep their mask there
        bool keeps_z = layers[l].i[0] == NK_LAYER_DROPOUT ||
                       (layers[l].i[0] == NK_LAYER_DENSE &&
                        (layers[l].i[3] == NK_GELU || layers[l].i[3] == NK_SILU));
        if (keeps_z) {
            model.out_at[2 * l + 1] = total;
            total += batch_size * width;
        }
        if (layers[l].i[0] == NK_LAYER_DENSE) {
            long long size = layers[l].i[1] * width;
            wt_size = size > wt_size ? size : wt_size;
        }
    }
    long long grad_at = total;
    // the GEMMs' inner dimension is a layer width (forward, dL/dx) or the batch (dL/dW)
    long long pad_size =
        (widest > batch_size ? widest : batch_size) * (NK_VECTOR_BYTES / sizeof(T));
    total += 3 * batch_size * widest + wt_size + pad_size;
    model.block = (T*)calloc((size_t)total, sizeof(T));
    if (!model.block) return false;
    model.grad_a = model.block + grad_at;
    model.grad_b = model.grad_a + batch_size * widest;
    model.wt = model.grad_b + batch_size * widest;
    model.pad = model.wt + wt_size;
    model.xt = model.pad + pad_size;
    return true;
}

template <typename T>
static void model_free(NkModel<T>& model) {
    free(model.block);
    free(model.out_at);
}

// The forward pass of step s on the m rows xb (dropout drawn when training, else the identity);
// returns the last layer's output and adds the regularization penalty to *penalty.
template <typename T>
static const T* model_forward(NkModel<T>& model, long long s, const T* xb, long long m,
                              bool training, double* penalty) {
    NkModelArgs& A = *model.a;
    const T* params = (const T*)A.params;
    const T* in = xb;
    for (long long l = 0; l < A.n_layers; ++l) {
        const NkLayerSpec& L = A.layers[l];
        long long n_in = L.i[1], n_out = L.i[2];
        int act = int(L.i[3]);
        T* out = model.block + model.out_at[2 * l];
        if (L.i[0] == NK_LAYER_DENSE) {
            const T* kernel = params + L.i[5];
            const T* bias = L.i[4] ? params + L.i[6] : nullptr;
            T* z = model.out_at[2 * l + 1] >= 0 ? model.block + model.out_at[2 * l + 1] : out;
            if (n_out == 1 && m >= 2 * NK_VECTOR_BYTES / (long long)sizeof(T)) {
                // one output (a regression head): the rows as vectors over a transposed copy
                // of the input, summed in the same order (the padded tile wasted 15/16 of its
                // lanes: measured 3% of the seed model's step)
                transpose(in, model.xt, m, n_in);
                gemm_one_column(m, n_in, model.xt, m, kernel, 1, z, 1, bias);
            } else {
                gemm<T>(m, n_out, n_in, in, n_in, 1, kernel, n_out, z, n_out, bias, model.pad);
            }
            activation_forward<T>(act, z, out, m, n_out);
            if (penalty) {
                *penalty += penalty_of(kernel, n_in * n_out, L.d[1], L.d[2]);
                if (bias) *penalty += penalty_of(bias, n_out, L.d[3], L.d[4]);
            }
        } else if (L.i[0] == NK_LAYER_DROPOUT) {
            if (!training) continue;  // the identity in inference: the input passes on
            unsigned int key =
                nk_dropout_key((unsigned int)L.i[7], (unsigned long long)(L.i[8] + s));
            dropout_forward<T>(in, out, model.block + model.out_at[2 * l + 1], m * n_out, key,
                               (unsigned int)L.i[9], T(L.d[0]));
        } else {
            activation_forward<T>(act, in, out, m, n_out);
        }
        in = out;
    }
    return in;
}

// Step s on the m gathered rows xb (rows: their indices, for targets and weights; start: the
// step's first position in the order, for predictions). Writes the loss; false when it is not
// finite (then nothing was updated, as Sequential.train_step returns before its update).
template <typename T>
static bool model_step(NkModel<T>& model, long long s, const T* xb, long long m,
                       const long long* rows, long long start, const T* sample_weight) {
    NkModelArgs& A = *model.a;
    const NkLayerSpec* layers = A.layers;
    long long n_layers = A.n_layers, out_dim = A.out_dim;
    T* params = (T*)A.params;
    T* grads = (T*)A.grads;
    T* block = model.block;
    const long long* out_at = model.out_at;

    double penalty = 0.0;
    const T* in = model_forward(model, s, xb, m, true, &penalty);
    const T* pred = in;
    if (A.predictions) memcpy((T*)A.predictions + start * out_dim, pred, sizeof(T) * m * out_dim);

    // loss and dL/d(prediction or last pre-activation)
    const NkLossSpec& loss = *A.loss;
    const T* y = (const T*)A.y;
    long long reduction = loss.i[2];
    double row_scale = (loss.i[0] <= NK_BCE) ? 1.0 / double(out_dim) : 1.0;
    double divisor = double(m);
    if (reduction == NK_SUM) divisor = 1.0;
    if (reduction == NK_OVER_WEIGHTS && sample_weight) {
        divisor = 0.0;
        for (long long r = 0; r < m; ++r) divisor += sample_weight[rows[r]];
    }
    double scale_d = divisor != 0.0 ? row_scale / divisor : 0.0;
    T scale = T(scale_d);
    double value = 0.0;
    T* g = model.grad_a;
    for (long long r = 0; r < m; ++r) {
        long long row = rows[r];
        double t = loss_row<T>(loss, pred + r * out_dim, y ? y + row * out_dim : nullptr,
                               A.labels ? A.labels[row] : 0, g + r * out_dim, out_dim, scale,
                               scale_d);
        if (sample_weight) {
            T w = sample_weight[row];
            for (long long k = 0; k < out_dim; ++k) g[r * out_dim + k] *= w;
            t *= double(w);
        }
        value += t;
    }
    value = scale_d * value + penalty;
    A.losses_out[s] = value;
    if (!(value - value == 0.0)) return false;  // NaN or inf: stop before the update

    // backward
    for (long long l = n_layers - 1; l >= 0; --l) {
        const NkLayerSpec& L = layers[l];
        long long n_in = L.i[1], n_out = L.i[2];
        int act = int(L.i[3]);
        T* out = block + out_at[2 * l];
        const T* layer_in = l > 0 ? block + out_at[2 * (l - 1)] : xb;
        bool skip_activation = A.fused_last && l == n_layers - 1;
        if (L.i[0] == NK_LAYER_DENSE) {
            if (!skip_activation) {
                const T* z = out_at[2 * l + 1] >= 0 ? block + out_at[2 * l + 1] : out;
                activation_backward<T>(act, out, z, g, m, n_out);
            }
            T* kernel = params + L.i[5];
            T* grad_kernel = grads + L.i[5];
            // dL/dW = x^T g: rows of the result run over the input features
            gemm<T>(n_in, n_out, m, layer_in, 1, n_in, g, n_out, grad_kernel, n_out, nullptr,
                    model.pad);
            add_penalty_gradient(kernel, grad_kernel, n_in * n_out, L.d[1], L.d[2]);
            if (L.i[4]) {
                T* grad_bias = grads + L.i[6];
                column_sums(g, grad_bias, m, n_out);
                add_penalty_gradient(params + L.i[6], grad_bias, n_out, L.d[3], L.d[4]);
            }
            if (l > 0) {  // dL/dx = g W^T, through a transposed copy of W
                T* wt = model.wt;
                transpose(kernel, wt, n_in, n_out);
                T* next = g == model.grad_a ? model.grad_b : model.grad_a;
                gemm<T>(m, n_in, n_out, g, n_out, 1, wt, n_in, next, n_in, nullptr, model.pad);
                g = next;
            }
        } else if (L.i[0] == NK_LAYER_DROPOUT) {
            scale_by<T>(g, block + out_at[2 * l + 1], m * n_out);
        } else if (!skip_activation) {
            activation_backward<T>(act, out, layer_in, g, m, n_out);
        }
    }
    optimizer_step<T>(*A.opt, s, A.lrs[s], params, grads, (T*)A.s0, (T*)A.s1, A.n_params);
    return true;
}

// ---- the epoch: P models over the same batches, or each over its own -------------------------

// Each model runs ceil(n / batch) steps over its rows: the call's order[0..n_order) in batches
// of batch_size, or, where models[p].order is set, its own order and batch size (a fit with its
// own seed). One model runs all its steps before the next starts, so that its weights, optimizer
// state and scratch stay in L1/L2 (measured on 20 search-space MLPs: pushing each batch through
// every model in turn, to gather it once, was 13% slower than model after model). A model whose
// loss turns non-finite stops there (models[p].done says how many steps it ran). Returns 0, or
// -1 when scratch could not be allocated (nothing was run).
template <typename T>
static long long train_population(NkModelArgs* models, long long n_models, const T* x,
                                  long long in_dim, const T* sample_weight,
                                  const long long* order, long long n_order,
                                  long long batch_size) {
    if (n_models <= 0) return 0;
    [[maybe_unused]] NkFlushDenormals flush;
    long long widest_batch = batch_size > 0 ? batch_size : 1;
    for (long long p = 0; p < n_models; ++p) {
        long long b = models[p].order ? models[p].batch_size : batch_size;
        widest_batch = b > widest_batch ? b : widest_batch;
        models[p].done = 0;
    }
    // all scratch first: out of memory runs nothing
    NkModel<T>* states = (NkModel<T>*)calloc((size_t)n_models, sizeof(NkModel<T>));
    T* xb = (T*)malloc(sizeof(T) * (size_t)(widest_batch * in_dim));
    bool ok = states && xb;
    for (long long p = 0; ok && p < n_models; ++p) {
        long long b = models[p].order ? models[p].batch_size : batch_size;
        ok = model_init(states[p], &models[p], b > 0 ? b : 1, in_dim);
    }
    for (long long p = 0; ok && p < n_models; ++p) {
        NkModelArgs& A = models[p];
        const long long* rows_of = A.order ? A.order : order;
        long long n = A.order ? A.n_order : n_order, b = A.order ? A.batch_size : batch_size;
        for (long long s = 0, start = 0; b > 0 && start < n; ++s, start += b) {
            long long m = n - start < b ? n - start : b;
            const long long* rows = rows_of + start;
            for (long long r = 0; r < m; ++r)
                memcpy(xb + r * in_dim, x + rows[r] * in_dim, sizeof(T) * in_dim);
            bool finite = model_step(states[p], s, xb, m, rows, start, sample_weight);
            A.done = s + 1;
            if (!finite) break;
        }
    }
    if (states)
        for (long long p = 0; p < n_models; ++p) model_free(states[p]);
    free(states);
    free(xb);
    return ok ? 0 : -1;
}

// Inference: out (n x out_dim) = the model's outputs for the n rows of x, in batches of
// batch_size (dropout off). Returns 0, or -1 when scratch could not be allocated.
template <typename T>
static long long predict(NkModelArgs* args, const T* x, long long in_dim, long long n,
                         long long batch_size, T* out) {
    if (n <= 0 || batch_size <= 0) return 0;
    [[maybe_unused]] NkFlushDenormals flush;
    NkModel<T> model;
    if (!model_init(model, args, batch_size, in_dim)) {
        model_free(model);
        return -1;
    }
    long long out_dim = args->out_dim;
    for (long long start = 0; start < n; start += batch_size) {
        long long m = n - start < batch_size ? n - start : batch_size;
        const T* pred = model_forward(model, 0, x + start * in_dim, m, false, nullptr);
        memcpy(out + start * out_dim, pred, sizeof(T) * m * out_dim);
    }
    model_free(model);
    return 0;
}

#define NK_ENGINE_ENTRIES(SUFFIX, T)                                                              \
    extern "C" long long nk_engine_train_##SUFFIX(                                               \
        NkModelArgs* models, long long n_models, const T* x, long long in_dim,                    \
        const T* sample_weight, const long long* order, long long n_order,                        \
        long long batch_size) {                                                                   \
        return train_population<T>(models, n_models, x, in_dim, sample_weight, order, n_order,    \
                                   batch_size);                                                   \
    }                                                                                             \
    extern "C" long long nk_engine_predict_##SUFFIX(NkModelArgs* model, const T* x,              \
                                                  long long in_dim, long long n,                 \
                                                  long long batch_size, T* out) {                \
        return predict<T>(model, x, in_dim, n, batch_size, out);                                  \
    }

NK_ENGINE_ENTRIES(f32, float)
NK_ENGINE_ENTRIES(f64, double)

extern "C" int nk_engine_abi_version(void) { return 3; }
