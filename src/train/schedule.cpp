#include "afinar/train/schedule.h"

#include <algorithm>
#include <cmath>

#include "afinar/core/check.h"

namespace afinar::train {

bool steps_per_update(const SchedulerConfig& sc) {
  return sc.interval.empty() ? sc.name == "onecycle" : sc.interval == "step";
}

namespace {

// `key` of the schedule's arguments, or `fallback`.
struct Args {
  const SchedulerConfig& sc;
  double operator()(const char* key, double fallback) const {
    auto it = sc.args.find(key);
    return it == sc.args.end() ? fallback : it->second;
  }
};

// OneCycleLR over the stage's updates (or epochs): max_lr each group's own lr unless given.
std::unique_ptr<optim::LRScheduler> make_one_cycle(const SchedulerConfig& sc, optim::Optimizer& opt,
                                                   int64_t total_steps) {
  const Args arg{sc};
  optim::OneCycleOptions o;
  if (sc.args.count("max_lr")) {
    o.max_lr = {sc.args.at("max_lr")};
  } else {
    for (const optim::ParamGroup& g : opt.param_groups()) o.max_lr.push_back(g.get("lr"));
  }
  o.total_steps = total_steps;
  o.pct_start = arg("pct_start", o.pct_start);
  o.anneal_strategy = sc.anneal_strategy;
  o.cycle_momentum = arg("cycle_momentum", 1) != 0;
  o.base_momentum = arg("base_momentum", o.base_momentum);
  o.max_momentum = arg("max_momentum", o.max_momentum);
  o.div_factor = arg("div_factor", o.div_factor);
  o.final_div_factor = arg("final_div_factor", o.final_div_factor);
  o.three_phase = arg("three_phase", 0) != 0;
  return std::make_unique<optim::OneCycleLR>(opt, std::move(o));
}

// Every schedule but plateau, counted in units of `unit` optimizer steps per epoch (1: epochs),
// behind its warm-up.
std::unique_ptr<optim::LRScheduler> make_lr_scheduler(const StageConfig& stage,
                                                      optim::Optimizer& opt, int64_t unit) {
  const SchedulerConfig& sc = stage.scheduler;
  const Args arg{sc};
  if (sc.name == "onecycle") return make_one_cycle(sc, opt, stage.epochs * unit);
  const int64_t after_warmup = std::max<int64_t>(stage.epochs - sc.warmup_epochs, 1);
  auto epochs = [&](const char* key, double fallback) {
    return int64_t(arg(key, fallback)) * unit;
  };
  std::unique_ptr<optim::LRScheduler> main;
  if (sc.name == "none") {
    main = std::make_unique<optim::StepLR>(opt, 1, 1.0);  // a constant lr
  } else if (sc.name == "step") {
    main = std::make_unique<optim::StepLR>(opt, epochs("step_size", 7), arg("gamma", 0.1));
  } else if (sc.name == "multistep") {
    std::vector<int64_t> milestones = sc.milestones;
    for (int64_t& m : milestones) m *= unit;
    main = std::make_unique<optim::MultiStepLR>(opt, milestones, arg("gamma", 0.1));
  } else if (sc.name == "exponential") {
    main = std::make_unique<optim::ExponentialLR>(opt,
                                                  std::pow(arg("gamma", 0.9), 1.0 / double(unit)));
  } else if (sc.name == "cosine") {
    main = std::make_unique<optim::CosineAnnealingLR>(opt, epochs("T_max", double(after_warmup)),
                                                      arg("eta_min", 0));
  } else if (sc.name == "cosine_restarts") {
    main = std::make_unique<optim::CosineAnnealingWarmRestarts>(
        opt, epochs("T_0", 10), int64_t(arg("T_mult", 1)), arg("eta_min", 0));
  } else if (sc.name == "poly") {
    main = std::make_unique<optim::PolynomialLR>(opt, epochs("total_iters", double(after_warmup)),
                                                 arg("power", 1.0));
  } else {
    AFN_FAIL("unknown schedule '", sc.name,
             "': expected none, step, multistep, exponential, cosine, cosine_restarts, poly, "
             "plateau or onecycle");
  }
  if (sc.warmup_epochs <= 0) return main;
  const int64_t warmup = sc.warmup_epochs * unit;
  std::vector<std::unique_ptr<optim::LRScheduler>> parts;
  if (sc.warmup_method == "constant")
    parts.push_back(std::make_unique<optim::ConstantLR>(opt, sc.warmup_decay, warmup));
  else
    parts.push_back(std::make_unique<optim::LinearLR>(opt, sc.warmup_decay, 1.0, warmup));
  parts.push_back(std::move(main));
  return std::make_unique<optim::SequentialLR>(opt, std::move(parts), std::vector<int64_t>{warmup});
}

}  // namespace

StageSchedule::StageSchedule(const StageConfig& stage, optim::Optimizer& opt,
                             int64_t steps_per_epoch, const EvalMetric& metric)
    : name_(stage.scheduler.name), per_step_(steps_per_update(stage.scheduler)) {
  const SchedulerConfig& sc = stage.scheduler;
  AFN_CHECK(steps_per_epoch >= 1, "schedule: an epoch must have at least one step, got ",
            steps_per_epoch);
  if (sc.name != "plateau") {
    scheduler_ = make_lr_scheduler(stage, opt, per_step_ ? steps_per_epoch : 1);
    return;
  }
  AFN_CHECK(!per_step_, "schedule 'plateau' steps once per epoch, on the validation ",
            metric.name(), "; it has no interval \"step\" (--sched-on-updates)");
  const Args arg{sc};
  optim::PlateauOptions o;
  o.mode = metric.lower_is_better() ? "min" : "max";
  o.factor = arg("factor", arg("gamma", o.factor));
  o.patience = int64_t(arg("patience", double(o.patience)));
  o.threshold = arg("threshold", o.threshold);
  o.threshold_mode = sc.threshold_mode;
  o.cooldown = int64_t(arg("cooldown", double(o.cooldown)));
  o.min_lr = {arg("min_lr", 0)};
  o.eps = arg("eps", o.eps);
  plateau_ = std::make_unique<optim::ReduceLROnPlateau>(opt, std::move(o));
}

void StageSchedule::end_epoch(double metric) {
  if (plateau_)
    plateau_->step(metric);
  else if (!per_step_)
    scheduler_->step();
}

SchedulerState StageSchedule::state() const {
  return plateau_ ? SchedulerState::of(name_, *plateau_) : SchedulerState::of(name_, *scheduler_);
}

void StageSchedule::restore(const SchedulerState& state) {
  if (plateau_)
    state.restore(*plateau_);
  else
    state.restore(*scheduler_);
}

}  // namespace afinar::train
