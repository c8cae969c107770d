// Launchers of the batch_norm2d kernels (contiguous device arrays: x, y, g [N, C, H·W], or
// [N, H·W, C] with channels_last; the rest [C]). T, the activations' type, is float, double,
// __nv_bfloat16 or __half; the parameters and statistics have type P = compute_t<T>
// (runtime/compute_type.h): T itself, float for bf16 and f16 (autocast's mixed batch norm, which
// also computes in float). Null
// pointers mean what undefined tensors mean in include/afinar/ops/batch_norm2d.h: no weight (γ =
// 1), no bias (β = 0), no running statistics, an output not computed.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "runtime/compute_type.h"

namespace afinar::cuda {

template <typename T>
struct BatchNormForwardParams {
  using P = compute_t<T>;
  T* y;  // outputs
  P *mean, *invstd;
  const T* x;  // inputs
  const P *weight, *bias;
  P *running_mean, *running_var;  // read in eval, updated in place in training
  int64_t N, C, HW;
  bool channels_last;  // x, y, residual [N, H·W, C]
  bool training;
  double momentum, eps;
  const T* residual;  // the epilogue: y += residual when not null, then relu when `relu`
  bool relu;
};

template <typename T>
struct BatchNormBackwardParams {
  using P = compute_t<T>;
  T* grad_input;  // outputs, each may be null
  P *grad_weight, *grad_bias;
  const T *grad_output, *x;
  const P *weight, *mean, *invstd;
  int64_t N, C, HW;
  bool channels_last;  // grad_input, grad_output, x [N, H·W, C]
  bool training;
};

// Device scratch the launchers need (per-block partial statistics and per-channel coefficients)
// for C channels in the layout on the current device; pass at least this many bytes, 16-byte
// aligned.
size_t batch_norm_workspace_bytes(int64_t C, bool channels_last);

template <typename T>
void launch_batch_norm_forward(const BatchNormForwardParams<T>& p, void* workspace,
                               cudaStream_t stream);
template <typename T>
void launch_batch_norm_backward(const BatchNormBackwardParams<T>& p, void* workspace,
                                cudaStream_t stream);

}  // namespace afinar::cuda
