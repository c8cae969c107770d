// OneCycleLR (Smith & Topin's super-convergence schedule) as torch.optim.lr_scheduler.OneCycleLR.
// With T = total_steps and p = pct_start, the phases end at steps
//   two phases:   p·T - 1 (initial -> max_lr),  T - 1 (max_lr -> min)
//   three_phase:  p·T - 1 (initial -> max_lr),  2·p·T - 2 (max_lr -> initial),  T - 1 (-> min)
// with initial = max_lr / div_factor and min = initial / final_div_factor. Step t belongs to the
// first phase whose end it has not passed (the last phase takes the rest) and anneals between
// that phase's end points by the fraction of the phase covered.
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
  const double T = double(o_.total_steps), p = o_.pct_start;
  phase_ends_ = o_.three_phase ? std::vector<double>{p * T - 1, 2 * p * T - 2, T - 1}
                               : std::vector<double>{p * T - 1, T - 1};
  // A phase of length 0 would anneal by 0/0 (NaN lrs, then NaN weights); PyTorch raises
  // ZeroDivisionError on its first step there. It happens when pct_start·T = 1 or when the last
  // phase starts at step T - 1 (pct_start = 1, or a three_phase pct_start = (T+1)/2T).
  for (size_t i = 0; i < phase_ends_.size(); ++i) {
    const double start = i == 0 ? 0 : phase_ends_[i - 1];
    AFN_CHECK(phase_ends_[i] != start, "OneCycleLR: pct_start ", p, " of total_steps ",
              o_.total_steps, " leaves phase ", i + 1, " of ", phase_ends_.size(),
              " no steps (it would start and end at step ", start,
              "; PyTorch divides by zero there); change pct_start or the number of steps");
  }
  if (o_.cycle_momentum) {
    const Options& d = opt.defaults();
    momentum_key_ = d.count("beta1") ? "beta1" : d.count("momentum") ? "momentum" : "";
    AFN_CHECK(!momentum_key_.empty(), "OneCycleLR: ", opt.name(),
              " has no momentum to cycle; pass cycle_momentum = false");
  }
  apply();
}

std::pair<size_t, double> OneCycleLR::phase_of(int64_t t) const {
  AFN_CHECK(t <= o_.total_steps, "OneCycleLR: tried to step ", t,
            " times; the schedule has total_steps = ", o_.total_steps);
  double start = 0;
  size_t i = 0;
  for (; i + 1 < phase_ends_.size() && double(t) > phase_ends_[i]; ++i) start = phase_ends_[i];
  return {i, (double(t) - start) / (phase_ends_[i] - start)};
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (o_.anneal_strategy == "linear") return (end - start) * pct + start;
  return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1);
}

double OneCycleLR::lr_at(size_t g, int64_t t) const {
  const auto [phase, pct] = phase_of(t);
  const double initial = base_lrs()[g], peak = max_lrs_[g];
  const double low = initial / o_.final_div_factor;
  if (phase == 0) return anneal(initial, peak, pct);
  if (phase == 1 && o_.three_phase) return anneal(peak, initial, pct);
  return anneal(o_.three_phase ? initial : peak, low, pct);
}

// The momentum goes down while the lr goes up and back up while it comes down; three_phase keeps
// it at max_momentum through the last phase.
double OneCycleLR::momentum_at(int64_t t) const {
  const auto [phase, pct] = phase_of(t);
  const double lo = o_.base_momentum, hi = o_.max_momentum;
  if (phase == 0) return anneal(hi, lo, pct);
  if (phase == 1) return anneal(lo, hi, pct);
  return hi;
}

void OneCycleLR::apply() {
  LRScheduler::apply();
  if (!o_.cycle_momentum) return;
  for (ParamGroup& g : optimizer().param_groups()) g.set(momentum_key_, momentum_at(last_epoch()));
}

}  // namespace afinar::optim
