// Training recipes: TOML files that describe a whole run (README, "Recipes"). Every key has the
// name of the TrainConfig field it sets; a key afinar does not know is an error naming it and its
// table, so a typo never silently falls back to a default.
//
//   output = "runs/flowers"          # also: seed, device, smoothing, patience, max_steps,
//                                    # log_interval, tta
//   [model]                          # name, weights, num_classes, head
//   name = "resnet18"
//   head = { kind = "mlp", hidden = 512, dropout = [0.5, 0.3] }   # or "default", "linear"
//   [data]                           # dir, val_split, test_split, image_size, batch_size,
//   dir = "data/flowers"             # workers, augment, shuffle
//   [[stage]]                        # epochs, freeze, unfreeze, unfreeze_schedule, optimizer,
//   epochs = 5                       # scheduler, param_groups, lr_decay
//   freeze = ["*"]
//   unfreeze = ["fc.*"]
//   unfreeze_schedule = [ { epoch = 2, unfreeze = ["layer4.*"] } ]   # from the stage's start
//   optimizer = { name = "sgd", lr = 1e-2, momentum = 0.9, weight_decay = 1e-4 }
//   scheduler = { name = "step", step_size = 7, gamma = 0.1 }
//   param_groups = [ { params = ["fc.*"], lr = 1e-3 } ]
//   lr_decay = 2.6                   # discriminative lrs by depth (trainer.h, StageConfig)
//
// Optimizer options are PyTorch's (betas = [b1, b2] becomes beta1 / beta2; booleans such as
// nesterov and amsgrad are true / false); scheduler keys other than name, milestones and
// warmup_epochs are its arguments (step_size, gamma, T_max, eta_min, T_0, T_mult).
#pragma once

#include <string>

#include "afinar/train/trainer.h"

namespace afinar::train {

// Parses recipe text; `source` names it in error messages (a path, or "<string>").
TrainConfig parse_recipe(const std::string& text, const std::string& source = "<string>");
TrainConfig load_recipe(const std::string& path);
// The configuration as a recipe that parse_recipe reads back to the same configuration (the
// resolved recipe a run writes next to its outputs).
std::string to_toml(const TrainConfig& config);

}  // namespace afinar::train
