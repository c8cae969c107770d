// Launchers of the nll_loss / cross_entropy kernels (loss.cu explains them). Contiguous device
// arrays: x / log_probs / grad_input [N, C], target [N] int64, weight [C] or null, T float or
// double. Math in include/afinar/ops/loss.h.
//
// Target values are data: every kernel checks them. A row whose target is neither ignore_index
// nor in [0, C) is skipped and its index is folded into *bad_row with atomicMin, so the caller
// learns the first bad row (as the CPU's serial check reports) without a device assert, which
// would poison the CUDA context. *bad_row is a flag of runtime/deferred_check.h (it starts at
// kFlagClear, all ones), read back at the next synchronisation.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace afinar::cuda {

enum class LossReduce : int { None = 0, Mean = 1, Sum = 2 };

// Scratch the forward launchers need, in doubles: per-row losses and weights (2 * N) and the
// partial sums of the reduction (2 * kLossPartials).
inline constexpr int64_t kLossPartials = 256;
inline int64_t loss_forward_scratch_doubles(int64_t N) {
  return 2 * N + 2 * kLossPartials;
}

// Forward: loss ([N] for None, else [1]) and total_weight [1] (W = Σ counted w[t_i]).
// cross_entropy also writes log_probs = log_softmax(logits, 1).
template <typename T>
void launch_cross_entropy_forward(T* loss, T* total_weight, T* log_probs, const T* logits,
                                  const int64_t* target, const T* weight, int64_t N, int64_t C,
                                  int64_t ignore_index, double label_smoothing,
                                  LossReduce reduction, double* scratch,
                                  unsigned long long* bad_row, cudaStream_t stream);
template <typename T>
void launch_nll_loss_forward(T* loss, T* total_weight, const T* log_probs, const int64_t* target,
                             const T* weight, int64_t N, int64_t C, int64_t ignore_index,
                             double label_smoothing, LossReduce reduction, double* scratch,
                             unsigned long long* bad_row, cudaStream_t stream);

// Backward: grad_input [N, C] (every element written). grad_loss is [N] for None, else [1];
// total_weight [1] is the forward's W. `scratch` holds one double (Σ_c w_c).
// nll_loss:       grad_input = dL/dlogp
// cross_entropy:  grad_input = dL/dlogp - exp(logp) · Σ_c dL/dlogp_c   (through log_softmax)
template <typename T>
void launch_cross_entropy_backward(T* grad_logits, const T* grad_loss, const T* log_probs,
                                   const int64_t* target, const T* total_weight, const T* weight,
                                   int64_t N, int64_t C, int64_t ignore_index,
                                   double label_smoothing, LossReduce reduction, double* scratch,
                                   unsigned long long* bad_row, cudaStream_t stream);
template <typename T>
void launch_nll_loss_backward(T* grad_input, const T* grad_loss, const int64_t* target,
                              const T* total_weight, const T* weight, int64_t N, int64_t C,
                              int64_t ignore_index, double label_smoothing, LossReduce reduction,
                              unsigned long long* bad_row, cudaStream_t stream);

}  // namespace afinar::cuda
