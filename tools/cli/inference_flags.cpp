#include "inference_flags.h"

#include "afinar/nn/fuse.h"

namespace afinar::cli {

void InferenceFlags::add_to(CLI::App& app) {
  app.add_flag("--amp", amp, "bf16 mixed precision (autocast): convs and linears in bf16");
  app.add_option("--amp-dtype", amp_dtype, "With --amp: bfloat16 or float16")
      ->check(CLI::IsMember({"bfloat16", "float16"}))
      ->capture_default_str();
  app.add_flag("--channels-last", channels_last, "NHWC weights and activations");
  app.add_flag("--fold-bn", fold_bn,
               "Fold each batch norm into the convolution before it (faster; rounded "
               "differently)");
  app.add_option("--device", device, "cpu or cuda[:N]")->capture_default_str();
}

void InferenceFlags::prepare(nn::Module& model, const Device& d) const {
  model.to(d);
  model.to(memory_format());
  model.eval();
  if (fold_bn) nn::fuse_conv_bn(model);
}

}  // namespace afinar::cli
