// A whole fine-tuning run from one configuration: the dataset (ImageFolder with train/val[/test]
// folders or a seeded stratified split), a torchvision model with a head (nn/head.h: torchvision's
// resized, a Linear after a global pool, or a dropout MLP) for the dataset's classes, optional
// starting weights, freezing by pattern, an optimizer and a learning-rate schedule; then epochs of
// train + validate, the best model kept by a validation metric (eval_metric: accuracy by default),
// a test evaluation at the end, and the run's files in the output directory (run_log.h, plus
// last.h5 and best.h5 weights files that `afinar predict` reads).
//
// The fine-tuning strategies of the seeds (SEEDS.md 000-004) are stage settings: feature
// extraction and partial unfreezing (freeze / unfreeze patterns, carried from stage to stage),
// two stages, gradual unfreezing (unfreeze_schedule), per-group learning rates and weight decay
// (param_groups) and discriminative learning rates (lr_decay, ULMFiT).
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "afinar/data/dataset.h"
#include "afinar/data/transforms.h"
#include "afinar/nn/head.h"
#include "afinar/train/epoch.h"
#include "afinar/train/model_ema.h"

namespace afinar::train {

// The optimizer of a stage by name ("sgd", "adam", "adamw", "rmsprop") and its options by
// PyTorch's names (lr, momentum, dampening, nesterov, weight_decay, beta1, beta2, eps, amsgrad,
// alpha, centered); options not given take the optimizer's PyTorch defaults (optimizer_defaults:
// lr 1e-3, RMSprop's 1e-2, SGD momentum 0, AdamW weight_decay 1e-2, ...), whether the stage comes
// from a recipe or from `afinar train`'s flags.
struct OptimizerConfig {
  std::string name = "sgd";
  optim::Options options = {};
};

// Every option of optimizer `name` with its default value; an unknown name is an error.
optim::Options optimizer_defaults(const std::string& name);

// The learning-rate schedule of a stage (train/schedule.h), with PyTorch's argument names and
// defaults, counted in epochs:
//   "none"             a constant lr
//   "step"             StepLR: step_size (7), gamma (0.1)
//   "multistep"        MultiStepLR: milestones, gamma (0.1)
//   "exponential"      ExponentialLR: gamma (0.9)
//   "cosine"           CosineAnnealingLR: T_max (the stage's epochs after warm-up), eta_min (0)
//   "cosine_restarts"  CosineAnnealingWarmRestarts: T_0 (10), T_mult (1), eta_min (0)
//   "poly"             PolynomialLR: total_iters (the stage's epochs after warm-up; PyTorch's
//                      own default, 5, would leave the rest of a longer stage at lr 0), power (1)
//   "plateau"          ReduceLROnPlateau on the eval metric: factor (gamma, or 0.1), patience
//                      (10), threshold (1e-4), threshold_mode ("rel"), cooldown (0), min_lr (0),
//                      eps (1e-8); mode "min" for the loss, "max" for the other metrics
//   "onecycle"         OneCycleLR over the stage: max_lr (each group's lr), pct_start (0.3),
//                      anneal_strategy ("cos"), div_factor (25), final_div_factor (1e4),
//                      three_phase (false), cycle_momentum (true), base_momentum (0.85),
//                      max_momentum (0.95)
// warmup_epochs of warm-up go before any but plateau and onecycle, as torchvision's reference
// scripts build it: warmup_method "linear" is LinearLR(warmup_decay, 1) (the lr climbs from
// lr·warmup_decay), "constant" ConstantLR(warmup_decay) (lr·warmup_decay, then lr). interval:
// "epoch" or "step" (every optimizer update, timm's --sched-on-updates); "" takes the schedule's
// own: "step" for onecycle, "epoch" for the others (plateau steps per epoch only).
struct SchedulerConfig {
  std::string name = "none";
  std::map<std::string, double> args = {};  // the numeric arguments (booleans as 0 / 1)
  std::vector<int64_t> milestones = {};
  int64_t warmup_epochs = 0;
  std::string warmup_method = "linear";  // or "constant"
  double warmup_decay = 0.01;            // linear: in (0, 1]; constant: in [0, 1]
  std::string interval = "";             // "", "epoch" or "step"
  std::string anneal_strategy = "cos";   // onecycle: "cos" or "linear"
  std::string threshold_mode = "rel";    // plateau: "rel" or "abs"
};

// Parameters whose names match any of `params` (glob patterns) get these optimizer options; the
// parameters no group claims form the first group, with the optimizer's own options.
struct GroupConfig {
  std::vector<std::string> params;
  optim::Options options;
};

// Gradual unfreezing (seed 003 §3, ULMFiT): at the start of the stage's epoch `epoch` (0 = its
// first), before that epoch's first step, the parameters matching `unfreeze` start training.
struct UnfreezeStep {
  int64_t epoch = 0;
  std::vector<std::string> unfreeze;
};

// Stages run in order, each with its own optimizer and schedule; freezing carries over from one
// stage to the next (freeze patterns first, then unfreeze, then the unfreeze_schedule as its
// epochs come).
//
// The optimizer holds every parameter of the model, frozen or not: a frozen one has no gradient,
// so it gets no state and no update until it is unfrozen (PyTorch's optimizer over
// model.parameters()). Its groups, in order:
// - without lr_decay: the parameters no param_groups entry claims (the optimizer's options), then
//   each param_groups entry (the optimizer's options, overridden by its own);
// - with lr_decay = d (discriminative fine-tuning, ULMFiT's 2.6): the model's top-level children
//   that hold parameters, in order (resnet: conv1, bn1, layer1..layer4, fc; vgg: features,
//   classifier), each with the parameters of it that no param_groups entry claims, the last (the
//   head) with the optimizer's lr and each one before it lr / d^(its distance from the head);
//   then the param_groups entries, whose own lr wins. A child whose parameters are all claimed
//   has no group but still counts in the distances.
// With norm_weight_decay or bias_weight_decay (torchvision's reference scripts' set_weight_decay;
// --norm-weight-decay 0 in its newer ResNet recipes), each of those groups is split in up to
// three, in this order, empty parts left out: its other parameters, the parameters of its
// normalisation layers (BatchNorm2d) with weight_decay = norm_weight_decay, and its parameters
// named "bias" (a batch norm's too) with weight_decay = bias_weight_decay.
struct StageConfig {
  int64_t epochs = 1;
  std::vector<std::string> freeze, unfreeze;
  std::vector<UnfreezeStep> unfreeze_schedule;
  OptimizerConfig optimizer;
  SchedulerConfig scheduler;
  std::vector<GroupConfig> param_groups;
  std::optional<double> lr_decay;                              // > 0
  std::optional<double> norm_weight_decay, bias_weight_decay;  // >= 0
};

struct TrainConfig {
  // data
  std::string data_dir;
  double val_split = 0.2;  // used when data_dir has no val/valid folder
  double test_split = 0.0;
  int64_t image_size = 224;
  // The evaluation preprocessing (data/preprocessing.h), kept in the weights files the run writes:
  // Resize(resize) (or Resize((resize, resize)) with crop_mode "squash") -> CenterCrop(image_size)
  // -> ToTensor -> Normalize(mean, std). resize 0 takes round(image_size × 256/224), torchvision's
  // ratio; mean and std normalise the training images too. interpolation (nearest, bilinear or
  // bicubic) resamples in the Resize and, as in torchvision's reference scripts, in the training
  // transform's RandomResizedCrop and auto-augment policy.
  int64_t resize = 0;
  std::string crop_mode = "center";
  std::string interpolation = "bilinear";
  std::vector<double> mean = data::kImageNetMean, std = data::kImageNetStd;
  int64_t batch_size = 32;
  int64_t validation_batch_size = 0;  // validation and test batches (timm's -vb); 0: batch_size
  int workers = 2;
  bool shuffle = true;
  bool augment = true;  // false: train with the eval transform
  // The training transform when augment is on (data::train_transform: RandomResizedCrop, flip,
  // rotation, colour jitter, affine, random erasing); crop 0 takes image_size, and its mean and
  // std are the run's (above).
  data::TrainTransformOptions augmentation = {.crop = 0};
  // model
  std::string model = "resnet18";
  std::string weights;                       // HDF5; tensors whose name and shape match are loaded
  std::vector<std::string> weights_exclude;  // glob patterns of tensors not to load from
                                             // `weights` ("fc.*": a new head)
  int64_t num_classes = 0;                   // 0: the dataset's
  nn::HeadSpec head;                         // the classifier put on the model (nn/head.h)
  // Every BatchNorm2d's momentum (timm's --bn-momentum; PyTorch's bn.momentum = m, the weight of
  // each batch in the running statistics); unset: the model's own, 0.1. Training only: the
  // weights files do not record it and evaluation does not use it.
  std::optional<double> bn_momentum = {};
  // optimisation
  std::vector<StageConfig> stages = {StageConfig{}};
  double smoothing = 0;          // label smoothing
  double clip_grad = 0;          // clip the gradients' global L2 norm to this (0: off)
  int64_t grad_accum_steps = 1;  // batches per optimizer update (EpochOptions::accum_steps)
  MixupOptions mixup = {};       // Mixup / CutMix of the training batches (train/mixup.h)
  // An average of the weights (train/model_ema.h, timm's --model-ema) updated after every
  // optimizer update: then each epoch validates the trained weights (split "val") and the
  // average ("val_ema"), the average's figures judge the epoch (best.h5, early stopping, plateau)
  // and best.h5 and last.h5 hold the average, as does the test evaluation; checkpoint.h5 keeps
  // both.
  bool model_ema = false;
  ModelEmaOptions model_ema_options = {};
  std::string eval_metric = "top1";  // judges the epochs (train/eval_metric.h): best.h5, early
                                     // stopping, plateau; top1, top5, loss or f1_macro
  int64_t patience = 0;              // early stopping: stop after this many epochs without a better
                                     // validation eval_metric (0: never)
  int64_t max_steps = -1;            // stop after this many optimizer steps (-1: the epochs decide)
  bool tta = false;  // the final test evaluation averages each image's logits with its
                     // horizontal flip's (EpochOptions::tta); validation stays plain
  bool amp = false;  // mixed precision for training and evaluation
                     // (EpochOptions::amp)
  std::string amp_dtype = "bfloat16";  // or "float16", trained with a GradScaler (PyTorch's
                                       // GradScaler defaults; optim/grad_scaler.h)
  bool channels_last = false;          // NHWC weights and batches (EpochOptions::channels_last)
  bool detect_anomaly = false;         // backward under DetectAnomalyGuard: the first non-finite
                                       // gradient names its op (slow; not a recipe setting)
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
  double best_metric = std::numeric_limits<double>::quiet_NaN();  // best's eval_metric
  bool has_test = false;
  EpochStats test;  // of the best weights
  int64_t steps = 0;
};

// The split fractions open_splits gets for the configuration: the configured fraction only for a
// split that has no folder of its own (open_splits refuses both). The report uses it to find the
// run's validation and test images again.
data::SplitOptions split_options(const TrainConfig& config);

// The configuration's training augmentation, its crop resolved (0: the image size) and its mean
// and std the run's.
data::TrainTransformOptions augmentation_of(const TrainConfig& config);
// The configuration's evaluation preprocessing, its resize resolved (0: round(image_size ×
// 256/224)): the validation and test transform, and the weights files' preprocessing.
data::Preprocessing preprocessing_of(const TrainConfig& config);

// The stage's optimizer over every parameter of `model`, with the groups described at StageConfig.
// A group pattern that matches nothing, a parameter claimed by two groups, an unknown optimizer
// or option and lr_decay <= 0 are errors. `lr_group`, when given, receives the index of the group
// whose lr is the optimizer's own (what the logs show): the first, or with lr_decay the head's.
std::unique_ptr<optim::Optimizer> make_optimizer(const StageConfig& stage, nn::Module& model,
                                                 size_t* lr_group = nullptr);

// Runs the configuration; progress lines go to `log`. After every epoch, and when training stops
// early (max_steps, or `interrupt` set, e.g. by Ctrl-C), output/checkpoint.h5 holds everything
// needed to continue (train/checkpoint.h); TrainConfig::resume continues from it, and on the CPU
// the resumed run ends with the same weights, bit for bit, as one that never stopped (a resumed
// run re-applies the unfreeze_schedule up to the checkpoint's epoch). Bad settings (unknown model,
// optimizer or schedule, a bad head, num_classes other than the data's, a pattern matching no
// parameter, a parameter claimed by two groups, a stage with everything frozen, an
// unfreeze_schedule epoch outside its stage, lr_decay <= 0, a missing data folder) are errors
// before any training step.
TrainResult run_training(const TrainConfig& config, std::ostream& log,
                         const std::atomic<bool>* interrupt = nullptr);

}  // namespace afinar::train
