// A stage's learning-rate schedule, made from its SchedulerConfig (trainer.h) for its optimizer,
// and driven by the trainer: stepped after every optimizer step (interval "step") or after each
// epoch's validation (interval "epoch"; ReduceLROnPlateau then reads the epoch's eval metric).
//
// Arguments are given in epochs whatever the interval. Stepped per update, with U optimizer
// steps per epoch, the PyTorch scheduler is built as one would build it to step per batch:
//   step           StepLR(step_size·U, gamma)
//   multistep      MultiStepLR(milestones·U, gamma)
//   exponential    ExponentialLR(gamma^(1/U))              (gamma per epoch, as stepped per epoch)
//   cosine         CosineAnnealingLR(T_max·U, eta_min)
//   cosine_restarts CosineAnnealingWarmRestarts(T_0·U, T_mult, eta_min)
//   poly           PolynomialLR(total_iters·U, power)
//   warmup_epochs  LinearLR(warmup_decay, 1, warmup_epochs·U), or ConstantLR(warmup_decay,
//                  warmup_epochs·U) for warmup_method "constant", in front (SequentialLR)
//   onecycle       OneCycleLR(total_steps = epochs·U), per update by default
// so that an epoch boundary sees the same lr either way; in between the lr moves smoothly.
#pragma once

#include <memory>
#include <string>

#include "afinar/optim/scheduler.h"
#include "afinar/train/checkpoint.h"
#include "afinar/train/eval_metric.h"
#include "afinar/train/trainer.h"

namespace afinar::train {

class StageSchedule {
 public:
  // `steps_per_epoch`: the optimizer steps of one epoch (the training loader's batches);
  // `metric`: what plateau watches (its mode: min for the loss, max for the others).
  StageSchedule(const StageConfig& stage, optim::Optimizer& opt, int64_t steps_per_epoch,
                const EvalMetric& metric);

  // What train_epoch steps after every optimizer step; null for a schedule stepped per epoch.
  optim::LRScheduler* per_step() const { return per_step_ ? scheduler_.get() : nullptr; }
  // After an epoch's validation: a per-epoch schedule steps, plateau steps on `metric`.
  void end_epoch(double metric);

  // For checkpoints: the position (and plateau's counters), and back (after restore_optimizer).
  SchedulerState state() const;
  void restore(const SchedulerState& state);

 private:
  std::string name_;
  bool per_step_ = false;
  std::unique_ptr<optim::LRScheduler> scheduler_;      // every schedule but plateau
  std::unique_ptr<optim::ReduceLROnPlateau> plateau_;  // plateau
};

// Whether the schedule steps per optimizer update: its interval, or for "" its own (onecycle
// per update, the others per epoch).
bool steps_per_update(const SchedulerConfig& config);

}  // namespace afinar::train
