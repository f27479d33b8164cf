// CPU shim: compile the CUDA C kernels of this directory with g++ so tests can run them without a
// GPU (tests/kernels/test_csrc_cpu_shim.py) and the compiled CPU fast path can reuse the element
// functions (cpu/native_optim.cpp).
//
// Use: g++ -std=c++17 -include cpu_shim.h kernels.cu ...  The CUDA qualifiers become nothing (or
// `inline`), threadIdx/blockIdx/blockDim/gridDim are plain variables the launcher sets, and
// float4/double2 are 16-byte aligned structs like CUDA's. nk_launch(grid, block, kernel, args...)
// runs every (block, thread) of a 1-D launch one after another, which is a valid CUDA schedule for
// kernels without shared memory, barriers or warp operations (all kernels here).
#pragma once

#include <math.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

struct nk_dim3 {
    unsigned int x, y, z;
};

// C++17 inline variables: one instance per shared library, set by nk_launch.
inline nk_dim3 threadIdx = {0, 0, 0};
inline nk_dim3 blockIdx = {0, 0, 0};
inline nk_dim3 blockDim = {1, 1, 1};
inline nk_dim3 gridDim = {1, 1, 1};

struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(16) double2 {
    double x, y;
};

// Run kernel<<<grid, block>>>(args...) serially: every block, every thread of the block.
template <typename... Params, typename... Args>
void nk_launch(unsigned int grid, unsigned int block, void (*kernel)(Params...), Args... args) {
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    for (unsigned int b = 0; b < grid; ++b) {
        for (unsigned int t = 0; t < block; ++t) {
            blockIdx = {b, 0, 0};
            threadIdx = {t, 0, 0};
            kernel(args...);
        }
    }
}
