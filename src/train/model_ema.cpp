#include "afinar/train/model_ema.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "afinar/core/check.h"
#include "afinar/ops/elementwise.h"

namespace afinar::train {

namespace {

// The memory format of `model`'s 4-D tensors (its convolutions' weights), contiguous without any.
MemoryFormat memory_format_of(const StateDict& state) {
  for (const auto& [key, t] : state)
    if (t.dim() == 4) return suggest_memory_format(t);
  return MemoryFormat::Contiguous;
}

// A lerp weight as torch.lerp uses it on a tensor of `dtype`: a float32 tensor's scalar weight is
// rounded to float32, and so is its complement 1 - w computed from it.
std::pair<double, double> weight_and_complement(double w, DType dtype) {
  if (dtype != DType::F32) return {w, 1.0 - w};
  const float wf = float(w);
  return {double(wf), double(1.0f - wf)};
}

}  // namespace

ModelEma::ModelEma(nn::ModulePtr average, const nn::Module& model, ModelEmaOptions options)
    : average_(std::move(average)), options_(options) {
  AFN_CHECK(average_ != nullptr, "ModelEma: no model to hold the average");
  AFN_CHECK(std::isfinite(options.decay) && options.decay >= 0 && options.decay <= 1,
            "ModelEma: decay must be in [0, 1] (--model-ema-decay), got ", options.decay);
  const StateDict state = model.state_dict();
  if (!state.empty()) {
    average_->to(state.begin()->second.device());
    if (memory_format_of(state) == MemoryFormat::ChannelsLast)
      average_->to(MemoryFormat::ChannelsLast);
  }
  average_->load_state_dict(state, /*strict=*/true);  // an error lists any key or shape mismatch
  for (Tensor p : average_->parameters()) p.set_requires_grad(false);
  average_->eval();
}

double ModelEma::decay_at(int64_t step) const {
  const int64_t t = std::max<int64_t>(0, step - 1);
  if (t == 0) return 0.0;
  if (!options_.warmup) return options_.decay;
  const double warm = 1.0 - std::pow(1.0 + double(t), -2.0 / 3.0);
  return std::clamp(warm, 0.0, options_.decay);
}

void ModelEma::update(const nn::Module& model, int64_t step) {
  const StateDict mine = average_->state_dict(), theirs = model.state_dict();
  AFN_CHECK(mine.size() == theirs.size(), "ModelEma: the model has ", theirs.size(),
            " tensors but the average was made from one with ", mine.size());
  const double w = 1.0 - decay_at(step);
  auto their = theirs.begin();
  for (const auto& [key, e] : mine) {
    const auto& [their_key, m] = *their++;
    AFN_CHECK(key == their_key && e.shape() == m.shape() && e.dtype() == m.dtype(),
              "ModelEma: the model's tensor ", their_key, " ", m.shape(), " does not match the ",
              "average's ", key, " ", e.shape(),
              ": update the average with the model it was made "
              "from");
    Tensor average = e;
    if (!is_floating(e.dtype())) {
      average.copy_(m);  // counters follow the model
      continue;
    }
    const auto [weight, complement] = weight_and_complement(w, e.dtype());
    const Tensor diff = ops::add(m, e, -1.0);  // m - e
    average.copy_(weight < 0.5 ? ops::add(e, diff, weight) : ops::add(m, diff, -complement));
  }
}

}  // namespace afinar::train
