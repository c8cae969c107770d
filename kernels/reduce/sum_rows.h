// Launchers of the row-sum kernels behind sum / mean: out[o] = Σ_i x[o, i], x contiguous
// [outer, inner] on the device. One launcher per teaching variant (sum_rows.cu explains them).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace afinar::cuda {

template <typename T>
void launch_sum_rows_naive(T* out, const T* x, int64_t outer, int64_t inner, cudaStream_t stream);
template <typename T>
void launch_sum_rows_warp_shuffle(T* out, const T* x, int64_t outer, int64_t inner,
                                  cudaStream_t stream);
// CUB needs scratch memory: `workspace_bytes` reports how much, then a second call runs.
template <typename T>
void launch_sum_rows_cub(T* out, const T* x, int64_t outer, int64_t inner, void* workspace,
                         size_t& workspace_bytes, cudaStream_t stream);

}  // namespace afinar::cuda
