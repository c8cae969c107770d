// Launcher of the row-sum kernel behind sum / mean: out[o] = Σ_i x[o, i], x contiguous
// [outer, inner] on the device.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace afinar::cuda {

template <typename T>
void launch_sum_rows(T* out, const T* x, int64_t outer, int64_t inner, cudaStream_t stream);

}  // namespace afinar::cuda
