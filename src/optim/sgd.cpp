#include "afinar/optim/sgd.h"

#include "afinar/core/check.h"
#include "afinar/ops/optimizer_update.h"

namespace afinar::optim {

SGD::SGD(std::vector<Tensor> params, const SgdOptions& d)
    : Optimizer({{"lr", d.lr},
                 {"momentum", d.momentum},
                 {"dampening", d.dampening},
                 {"weight_decay", d.weight_decay},
                 {"nesterov", d.nesterov ? 1.0 : 0.0},
                 {"maximize", d.maximize ? 1.0 : 0.0}}) {
  validate(defaults());
  add_param_group(std::move(params));
}

void SGD::validate(const Options& o) const {
  AFN_CHECK(o.at("lr") >= 0, "sgd: invalid learning rate ", o.at("lr"), " (must be >= 0)");
  AFN_CHECK(o.at("momentum") >= 0, "sgd: invalid momentum ", o.at("momentum"), " (must be >= 0)");
  AFN_CHECK(o.at("weight_decay") >= 0, "sgd: invalid weight_decay ", o.at("weight_decay"),
            " (must be >= 0)");
  AFN_CHECK(o.at("nesterov") == 0 || (o.at("momentum") > 0 && o.at("dampening") == 0),
            "sgd: Nesterov momentum requires a momentum > 0 and zero dampening (as PyTorch)");
}

void SGD::update(const ParamGroup& group, const std::vector<Tensor>& params,
                 std::vector<ParamState*>& states) {
  const SgdHyper h{
      group.get("lr"),           group.get("momentum"),      group.get("dampening"),
      group.get("weight_decay"), group.get("nesterov") != 0, group.get("maximize") != 0};
  for (ParamState* s : states) ++s->step;
  if (h.momentum == 0) return ops::sgd_update(params, grads_of(params), {}, false, h);
  // A parameter's first step with momentum starts its buffer from the step itself (no dampening).
  std::vector<Tensor> fresh, fresh_grads, fresh_bufs, going, going_grads, going_bufs;
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor& buf = states[i]->buffers["momentum_buffer"];
    const bool init = !buf.defined();
    buf = init ? zeros_like(params[i]) : in_param_format(buf, params[i]);
    (init ? fresh : going).push_back(params[i]);
    (init ? fresh_grads : going_grads).push_back(in_param_format(params[i].grad(), params[i]));
    (init ? fresh_bufs : going_bufs).push_back(buf);
  }
  ops::sgd_update(going, going_grads, going_bufs, /*init_buffers=*/false, h);
  ops::sgd_update(fresh, fresh_grads, fresh_bufs, /*init_buffers=*/true, h);
}

}  // namespace afinar::optim
