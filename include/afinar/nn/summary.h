// summary(): a torchsummary-style table of a model for one input shape, plus a Trainable column.
//
//   std::cout << nn::summary(*model, {3, 224, 224});
//
// ---------------------------------------------------------------------------
//         Layer (type)               Output Shape         Param #   Trainable
// ===========================================================================
//             Conv2d-1         [-1, 64, 112, 112]           9,408        True
//        BatchNorm2d-2         [-1, 64, 112, 112]             128        True
//   ...
// ===========================================================================
// Total params: 11,689,512
// Trainable params: 11,689,512
// Non-trainable params: 0
// ---------------------------------------------------------------------------
// Input size (MB): 0.57
// Forward/backward pass size (MB): 62.79
// Params size (MB): 44.59
// Estimated Total Size (MB): 107.96
// ---------------------------------------------------------------------------
//
// As torchsummary: one forward of a batch of 2 uniform [0, 1) images; one row per call of every
// module except the model itself and containers (Sequential), in the order the calls finish
// (so a block's row follows its layers' rows, and a module called twice, such as BasicBlock's
// relu, has two rows), numbered from 1; Param # is the module's own parameters; sizes assume
// 4 bytes per number: input = C·H·W, forward/backward = 2 × the rows' output elements (values and
// gradients), params = total params, all per sample, in MiB.
// Differences: the forward runs in eval mode under NoGradGuard (each module's mode is restored
// after); Trainable says whether the row's parameters require grad (True, False, Partial, or "-"
// without parameters); the totals count each parameter of the model once (torchsummary adds the
// rows', which counts a module twice when it runs twice).
#pragma once

#include <cstdint>
#include <string>

#include "afinar/core/device.h"
#include "afinar/core/shape.h"
#include "afinar/nn/module.h"

namespace afinar::nn {

// The model must be on `device`; input_chw is one sample's shape ([3, 224, 224]).
std::string summary(Module& model, const Shape& input_chw, const Device& device = kCPU);

// 11689512 -> "11,689,512" (Python's "{:,}").
std::string with_commas(int64_t n);

}  // namespace afinar::nn
