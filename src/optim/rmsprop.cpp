#include "afinar/optim/rmsprop.h"

#include "afinar/core/check.h"
#include "afinar/ops/optimizer_update.h"

namespace afinar::optim {

RMSprop::RMSprop(std::vector<Tensor> params, const RmspropOptions& d)
    : Optimizer({{"lr", d.lr},
                 {"alpha", d.alpha},
                 {"eps", d.eps},
                 {"weight_decay", d.weight_decay},
                 {"momentum", d.momentum},
                 {"centered", d.centered ? 1.0 : 0.0},
                 {"maximize", d.maximize ? 1.0 : 0.0}}) {
  validate(defaults());
  add_param_group(std::move(params));
}

// PyTorch's checks: every coefficient >= 0 (alpha above 1 included, as there).
void RMSprop::validate(const Options& o) const {
  for (const char* key : {"lr", "alpha", "eps", "weight_decay", "momentum"})
    AFN_CHECK(o.at(key) >= 0, "rmsprop: invalid ", key, " ", o.at(key), " (must be >= 0)");
}

void RMSprop::update(const ParamGroup& group, const std::vector<Tensor>& params,
                     std::vector<ParamState*>& states) {
  const RmspropHyper h{.lr = group.get("lr"),
                       .alpha = group.get("alpha"),
                       .eps = group.get("eps"),
                       .weight_decay = group.get("weight_decay"),
                       .momentum = group.get("momentum"),
                       .centered = group.get("centered") != 0,
                       .maximize = group.get("maximize") != 0};
  for (ParamState* s : states) ++s->step;
  // The buffers start as zeros (PyTorch's state initialisation); a group that turns momentum or
  // centering on later starts those buffers then.
  ops::rmsprop_update(
      params, grads_of(params), state_buffers(params, states, "square_avg"),
      h.centered ? state_buffers(params, states, "grad_avg") : std::vector<Tensor>{},
      h.momentum > 0 ? state_buffers(params, states, "momentum_buffer") : std::vector<Tensor>{}, h);
}

}  // namespace afinar::optim
