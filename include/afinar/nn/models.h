// The model registry: torchvision's architectures by name, for the CLI (`--arch resnet50`), the
// weights importer (arch detected from keys) and recipes.
//
//   nn::ModulePtr model = nn::create_model("vgg16_bn", 10);
//   nn::ModulePtr seed003 = nn::create_model("resnet50", 5, {.kind = "mlp", .hidden = 512});
//   for (const auto& name : nn::model_names()) std::cout << name << "\n";
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "afinar/nn/head.h"
#include "afinar/nn/module.h"

namespace afinar::nn {

// "vgg11", "vgg11_bn", ..., "vgg19_bn", "resnet18", ..., "resnet152", "resnext50_32x4d",
// "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2", in that order.
const std::vector<std::string>& model_names();
bool is_model_name(const std::string& name);
// A freshly initialised model with `head` (nn/head.h) for num_classes outputs; an unknown name is
// an error listing the valid ones, a non-positive num_classes or a bad head an error too.
ModulePtr create_model(const std::string& name, int64_t num_classes = 1000,
                       const HeadSpec& head = {});

}  // namespace afinar::nn
