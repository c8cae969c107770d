// The layer modules: parameters, PyTorch's default initialisation, forward through the ops, repr.
#include "afinar/nn/layers.h"

#include <cmath>
#include <sstream>

#include "afinar/autograd/grad_mode.h"
#include "afinar/nn/init.h"
#include "afinar/ops/activation.h"
#include "afinar/ops/batch_norm2d.h"
#include "afinar/ops/conv2d.h"
#include "afinar/ops/dropout.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/linear.h"

namespace afinar::nn {

namespace {

// PyTorch prints a pooling size as given: an int when both sides are equal (how torchvision
// builds them), else a tuple. Conv2d and the adaptive pools store tuples and always print one.
std::string int_or_tuple(IntPair p) {
  std::ostringstream os;
  if (p.h == p.w)
    os << p.h;
  else
    os << p;
  return os.str();
}

std::string tuple(IntPair p) {
  std::ostringstream os;
  os << p;
  return os.str();
}

// PyTorch's reset_parameters of Conv2d and Linear: kaiming_uniform_(a=√5), i.e. U(±1/√fan_in)
// for the weight, and U(±1/√fan_in) for the bias.
void default_reset(const Tensor& weight, const Tensor& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (!bias.defined()) return;
  const int64_t fan_in = init::calculate_fans(weight.shape()).fan_in;
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(double(fan_in)) : 0.0;
  init::uniform_(bias, -bound, bound);
}

// counter += 1 on the counter's own device, without reading it back (which would stall a GPU
// once per BatchNorm layer): through float64, exact for counts below 2^53.
void increment_counter(const Tensor& counter) {
  NoGradGuard no_grad;
  Tensor(counter).copy_(counter.to(DType::F64) + 1.0);
}

void check_positive(int64_t value, const char* layer, const char* what) {
  AFN_CHECK(value > 0, layer, ": ", what, " must be positive, got ", value);
}

}  // namespace

// ---- Conv2d -------------------------------------------------------------------------------------

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size,
               const Conv2dOptions& options)
    : Module("Conv2d"),
      in_channels_(in_channels),
      out_channels_(out_channels),
      kernel_size_(kernel_size),
      options_(options) {
  check_positive(in_channels, "Conv2d", "in_channels");
  check_positive(out_channels, "Conv2d", "out_channels");
  check_positive(kernel_size.h, "Conv2d", "kernel height");
  check_positive(kernel_size.w, "Conv2d", "kernel width");
  check_positive(options.groups, "Conv2d", "groups");
  AFN_CHECK(in_channels % options.groups == 0 && out_channels % options.groups == 0,
            "Conv2d: in_channels (", in_channels, ") and out_channels (", out_channels,
            ") must be divisible by groups (", options.groups, ")");
  weight_ = register_parameter(
      "weight", zeros({out_channels, in_channels / options.groups, kernel_size.h, kernel_size.w}));
  if (options.bias) bias_ = register_parameter("bias", zeros({out_channels}));
  reset_parameters();
}

Conv2d::Conv2d(const Tensor& weight, const Tensor& bias, const Conv2dOptions& options)
    : Module("Conv2d"), options_(options) {
  AFN_CHECK(weight.defined() && weight.dim() == 4,
            "Conv2d: weight must be 4-D [out, in/groups, kh, kw], got ",
            weight.defined() ? weight.shape() : Shape{});
  check_positive(options.groups, "Conv2d", "groups");
  out_channels_ = weight.size(0);
  in_channels_ = weight.size(1) * options.groups;
  kernel_size_ = IntPair{weight.size(2), weight.size(3)};
  AFN_CHECK(out_channels_ % options.groups == 0, "Conv2d: out_channels (", out_channels_,
            ") must be divisible by groups (", options.groups, ")");
  options_.bias = bias.defined();
  if (bias.defined())
    AFN_CHECK(bias.shape() == Shape{out_channels_}, "Conv2d: bias must have shape [", out_channels_,
              "] (the weight's output channels), got ", bias.shape());
  weight_ = register_parameter("weight", weight, weight.requires_grad());
  if (bias.defined()) bias_ = register_parameter("bias", bias, bias.requires_grad());
}

void Conv2d::reset_parameters() {
  default_reset(weight_, bias_);
}

namespace {
afinar::Conv2dOptions op_options(const Conv2dOptions& o) {
  return {.stride = o.stride, .padding = o.padding, .dilation = o.dilation, .groups = o.groups};
}
}  // namespace

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight_, bias_, op_options(options_));
}

Tensor Conv2d::forward_add_relu(const Tensor& x, const Tensor& residual) {
  return conv2d_add_relu(x, weight_, bias_, residual, op_options(options_));
}

std::string Conv2d::extra_repr() const {
  std::ostringstream os;
  os << in_channels_ << ", " << out_channels_ << ", kernel_size=" << kernel_size_
     << ", stride=" << options_.stride;
  if (options_.padding != IntPair(0)) os << ", padding=" << options_.padding;
  if (options_.dilation != IntPair(1)) os << ", dilation=" << options_.dilation;
  if (options_.groups != 1) os << ", groups=" << options_.groups;
  if (!options_.bias) os << ", bias=False";
  return os.str();
}

// ---- BatchNorm2d --------------------------------------------------------------------------------

BatchNorm2d::BatchNorm2d(int64_t num_features, const BatchNorm2dOptions& options)
    : Module("BatchNorm2d"), num_features_(num_features), options_(options) {
  check_positive(num_features, "BatchNorm2d", "num_features");
  AFN_CHECK(options.eps > 0, "BatchNorm2d: eps must be positive, got ", options.eps);
  set_momentum(options.momentum);
  if (options.affine) {
    weight_ = register_parameter("weight", ones({num_features}));
    bias_ = register_parameter("bias", zeros({num_features}));
  }
  if (options.track_running_stats) {
    running_mean_ = register_buffer("running_mean", zeros({num_features}));
    running_var_ = register_buffer("running_var", ones({num_features}));
    num_batches_tracked_ = register_buffer("num_batches_tracked", zeros({}, DType::I64));
  }
}

BatchNorm2d::Mode BatchNorm2d::begin_call() {
  // PyTorch: batch statistics in training mode or when no running statistics are kept; the
  // running ones are updated only in training mode (and here, only when not frozen).
  const bool tracking = running_mean_.defined();
  Mode m{.batch_stats = !tracking || (is_training() && !stats_frozen_), .factor = 0.0};
  if (tracking && m.batch_stats) {
    increment_counter(num_batches_tracked_);
    // momentum=None needs the count on the host (a GPU sync, as in PyTorch); a fixed one not.
    m.factor =
        options_.momentum ? *options_.momentum : 1.0 / double(num_batches_tracked_.item<int64_t>());
  }
  return m;
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  const Mode m = begin_call();
  return batch_norm2d(x, weight_, bias_, running_mean_, running_var_, m.batch_stats, m.factor,
                      options_.eps);
}

Tensor BatchNorm2d::forward_add_relu(const Tensor& x, const Tensor& residual) {
  const Mode m = begin_call();
  return batch_norm2d_add_relu(x, weight_, bias_, running_mean_, running_var_, residual,
                               m.batch_stats, m.factor, options_.eps);
}

void BatchNorm2d::set_momentum(std::optional<double> momentum) {
  AFN_CHECK(!momentum || (*momentum >= 0 && *momentum <= 1),
            "BatchNorm2d: momentum must be in [0, 1], got ", momentum.value_or(0));
  options_.momentum = momentum;
}

std::string BatchNorm2d::extra_repr() const {
  std::ostringstream os;
  os << num_features_ << ", eps=" << py_repr(options_.eps)
     << ", momentum=" << (options_.momentum ? py_repr(*options_.momentum) : "None")
     << ", affine=" << py_repr(options_.affine)
     << ", track_running_stats=" << py_repr(options_.track_running_stats);
  return os.str();
}

// ---- Linear -------------------------------------------------------------------------------------

Linear::Linear(int64_t in_features, int64_t out_features, bool bias)
    : Module("Linear"), in_features_(in_features), out_features_(out_features) {
  check_positive(in_features, "Linear", "in_features");
  check_positive(out_features, "Linear", "out_features");
  weight_ = register_parameter("weight", zeros({out_features, in_features}));
  if (bias) bias_ = register_parameter("bias", zeros({out_features}));
  reset_parameters();
}

void Linear::reset_parameters() {
  default_reset(weight_, bias_);
}

Tensor Linear::forward(const Tensor& x) {
  return linear(x, weight_, bias_);
}

std::string Linear::extra_repr() const {
  std::ostringstream os;
  os << "in_features=" << in_features_ << ", out_features=" << out_features_
     << ", bias=" << py_repr(bias_.defined());
  return os.str();
}

// ---- activations, pools, dropout, flatten -------------------------------------------------------

ReLU::ReLU(bool inplace) : Module("ReLU"), inplace_(inplace) {}

Tensor ReLU::forward(const Tensor& x) {
  return relu(x);
}

std::string ReLU::extra_repr() const {
  return inplace_ ? "inplace=True" : "";
}

MaxPool2d::MaxPool2d(const MaxPool2dOptions& options) : Module("MaxPool2d"), options_(options) {
  // stride 0 is PyTorch's stride=None: the kernel size. Stored resolved, as PyTorch does.
  if (options_.stride == IntPair(0)) options_.stride = options_.kernel_size;
}

Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(x, options_);
}

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + int_or_tuple(options_.kernel_size) +
         ", stride=" + int_or_tuple(options_.stride) +
         ", padding=" + int_or_tuple(options_.padding) +
         ", dilation=" + int_or_tuple(options_.dilation) +
         ", ceil_mode=" + py_repr(options_.ceil_mode);
}

AvgPool2d::AvgPool2d(const AvgPool2dOptions& options) : Module("AvgPool2d"), options_(options) {
  if (options_.stride == IntPair(0)) options_.stride = options_.kernel_size;
}

Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, options_);
}

std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + int_or_tuple(options_.kernel_size) +
         ", stride=" + int_or_tuple(options_.stride) +
         ", padding=" + int_or_tuple(options_.padding);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(IntPair output_size)
    : Module("AdaptiveAvgPool2d"), output_size_(output_size) {}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  return adaptive_avg_pool2d(x, output_size_);
}

std::string AdaptiveAvgPool2d::extra_repr() const {
  return "output_size=" + tuple(output_size_);
}

AdaptiveMaxPool2d::AdaptiveMaxPool2d(IntPair output_size)
    : Module("AdaptiveMaxPool2d"), output_size_(output_size) {}

Tensor AdaptiveMaxPool2d::forward(const Tensor& x) {
  return adaptive_max_pool2d(x, output_size_);
}

std::string AdaptiveMaxPool2d::extra_repr() const {
  return "output_size=" + tuple(output_size_);
}

Dropout::Dropout(double p) : Module("Dropout"), p_(p) {
  ops::check_dropout_probability(p, "Dropout");
}

Tensor Dropout::forward(const Tensor& x) {
  return dropout(x, p_, is_training());
}

std::string Dropout::extra_repr() const {
  return "p=" + py_repr(p_) + ", inplace=False";
}

Flatten::Flatten(int64_t start_dim, int64_t end_dim)
    : Module("Flatten"), start_dim_(start_dim), end_dim_(end_dim) {}

Tensor Flatten::forward(const Tensor& x) {
  return x.flatten(start_dim_, end_dim_);
}

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim_) + ", end_dim=" + std::to_string(end_dim_);
}

// ---- Sequential ---------------------------------------------------------------------------------

std::pair<int64_t, int64_t> python_slice(int64_t begin, int64_t end, int64_t size) {
  auto clamp = [size](int64_t i) {
    if (i < 0) i += size;
    return i < 0 ? int64_t(0) : (i > size ? size : i);
  };
  begin = clamp(begin);
  end = clamp(end);
  return {begin, end < begin ? begin : end};
}

Sequential::Sequential(const std::vector<ModulePtr>& modules) : Module("Sequential") {
  for (const auto& m : modules) push_back(m);
}

std::shared_ptr<Sequential> Sequential::of_children(const Module& module, int64_t begin,
                                                    int64_t end) {
  const std::vector<ModulePtr> children = module.children();
  const auto [b, e] = python_slice(begin, end, int64_t(children.size()));
  return std::make_shared<Sequential>(
      std::vector<ModulePtr>(children.begin() + b, children.begin() + e));
}

// A Conv2d or BatchNorm2d followed by a ReLU (Identity children in between, which is where
// nn::fuse_conv_bn leaves a folded batch norm) runs as one fused op, conv2d_add_relu or
// batch_norm2d_add_relu without a residual: VGG's conv -> relu and conv -> bn -> relu. The same
// values as the modules one by one; a forward hook sees each module, so it turns this off.
Tensor Sequential::forward(const Tensor& x) {
  const NamedModules& c = child_list();
  const bool fuse = !forward_hook_active();
  Tensor y = x;
  for (size_t i = 0; i < c.size(); ++i) {
    Module& m = *c[i].second;
    auto* conv = dynamic_cast<Conv2d*>(&m);
    auto* bn = dynamic_cast<BatchNorm2d*>(&m);
    if (fuse && (conv || bn)) {
      size_t next = i + 1;
      while (next < c.size() && dynamic_cast<Identity*>(c[next].second.get())) ++next;
      if (next < c.size() && dynamic_cast<ReLU*>(c[next].second.get())) {
        y = conv ? conv->forward_add_relu(y) : bn->forward_add_relu(y);
        i = next;
        continue;
      }
    }
    y = m(y);
  }
  return y;
}

std::vector<std::pair<std::string, std::string>> Sequential::conv_bn_pairs() const {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 1; i < child_list().size(); ++i)
    pairs.emplace_back(child_list()[i - 1].first, child_list()[i].first);
  return pairs;
}

ModulePtr Sequential::operator[](int64_t i) const {
  const int64_t n = size();
  AFN_CHECK(i >= -n && i < n, "Sequential: index ", i, " is out of range for ", n, " modules");
  return child_list()[size_t(i < 0 ? i + n : i)].second;
}

void Sequential::push_back(ModulePtr module) {
  add_child(std::to_string(size()), std::move(module));
}

std::shared_ptr<Sequential> Sequential::slice(int64_t begin, int64_t end) const {
  return of_children(*this, begin, end);
}

}  // namespace afinar::nn
