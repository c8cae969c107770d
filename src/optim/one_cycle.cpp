// OneCycleLR (Smith & Topin's super-convergence schedule) as torch.optim.lr_scheduler.OneCycleLR
// with two phases: step t in phase 0 while t <= pct_start·total_steps - 1, phase 1 after, each
// annealing between its end points by the fraction of the phase covered.
#include <cmath>
#include <numbers>

#include "afinar/core/check.h"
#include "afinar/optim/scheduler.h"

namespace afinar::optim {

OneCycleLR::OneCycleLR(Optimizer& opt, OneCycleOptions o) : LRScheduler(opt), o_(std::move(o)) {
  const size_t groups = opt.param_groups().size();
  AFN_CHECK(o_.total_steps > 0, "OneCycleLR: total_steps must be > 0, got ", o_.total_steps);
  AFN_CHECK(o_.pct_start >= 0 && o_.pct_start <= 1, "OneCycleLR: pct_start must be in [0, 1], got ",
            o_.pct_start);
  AFN_CHECK(o_.anneal_strategy == "cos" || o_.anneal_strategy == "linear",
            "OneCycleLR: anneal_strategy must be 'cos' or 'linear', got '", o_.anneal_strategy,
            "'");
  AFN_CHECK(o_.max_lr.size() == 1 || o_.max_lr.size() == groups, "OneCycleLR: ", o_.max_lr.size(),
            " max_lr values for ", groups, " parameter groups");
  std::vector<double> initial;
  for (size_t g = 0; g < groups; ++g) {
    max_lrs_.push_back(o_.max_lr.size() == 1 ? o_.max_lr[0] : o_.max_lr[g]);
    initial.push_back(max_lrs_.back() / o_.div_factor);
  }
  set_base_lrs(initial);
  if (o_.cycle_momentum) {
    const Options& d = opt.defaults();
    momentum_key_ = d.count("beta1") ? "beta1" : d.count("momentum") ? "momentum" : "";
    AFN_CHECK(!momentum_key_.empty(), "OneCycleLR: ", opt.name(),
              " has no momentum to cycle; pass cycle_momentum = false");
  }
  apply();
}

std::pair<int, double> OneCycleLR::phase_of(int64_t t) const {
  AFN_CHECK(t <= o_.total_steps, "OneCycleLR: tried to step ", t,
            " times; the schedule has total_steps = ", o_.total_steps);
  const double end0 = o_.pct_start * double(o_.total_steps) - 1;
  const double end1 = double(o_.total_steps) - 1;
  if (double(t) <= end0) return {0, double(t) / end0};
  return {1, (double(t) - end0) / (end1 - end0)};
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (o_.anneal_strategy == "linear") return (end - start) * pct + start;
  return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1);
}

double OneCycleLR::lr_at(size_t g, int64_t t) const {
  const auto [phase, pct] = phase_of(t);
  const double initial = base_lrs()[g], peak = max_lrs_[g];
  const double low = initial / o_.final_div_factor;
  return phase == 0 ? anneal(initial, peak, pct) : anneal(peak, low, pct);
}

double OneCycleLR::momentum_at(int64_t t) const {
  const auto [phase, pct] = phase_of(t);
  return phase == 0 ? anneal(o_.max_momentum, o_.base_momentum, pct)
                    : anneal(o_.base_momentum, o_.max_momentum, pct);
}

void OneCycleLR::apply() {
  LRScheduler::apply();
  if (!o_.cycle_momentum) return;
  for (ParamGroup& g : optimizer().param_groups()) g.set(momentum_key_, momentum_at(last_epoch()));
}

}  // namespace afinar::optim
