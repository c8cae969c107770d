// ResNet (He et al. 2015) exactly as torchvision 0.14 builds it, "v1.5": a Bottleneck downsamples
// with the stride of its 3×3 convolution, not its first 1×1. Same modules, names
// (`layer1.0.bn1.running_mean`, `layer2.0.downsample.0.weight`, `fc.bias`), shapes and
// initialisation, so torchvision's state_dicts load with strict=true and give the same logits.
// The family includes torchvision's ResNeXt (Xie et al. 2017: the Bottleneck's 3×3 convolution
// split into `groups` groups of `width_per_group` channels) and Wide ResNet (Zagoruyko and
// Komodakis 2016: the Bottleneck's inner width doubled), which are the same ResNet class with
// other `groups` / `width_per_group`.
//
//   auto model = nn::resnet50(10);                           // any num_classes
//   model->replace_module("fc", std::make_shared<nn::Linear>(2048, 3));
//   auto x = nn::resnext50_32x4d();                          // groups 32, width_per_group 4
//
// Stem: conv1 7×7/2 (64, no bias), bn1, relu, maxpool 3×3/2 padding 1; then layer1..layer4 of
// blocks with 64, 128, 256, 512 planes (stride 2 from layer2 on); avgpool AdaptiveAvgPool2d((1,
// 1)), flatten, fc Linear(512 · expansion, num_classes). Initialisation (torchvision's,
// zero_init_residual=False): conv weights kaiming_normal_(fan_out, relu), BatchNorm γ = 1, β = 0;
// fc keeps Linear's default (U(±1/√fan_in)).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "afinar/nn/layers.h"

namespace afinar::nn {

// Two 3×3 convolutions: relu(bn2(conv2(relu(bn1(conv1(x))))) + identity), where identity is
// downsample(x) when the block changes the resolution or the width, else x. expansion 1.
class BasicBlock : public Module {
 public:
  static constexpr int64_t kExpansion = 1;
  // `downsample` may be null (no projection).
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride = 1, ModulePtr downsample = nullptr);
  Tensor forward(const Tensor& x) override;
  std::vector<std::pair<std::string, std::string>> conv_bn_pairs() const override;
};

// 1×1 (width) -> 3×3 (width, stride, groups) -> 1×1 (planes · 4), each with BatchNorm, ReLU after
// the first two and after the residual add. expansion 4. width = planes · base_width / 64 · groups
// (torchvision's formula, truncated as its int()): planes for ResNet (groups 1, base_width 64),
// e.g. 128 in resnext50_32x4d's layer1 (32 groups of 4) and wide_resnet50_2's (base_width 128).
class Bottleneck : public Module {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride = 1, ModulePtr downsample = nullptr,
             int64_t groups = 1, int64_t base_width = 64);
  Tensor forward(const Tensor& x) override;
  std::vector<std::pair<std::string, std::string>> conv_bn_pairs() const override;
};

// A Bottleneck's inner width: int(planes · base_width / 64) · groups, torchvision's formula.
int64_t bottleneck_width(int64_t planes, int64_t groups, int64_t base_width);

enum class ResNetBlock { Basic, Bottleneck };

class ResNet : public Module {
 public:
  // `layers`: blocks per stage ({2, 2, 2, 2} for resnet18). `groups` and `width_per_group` are the
  // Bottleneck's (torchvision's arguments of the same names); BasicBlock takes only 1 and 64.
  ResNet(ResNetBlock block, const std::array<int64_t, 4>& layers, int64_t num_classes = 1000,
         int64_t groups = 1, int64_t width_per_group = 64);
  // [N, 3, H, W] -> [N, num_classes].
  Tensor forward(const Tensor& x) override;
  std::vector<std::pair<std::string, std::string>> conv_bn_pairs() const override;
};

std::shared_ptr<ResNet> resnet18(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnet34(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnet50(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnet101(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnet152(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnext50_32x4d(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnext101_32x8d(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnext101_64x4d(int64_t num_classes = 1000);
std::shared_ptr<ResNet> wide_resnet50_2(int64_t num_classes = 1000);
std::shared_ptr<ResNet> wide_resnet101_2(int64_t num_classes = 1000);

}  // namespace afinar::nn
