// ResNet (He et al. 2015) exactly as torchvision 0.14 builds it, "v1.5": a Bottleneck downsamples
// with the stride of its 3×3 convolution, not its first 1×1. Same modules, names
// (`layer1.0.bn1.running_mean`, `layer2.0.downsample.0.weight`, `fc.bias`), shapes and
// initialisation, so torchvision's state_dicts load with strict=true and give the same logits.
//
//   auto model = nn::resnet50(10);                           // any num_classes
//   model->replace_module("fc", std::make_shared<nn::Linear>(2048, 3));
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

// 1×1 (width) -> 3×3 (width, stride) -> 1×1 (planes · 4), each with BatchNorm, ReLU after the
// first two and after the residual add. expansion 4.
class Bottleneck : public Module {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride = 1, ModulePtr downsample = nullptr);
  Tensor forward(const Tensor& x) override;
  std::vector<std::pair<std::string, std::string>> conv_bn_pairs() const override;
};

enum class ResNetBlock { Basic, Bottleneck };

class ResNet : public Module {
 public:
  // `layers`: blocks per stage ({2, 2, 2, 2} for resnet18).
  ResNet(ResNetBlock block, const std::array<int64_t, 4>& layers, int64_t num_classes = 1000);
  // [N, 3, H, W] -> [N, num_classes].
  Tensor forward(const Tensor& x) override;
  std::vector<std::pair<std::string, std::string>> conv_bn_pairs() const override;
};

std::shared_ptr<ResNet> resnet18(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnet34(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnet50(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnet101(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnet152(int64_t num_classes = 1000);

}  // namespace afinar::nn
