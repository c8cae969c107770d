// RMSprop: torch.optim.RMSprop (update rule in ops/optimizer_rule.h). Each parameter keeps a
// running mean of its squared gradients (square_avg) and divides its gradient by that root mean
// square; `centered` also keeps the mean gradient (grad_avg) and divides by the estimated standard
// deviation instead; `momentum` > 0 accumulates the normalised steps in a momentum_buffer. Option
// keys: lr, alpha, eps, weight_decay, momentum, centered, maximize.
#pragma once

#include "afinar/optim/optimizer.h"

namespace afinar::optim {

struct RmspropOptions {
  double lr = 1e-2;  // PyTorch's defaults
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  bool maximize = false;
};

class RMSprop : public Optimizer {
 public:
  explicit RMSprop(std::vector<Tensor> params, const RmspropOptions& defaults = {});
  const char* name() const override { return "rmsprop"; }

 protected:
  void validate(const Options& options) const override;
  void update(const ParamGroup& group, const std::vector<Tensor>& params,
              std::vector<ParamState*>& states) override;
};

}  // namespace afinar::optim
