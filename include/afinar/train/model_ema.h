// An exponential moving average of a model's weights, as timm's ModelEmaV3 (`--model-ema`):
// after every optimizer update t (counted from 1 over the whole run), every floating-point
// parameter and buffer e of the average moves towards the model's m,
//
//   e ← lerp(e, m, 1 - d_t)   = e + w·(m - e)        for w = 1 - d_t < 0.5
//                              = m - (m - e)·(1 - w)  otherwise (torch.lerp's two forms)
//   d_t = 0                                     for t <= 1 (the first update copies the model)
//       = decay                                 without warmup
//       = clamp(1 - (1 + (t - 1))^(-2/3), 0, decay)  with warmup (timm's warmup_gamma 1,
//                                                      warmup_power 2/3, min_decay 0)
//
// while integer buffers (BatchNorm's num_batches_tracked) are copied. The average is a model of
// its own (same architecture, device and memory format) so it can be evaluated like the trained
// one; it has no gradients and never trains.
//
//   train::ModelEma ema(nn::create_model("resnet18", 10), *model, {.decay = 0.999});
//   ... opt.step(); ema.update(*model, ++step);
//   EpochStats v = train::evaluate(ema.module(), val_loader, 10, {});
//
// Each tensor takes two elementwise ops and a copy on its device; a fused multi-tensor kernel
// (torch._foreach_lerp_) would take one launch per step.
#pragma once

#include <cstdint>

#include "afinar/nn/module.h"

namespace afinar::train {

struct ModelEmaOptions {
  double decay = 0.9998;  // timm's --model-ema-decay default; in [0, 1]
  bool warmup = false;    // timm's --model-ema-warmup
};

class ModelEma {
 public:
  // `average` is a model of `model`'s architecture (nn::create_model with the same name, classes
  // and head); it gets `model`'s state, device and memory format, eval mode and no gradients. A
  // state_dict whose keys or shapes differ from `model`'s is an error; so is a decay outside
  // [0, 1].
  ModelEma(nn::ModulePtr average, const nn::Module& model, ModelEmaOptions options = {});

  // d_t above, for the run's optimizer update number `step` (1 for the first).
  double decay_at(int64_t step) const;
  // Moves the average towards `model` (the model it was made from, on the same device) after
  // the run's optimizer update number `step`.
  void update(const nn::Module& model, int64_t step);

  // The averaged model, for evaluation and its state_dict (checkpoints, weights files).
  nn::Module& module() { return *average_; }
  const nn::Module& module() const { return *average_; }
  const ModelEmaOptions& options() const { return options_; }

 private:
  nn::ModulePtr average_;
  ModelEmaOptions options_;
};

}  // namespace afinar::train
