// Launchers of the batch_norm2d kernels (contiguous device arrays: x, y, g [N, C, H·W]; the rest
// [C]; T float or double). Null pointers mean what undefined tensors mean in
// include/afinar/ops/batch_norm2d.h: no weight (γ = 1), no bias (β = 0), no running statistics,
// an output not computed.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace afinar::cuda {

template <typename T>
struct BatchNormForwardParams {
  T *y, *mean, *invstd;           // outputs
  const T *x, *weight, *bias;     // inputs
  T *running_mean, *running_var;  // read in eval, updated in place in training
  int64_t N, C, HW;
  bool training;
  double momentum, eps;
  const T* residual;  // the epilogue: y += residual when not null, then relu when `relu`
  bool relu;
};

template <typename T>
struct BatchNormBackwardParams {
  T *grad_input, *grad_weight, *grad_bias;  // outputs, each may be null
  const T *grad_output, *x, *weight, *mean, *invstd;
  int64_t N, C, HW;
  bool training;
};

// Device scratch the launchers need (per-block partial statistics and per-channel coefficients)
// for C channels on the current device; pass at least this many bytes, 16-byte aligned.
size_t batch_norm_workspace_bytes(int64_t C);

template <typename T>
void launch_batch_norm_forward(const BatchNormForwardParams<T>& p, void* workspace,
                               cudaStream_t stream);
template <typename T>
void launch_batch_norm_backward(const BatchNormBackwardParams<T>& p, void* workspace,
                                cudaStream_t stream);

}  // namespace afinar::cuda
