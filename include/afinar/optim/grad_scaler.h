// GradScaler: dynamic loss scaling for float16 mixed precision, as torch.cuda.amp.GradScaler.
//
// float16's smallest normal value is 2^-14: small gradients underflow to zero in an f16
// backward. Scaling the loss by S (2^16 at first) scales every gradient by S; the float32
// gradients are divided by S again before the optimizer sees them. When a step overflows (an
// inf or NaN gradient), the step is skipped and S halves; after growth_interval clean steps S
// doubles. The scale, the inf flag and the growth count stay on the device
// (ops/amp_scale.h); step() reads the flag once, as PyTorch's does.
//
//   GradScaler scaler;
//   {
//     AutocastGuard amp(DeviceType::CUDA, true, DType::F16);
//     loss = cross_entropy((*model)(x), y);
//   }
//   scaler.scale(loss).backward();
//   scaler.step(opt);        // unscale_ (if not done), then opt.step() unless inf/NaN
//   scaler.update();         // the next step's scale
//
// Disabled (enabled = false), scale() returns the loss, step() is opt.step() and update() does
// nothing, so one training loop serves both precisions.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "afinar/core/tensor.h"
#include "afinar/nn/state_dict.h"
#include "afinar/optim/optimizer.h"

namespace afinar::optim {

// PyTorch's defaults.
struct GradScalerOptions {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  bool enabled = true;
};

class GradScaler {
 public:
  explicit GradScaler(const GradScalerOptions& options = {});

  // loss · scale (differentiable); the scale is kept on loss's device from the first call.
  Tensor scale(const Tensor& loss);
  // Divides the gradients of opt's parameters by the scale, in place, and records whether any
  // was inf or NaN. At most once per optimizer between two update()s; float16 gradients are an
  // error (the parameters must be float32 master weights, as PyTorch requires).
  void unscale_(Optimizer& opt);
  // unscale_ unless done, then opt.step() unless a gradient was inf or NaN; true if it stepped.
  bool step(Optimizer& opt);
  // The next scale from this step's inf flags (ops::amp_update_scale_); needs a step() first.
  void update();

  // The current scale (read from the device; 1.0 when disabled, as PyTorch).
  double get_scale() const;
  bool is_enabled() const { return options_.enabled; }
  const GradScalerOptions& options() const { return options_; }

  // PyTorch's keys: "scale" (f64), "growth_factor", "backoff_factor" (f64), "growth_interval",
  // "_growth_tracker" (i64), each a 0-D tensor; empty when disabled.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& sd);

 private:
  struct PerOptimizer {
    bool unscaled = false, stepped = false;
    Tensor found_inf;  // float32, on the scale's device
  };
  void lazy_init(const Device& device);

  GradScalerOptions options_;
  Tensor scale_;           // float32 0-D, on the device
  Tensor growth_tracker_;  // int32 0-D
  // Values loaded before the first scale(): the device tensors start from them.
  double loaded_scale_;
  int64_t loaded_tracker_ = 0;
  std::unordered_map<const Optimizer*, PerOptimizer> per_optimizer_;
};

}  // namespace afinar::optim
