// Conv + batch-norm folding (formulas in include/afinar/nn/fuse.h).
//
// PyTorch computes the folded bias as separate multiply and add kernels, each rounded; with
// -march=native the compiler would contract (b - μ)·rsqrt·γ + β into an FMA, which rounds once and
// differs in the last bit. This file is compiled with -ffp-contract=off (CMakeLists.txt), so the
// folded weights are PyTorch's bits.

#include "afinar/nn/fuse.h"

#include <cmath>

namespace afinar::nn {

namespace {

// A per-channel tensor as a contiguous CPU tensor of `dtype` ([k] ones or zeros when undefined).
Tensor per_channel(const Tensor& t, int64_t k, DType dtype, double fill, const char* name) {
  if (!t.defined()) return full({k}, fill, dtype);
  AFN_CHECK(t.shape() == Shape{k}, "fuse_conv_bn_weights: ", name, " has shape ", t.shape(),
            " but the convolution has ", k, " output channels");
  AFN_CHECK(t.dtype() == dtype, "fuse_conv_bn_weights: ", name, " has dtype ", t.dtype(),
            " but the convolution weight has ", dtype);
  return t.detach().cpu().contiguous();
}

}  // namespace

FusedConvWeights fuse_conv_bn_weights(const Tensor& conv_weight, const Tensor& conv_bias,
                                      const Tensor& running_mean, const Tensor& running_var,
                                      double eps, const Tensor& bn_weight, const Tensor& bn_bias) {
  AFN_CHECK(conv_weight.defined() && conv_weight.dim() == 4,
            "fuse_conv_bn_weights: the convolution weight must be 4-D [K, C/G, R, S]");
  AFN_CHECK(running_mean.defined() && running_var.defined(),
            "fuse_conv_bn_weights: the batch norm has no running statistics to fold "
            "(track_running_stats=False normalises with each batch's statistics)");
  const DType dtype = conv_weight.dtype();
  AFN_CHECK(dtype == DType::F32 || dtype == DType::F64,
            "fuse_conv_bn_weights: float32 or float64 weights only, got ", dtype);
  const int64_t k = conv_weight.size(0), per_k = conv_weight.numel() / k;
  const Tensor w = conv_weight.detach().cpu().contiguous();
  const Tensor b = per_channel(conv_bias, k, dtype, 0.0, "conv bias");
  const Tensor rm = per_channel(running_mean, k, dtype, 0.0, "running_mean");
  const Tensor rv = per_channel(running_var, k, dtype, 1.0, "running_var");
  const Tensor gamma = per_channel(bn_weight, k, dtype, 1.0, "bn weight");
  const Tensor beta = per_channel(bn_bias, k, dtype, 0.0, "bn bias");
  Tensor fw = empty(w.shape(), dtype), fb = empty({k}, dtype);
  visit_floating(dtype, "fuse_conv_bn_weights", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *pw = w.data<T>(), *pb = b.data<T>(), *prm = rm.data<T>(), *prv = rv.data<T>(),
            *pg = gamma.data<T>(), *pbeta = beta.data<T>();
    T *ow = fw.data<T>(), *ob = fb.data<T>();
    for (int64_t c = 0; c < k; ++c) {
      // PyTorch's order: rsqrt(rv + eps) (eps rounded to T first), scale = γ · rsqrt,
      // W · scale, ((b - rm) · rsqrt) · γ + β.
      const T rsqrt = T(1) / std::sqrt(prv[c] + T(eps));
      const T scale = pg[c] * rsqrt;
      for (int64_t i = 0; i < per_k; ++i) ow[c * per_k + i] = pw[c * per_k + i] * scale;
      ob[c] = (pb[c] - prm[c]) * rsqrt * pg[c] + pbeta[c];
    }
  });
  const Device device = conv_weight.device();
  return {fw.to(device).to(suggest_memory_format(conv_weight)), fb.to(device)};
}

std::shared_ptr<Conv2d> fuse_conv_bn_eval(const Conv2d& conv, const BatchNorm2d& bn) {
  AFN_CHECK(!conv.is_training() && !bn.is_training(),
            "fuse_conv_bn: fusion only for eval mode (in training mode the batch norm uses each "
            "batch's statistics); call model->eval() first");
  AFN_CHECK(bn.num_features() == conv.out_channels(), "fuse_conv_bn: the batch norm has ",
            bn.num_features(), " features but the convolution has ", conv.out_channels(),
            " output channels");
  FusedConvWeights f =
      fuse_conv_bn_weights(conv.weight(), conv.bias(), bn.running_mean(), bn.running_var(),
                           bn.options().eps, bn.weight(), bn.bias());
  const bool requires_grad = conv.weight().requires_grad();
  f.weight.set_requires_grad(requires_grad);
  f.bias.set_requires_grad(requires_grad);
  auto fused = std::make_shared<Conv2d>(f.weight, f.bias, conv.options());
  fused->eval();
  return fused;
}

size_t fuse_conv_bn(Module& model) {
  size_t folded = 0;
  for (const auto& [path, module] : model.named_modules())
    for (const auto& [conv_name, bn_name] : module->conv_bn_pairs()) {
      auto conv = std::dynamic_pointer_cast<Conv2d>(module->get_submodule(conv_name));
      auto bn = std::dynamic_pointer_cast<BatchNorm2d>(module->get_submodule(bn_name));
      if (!conv || !bn || !bn->running_mean().defined()) continue;
      module->replace_module(conv_name, fuse_conv_bn_eval(*conv, *bn));
      auto identity = std::make_shared<Identity>();
      identity->eval();
      module->replace_module(bn_name, identity);
      ++folded;
    }
  return folded;
}

}  // namespace afinar::nn
