// Launchers of linear's two small kernels (the products themselves are cuBLAS calls in
// linear.cpp). Contiguous row-major device arrays, T float, double, __nv_bfloat16 or __half.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "runtime/compute_type.h"

namespace afinar::cuda {

// y[r, o] = b[o] for y [M, out]: the bias rows the forward GEMM then adds onto (beta = 1).
template <typename T>
void launch_broadcast_rows(T* y, const T* b, int64_t M, int64_t out, cudaStream_t stream);

// out[c] = Σ_r g[r, c] for g [M, cols] (M ≥ 1): column_sum_splits(M, cols) slices of the rows,
// then the slices' partial sums in a fixed order (deterministic). `partials` holds
// splits · cols elements of compute_t<T> (unused, may be null, when splits == 1).
int64_t column_sum_splits(int64_t M, int64_t cols);
template <typename T>
void launch_column_sum(T* out, const T* g, int64_t M, int64_t cols, compute_t<T>* partials,
                       int64_t splits, cudaStream_t stream);

}  // namespace afinar::cuda
