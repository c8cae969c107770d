#include "afinar/optim/grad_scaler.h"

#include <cmath>

#include "afinar/autograd/grad_mode.h"
#include "afinar/ops/amp_scale.h"
#include "afinar/ops/elementwise.h"

namespace afinar::optim {

GradScaler::GradScaler(const GradScalerOptions& options)
    : options_(options), loaded_scale_(options.init_scale) {
  AFN_CHECK(options.init_scale > 0 && std::isfinite(options.init_scale),
            "GradScaler: init_scale must be positive and finite, got ", options.init_scale);
  AFN_CHECK(options.growth_factor > 1.0, "GradScaler: growth_factor must be > 1, got ",
            options.growth_factor);
  AFN_CHECK(options.backoff_factor > 0.0 && options.backoff_factor < 1.0,
            "GradScaler: backoff_factor must be in (0, 1), got ", options.backoff_factor);
  AFN_CHECK(options.growth_interval > 0, "GradScaler: growth_interval must be positive, got ",
            options.growth_interval);
}

void GradScaler::lazy_init(const Device& device) {
  if (scale_.defined()) {
    AFN_CHECK(scale_.device() == device, "GradScaler: the scale is on ", scale_.device(),
              " but this loss is on ", device, "; one GradScaler serves one device");
    return;
  }
  scale_ = full({}, loaded_scale_, DType::F32, device);
  growth_tracker_ = full({}, double(loaded_tracker_), DType::I32, device);
}

Tensor GradScaler::scale(const Tensor& loss) {
  if (!options_.enabled) return loss;
  AFN_CHECK(loss.defined(), "GradScaler.scale: the loss is undefined");
  lazy_init(loss.device());
  return loss * (loss.dtype() == DType::F32 ? scale_ : scale_.to(loss.dtype()));
}

void GradScaler::unscale_(Optimizer& opt) {
  if (!options_.enabled) return;
  AFN_CHECK(scale_.defined(),
            "GradScaler.unscale_: no scale yet; call scale(loss) and backward() first");
  PerOptimizer& state = per_optimizer_[&opt];
  AFN_CHECK(!state.unscaled,
            "GradScaler.unscale_: unscale_() has already been called on this optimizer since the "
            "last update()");
  AFN_CHECK(!state.stepped, "GradScaler.unscale_: unscale_() is being called after step()");
  std::vector<Tensor> grads;
  for (const Tensor& p : params_with_grad(opt)) {
    AFN_CHECK(p.grad().dtype() != DType::F16,
              "GradScaler: attempting to unscale float16 gradients; keep the parameters in "
              "float32 (autocast casts them for the forward) as PyTorch requires");
    grads.push_back(p.grad());
  }
  state.found_inf = zeros({}, DType::F32, scale_.device());
  NoGradGuard no_grad;
  ops::amp_unscale_(grads, state.found_inf, scale_);
  state.unscaled = true;
}

bool GradScaler::step(Optimizer& opt) {
  if (!options_.enabled) {
    opt.step();
    return true;
  }
  PerOptimizer& state = per_optimizer_[&opt];
  AFN_CHECK(!state.stepped,
            "GradScaler.step: step() has already been called since the last update()");
  if (!state.unscaled) unscale_(opt);
  state.stepped = true;
  if (state.found_inf.item<float>() != 0.0f) return false;  // the one host read of a step
  opt.step();
  return true;
}

void GradScaler::update() {
  if (!options_.enabled) return;
  AFN_CHECK(scale_.defined(), "GradScaler.update: no scale yet; call scale(loss) first");
  // Any optimizer's inf skips the growth for all, as PyTorch sums the flags.
  Tensor found_inf;
  for (const auto& [opt, state] : per_optimizer_) {
    if (!state.found_inf.defined()) continue;
    found_inf = found_inf.defined() ? found_inf + state.found_inf : state.found_inf;
  }
  AFN_CHECK(found_inf.defined(),
            "GradScaler.update: no inf checks were recorded before update(); "
            "call step(optimizer) (or unscale_) first");
  NoGradGuard no_grad;
  ops::amp_update_scale_(scale_, growth_tracker_, found_inf, options_.growth_factor,
                         options_.backoff_factor, options_.growth_interval);
  per_optimizer_.clear();
}

double GradScaler::get_scale() const {
  if (!options_.enabled) return 1.0;
  return scale_.defined() ? double(scale_.item<float>()) : loaded_scale_;
}

StateDict GradScaler::state_dict() const {
  StateDict sd;
  if (!options_.enabled) return sd;
  const int64_t tracker =
      growth_tracker_.defined() ? int64_t(growth_tracker_.item<int32_t>()) : loaded_tracker_;
  sd.insert("scale", scalar_tensor(get_scale(), DType::F64));
  sd.insert("growth_factor", scalar_tensor(options_.growth_factor, DType::F64));
  sd.insert("backoff_factor", scalar_tensor(options_.backoff_factor, DType::F64));
  sd.insert("growth_interval", scalar_tensor(double(options_.growth_interval), DType::I64));
  sd.insert("_growth_tracker", scalar_tensor(double(tracker), DType::I64));
  return sd;
}

void GradScaler::load_state_dict(const StateDict& sd) {
  AFN_CHECK(options_.enabled, "GradScaler.load_state_dict: the scaler is disabled");
  AFN_CHECK(!sd.empty(),
            "GradScaler.load_state_dict: the state is empty (saved from a disabled "
            "scaler?)");
  for (const char* key :
       {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"})
    AFN_CHECK(sd.contains(key), "GradScaler.load_state_dict: the state has no '", key, "'");
  loaded_scale_ = sd.at("scale").item<double>();
  options_.growth_factor = sd.at("growth_factor").item<double>();
  options_.backoff_factor = sd.at("backoff_factor").item<double>();
  options_.growth_interval = sd.at("growth_interval").item<int64_t>();
  loaded_tracker_ = sd.at("_growth_tracker").item<int64_t>();
  if (scale_.defined()) {
    scale_.fill_(loaded_scale_);
    growth_tracker_.fill_(double(loaded_tracker_));
  }
}

}  // namespace afinar::optim
