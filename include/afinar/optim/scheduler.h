// Learning-rate schedulers with torch.optim.lr_scheduler's semantics. Each scales every parameter
// group from its own base lr (the group's lr when the first scheduler was made, PyTorch's
// "initial_lr"). Constructing one sets the lrs of epoch 0; step() advances one epoch — or one
// iteration, if the caller steps per batch (OneCycleLR is meant for that).
//
//   epoch t, base lr b (per group):
//   StepLR(step_size, γ)              b·γ^⌊t/step_size⌋
//   MultiStepLR(milestones, γ)        b·γ^(milestones ≤ t)
//   ExponentialLR(γ)                  b·γ^t
//   CosineAnnealingLR(T_max, η_min)   η_min + (b-η_min)(1+cos(πt/T_max))/2
//   CosineAnnealingWarmRestarts(T_0, T_mult, η_min)
//                                     the cosine over T_cur/T_i, restarting when T_cur reaches
//                                     T_i (T_i = T_0, then ×T_mult after each restart)
//   LinearLR(s, e, n)                 b·(s + (e-s)·min(t, n)/n)       (linear warm-up)
//   ConstantLR(f, n)                  b·f for t < n, then b            (constant warm-up)
//   PolynomialLR(n, power)            b·(1 - min(t, n)/n)^power        (0 from epoch n on)
//   SequentialLR(schedulers, milestones)
//                                     scheduler k from milestone k-1 on, restarted there (t
//                                     counted from its milestone): warm-up then anything
//   OneCycleLR(max_lr, total_steps, …) up from max_lr/div_factor to max_lr over pct_start of the
//                                     steps, then down to initial/final_div_factor (cos or
//                                     linear); momentum (Adam: beta1) cycles the other way.
//                                     three_phase: down to the initial lr over another
//                                     pct_start of the steps, then on to initial/final_div_factor
//   ReduceLROnPlateau                 lr ·= factor when the metric has not improved for
//                                     `patience` steps (step(metric)), with cooldown and min_lr
// Values equal PyTorch 1.13's to rounding (tests/optim/scheduler_test.cpp).
//
// One difference by design: PyTorch's step() multiplies the group's current lr (its "chainable"
// form), afinar's sets the closed form above. They agree whenever one scheduler drives the
// optimizer, but two schedulers stepped together do not multiply here (the last one's lr
// stands), and an lr changed by hand is replaced at the next step (compose schedules with
// SequentialLR; a scheduler's base lr is the group's initial_lr).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "afinar/optim/optimizer.h"

namespace afinar::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  void step();
  int64_t last_epoch() const { return last_epoch_; }
  std::vector<double> last_lr() const;
  // The lr of group g at epoch t (t >= 0), without changing anything.
  virtual double lr_at(size_t g, int64_t t) const = 0;

  // For checkpoints: the epoch is the whole state of every scheduler here.
  void load_last_epoch(int64_t epoch);

 protected:
  explicit LRScheduler(Optimizer& opt);
  // Sets every group's lr (and anything else the schedule drives) for last_epoch_.
  virtual void apply();
  // Base lrs are the groups' initial lrs; OneCycleLR defines its own.
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  void set_base_lrs(std::vector<double> lrs) { base_lrs_ = std::move(lrs); }
  Optimizer& optimizer() const { return opt_; }

 private:
  Optimizer& opt_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = 0;
};

class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);
  double lr_at(size_t g, int64_t t) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma = 0.1);
  double lr_at(size_t g, int64_t t) const override;

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& opt, double gamma);
  double lr_at(size_t g, int64_t t) const override;

 private:
  double gamma_;
};

class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min = 0);
  double lr_at(size_t g, int64_t t) const override;

 private:
  int64_t T_max_;
  double eta_min_;
};

class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(Optimizer& opt, int64_t T_0, int64_t T_mult = 1, double eta_min = 0);
  double lr_at(size_t g, int64_t t) const override;

 private:
  int64_t T_0_, T_mult_;
  double eta_min_;
};

class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& opt, double start_factor = 1.0 / 3, double end_factor = 1.0,
           int64_t total_iters = 5);
  double lr_at(size_t g, int64_t t) const override;

 private:
  double start_, end_;
  int64_t total_;
};

class ConstantLR : public LRScheduler {
 public:
  // factor in [0, 1] (PyTorch's check), total_iters > 0.
  ConstantLR(Optimizer& opt, double factor = 1.0 / 3, int64_t total_iters = 5);
  double lr_at(size_t g, int64_t t) const override;

 private:
  double factor_;
  int64_t total_;
};

class PolynomialLR : public LRScheduler {
 public:
  // total_iters > 0, power >= 0 (PyTorch checks neither; 0 iterations divide by zero there).
  explicit PolynomialLR(Optimizer& opt, int64_t total_iters = 5, double power = 1.0);
  double lr_at(size_t g, int64_t t) const override;

 private:
  int64_t total_;
  double power_;
};

class SequentialLR : public LRScheduler {
 public:
  // schedulers.size() == milestones.size() + 1, milestones increasing; all on `opt`.
  SequentialLR(Optimizer& opt, std::vector<std::unique_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones);
  double lr_at(size_t g, int64_t t) const override;

 private:
  std::vector<std::unique_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

struct OneCycleOptions {
  std::vector<double> max_lr;  // one value for every group, or one per group
  int64_t total_steps = 0;
  double pct_start = 0.3;
  std::string anneal_strategy = "cos";  // or "linear"
  bool cycle_momentum = true;
  double base_momentum = 0.85, max_momentum = 0.95;
  double div_factor = 25, final_div_factor = 1e4;
  bool three_phase = false;
};

class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& opt, OneCycleOptions options);
  double lr_at(size_t g, int64_t t) const override;
  double momentum_at(int64_t t) const;

 protected:
  void apply() override;

 private:
  // The phase of step t and the fraction of it covered.
  std::pair<size_t, double> phase_of(int64_t t) const;
  double anneal(double start, double end, double pct) const;
  OneCycleOptions o_;
  std::vector<double> phase_ends_;  // the last step of each phase (fractional, as PyTorch's)
  std::vector<double> max_lrs_;
  std::string momentum_key_;  // "momentum" (SGD) or "beta1" (Adam)
};

struct PlateauOptions {
  std::string mode = "min";  // or "max"
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  std::string threshold_mode = "rel";  // or "abs"
  int64_t cooldown = 0;
  std::vector<double> min_lr = {0.0};  // one for every group, or one per group
  double eps = 1e-8;
};

class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& opt, PlateauOptions options = {});
  void step(double metric);
  int64_t last_epoch() const { return last_epoch_; }

  // For checkpoints.
  struct State {
    int64_t last_epoch = 0, num_bad_epochs = 0, cooldown_counter = 0;
    double best = 0;
  };
  State state() const { return {last_epoch_, num_bad_epochs_, cooldown_counter_, best_}; }
  void load_state(const State& s);

 private:
  bool is_better(double a) const;
  Optimizer& opt_;
  PlateauOptions o_;
  std::vector<double> min_lrs_;
  int64_t last_epoch_ = 0, num_bad_epochs_ = 0, cooldown_counter_ = 0;
  double best_;
};

}  // namespace afinar::optim
