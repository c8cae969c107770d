// SGD with momentum, dampening, Nesterov and weight decay: torch.optim.SGD (update rule in
// ops/optimizer_rule.h). Option keys: lr, momentum, dampening, weight_decay, nesterov, maximize.
#pragma once

#include "afinar/optim/optimizer.h"

namespace afinar::optim {

struct SgdOptions {
  double lr = 1e-3;  // PyTorch 2's default
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;
};

class SGD : public Optimizer {
 public:
  explicit SGD(std::vector<Tensor> params, const SgdOptions& defaults = {});
  const char* name() const override { return "sgd"; }

 protected:
  void validate(const Options& options) const override;
  void update(const ParamGroup& group, const std::vector<Tensor>& params,
              std::vector<ParamState*>& states) override;
};

}  // namespace afinar::optim
