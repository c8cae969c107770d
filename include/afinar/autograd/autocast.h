// Automatic mixed precision, as torch.autocast(device_type, dtype=torch.bfloat16) (the default
// here on every device; torch's CUDA default is float16) or dtype=torch.float16.
//
// While an AutocastGuard is alive on this thread for a device type, the differentiable ops of
// two lists cast their inputs on that device type first (torch's lists):
//   lower precision: conv2d, linear          float32 inputs -> the guard's dtype; the op
//                                            computes with float accumulation and returns it
//   float32:         cross_entropy, nll_loss (and softmax, log_softmax on CUDA)
//                                            bf16 / f16 inputs -> float32
// Every other op runs in the dtype it is given (relu, pools and batch_norm2d take the bf16
// activations as they come; batch_norm2d keeps its float32 parameters and statistics). The casts
// are ordinary differentiable casts, so gradients reach the float32 parameters in float32: the
// parameters are the master weights and the optimizer never sees bf16. float64 tensors are never
// cast (torch: only float32 is eligible). matmul (the teaching GEMM of ops/matmul.h, which no
// model uses) is left out of the list. float16's narrow range (largest 65504) makes small
// gradients underflow: train it with a GradScaler (optim/grad_scaler.h), as PyTorch does.
//
//   {
//     AutocastGuard amp(DeviceType::CUDA);
//     loss = cross_entropy((*model)(x), y);   // convs / linears in bf16, the loss in float32
//   }
//   loss.backward();                          // outside the guard, as torch recommends
#pragma once

#include "afinar/core/device.h"
#include "afinar/core/tensor.h"

namespace afinar {

struct AutocastState {
  bool enabled = false;
  DType dtype = DType::BF16;
};

class AutocastGuard {
 public:
  // `dtype`: DType::BF16 or DType::F16.
  explicit AutocastGuard(DeviceType device, bool enabled = true, DType dtype = DType::BF16);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  DeviceType device_;
  AutocastState previous_;
};

bool autocast_enabled(DeviceType device);
DType autocast_dtype(DeviceType device);  // the innermost guard's (bf16 when none)

namespace autocast {

// The lower-precision list's cast: a float32 tensor on a device type under autocast in the
// guard's dtype; anything else (undefined, other dtypes, autocast off) unchanged.
Tensor to_lower(const Tensor& t);
// The float32 list's cast: a bf16 / f16 tensor on a device type under autocast as float32;
// `cuda_only` for the ops on CUDA's list but not the CPU's (softmax, log_softmax).
Tensor to_float(const Tensor& t, bool cuda_only = false);

}  // namespace autocast
}  // namespace afinar
