// Launchers of the multi-tensor optimizer updates (optimizer_update.cu explains the kernels).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "afinar/ops/optimizer_rule.h"

namespace afinar::cuda {

// Up to kUpdateChunk elements of one parameter, its gradient and up to three state tensors, each
// pointer already offset to the chunk's first element (state pointers null when unused).
inline constexpr int64_t kUpdateChunk = 65536;
template <typename T>
struct UpdateChunk {
  T* param;
  const T* grad;
  // sgd: momentum buffer; adam: exp_avg, exp_avg_sq, max_exp_avg_sq;
  // rmsprop: square_avg, grad_avg, momentum buffer
  T* state[3];
  int64_t n;
};

// `chunks`: a device array of num_chunks entries; one block per chunk, one launch in all.
template <typename T>
void launch_sgd_update(const UpdateChunk<T>* chunks, int64_t num_chunks, bool init_buffers,
                       const SgdHyper& hyper, cudaStream_t stream);
template <typename T>
void launch_adam_update(const UpdateChunk<T>* chunks, int64_t num_chunks, const AdamHyper& hyper,
                        cudaStream_t stream);
template <typename T>
void launch_rmsprop_update(const UpdateChunk<T>* chunks, int64_t num_chunks,
                           const RmspropHyper& hyper, cudaStream_t stream);

}  // namespace afinar::cuda
