// Freezing: which parameters train. A frozen parameter has requires_grad = false, so backward
// computes no gradient for it (and nothing below it that only it needed) and optimizers skip it.
//
//   nn::freeze(*model, {"*"});                       // everything...
//   nn::unfreeze(*model, {"layer4.*", "fc.*"});      // ...but the last stage and the head
//   nn::freeze_until(*model, "layer3");              // seed 003: train layer3, layer4, fc
//   nn::set_bn_stats_frozen(*model, true);           // BatchNorm keeps its running statistics
//   auto c = nn::count_params(*model);               // c.trainable, c.frozen, c.total
//
// Patterns are globs on the dotted parameter names (`layer1.0.conv1.weight`): `*` matches any run
// of characters, dots included, `?` any one character; the whole name must match (fnmatch).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "afinar/nn/module.h"

namespace afinar::nn {

// Whole-string glob match with `*` and `?`.
bool glob_match(const std::string& pattern, const std::string& name);

// Sets requires_grad = false (freeze) or true (unfreeze) on every parameter whose name matches
// one of the patterns. A pattern that matches no parameter is an error naming it (a typo must not
// silently train or freeze nothing); nothing is changed then. Returns the number of parameters
// (tensors) that matched.
size_t freeze(Module& model, const std::vector<std::string>& patterns);
size_t unfreeze(Module& model, const std::vector<std::string>& patterns);

// Seed 003's freeze_until: walking named_parameters() in order, every parameter before the first
// whose name contains `name_part` is frozen, that one and all after it are trainable. No name
// containing it is an error (nothing is changed).
void freeze_until(Module& model, const std::string& name_part);

// set_stats_frozen on every BatchNorm2d in the model. Returns how many there are.
size_t set_bn_stats_frozen(Module& model, bool frozen);

struct ParamCounts {
  int64_t trainable = 0, frozen = 0, total = 0;  // numbers of scalars, not tensors
};
ParamCounts count_params(const Module& model);

}  // namespace afinar::nn
