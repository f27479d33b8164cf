// Fully fused training step of small MLPs (widths <= 128): the forward pass of every layer, the
// loss gradient and the backward pass of a whole batch in ONE launch, for P models at once; the
// optimizer update over the flat parameter buffers in a second launch (a grid-wide barrier is not
// available inside one ordinary launch, and the update needs every tile's gradient).
//
// In the spirit of tiny-cuda-nn's fully fused MLP: a block owns a tile of batch rows and keeps
// that tile's activations of every layer in shared memory, so nothing but the weights (read
// through L1/L2), the batch rows and the gradients touches global memory. Unlike tiny-cuda-nn
// (fp16 tensor-core fragments, one width for all layers, weight gradients by separate split-k
// GEMMs over activations written to global memory) it uses plain float/double FMAs, any widths
// up to 128 per layer, and sums weight gradients inside the block: results must agree with the
// NumPy path (Sequential.train_step) to float32 rounding, with the activation, dropout and
// optimizer rules of activations.cuh, dropout.cuh and optim.cuh, the ones the CPU engine uses.
//
// Grid: x = row tiles of the batch (each model's record says its rows per tile; blocks past a
// model's last tile return at once), y = models. Block: any number of threads
// (the launcher uses 128). Dynamic shared memory, laid out by tile_layout below and sized by the
// launcher with the same rule (nastoolkit/kernels/_cuda_fused.py: shared_bytes):
//     blockDim doubles (block sums) | x tile | per layer: output (and z for GELU/SiLU Dense) |
//     two gradient tiles of the widest layer
// each tile tile_rows rows long. Weight gradients: every block sums its rows' products for each
// weight and adds them to the flat gradient buffer with ONE atomicAdd per weight per block (so the
// buffer must hold zeros before the step: the update kernel clears it after reading). The order of
// the blocks' atomic adds varies, so gradients agree with the NumPy path to float32 rounding, not
// bit for bit, and are not bitwise reproducible from run to run.
//
// Records (all from nastoolkit.engine.plan, so one plan drives the CPU engine and this kernel):
// NkFusedLayer = _engine.LAYER_DTYPE, NkFusedOpt = _engine.OPTIMIZER_DTYPE, NkFusedModel =
// _cuda_fused.MODEL_DTYPE (where each model's layers, parameters, targets, loss and learning
// rates are). Dropout keys are drawn on the device from each layer's seed and counter + step.
#include "activations.cuh"
#include "dropout.cuh"
#include "optim.cuh"

// i: kind, in, out, activation, use_bias, kernel offset, bias offset, dropout seed, dropout
// counter, dropout threshold; d: kept-unit value 1/(1-rate), l1/l2 kernel, l1/l2 bias
struct NkFusedLayer {
    long long i[10];
    double d[6];
};
// i: rule, nesterov / rmsprop-momentum flag, iterations before step 0; d: weight decay, then
// momentum: mu; adam: beta_1, beta_2, eps; rmsprop: rho, eps, momentum; adagrad: eps
struct NkFusedOpt {
    long long i[4];
    double d[8];
};
// i: NkFusedModelField; d[0]: Huber delta
struct NkFusedModel {
    long long i[12];
    double d[4];
};

enum NkFusedModelField {
    NK_M_FIRST_LAYER = 0,  // index of the model's first record in `layers`
    NK_M_LAYERS = 1,       // number of layer records
    NK_M_PARAM_AT = 2,     // offset of the model's flat parameters in params/grads/s0/s1
    NK_M_PARAMS = 3,       // number of parameters
    NK_M_Y_AT = 4,         // offset of the model's (n, out) targets in y
    NK_M_OUT = 5,          // output width
    NK_M_LOSS = 6,         // NkFusedLoss
    NK_M_MODE = 7,         // 0 on the outputs, 1 fused with the output activation, 2 logits
    NK_M_REDUCTION = 8,    // 0 mean over the batch, 1 sum
    NK_M_LOSS_AT = 9,      // the step's loss goes to losses[loss_at + step]
    NK_M_LR_AT = 10,       // the step's learning rate is lrs[lr_at + step]
    NK_M_TILE_ROWS = 11,   // rows per block tile (what fits the model's layers in shared memory)
};
enum NkFusedKind { NK_F_DENSE = 0, NK_F_DROPOUT = 1, NK_F_ACTIVATION = 2 };
enum NkFusedLoss { NK_F_MSE = 0, NK_F_MAE = 1, NK_F_HUBER = 2, NK_F_BCE = 3, NK_F_CCE = 4 };
enum NkFusedMode { NK_F_ON_OUTPUTS = 0, NK_F_FUSED = 1, NK_F_LOGITS = 2 };
enum NkFusedOptKind { NK_F_SGD = 0, NK_F_MOMENTUM = 1, NK_F_ADAM = 2, NK_F_RMSPROP = 3,
                      NK_F_ADAGRAD = 4 };
#define NK_F_SOFTMAX 13  // the engine's row activation code

#if defined(__CUDACC__)
#define NK_DYNAMIC_SHARED(name) extern __shared__ double name[]
#else  // g++ through cpu_shim_block.h
#define NK_DYNAMIC_SHARED(name) double* name = (double*)nk_shared_memory
#endif

NK_HD float nk_fma(float a, float b, float c) { return fmaf(a, b, c); }
NK_HD double nk_fma(double a, double b, double c) { return fma(a, b, c); }

// ---- the tile layout in shared memory ----------------------------------------------------------

__device__ __forceinline__ bool keeps_z(const NkFusedLayer& L) {
    return L.i[0] == NK_F_DENSE && (L.i[3] == NK_GELU || L.i[3] == NK_SILU);
}

// Offset (in T, from the x tile) of layer l's output tile; z (when kept) follows it.
__device__ __forceinline__ long long output_at(const NkFusedLayer* layers, int l, long long rows,
                                               long long in_dim) {
    long long at = rows * in_dim;
    for (int k = 0; k < l; ++k) at += rows * layers[k].i[2] * (keeps_z(layers[k]) ? 2 : 1);
    return at;
}

// ---- per-tile pieces (every loop strides over the block's threads) -----------------------------

// y[r] = softmax(z[r]) for each of `rows` rows of `cols` (y may be z): one thread per row.
template <typename T>
__device__ void softmax_tile(const T* z, T* y, int rows, int cols) {
    for (int r = threadIdx.x; r < rows; r += blockDim.x) {
        const T* zr = z + r * cols;
        T* yr = y + r * cols;
        T top = zr[0];
        for (int k = 1; k < cols; ++k) top = zr[k] > top ? zr[k] : top;
        T total = T(0);
        for (int k = 0; k < cols; ++k) {
            yr[k] = softmax_numerator_element(zr[k], top);
            total += yr[k];
        }
        for (int k = 0; k < cols; ++k) yr[k] = yr[k] / total;
    }
}

// out = act(in W + b) over the tile's rows (z keeps in W + b when asked). Ends with a barrier.
template <typename T>
__device__ void dense_forward_tile(const T* in, const T* W, const T* b, T* z, T* out, int rows,
                                   int n_in, int n_out, int act, bool keep_z) {
    for (int idx = threadIdx.x; idx < rows * n_out; idx += blockDim.x) {
        int r = idx / n_out, j = idx - r * n_out;
        const T* a = in + r * n_in;
        T acc = b ? b[j] : T(0);
        for (int k = 0; k < n_in; ++k) acc = nk_fma(a[k], W[k * n_out + j], acc);
        if (keep_z) z[idx] = acc;
        out[idx] = act == NK_F_SOFTMAX ? acc : activation_forward_element<T>(act, acc);
    }
    __syncthreads();
    if (act == NK_F_SOFTMAX) {
        softmax_tile(out, out, rows, n_out);
        __syncthreads();
    }
}

// g <- dL/d(input) of an activation from its output y, input z and g = dL/dy, in place.
template <typename T>
__device__ void activation_backward_tile(int act, const T* y, const T* z, T* g, int rows,
                                         int cols) {
    if (act == NK_F_SOFTMAX) {
        for (int r = threadIdx.x; r < rows; r += blockDim.x) {
            T dot = T(0);
            for (int k = 0; k < cols; ++k) dot += g[r * cols + k] * y[r * cols + k];
            for (int k = 0; k < cols; ++k)
                g[r * cols + k] = softmax_backward_element(y[r * cols + k], g[r * cols + k], dot);
        }
    } else {
        for (int idx = threadIdx.x; idx < rows * cols; idx += blockDim.x)
            g[idx] = activation_backward_element<T>(act, y[idx], z[idx], g[idx]);
    }
    __syncthreads();
}

// The loss of one row (its total before the mean over the row), its gradient `scale dt/dp` into
// g: csrc/cpu/engine.cpp's loss_row for these losses, in the same order.
template <typename T>
__device__ double loss_row(const NkFusedModel& M, const T* p, const T* y, T* g, int d, T scale,
                           double scale_d) {
    const double clip = 1e-7;  // Keras's epsilon
    double t = 0.0;
    switch (M.i[NK_M_LOSS]) {
        case NK_F_MSE: {
            T two_scale = T(2.0 * scale_d);
            for (int k = 0; k < d; ++k) {
                T e = p[k] - y[k];
                t += double(e) * double(e);
                g[k] = e * two_scale;
            }
            break;
        }
        case NK_F_MAE:
            for (int k = 0; k < d; ++k) {
                T e = p[k] - y[k];
                t += double(e < T(0) ? -e : e);
                g[k] = (e > T(0) ? T(1) : (e < T(0) ? T(-1) : T(0))) * scale;
            }
            break;
        case NK_F_HUBER: {
            double delta = M.d[0];
            T dt = T(delta);
            for (int k = 0; k < d; ++k) {
                T e = p[k] - y[k];
                double a = double(e < T(0) ? -e : e);
                t += a <= delta ? 0.5 * a * a : delta * a - 0.5 * delta * delta;
                g[k] = (e < -dt ? -dt : (e > dt ? dt : e)) * scale;
            }
            break;
        }
        case NK_F_BCE:
            for (int k = 0; k < d; ++k) {
                if (M.i[NK_M_MODE] == NK_F_LOGITS) {
                    double z = p[k], a = z < 0 ? -z : z;
                    t += (z > 0 ? z : 0.0) - z * double(y[k]) + log1p(exp(-a));
                    g[k] = (nk_sigmoid(p[k]) - y[k]) * scale;
                } else {  // fused with the sigmoid: dt/dz = p - y
                    double q = double(p[k]), yk = double(y[k]);
                    q = q != q ? q : (q > clip ? (q < 1.0 - clip ? q : 1.0 - clip) : clip);
                    t -= yk * log(q) + (1.0 - yk) * log1p(-q);
                    g[k] = (p[k] - y[k]) * scale;
                }
            }
            break;
        case NK_F_CCE: {
            T total = T(0);
            for (int k = 0; k < d; ++k) total += y[k];
            if (M.i[NK_M_MODE] == NK_F_LOGITS) {  // (sum y) lse(z) - y.z; softmax(z) sum y - y
                T top = p[0];
                for (int k = 1; k < d; ++k) top = p[k] > top ? p[k] : top;
                T sum_t = T(0);
                double sum = 0.0, dot = 0.0;
                for (int k = 0; k < d; ++k) {
                    g[k] = softmax_numerator_element(p[k], top);
                    sum_t += g[k];
                    sum += exp(double(p[k]) - double(top));
                    dot += double(y[k]) * double(p[k]);
                }
                t = double(total) * (double(top) + log(sum)) - dot;
                for (int k = 0; k < d; ++k) g[k] = ((g[k] / sum_t) * total - y[k]) * scale;
            } else {  // fused with the softmax: dt/dz = p sum y - y
                for (int k = 0; k < d; ++k) {
                    double q = double(p[k]);
                    q = q != q ? q : (q > clip ? (q < 1.0 - clip ? q : 1.0 - clip) : clip);
                    t -= double(y[k]) * log(q);
                    g[k] = (p[k] * total - y[k]) * scale;
                }
            }
            break;
        }
        default: break;
    }
    return t;
}

// sum over the block of each thread's `value` (thread 0 gets it; others get 0). Uses
// sums[0 .. blockDim) and ends with a barrier, so it may be called again at once.
__device__ __forceinline__ double block_sum(double* sums, double value) {
    sums[threadIdx.x] = value;
    __syncthreads();
    double total = 0.0;
    if (threadIdx.x == 0)
        for (unsigned int t = 0; t < blockDim.x; ++t) total += sums[t];
    __syncthreads();
    return total;
}

// The regularization penalty of the model (added by block 0 only) and its gradient
// l1 sign(w) + 2 l2 w added into grads (an atomic add per weight: other blocks add theirs too).
template <typename T>
__device__ double penalty_and_gradient(const NkFusedLayer* layers, int n_layers, const T* params,
                                       T* grads) {
    double penalty = 0.0;
    for (int l = 0; l < n_layers; ++l) {
        const NkFusedLayer& L = layers[l];
        if (L.i[0] != NK_F_DENSE) continue;
        for (int part = 0; part < 2; ++part) {
            double l1 = L.d[1 + 2 * part], l2 = L.d[2 + 2 * part];
            if ((l1 == 0.0 && l2 == 0.0) || (part == 1 && !L.i[4])) continue;
            long long at = L.i[5 + part], n = part ? L.i[2] : L.i[1] * L.i[2];
            T c1 = T(l1), c2 = T(2.0 * l2);
            for (long long q = threadIdx.x; q < n; q += blockDim.x) {
                T w = params[at + q];
                T sign = w > T(0) ? T(1) : (w < T(0) ? T(-1) : T(0));
                penalty += l1 * double(sign * w) + l2 * double(w) * double(w);
                T add = (l1 != 0.0 ? c1 * sign : T(0)) + (l2 != 0.0 ? c2 * w : T(0));
                atomicAdd(&grads[at + q], add);
            }
        }
    }
    return penalty;
}

// ---- the fused step -------------------------------------------------------------------------------

template <typename T>
__device__ void fused_step(const NkFusedModel* models, const NkFusedLayer* all_layers, const T* x,
                           const T* y, const long long* order, long long start, long long m,
                           long long in_dim, const T* all_params, T* all_grads, double* losses,
                           long long step) {
    const NkFusedModel& M = models[blockIdx.y];
    const long long tile_rows = M.i[NK_M_TILE_ROWS];
    const long long row0 = (long long)blockIdx.x * tile_rows;
    if (row0 >= m) return;  // the whole block leaves together: no barrier is skipped by part
    const int rows = int(m - row0 < tile_rows ? m - row0 : tile_rows);
    const NkFusedLayer* layers = all_layers + M.i[NK_M_FIRST_LAYER];
    const int n_layers = int(M.i[NK_M_LAYERS]), out_dim = int(M.i[NK_M_OUT]);
    const T* params = all_params + M.i[NK_M_PARAM_AT];
    T* grads = all_grads + M.i[NK_M_PARAM_AT];
    const bool fused_last = M.i[NK_M_MODE] == NK_F_FUSED;

    NK_DYNAMIC_SHARED(shared);
    double* sums = shared;
    T* tile = reinterpret_cast<T*>(shared + blockDim.x);
    long long widest = 1;
    for (int l = 0; l < n_layers; ++l) widest = layers[l].i[2] > widest ? layers[l].i[2] : widest;
    T* g = tile + output_at(layers, n_layers, tile_rows, in_dim);
    T* g_next = g + tile_rows * widest;

    // the batch rows of this tile: x[order[start + row0 + r]]
    for (long long idx = threadIdx.x; idx < rows * in_dim; idx += blockDim.x) {
        long long r = idx / in_dim;
        tile[idx] = x[order[start + row0 + r] * in_dim + (idx - r * in_dim)];
    }
    __syncthreads();

    // forward: every layer's output stays in shared memory
    const T* in = tile;
    for (int l = 0; l < n_layers; ++l) {
        const NkFusedLayer& L = layers[l];
        const int n_in = int(L.i[1]), n_out = int(L.i[2]), act = int(L.i[3]);
        T* out = tile + output_at(layers, l, tile_rows, in_dim);
        if (L.i[0] == NK_F_DENSE) {
            dense_forward_tile(in, params + L.i[5], L.i[4] ? params + L.i[6] : (const T*)nullptr,
                               out + tile_rows * n_out, out, rows, n_in, n_out, act, keeps_z(L));
        } else if (L.i[0] == NK_F_DROPOUT) {
            unsigned int key = dropout_stream_key((unsigned int)L.i[7],
                                                  (unsigned long long)(L.i[8] + step));
            T keep_value = T(L.d[0]);
            for (int idx = threadIdx.x; idx < rows * n_out; idx += blockDim.x) {
                unsigned int element = (unsigned int)(row0 * n_out + idx);  // batch element index
                T mask = dropout_keep_element(element, key, (unsigned int)L.i[9]) ? keep_value
                                                                                  : T(0);
                out[idx] = in[idx] * mask;
            }
            __syncthreads();
        } else if (act == NK_F_SOFTMAX) {
            softmax_tile(in, out, rows, n_out);
            __syncthreads();
        } else {
            for (int idx = threadIdx.x; idx < rows * n_out; idx += blockDim.x)
                out[idx] = activation_forward_element<T>(act, in[idx]);
            __syncthreads();
        }
        in = out;
    }

    // loss and its gradient with respect to the prediction (or the last pre-activation, fused)
    const long long kind = M.i[NK_M_LOSS];
    double row_scale = kind <= NK_F_BCE ? 1.0 / double(out_dim) : 1.0;
    double divisor = M.i[NK_M_REDUCTION] == 1 ? 1.0 : double(m);
    double scale_d = row_scale / divisor;
    const T* y_model = y + M.i[NK_M_Y_AT];
    double data = 0.0;
    for (int r = threadIdx.x; r < rows; r += blockDim.x)
        data += loss_row<T>(M, in + r * out_dim, y_model + order[start + row0 + r] * out_dim,
                            g + r * out_dim, out_dim, T(scale_d), scale_d);
    double data_total = block_sum(sums, data);
    double penalty = blockIdx.x == 0 ? penalty_and_gradient(layers, n_layers, params, grads) : 0.0;
    double penalty_total = block_sum(sums, penalty);
    if (threadIdx.x == 0)
        atomicAdd(&losses[M.i[NK_M_LOSS_AT] + step], scale_d * data_total + penalty_total);

    // backward: g = dL/d(output of layer l), from the last layer down
    for (int l = n_layers - 1; l >= 0; --l) {
        const NkFusedLayer& L = layers[l];
        const int n_in = int(L.i[1]), n_out = int(L.i[2]), act = int(L.i[3]);
        const T* out = tile + output_at(layers, l, tile_rows, in_dim);
        const T* layer_in = l > 0 ? tile + output_at(layers, l - 1, tile_rows, in_dim) : tile;
        const bool skip_activation = fused_last && l == n_layers - 1;
        if (L.i[0] == NK_F_DENSE) {
            if (!skip_activation && act != NK_LINEAR)
                activation_backward_tile(act, out, keeps_z(L) ? out + tile_rows * n_out : out, g,
                                         rows, n_out);
            // dL/dW += x^T g and dL/db += sum_r g: one atomic add per weight per block
            T* grad_kernel = grads + L.i[5];
            for (int idx = threadIdx.x; idx < n_in * n_out; idx += blockDim.x) {
                int k = idx / n_out, j = idx - k * n_out;
                T acc = T(0);
                for (int r = 0; r < rows; ++r) acc = nk_fma(layer_in[r * n_in + k], g[r * n_out + j], acc);
                atomicAdd(&grad_kernel[idx], acc);
            }
            if (L.i[4]) {
                T* grad_bias = grads + L.i[6];
                for (int j = threadIdx.x; j < n_out; j += blockDim.x) {
                    T acc = T(0);
                    for (int r = 0; r < rows; ++r) acc += g[r * n_out + j];
                    atomicAdd(&grad_bias[j], acc);
                }
            }
            if (l > 0) {  // dL/dx = g W^T
                const T* W = params + L.i[5];
                for (int idx = threadIdx.x; idx < rows * n_in; idx += blockDim.x) {
                    int r = idx / n_in, k = idx - r * n_in;
                    const T* gr = g + r * n_out;
                    const T* wk = W + (long long)k * n_out;
                    T acc = T(0);
                    for (int j = 0; j < n_out; ++j) acc = nk_fma(gr[j], wk[j], acc);
                    g_next[idx] = acc;
                }
                __syncthreads();
                T* swap = g;
                g = g_next;
                g_next = swap;
            }
        } else if (L.i[0] == NK_F_DROPOUT) {
            unsigned int key = dropout_stream_key((unsigned int)L.i[7],
                                                  (unsigned long long)(L.i[8] + step));
            T keep_value = T(L.d[0]);
            for (int idx = threadIdx.x; idx < rows * n_out; idx += blockDim.x) {
                unsigned int element = (unsigned int)(row0 * n_out + idx);
                T mask = dropout_keep_element(element, key, (unsigned int)L.i[9]) ? keep_value
                                                                                  : T(0);
                g[idx] = g[idx] * mask;
            }
            __syncthreads();
        } else if (!skip_activation && act != NK_LINEAR) {
            activation_backward_tile(act, out, layer_in, g, rows, n_out);
        }
    }
}

// ---- the update: each model's optimizer over its flat buffer (grid y = models) ----------------

// A model stops at its first non-finite loss of a call, as train_step returns before its update
// and the CPU engine ends that model's run: stopped[model] is set there and read by every later
// step (launches on one stream run in order; every block of a launch sees the same loss).
template <typename T>
__device__ void fused_update(const NkFusedModel* models, const NkFusedOpt* opts, const double* lrs,
                             const double* losses, T* all_params, T* all_grads, T* all_s0,
                             T* all_s1, long long step, int clear_grads, int* stopped) {
    const NkFusedModel& M = models[blockIdx.y];
    const NkFusedOpt& opt = opts[blockIdx.y];
    const long long at = M.i[NK_M_PARAM_AT], n = M.i[NK_M_PARAMS];
    T *w = all_params + at, *g = all_grads + at, *s0 = all_s0 + at, *s1 = all_s1 + at;
    const long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long stride = (long long)gridDim.x * blockDim.x;
    double loss = losses[M.i[NK_M_LOSS_AT] + step];
    bool finite = loss - loss == 0.0;
    bool update = finite && !stopped[blockIdx.y];
    if (!finite && threadIdx.x == 0) stopped[blockIdx.y] = 1;
    double lr = lrs[M.i[NK_M_LR_AT] + step], wd = opt.d[0];
    T decay = T(wd != 0.0 ? 1.0 - wd * lr : 1.0), tlr = T(lr);
    const long long rule = opt.i[0];
    T alpha = T(0), c1 = T(0), c2 = T(0), c3 = T(0), c4 = T(0);
    if (rule == NK_F_MOMENTUM) {
        c1 = T(opt.d[1]);
    } else if (rule == NK_F_ADAM) {
        double beta_1 = opt.d[1], beta_2 = opt.d[2], t = double(opt.i[2] + step + 1);
        alpha = T(lr * sqrt(1.0 - pow(beta_2, t)) / (1.0 - pow(beta_1, t)));
        c1 = T(1.0 - beta_1), c2 = T(1.0 - beta_2), c3 = T(opt.d[3]);
    } else if (rule == NK_F_RMSPROP) {
        c1 = T(opt.d[1]), c2 = T(1.0 - opt.d[1]), c3 = T(opt.d[2]), c4 = T(opt.d[3]);
    } else if (rule == NK_F_ADAGRAD) {
        c1 = T(opt.d[1]);
    }
    for (long long i = first; i < n; i += stride) {
        if (update) {
            switch (rule) {
                case NK_F_SGD: sgd_element(w[i], g[i], decay, tlr); break;
                case NK_F_MOMENTUM:
                    momentum_element(w[i], g[i], s0[i], decay, tlr, c1, opt.i[1] != 0);
                    break;
                case NK_F_ADAM: adam_element(w[i], g[i], s0[i], s1[i], decay, c1, c2, c3, alpha); break;
                case NK_F_RMSPROP:  // s1 (velocity) is only touched with momentum on
                    rmsprop_element(w[i], g[i], s0[i], s1[i], decay, tlr, c1, c2, c3, c4,
                                    opt.i[1] != 0);
                    break;
                case NK_F_ADAGRAD: adagrad_element(w[i], g[i], s0[i], decay, tlr, c1); break;
                default: break;
            }
        }
        if (clear_grads) g[i] = T(0);
    }
}

// --- extern "C" entry points: NK_FUSED_ENTRIES(S, T) writes <name>_S for element type T ---------

#define NK_FUSED_ENTRIES(S, T)                                                                    \
    extern "C" __global__ void fused_mlp_step_##S(                                                \
        const NkFusedModel* models, const NkFusedLayer* layers, const T* x, const T* y,          \
        const long long* order, long long start, long long m, long long in_dim, const T* params, \
        T* grads, double* losses, long long step) {                                              \
        fused_step<T>(models, layers, x, y, order, start, m, in_dim, params, grads, losses, step); \
    }                                                                                             \
    extern "C" __global__ void fused_mlp_update_##S(                                              \
        const NkFusedModel* models, const NkFusedOpt* opts, const double* lrs,                   \
        const double* losses, T* params, T* grads, T* s0, T* s1, long long step,                 \
        int clear_grads, int* stopped) {                                                          \
        fused_update<T>(models, opts, lrs, losses, params, grads, s0, s1, step, clear_grads,      \
                        stopped);                                                                 \
    }

NK_FUSED_ENTRIES(f32, float)
NK_FUSED_ENTRIES(f64, double)
