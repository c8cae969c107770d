// The layers of VGG and ResNet as torch.nn modules: same constructor arguments and defaults, same
// parameter and buffer names, same initialisation (distributions; see nn/init.h), same repr.
//
//   auto conv = std::make_shared<nn::Conv2d>(3, 64, 7, nn::Conv2dOptions{.stride = 2,
//                                                                        .padding = 3,
//                                                                        .bias = false});
//   auto head = nn::make_sequential(std::make_shared<nn::Dropout>(0.5),
//                                   std::make_shared<nn::Linear>(512, 10));
//   auto backbone = nn::Sequential::of_children(*resnet, 0, -1);  // Sequential(*children[:-1])
//
// Every layer takes a 4-D [N, C, H, W] input except Linear ([..., in]) and the shape-agnostic
// ReLU, Dropout, Flatten and Identity.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "afinar/nn/module.h"
#include "afinar/ops/adaptive_pool2d.h"
#include "afinar/ops/int_pair.h"
#include "afinar/ops/pool2d.h"

namespace afinar::nn {

// torch.nn.Conv2d's keyword arguments (padding_mode is always 'zeros').
struct Conv2dOptions {
  IntPair stride{1}, padding{0}, dilation{1};
  int64_t groups = 1;
  bool bias = true;
};

// weight [out, in/groups, kh, kw], bias [out] (absent when options.bias is false).
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size,
         const Conv2dOptions& options = {});
  // A convolution with the given parameters (kept as they are: device, dtype, memory format,
  // requires_grad; the channels and kernel size from the weight's shape, options.bias from
  // bias.defined()): what nn::fuse_conv_bn_eval builds.
  Conv2d(const Tensor& weight, const Tensor& bias, const Conv2dOptions& options);
  Tensor forward(const Tensor& x) override;
  // relu(forward(x) + residual) as one fused op (conv2d_add_relu; residual may be undefined):
  // what a ResNet block whose batch norm was folded into this convolution runs.
  Tensor forward_add_relu(const Tensor& x, const Tensor& residual = {});
  std::string extra_repr() const override;
  // PyTorch's default: weight kaiming_uniform_(a=√5) = U(±1/√fan_in), bias U(±1/√fan_in).
  void reset_parameters();

  Tensor weight() const { return weight_; }
  Tensor bias() const { return bias_; }  // undefined without a bias
  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  IntPair kernel_size() const { return kernel_size_; }
  const Conv2dOptions& options() const { return options_; }

 private:
  int64_t in_channels_, out_channels_;
  IntPair kernel_size_;
  Conv2dOptions options_;
  Tensor weight_, bias_;
};

// torch.nn.BatchNorm2d's keyword arguments. momentum = nullopt is PyTorch's momentum=None: the
// running statistics become the cumulative average (factor 1 / num_batches_tracked).
struct BatchNorm2dOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};

// Parameters weight (γ, ones) and bias (β, zeros) when affine; buffers running_mean (zeros),
// running_var (ones) and num_batches_tracked (int64 0) when tracking running statistics.
// Training mode normalises with the batch statistics and updates the running ones; eval mode
// uses the running ones. With set_stats_frozen(true) training mode also uses (and does not
// update) the running statistics, while γ and β still train: the usual way to fine-tune with
// small batches.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, const BatchNorm2dOptions& options = {});
  Tensor forward(const Tensor& x) override;
  // relu(forward(x) + residual) as one fused op (batch_norm2d_add_relu; residual may be
  // undefined): what a block that owns this layer and a ReLU calls when no forward hook watches.
  Tensor forward_add_relu(const Tensor& x, const Tensor& residual = {});
  std::string extra_repr() const override;

  void set_stats_frozen(bool frozen) { stats_frozen_ = frozen; }
  // PyTorch's `bn.momentum = m` (timm's --bn-momentum), checked as the constructor checks it.
  void set_momentum(std::optional<double> momentum);
  bool stats_frozen() const { return stats_frozen_; }

  int64_t num_features() const { return num_features_; }
  const BatchNorm2dOptions& options() const { return options_; }
  Tensor weight() const { return weight_; }  // undefined unless affine
  Tensor bias() const { return bias_; }
  Tensor running_mean() const { return running_mean_; }  // undefined unless tracking
  Tensor running_var() const { return running_var_; }
  Tensor num_batches_tracked() const { return num_batches_tracked_; }

 private:
  // PyTorch's choice for this call: batch statistics (and the running-average factor, counting
  // the batch) or the running ones.
  struct Mode {
    bool batch_stats;
    double factor;
  };
  Mode begin_call();

  int64_t num_features_;
  BatchNorm2dOptions options_;
  bool stats_frozen_ = false;
  Tensor weight_, bias_, running_mean_, running_var_, num_batches_tracked_;
};

// y = x Wᵀ + b: weight [out, in], bias [out]; PyTorch's default initialisation (as Conv2d).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  void reset_parameters();

  Tensor weight() const { return weight_; }
  Tensor bias() const { return bias_; }
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

 private:
  int64_t in_features_, out_features_;
  Tensor weight_, bias_;
};

// max(x, 0), always into a new tensor (safe for autograd). `inplace` is kept for torchvision's
// constructor calls and repr (ReLU(inplace=True)); overwriting the input in eval mode measured no
// faster here (vgg16 forward, batch 8: 1077 ms in place, 1033 ms not), so it is not done.
class ReLU : public Module {
 public:
  explicit ReLU(bool inplace = false);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  bool inplace() const { return inplace_; }

 private:
  bool inplace_;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const MaxPool2dOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const MaxPool2dOptions& options() const { return options_; }

 private:
  MaxPool2dOptions options_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const AvgPool2dOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const AvgPool2dOptions& options() const { return options_; }

 private:
  AvgPool2dOptions options_;
};

// Output [N, C, oh, ow] whatever the input size (PyTorch's start/end window rule).
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(IntPair output_size);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  IntPair output_size() const { return output_size_; }

 private:
  IntPair output_size_;
};

class AdaptiveMaxPool2d : public Module {
 public:
  explicit AdaptiveMaxPool2d(IntPair output_size);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  IntPair output_size() const { return output_size_; }

 private:
  IntPair output_size_;
};

// Zeroes each element with probability p in training mode and scales the rest by 1/(1-p); the
// identity in eval mode or for p = 0.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  double p() const { return p_; }

 private:
  double p_;
};

// x.flatten(start_dim, end_dim): [N, C, H, W] -> [N, C·H·W] with the defaults.
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  int64_t start_dim_, end_dim_;
};

class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

// Children "0", "1", ... run in order. Slicing shares the children and numbers them from 0, as
// nn.Sequential(*children[begin:end]) does.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  explicit Sequential(const std::vector<ModulePtr>& modules);
  // nn.Sequential(*list(module.children())[begin:end]), Python's slice rules.
  static std::shared_ptr<Sequential> of_children(const Module& module, int64_t begin, int64_t end);

  Tensor forward(const Tensor& x) override;
  bool is_container() const override { return true; }
  // Every pair of adjacent children ("0", "1"), ("1", "2"), ...
  std::vector<std::pair<std::string, std::string>> conv_bn_pairs() const override;

  int64_t size() const { return int64_t(child_list().size()); }
  // The i-th child; negative i counts from the end (-1 is the last). Out of range is an error.
  ModulePtr operator[](int64_t i) const;
  // Appends under the name str(size()).
  void push_back(ModulePtr module);
  // Python's seq[begin:end] with step 1: negative indices count from the end, out-of-range ones
  // are clamped; the result shares the children.
  std::shared_ptr<Sequential> slice(int64_t begin, int64_t end) const;
};

// make_sequential(a, b, c): a Sequential of the given modules, in order.
template <typename... M>
std::shared_ptr<Sequential> make_sequential(std::shared_ptr<M>... modules) {
  return std::make_shared<Sequential>(std::vector<ModulePtr>{std::move(modules)...});
}

// Python's slice of [0, size) with step 1: both ends wrapped when negative, then clamped.
std::pair<int64_t, int64_t> python_slice(int64_t begin, int64_t end, int64_t size);

}  // namespace afinar::nn
