#include "afinar/optim/adam.h"

#include <cmath>

#include "afinar/core/check.h"
#include "afinar/ops/optimizer_update.h"

namespace afinar::optim {

Adam::Adam(std::vector<Tensor> params, const AdamOptions& defaults)
    : Adam(std::move(params), defaults, false) {}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& d, bool decoupled)
    : Optimizer({{"lr", d.lr},
                 {"beta1", d.beta1},
                 {"beta2", d.beta2},
                 {"eps", d.eps},
                 {"weight_decay", d.weight_decay},
                 {"amsgrad", d.amsgrad ? 1.0 : 0.0},
                 {"maximize", d.maximize ? 1.0 : 0.0}}),
      decoupled_(decoupled) {
  validate(defaults());
  add_param_group(std::move(params));
}

void Adam::validate(const Options& o) const {
  AFN_CHECK(o.at("lr") >= 0, name(), ": invalid learning rate ", o.at("lr"), " (must be >= 0)");
  AFN_CHECK(o.at("eps") >= 0, name(), ": invalid eps ", o.at("eps"), " (must be >= 0)");
  for (const char* beta : {"beta1", "beta2"})
    AFN_CHECK(o.at(beta) >= 0 && o.at(beta) < 1, name(), ": invalid ", beta, " ", o.at(beta),
              " (must be in [0, 1))");
  AFN_CHECK(o.at("weight_decay") >= 0, name(), ": invalid weight_decay ", o.at("weight_decay"),
            " (must be >= 0)");
}

void Adam::update(const ParamGroup& group, const std::vector<Tensor>& params,
                  std::vector<ParamState*>& states) {
  AdamHyper h;
  h.lr = group.get("lr");
  h.beta1 = group.get("beta1");
  h.beta2 = group.get("beta2");
  h.eps = group.get("eps");
  h.weight_decay = group.get("weight_decay");
  h.amsgrad = group.get("amsgrad") != 0;
  h.maximize = group.get("maximize") != 0;
  h.decoupled = decoupled_;
  // The bias corrections depend on each parameter's own step count (a parameter that started
  // receiving gradients later is at an earlier step): one update call per distinct step.
  for (ParamState* s : states) ++s->step;
  std::vector<bool> done(params.size(), false);
  for (size_t first = 0; first < params.size(); ++first) {
    if (done[first]) continue;
    const int64_t t = states[first]->step;
    std::vector<Tensor> ps, grads;
    std::vector<ParamState*> ss;
    for (size_t i = first; i < params.size(); ++i) {
      if (done[i] || states[i]->step != t) continue;
      done[i] = true;
      ps.push_back(params[i]);
      grads.push_back(in_param_format(params[i].grad(), params[i]));
      ss.push_back(states[i]);
    }
    h.step_size = h.lr / (1 - std::pow(h.beta1, double(t)));
    h.bias2_sqrt = std::sqrt(1 - std::pow(h.beta2, double(t)));
    ops::adam_update(
        ps, grads, state_buffers(ps, ss, "exp_avg"), state_buffers(ps, ss, "exp_avg_sq"),
        h.amsgrad ? state_buffers(ps, ss, "max_exp_avg_sq") : std::vector<Tensor>{}, h);
  }
}

}  // namespace afinar::optim
