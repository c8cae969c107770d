#include "afinar/optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "afinar/autograd/grad_mode.h"
#include "afinar/core/check.h"

namespace afinar::optim {

namespace {
// The base lr a scheduler set (PyTorch's group["initial_lr"]), saved with the group's options.
constexpr const char* kInitialLr = "initial_lr";
}  // namespace

double ParamGroup::get(const std::string& key) const {
  auto it = options.find(key);
  AFN_CHECK(it != options.end(), "optimizer: no option '", key, "' in this parameter group");
  return it->second;
}

void ParamGroup::set(const std::string& key, double value) {
  auto it = options.find(key);
  AFN_CHECK(it != options.end(), "optimizer: no option '", key, "' in this parameter group");
  it->second = value;
}

void Optimizer::add_param_group(std::vector<Tensor> params, const Options& options) {
  ParamGroup group{std::move(params), defaults_, std::nullopt};
  for (const auto& [key, value] : options) {
    AFN_CHECK(defaults_.count(key), name(), ": unknown option '", key, "' in a parameter group");
    group.options[key] = value;
  }
  validate(group.options);
  std::unordered_set<const TensorImpl*> seen;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) seen.insert(p.impl());
  for (const Tensor& p : group.params) {
    AFN_CHECK(p.defined(), name(), ": a parameter group holds an undefined tensor");
    AFN_CHECK(p.is_leaf(), name(), ": parameters must be leaf tensors (shape ", p.shape(), ")");
    AFN_CHECK(is_floating(p.dtype()), name(), ": parameters must be floating, got ", p.dtype());
    AFN_CHECK(seen.insert(p.impl()).second, name(), ": a parameter (shape ", p.shape(),
              ") appears in more than one parameter group");
  }
  groups_.push_back(std::move(group));
}

void Optimizer::step() {
  NoGradGuard no_grad;
  for (const ParamGroup& group : groups_) {
    // One update call per dtype and device: that is what one multi-tensor launch can take.
    struct Bucket {
      DType dtype;
      Device device;
      std::vector<Tensor> params;
      std::vector<ParamState*> states;
    };
    std::vector<Bucket> buckets;
    for (const Tensor& p : group.params) {
      if (!p.requires_grad() || !p.grad().defined()) continue;  // frozen, or unused this step
      auto it = std::find_if(buckets.begin(), buckets.end(), [&](const Bucket& b) {
        return b.dtype == p.dtype() && b.device == p.device();
      });
      if (it == buckets.end())
        it = buckets.insert(buckets.end(), Bucket{p.dtype(), p.device(), {}, {}});
      it->params.push_back(p);
      it->states.push_back(&state_[p.impl()]);
    }
    for (Bucket& b : buckets) update(group, b.params, b.states);
  }
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (ParamGroup& group : groups_) {
    for (Tensor& p : group.params) {
      if (!p.grad().defined()) continue;
      if (set_to_none)
        p.set_grad(Tensor());
      else
        p.mutable_grad().zero_();
    }
  }
}

const ParamState* Optimizer::state(const Tensor& param) const {
  auto it = state_.find(param.impl());
  return it == state_.end() ? nullptr : &it->second;
}

StateDict Optimizer::state_dict() const {
  StateDict sd;
  int64_t index = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    sd.insert(prefix + "num_params", scalar_tensor(double(groups_[g].params.size()), DType::I64));
    for (const auto& [key, value] : groups_[g].options)
      sd.insert(prefix + key, scalar_tensor(value, DType::F64));
    if (groups_[g].initial_lr)
      sd.insert(prefix + kInitialLr, scalar_tensor(*groups_[g].initial_lr, DType::F64));
    for (const Tensor& p : groups_[g].params) {
      if (const ParamState* s = state(p)) {
        const std::string sp = "state." + std::to_string(index) + ".";
        sd.insert(sp + "step", scalar_tensor(double(s->step), DType::I64));
        for (const auto& [key, t] : s->buffers) sd.insert(sp + key, t.detach());
      }
      ++index;
    }
  }
  return sd;
}

void Optimizer::load_state_dict(const StateDict& sd) {
  NoGradGuard no_grad;
  int64_t index = 0;
  std::unordered_map<const TensorImpl*, ParamState> loaded;
  std::vector<Options> options(groups_.size());
  std::vector<std::optional<double>> initial_lrs(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    AFN_CHECK(sd.contains(prefix + "num_params"), name(),
              ": the saved state has fewer parameter groups than this optimizer (", groups_.size(),
              ")");
    const int64_t n = sd.at(prefix + "num_params").item<int64_t>();
    AFN_CHECK(n == int64_t(groups_[g].params.size()), name(), ": saved group ", g, " has ", n,
              " parameters, this optimizer's has ", groups_[g].params.size());
    options[g] = groups_[g].options;
    for (auto& [key, value] : options[g]) {
      AFN_CHECK(sd.contains(prefix + key), name(), ": the saved state lacks option '", key,
                "' of group ", g);
      value = sd.at(prefix + key).item<double>();
    }
    validate(options[g]);
    if (sd.contains(prefix + kInitialLr)) {
      initial_lrs[g] = sd.at(prefix + kInitialLr).item<double>();
      AFN_CHECK(std::isfinite(*initial_lrs[g]) && *initial_lrs[g] >= 0, name(), ": group ", g,
                " has initial_lr ", *initial_lrs[g], "; a learning rate is finite and >= 0");
    }
    for (const Tensor& p : groups_[g].params) {
      const std::string sp = "state." + std::to_string(index++) + ".";
      if (!sd.contains(sp + "step")) continue;
      ParamState s;
      s.step = sd.at(sp + "step").item<int64_t>();
      for (const auto& [key, t] : sd) {
        if (key.rfind(sp, 0) != 0 || key == sp + "step") continue;
        AFN_CHECK(t.shape() == p.shape(), name(), ": saved state '", key, "' has shape ", t.shape(),
                  " but the parameter has ", p.shape());
        s.buffers[key.substr(sp.size())] = t.to(p.dtype()).to(p.device()).clone();
      }
      loaded[p.impl()] = std::move(s);
    }
  }
  AFN_CHECK(!sd.contains("param_groups." + std::to_string(groups_.size()) + ".num_params"), name(),
            ": the saved state has more parameter groups than this optimizer (", groups_.size(),
            ")");
  for (size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].options = options[g];
    if (initial_lrs[g]) groups_[g].initial_lr = initial_lrs[g];
  }
  state_ = std::move(loaded);
}

std::vector<Tensor> params_with_grad(const Optimizer& opt) {
  std::vector<Tensor> out;
  for (const ParamGroup& group : opt.param_groups())
    for (const Tensor& p : group.params)
      if (p.grad().defined()) out.push_back(p);
  return out;
}

Tensor in_param_format(const Tensor& t, const Tensor& param) {
  return t.contiguous(suggest_memory_format(param));
}

std::vector<Tensor> grads_of(const std::vector<Tensor>& params) {
  std::vector<Tensor> grads;
  grads.reserve(params.size());
  for (const Tensor& p : params) grads.push_back(in_param_format(p.grad(), p));
  return grads;
}

std::vector<Tensor> state_buffers(const std::vector<Tensor>& params,
                                  std::vector<ParamState*>& states, const std::string& key) {
  std::vector<Tensor> out;
  out.reserve(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor& b = states[i]->buffers[key];
    b = b.defined() ? in_param_format(b, params[i]) : zeros_like(params[i]);
    out.push_back(b);
  }
  return out;
}

}  // namespace afinar::optim
