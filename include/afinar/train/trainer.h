// A whole fine-tuning run from one configuration: the dataset (ImageFolder with train/val[/test]
// folders or a seeded stratified split), a torchvision model with a new head for the dataset's
// classes, optional starting weights, freezing by pattern, an optimizer and an epoch schedule;
// then epochs of train + validate, the best model kept by validation accuracy, a test evaluation
// at the end, and the run's files in the output directory (run_log.h, plus last.h5 and best.h5
// weights files that `afinar predict` reads).
//
// Not yet here: TTA, new heads, gradual unfreezing and depth-wise (discriminative) learning
// rates.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "afinar/data/dataset.h"
#include "afinar/train/epoch.h"

namespace afinar::train {

// The optimizer of a stage by name ("sgd", "adam", "adamw") and its options by PyTorch's names
// (lr, momentum, dampening, nesterov, weight_decay, beta1, beta2, eps, amsgrad); options not given
// take the optimizer's defaults.
struct OptimizerConfig {
  std::string name = "sgd";
  optim::Options options = {{"lr", 0.01}};
};

// The epoch schedule of a stage: "none", "step" (step_size, gamma), "multistep" (milestones,
// gamma), "exponential" (gamma), "cosine" (T_max: the stage's epochs after warm-up; eta_min),
// "cosine_restarts" (T_0, T_mult, eta_min); warmup_epochs of LinearLR from lr/100 before it.
struct SchedulerConfig {
  std::string name = "none";
  std::map<std::string, double> args;
  std::vector<int64_t> milestones;
  int64_t warmup_epochs = 0;
};

// Parameters whose names match any of `params` (glob patterns) get these optimizer options; the
// parameters no group claims form the first group, with the optimizer's own options.
struct GroupConfig {
  std::vector<std::string> params;
  optim::Options options;
};

// Stages run in order, each with its own optimizer and schedule; freezing carries over from one
// stage to the next (freeze patterns first, then unfreeze).
struct StageConfig {
  int64_t epochs = 1;
  std::vector<std::string> freeze, unfreeze;
  OptimizerConfig optimizer;
  SchedulerConfig scheduler;
  std::vector<GroupConfig> param_groups;
};

struct TrainConfig {
  // data
  std::string data_dir;
  double val_split = 0.2;  // used when data_dir has no val/valid folder
  double test_split = 0.0;
  int64_t image_size = 224;
  int64_t batch_size = 32;
  int workers = 2;
  bool shuffle = true;
  bool augment = true;  // false: train with the eval transform
  // model
  std::string model = "resnet18";
  std::string weights;      // HDF5; tensors whose name and shape match are loaded
  int64_t num_classes = 0;  // 0: the dataset's
  // optimisation
  std::vector<StageConfig> stages = {StageConfig{}};
  double smoothing = 0;    // label smoothing
  int64_t patience = 0;    // early stopping: stop after this many epochs without a better
                           // validation accuracy (0: never)
  int64_t max_steps = -1;  // stop after this many optimizer steps (-1: the epochs decide)
  // run
  std::string output = "runs/afinar";
  uint64_t seed = 0;
  std::string device = "cpu";
  int64_t log_interval = 20;
  std::string resume;  // a checkpoint.h5 of this configuration's run: continue where it stopped
};

struct TrainResult {
  int64_t best_epoch = -1;
  EpochStats best;  // validation (or training, without a validation split) figures
  bool has_test = false;
  EpochStats test;  // of the best weights
  int64_t steps = 0;
};

// The split fractions open_splits gets for the configuration: the configured fraction only for a
// split that has no folder of its own (open_splits refuses both). The report uses it to find the
// run's validation and test images again.
data::SplitOptions split_options(const TrainConfig& config);

// Runs the configuration; progress lines go to `log`. After every epoch, and when training stops
// early (max_steps, or `interrupt` set, e.g. by Ctrl-C), output/checkpoint.h5 holds everything
// needed to continue (train/checkpoint.h); TrainConfig::resume continues from it, and on the CPU
// the resumed run ends with the same weights, bit for bit, as one that never stopped. Bad settings
// (unknown model, optimizer or schedule, a pattern matching no parameter, a parameter claimed by
// two groups, a stage with everything frozen, a missing data folder) are errors before any training
// step.
TrainResult run_training(const TrainConfig& config, std::ostream& log,
                         const std::atomic<bool>* interrupt = nullptr);

}  // namespace afinar::train
