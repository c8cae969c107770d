// Training recipes: TOML files that describe a whole run (README, "Recipes"). Every key has the
// name of the TrainConfig field it sets; a key afinar does not know is an error naming it and its
// table, so a typo never silently falls back to a default.
//
//   output = "runs/flowers"          # also: seed, device, smoothing, eval_metric, patience,
//                                    # max_steps, log_interval, tta, amp, amp_dtype,
//                                    # channels_last
//   [model]                          # name, weights, num_classes, head
//   name = "resnet18"
//   head = { kind = "mlp", hidden = 512, dropout = [0.5, 0.3] }   # or "default", "linear"
//   [data]                           # dir, val_split, test_split, image_size, resize,
//   dir = "data/flowers"             # crop_mode, interpolation, mean, std, batch_size,
//                                    # validation_batch_size, workers, augment, shuffle
//   augment = { scale = [0.7, 1.0], rotation = 15, color_jitter = [0.3, 0.3, 0.3, 0.1] }
//                                    # true / false, or the training transform's settings:
//                                    # crop, scale, ratio, hflip, rotation, color_jitter,
//                                    # affine_translate, affine_shear, erasing
//   [[stage]]                        # epochs, freeze, unfreeze, unfreeze_schedule, optimizer,
//   epochs = 5                       # scheduler, param_groups, lr_decay, norm_weight_decay,
//                                    # bias_weight_decay
//   freeze = ["*"]
//   unfreeze = ["fc.*"]
//   unfreeze_schedule = [ { epoch = 2, unfreeze = ["layer4.*"] } ]   # from the stage's start
//   optimizer = { name = "sgd", lr = 1e-2, momentum = 0.9, weight_decay = 1e-4 }
//   scheduler = { name = "step", step_size = 7, gamma = 0.1 }
//   param_groups = [ { params = ["fc.*"], lr = 1e-3 } ]
//   lr_decay = 2.6                   # discriminative lrs by depth (trainer.h, StageConfig)
//
// Optimizer options are PyTorch's (betas = [b1, b2] becomes beta1 / beta2; booleans such as
// nesterov and amsgrad are true / false); scheduler keys other than name, milestones,
// warmup_epochs, warmup_method, warmup_decay, interval, anneal_strategy and threshold_mode are its
// numeric arguments (trainer.h, SchedulerConfig).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "afinar/train/trainer.h"

namespace afinar::train {

// Bounds of check_config, shared with the commands that take the same settings (eval, demo,
// preprocess): an image size above data::kMaxImageSize (data/preprocessing.h) or more loader
// threads than this is a typo, not a run.
using data::kMaxImageSize;
inline constexpr int kMaxWorkers = 256;

// Every value of the configuration in its range, checked before anything is opened or trained:
// batch_size >= 1, image_size in [1, kMaxImageSize], resize 0 or in [1, kMaxImageSize], crop_mode
// center or squash, interpolation nearest, bilinear or bicubic, three finite means and non-zero
// stds, workers in [0, kMaxWorkers], val_split and test_split in [0, 1), smoothing in [0, 1),
// patience >= 0, max_steps >= -1, log_interval >= 1, num_classes >= 0, a known eval_metric,
// weights_exclude only with weights; per stage epochs
// >= 1, finite optimizer and group options, schedule arguments known to a schedule, finite,
// integral where PyTorch takes an int (step_size, T_max, T_0, T_mult, patience, cooldown) and
// positive where it divides or multiplies by them, milestones increasing and >= 1, warmup_epochs
// >= 0 (none with plateau or onecycle), warmup_method linear or constant with warmup_decay in
// (0, 1] or [0, 1] (LinearLR's and ConstantLR's), interval "epoch" or "step" (not for plateau), a
// known anneal_strategy and threshold_mode, pct_start < 0.5 for a three_phase onecycle, lr_decay
// finite and > 0, norm_weight_decay and bias_weight_decay finite and >= 0. The error names
// the setting as a flag and as a recipe key; `where` starts it (the recipe's path, or "train").
void check_config(const TrainConfig& config, const std::string& where = "train");

// Parses recipe text; `source` names it in error messages (a path, or "<string>"). Each value is
// checked as check_config does (but weights_exclude without weights: --weights may add them).
TrainConfig parse_recipe(const std::string& text, const std::string& source = "<string>");
// Colour jitter as timm's --color-jitter: one value v is (v, v, v, 0) (brightness, contrast,
// saturation, no hue), three leave the hue 0, four set all; `what` starts the error otherwise.
std::array<double, 4> color_jitter_from(const std::vector<double>& values, const std::string& what);

// A regular file of at most 1 MiB (not a folder, a device or a stream such as /dev/zero).
TrainConfig load_recipe(const std::string& path);
// The configuration as a recipe that parse_recipe reads back to the same configuration (the
// resolved recipe a run writes next to its outputs).
std::string to_toml(const TrainConfig& config);

}  // namespace afinar::train
