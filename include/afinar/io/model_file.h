// A model built from a weights file: the file's architecture (or `arch`, to read a file into a
// named one) with the file's class count and head (nn/head.h), its tensors loaded strictly. The one
// place that turns a weights file into a module, for `afinar predict`, `afinar eval`, the report
// and library users.
//
//   io::Weights w = io::load_weights("runs/flowers/best.h5");
//   nn::ModulePtr model = io::load_model(w);     // resnet18 with 5 classes, eval() not implied
#pragma once

#include <string>

#include "afinar/io/weights.h"
#include "afinar/nn/module.h"

namespace afinar::io {

// Throws for an unknown architecture and (strict load) for keys or shapes that do not match it.
nn::ModulePtr load_model(const Weights& weights, const std::string& arch = {});

}  // namespace afinar::io
