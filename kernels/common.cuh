// Shared building blocks of the CUDA kernels: grid-stride loops, launch shapes, launch checks.
// Every kernel launch in kernels/ is followed by AFN_CUDA_LAUNCH_CHECK().
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace afinar::cuda {

// for (i = global thread id; i < n; i += total threads): covers any n with a bounded grid.
#define AFN_GRID_STRIDE_LOOP(i, n)                                          \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += int64_t(blockDim.x) * gridDim.x)

inline constexpr int kThreadsPerBlock = 256;

// Enough blocks to cover n elements with kThreadsPerBlock threads, capped so a grid-stride loop
// takes the rest (2^16 blocks keeps every SM busy on any current GPU).
inline unsigned blocks_for(int64_t n, int threads = kThreadsPerBlock) {
  int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65536 ? 65536 : b));
}

}  // namespace afinar::cuda
