// The epoch-indexed schedulers: each is a closed form lr_at(group, t) of its base lrs, which is
// what PyTorch's chainable updates compute step by step (equal to rounding). Every constructor
// ends with apply(), PyTorch's initial step, once its own members are set.
#include "afinar/optim/scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "afinar/core/check.h"

namespace afinar::optim {

LRScheduler::LRScheduler(Optimizer& opt) : opt_(opt) {
  for (ParamGroup& g : opt.param_groups()) {
    if (!g.initial_lr) g.initial_lr = g.get("lr");
    base_lrs_.push_back(*g.initial_lr);
  }
}

void LRScheduler::apply() {
  auto& groups = opt_.param_groups();
  AFN_CHECK(groups.size() == base_lrs_.size(), "lr scheduler: the optimizer has ", groups.size(),
            " parameter groups but the scheduler was made for ", base_lrs_.size(),
            "; make the scheduler after adding every group");
  for (size_t g = 0; g < groups.size(); ++g) groups[g].set("lr", lr_at(g, last_epoch_));
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

void LRScheduler::load_last_epoch(int64_t epoch) {
  AFN_CHECK(epoch >= 0, "lr scheduler: epoch must be >= 0, got ", epoch);
  last_epoch_ = epoch;
  apply();
}

std::vector<double> LRScheduler::last_lr() const {
  std::vector<double> out;
  for (const ParamGroup& g : opt_.param_groups()) out.push_back(g.get("lr"));
  return out;
}

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma)
    : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
  AFN_CHECK(step_size > 0, "StepLR: step_size must be > 0, got ", step_size);
  apply();
}
double StepLR::lr_at(size_t g, int64_t t) const {
  return base_lrs()[g] * std::pow(gamma_, double(t / step_size_));
}

MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(opt), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());  // PyTorch counts them in a Counter
  apply();
}
double MultiStepLR::lr_at(size_t g, int64_t t) const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), t);
  return base_lrs()[g] * std::pow(gamma_, double(passed - milestones_.begin()));
}

ExponentialLR::ExponentialLR(Optimizer& opt, double gamma) : LRScheduler(opt), gamma_(gamma) {
  apply();
}
double ExponentialLR::lr_at(size_t g, int64_t t) const {
  return base_lrs()[g] * std::pow(gamma_, double(t));
}

namespace {
// η_min + (b - η_min)(1 + cos(π·cur/period))/2
double cosine(double base, double eta_min, double cur, double period) {
  return eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * cur / period)) / 2;
}
}  // namespace

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min)
    : LRScheduler(opt), T_max_(T_max), eta_min_(eta_min) {
  AFN_CHECK(T_max > 0, "CosineAnnealingLR: T_max must be > 0, got ", T_max);
  apply();
}
double CosineAnnealingLR::lr_at(size_t g, int64_t t) const {
  return cosine(base_lrs()[g], eta_min_, double(t), double(T_max_));
}

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& opt, int64_t T_0,
                                                         int64_t T_mult, double eta_min)
    : LRScheduler(opt), T_0_(T_0), T_mult_(T_mult), eta_min_(eta_min) {
  AFN_CHECK(T_0 > 0, "CosineAnnealingWarmRestarts: T_0 must be > 0, got ", T_0);
  AFN_CHECK(T_mult >= 1, "CosineAnnealingWarmRestarts: T_mult must be >= 1, got ", T_mult);
  apply();
}
double CosineAnnealingWarmRestarts::lr_at(size_t g, int64_t t) const {
  // Walk the restarts as PyTorch's step() does: integers only, so no log() rounding.
  int64_t T_i = T_0_, T_cur = t;
  while (T_cur >= T_i) {
    T_cur -= T_i;
    T_i *= T_mult_;
  }
  return cosine(base_lrs()[g], eta_min_, double(T_cur), double(T_i));
}

LinearLR::LinearLR(Optimizer& opt, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(opt), start_(start_factor), end_(end_factor), total_(total_iters) {
  AFN_CHECK(start_factor > 0 && start_factor <= 1, "LinearLR: start_factor must be in (0, 1], got ",
            start_factor);
  AFN_CHECK(end_factor >= 0 && end_factor <= 1, "LinearLR: end_factor must be in [0, 1], got ",
            end_factor);
  AFN_CHECK(total_iters > 0, "LinearLR: total_iters must be > 0, got ", total_iters);
  apply();
}
double LinearLR::lr_at(size_t g, int64_t t) const {
  return base_lrs()[g] * (start_ + (end_ - start_) * double(std::min(t, total_)) / double(total_));
}

ConstantLR::ConstantLR(Optimizer& opt, double factor, int64_t total_iters)
    : LRScheduler(opt), factor_(factor), total_(total_iters) {
  AFN_CHECK(factor >= 0 && factor <= 1, "ConstantLR: factor must be in [0, 1], got ", factor);
  // PyTorch takes 0 too, but its step() then keeps b·f for good while its closed form says b.
  AFN_CHECK(total_iters > 0, "ConstantLR: total_iters must be > 0, got ", total_iters);
  apply();
}
double ConstantLR::lr_at(size_t g, int64_t t) const {
  return t < total_ ? base_lrs()[g] * factor_ : base_lrs()[g];
}

PolynomialLR::PolynomialLR(Optimizer& opt, int64_t total_iters, double power)
    : LRScheduler(opt), total_(total_iters), power_(power) {
  AFN_CHECK(total_iters > 0, "PolynomialLR: total_iters must be > 0, got ", total_iters);
  AFN_CHECK(power >= 0, "PolynomialLR: power must be >= 0, got ", power);
  apply();
}
double PolynomialLR::lr_at(size_t g, int64_t t) const {
  return base_lrs()[g] * std::pow(1.0 - double(std::min(t, total_)) / double(total_), power_);
}

SequentialLR::SequentialLR(Optimizer& opt, std::vector<std::unique_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler(opt), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  AFN_CHECK(!schedulers_.empty() && schedulers_.size() == milestones_.size() + 1,
            "SequentialLR: expected one more scheduler than milestones, got ", schedulers_.size(),
            " schedulers and ", milestones_.size(), " milestones");
  AFN_CHECK(std::is_sorted(milestones_.begin(), milestones_.end()),
            "SequentialLR: milestones must be increasing");
  apply();
}
double SequentialLR::lr_at(size_t g, int64_t t) const {
  const size_t k =
      size_t(std::upper_bound(milestones_.begin(), milestones_.end(), t) - milestones_.begin());
  return schedulers_[k]->lr_at(g, k == 0 ? t : t - milestones_[k - 1]);
}

}  // namespace afinar::optim
