// CPU shim for kernels that cooperate inside a block (shared memory, __syncthreads, atomicAdd):
// cpu_shim.h plus one fiber (ucontext) per CUDA thread, so g++ runs such a kernel on the CPU for
// the tests (tests/kernels/test_fused_mlp_shim.py runs csrc/fused_mlp.cu this way).
//
// Use: g++ -std=c++17 -include cpu_shim_block.h kernels.cu ...  nk_launch_block(grid_x, grid_y,
// block, shared_bytes, kernel, args...) runs the blocks one after another; inside a block every
// thread runs on its own stack until it reaches __syncthreads() or returns, then the next thread
// runs, so every barrier is a real barrier. Each phase between barriers runs the threads in the
// opposite order of the phase before, so a missing barrier (a read of what another thread writes
// in the same phase) gives a wrong result in one of the two orders. A barrier that some threads
// reach while others have returned is undefined in CUDA; here it is an error (returns -1).
// Dynamic shared memory (nk_shared_memory) is filled with 0xFF bytes, a NaN in float and double,
// before each block, so a read of a cell nobody wrote shows. Warp operations are not emulated.
#pragma once

#include "cpu_shim.h"

#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

// The block's dynamic shared memory (CUDA: extern __shared__).
inline unsigned char* nk_shared_memory = nullptr;

enum NkFiberState { NK_FIBER_RUNNING = 0, NK_FIBER_AT_BARRIER = 1, NK_FIBER_DONE = 2 };

struct NkFiber {
    ucontext_t context;
    char* stack;
    int state;
};

inline ucontext_t nk_scheduler;
inline NkFiber* nk_fibers = nullptr;
inline unsigned int nk_current = 0;
inline void (*nk_body)(void*) = nullptr;
inline void* nk_body_argument = nullptr;

inline void __syncthreads() {
    NkFiber& fiber = nk_fibers[nk_current];
    fiber.state = NK_FIBER_AT_BARRIER;
    swapcontext(&fiber.context, &nk_scheduler);
}

// Threads run one at a time between barriers, so a plain read-modify-write is atomic here.
template <typename T>
inline T atomicAdd(T* address, T value) {
    T old = *address;
    *address = old + value;
    return old;
}

inline void nk_fiber_main() {
    nk_body(nk_body_argument);
    nk_fibers[nk_current].state = NK_FIBER_DONE;  // uc_link returns to the scheduler
}

// Switch into fiber t until it reaches a barrier or returns. Out of line (as nk_prepare), so
// swapcontext and getcontext, which return twice, have no caller's locals to clobber.
__attribute__((noinline)) inline void nk_resume(unsigned int t) {
    nk_fibers[t].state = NK_FIBER_RUNNING;
    nk_current = t;
    threadIdx = {t, 0, 0};
    swapcontext(&nk_scheduler, &nk_fibers[t].context);
}

// A fresh fiber that will run the kernel body from the start on its own stack.
__attribute__((noinline)) inline void nk_prepare(NkFiber& fiber, size_t stack_size) {
    getcontext(&fiber.context);
    fiber.context.uc_stack.ss_sp = fiber.stack;
    fiber.context.uc_stack.ss_size = stack_size;
    fiber.context.uc_link = &nk_scheduler;
    makecontext(&fiber.context, nk_fiber_main, 0);
    fiber.state = NK_FIBER_RUNNING;
}

template <typename F>
void nk_call(void* body) {
    (*static_cast<F*>(body))();
}

// Run kernel<<<dim3(grid_x, grid_y), block, shared_bytes>>>(args...). Returns 0, or -1 on a
// divergent barrier or when memory for the stacks or shared memory could not be allocated.
template <typename... Params, typename... Args>
int nk_launch_block(unsigned int grid_x, unsigned int grid_y, unsigned int block,
                    unsigned long long shared_bytes, void (*kernel)(Params...), Args... args) {
    const size_t stack_size = 256 * 1024;
    auto body = [&]() { kernel(args...); };
    nk_body = &nk_call<decltype(body)>;
    nk_body_argument = &body;
    NkFiber* fibers = (NkFiber*)calloc(block, sizeof(NkFiber));
    unsigned char* shared = (unsigned char*)malloc(shared_bytes ? shared_bytes : 1);
    int status = fibers && shared ? 0 : -1;
    for (unsigned int t = 0; status == 0 && t < block; ++t) {
        fibers[t].stack = (char*)malloc(stack_size);
        if (!fibers[t].stack) status = -1;
    }
    nk_fibers = fibers;
    nk_shared_memory = shared;
    gridDim = {grid_x, grid_y, 1};
    blockDim = {block, 1, 1};
    for (unsigned int by = 0; status == 0 && by < grid_y; ++by) {
        for (unsigned int bx = 0; status == 0 && bx < grid_x; ++bx) {
            blockIdx = {bx, by, 0};
            memset(shared, 0xFF, shared_bytes);
            for (unsigned int t = 0; t < block; ++t) nk_prepare(fibers[t], stack_size);
            for (unsigned int phase = 0;; ++phase) {
                for (unsigned int k = 0; k < block; ++k) {
                    unsigned int t = phase % 2 ? block - 1 - k : k;
                    if (fibers[t].state != NK_FIBER_DONE) nk_resume(t);
                }
                unsigned int done = 0;
                for (unsigned int t = 0; t < block; ++t) done += fibers[t].state == NK_FIBER_DONE;
                if (done == block) break;
                if (done != 0) {  // some threads wait at a barrier the others never reach
                    status = -1;
                    break;
                }
            }
        }
    }
    for (unsigned int t = 0; fibers && t < block; ++t) free(fibers[t].stack);
    free(fibers);
    free(shared);
    nk_fibers = nullptr;
    nk_shared_memory = nullptr;
    return status;
}
