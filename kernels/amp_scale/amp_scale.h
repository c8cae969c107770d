// Launchers of amp_scale's kernels (the math: include/afinar/ops/amp_scale.h; amp_scale.cu
// explains the kernels). Plain C++: device pointers, sizes and the stream; the scale, the growth
// tracker and the inf flag are device scalars, never read by the host.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace afinar::cuda {

// Up to kUnscaleChunk elements of one gradient, `data` already offset to the chunk's first one.
inline constexpr int64_t kUnscaleChunk = 65536;
template <typename T>
struct UnscaleChunk {
  T* data;
  int64_t n;
};

// For every element of every chunk: *found_inf = 1 if it is inf or NaN, then it is multiplied by
// float(1 / double(*scale)). `chunks`: a device array of num_chunks entries; one launch in all.
// T float, double, __nv_bfloat16 or __half.
template <typename T>
void launch_amp_unscale(const UnscaleChunk<T>* chunks, int64_t num_chunks, float* found_inf,
                        const float* scale, cudaStream_t stream);

// amp_update_scale_'s rule on the device scalars, one thread.
void launch_amp_update_scale(float* scale, int32_t* growth_tracker, const float* found_inf,
                             double growth_factor, double backoff_factor, int64_t growth_interval,
                             cudaStream_t stream);

}  // namespace afinar::cuda
