// The flags that say how `afinar eval` and `afinar predict` run a model's forward, declared once
// for both: --amp, --amp-dtype, --channels-last, --fold-bn, --device.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "afinar/core/device.h"
#include "afinar/core/dtype.h"
#include "afinar/core/shape.h"
#include "afinar/nn/module.h"

namespace afinar::cli {

struct InferenceFlags {
  std::string device = "cpu", amp_dtype = "bfloat16";
  bool amp = false, channels_last = false, fold_bn = false;

  void add_to(CLI::App& app);
  MemoryFormat memory_format() const {
    return channels_last ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous;
  }
  // Autocast's dtype for --amp.
  DType autocast_dtype() const { return amp_dtype == "float16" ? DType::F16 : DType::BF16; }
  // The model on `device`, in the memory format and in eval mode, its batch norms folded into the
  // convolutions with --fold-bn (nn::fuse_conv_bn).
  void prepare(nn::Module& model, const Device& device) const;
};

}  // namespace afinar::cli
