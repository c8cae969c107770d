// Adam and AdamW: torch.optim.Adam / AdamW (update rule in ops/optimizer_rule.h). AdamW decays
// the weights directly (p *= 1 - lr·weight_decay) instead of adding weight_decay·p to the
// gradient. Option keys: lr, beta1, beta2 (PyTorch's betas), eps, weight_decay, amsgrad,
// maximize.
#pragma once

#include "afinar/optim/optimizer.h"

namespace afinar::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // AdamW's default is 1e-2 (see AdamW)
  bool amsgrad = false;
  bool maximize = false;
};

class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Tensor> params, const AdamOptions& defaults = {});
  const char* name() const override { return decoupled_ ? "adamw" : "adam"; }

 protected:
  Adam(std::vector<Tensor> params, const AdamOptions& defaults, bool decoupled);
  void validate(const Options& options) const override;
  void update(const ParamGroup& group, const std::vector<Tensor>& params,
              std::vector<ParamState*>& states) override;

 private:
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  // PyTorch's AdamW defaults: weight_decay 1e-2.
  static AdamOptions default_options() {
    AdamOptions o;
    o.weight_decay = 1e-2;
    return o;
  }
  explicit AdamW(std::vector<Tensor> params, const AdamOptions& defaults = default_options())
      : Adam(std::move(params), defaults, /*decoupled=*/true) {}
};

}  // namespace afinar::optim
