// ReduceLROnPlateau as torch.optim.lr_scheduler.ReduceLROnPlateau: count the steps since the
// metric last improved by more than the threshold; past `patience` of them, multiply every lr by
// `factor` (not below its min_lr; changes under eps are skipped) and wait `cooldown` steps.
#include <cmath>
#include <limits>

#include "afinar/core/check.h"
#include "afinar/optim/scheduler.h"

namespace afinar::optim {

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, PlateauOptions o)
    : opt_(opt), o_(std::move(o)) {
  AFN_CHECK(o_.factor < 1, "ReduceLROnPlateau: factor must be < 1, got ", o_.factor);
  AFN_CHECK(o_.mode == "min" || o_.mode == "max",
            "ReduceLROnPlateau: mode must be 'min' or 'max', got '", o_.mode, "'");
  AFN_CHECK(o_.threshold_mode == "rel" || o_.threshold_mode == "abs",
            "ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got '", o_.threshold_mode,
            "'");
  const size_t groups = opt.param_groups().size();
  AFN_CHECK(o_.min_lr.size() == 1 || o_.min_lr.size() == groups,
            "ReduceLROnPlateau: ", o_.min_lr.size(), " min_lr values for ", groups,
            " parameter groups");
  for (size_t g = 0; g < groups; ++g)
    min_lrs_.push_back(o_.min_lr.size() == 1 ? o_.min_lr[0] : o_.min_lr[g]);
  const double inf = std::numeric_limits<double>::infinity();
  best_ = o_.mode == "min" ? inf : -inf;
}

bool ReduceLROnPlateau::is_better(double a) const {
  const bool rel = o_.threshold_mode == "rel";
  if (o_.mode == "min") return rel ? a < best_ * (1 - o_.threshold) : a < best_ - o_.threshold;
  return rel ? a > best_ * (o_.threshold + 1) : a > best_ + o_.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad steps during the cooldown do not count
  }
  if (num_bad_epochs_ > o_.patience) {
    auto& groups = opt_.param_groups();
    for (size_t g = 0; g < groups.size(); ++g) {
      const double old_lr = groups[g].get("lr");
      const double new_lr = std::max(old_lr * o_.factor, min_lrs_[g]);
      if (old_lr - new_lr > o_.eps) groups[g].set("lr", new_lr);
    }
    cooldown_counter_ = o_.cooldown;
    num_bad_epochs_ = 0;
  }
}

void ReduceLROnPlateau::load_state(const State& s) {
  last_epoch_ = s.last_epoch;
  num_bad_epochs_ = s.num_bad_epochs;
  cooldown_counter_ = s.cooldown_counter;
  best_ = s.best;
}

}  // namespace afinar::optim
