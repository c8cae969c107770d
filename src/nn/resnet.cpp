// ResNet as torchvision.models.resnet (torchvision 0.14): BasicBlock, Bottleneck, _make_layer, and
// the ResNeXt / Wide ResNet builders (the same classes with other groups / width_per_group).
// Every bn -> relu and bn -> add -> relu runs as one fused op (batch_norm2d_add_relu, the same
// numbers as the modules one by one; conv2d_add_relu once nn::fuse_conv_bn has folded the batch
// norms into the convolutions) unless a forward hook is watching the modules.
#include "afinar/nn/resnet.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "afinar/core/check.h"
#include "afinar/nn/init.h"
#include "afinar/ops/elementwise.h"

namespace afinar::nn {

namespace {

// torchvision's conv3x3 and conv1x1: no bias, padding 1 for the 3×3.
std::shared_ptr<Conv2d> conv3x3(int64_t in_planes, int64_t out_planes, int64_t stride = 1,
                                int64_t groups = 1) {
  return std::make_shared<Conv2d>(
      in_planes, out_planes, 3,
      Conv2dOptions{.stride = stride, .padding = 1, .groups = groups, .bias = false});
}

std::shared_ptr<Conv2d> conv1x1(int64_t in_planes, int64_t out_planes, int64_t stride = 1) {
  return std::make_shared<Conv2d>(in_planes, out_planes, 1,
                                  Conv2dOptions{.stride = stride, .bias = false});
}

// _make_layer: the first block takes the stride and, when the shape changes, a 1×1 projection
// + BatchNorm as downsample; the others keep the shape. `inplanes` is updated as torchvision's.
std::shared_ptr<Sequential> make_layer(ResNetBlock block, int64_t& inplanes, int64_t planes,
                                       int64_t blocks, int64_t stride, int64_t groups,
                                       int64_t base_width) {
  const int64_t expansion =
      block == ResNetBlock::Basic ? BasicBlock::kExpansion : Bottleneck::kExpansion;
  auto make_block = [&](int64_t in, int64_t s, ModulePtr downsample) -> ModulePtr {
    if (block == ResNetBlock::Basic)
      return std::make_shared<BasicBlock>(in, planes, s, std::move(downsample));
    return std::make_shared<Bottleneck>(in, planes, s, std::move(downsample), groups, base_width);
  };
  ModulePtr downsample;
  if (stride != 1 || inplanes != planes * expansion)
    downsample = make_sequential(conv1x1(inplanes, planes * expansion, stride),
                                 std::make_shared<BatchNorm2d>(planes * expansion));
  auto layer = std::make_shared<Sequential>();
  layer->push_back(make_block(inplanes, stride, downsample));
  inplanes = planes * expansion;
  for (int64_t i = 1; i < blocks; ++i) layer->push_back(make_block(inplanes, 1, nullptr));
  return layer;
}

// relu(bn(conv(x)) + residual()) (no residual when `residual` is empty), fused when the children
// are the stock modules and no forward hook watches: conv then batch_norm2d_add_relu, or, once
// nn::fuse_conv_bn has folded the batch norm into the convolution (bn is an Identity),
// conv2d_add_relu alone. Else module by module in torchvision's order (bn before the residual's
// downsample), the order a hook sees.
Tensor conv_bn_add_relu(Module& conv, Module& bn, Module& relu, const Tensor& x,
                        const std::function<Tensor()>& residual = {}) {
  if (dynamic_cast<ReLU*>(&relu) && !forward_hook_active()) {
    if (auto* batch_norm = dynamic_cast<BatchNorm2d*>(&bn)) {
      const Tensor y = conv(x);
      return batch_norm->forward_add_relu(y, residual ? residual() : Tensor());
    }
    auto* convolution = dynamic_cast<Conv2d*>(&conv);
    if (convolution && dynamic_cast<Identity*>(&bn))
      return convolution->forward_add_relu(x, residual ? residual() : Tensor());
  }
  const Tensor y = bn(conv(x));
  return relu(residual ? y + residual() : y);
}

// The (convN, bnN) children of a block or of the stem.
std::vector<std::pair<std::string, std::string>> numbered_pairs(int count) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int i = 1; i <= count; ++i)
    pairs.emplace_back("conv" + std::to_string(i), "bn" + std::to_string(i));
  return pairs;
}

}  // namespace

int64_t bottleneck_width(int64_t planes, int64_t groups, int64_t base_width) {
  return int64_t(double(planes) * (double(base_width) / 64.0)) * groups;  // torchvision's int()
}

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, ModulePtr downsample)
    : Module("BasicBlock") {
  register_module("conv1", conv3x3(inplanes, planes, stride));
  register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  register_module("relu", std::make_shared<ReLU>(true));
  register_module("conv2", conv3x3(planes, planes));
  register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  if (downsample) register_module("downsample", std::move(downsample));
}

Tensor BasicBlock::forward(const Tensor& x) {
  Module& relu = child("relu");
  const Tensor out = conv_bn_add_relu(child("conv1"), child("bn1"), relu, x);
  return conv_bn_add_relu(child("conv2"), child("bn2"), relu, out,
                          [&] { return has_child("downsample") ? child("downsample")(x) : x; });
}

std::vector<std::pair<std::string, std::string>> BasicBlock::conv_bn_pairs() const {
  return numbered_pairs(2);
}

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, ModulePtr downsample,
                       int64_t groups, int64_t base_width)
    : Module("Bottleneck") {
  AFN_CHECK(groups > 0 && base_width > 0,
            "Bottleneck: groups and base_width must be positive, got ", groups, " and ",
            base_width);
  const int64_t width = bottleneck_width(planes, groups, base_width);
  AFN_CHECK(width > 0, "Bottleneck: planes ", planes, " with base_width ", base_width,
            " leaves no channels per group");
  register_module("conv1", conv1x1(inplanes, width));
  register_module("bn1", std::make_shared<BatchNorm2d>(width));
  register_module("conv2", conv3x3(width, width, stride, groups));
  register_module("bn2", std::make_shared<BatchNorm2d>(width));
  register_module("conv3", conv1x1(width, planes * kExpansion));
  register_module("bn3", std::make_shared<BatchNorm2d>(planes * kExpansion));
  register_module("relu", std::make_shared<ReLU>(true));
  if (downsample) register_module("downsample", std::move(downsample));
}

Tensor Bottleneck::forward(const Tensor& x) {
  Module& relu = child("relu");
  Tensor out = conv_bn_add_relu(child("conv1"), child("bn1"), relu, x);
  out = conv_bn_add_relu(child("conv2"), child("bn2"), relu, out);
  return conv_bn_add_relu(child("conv3"), child("bn3"), relu, out,
                          [&] { return has_child("downsample") ? child("downsample")(x) : x; });
}

std::vector<std::pair<std::string, std::string>> Bottleneck::conv_bn_pairs() const {
  return numbered_pairs(3);
}

ResNet::ResNet(ResNetBlock block, const std::array<int64_t, 4>& layers, int64_t num_classes,
               int64_t groups, int64_t width_per_group)
    : Module("ResNet") {
  // torchvision's BasicBlock raises the same ValueError.
  AFN_CHECK(block == ResNetBlock::Bottleneck || (groups == 1 && width_per_group == 64),
            "BasicBlock only supports groups=1 and width_per_group=64, got ", groups, " and ",
            width_per_group);
  int64_t inplanes = 64;
  register_module(
      "conv1", std::make_shared<Conv2d>(3, inplanes, 7,
                                        Conv2dOptions{.stride = 2, .padding = 3, .bias = false}));
  register_module("bn1", std::make_shared<BatchNorm2d>(inplanes));
  register_module("relu", std::make_shared<ReLU>(true));
  register_module("maxpool", std::make_shared<MaxPool2d>(
                                 MaxPool2dOptions{.kernel_size = 3, .stride = 2, .padding = 1}));
  const int64_t planes[4] = {64, 128, 256, 512};
  for (size_t i = 0; i < 4; ++i)
    register_module(
        "layer" + std::to_string(i + 1),
        make_layer(block, inplanes, planes[i], layers[i], i == 0 ? 1 : 2, groups, width_per_group));
  register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(IntPair{1, 1}));
  register_module("fc", std::make_shared<Linear>(inplanes, num_classes));
  apply([](Module& m) {
    if (auto* conv = dynamic_cast<Conv2d*>(&m)) {
      init::kaiming_normal_(conv->weight(), 0.0, init::FanMode::FanOut, init::Nonlinearity::ReLU);
    } else if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) {
      init::constant_(bn->weight(), 1.0);
      init::constant_(bn->bias(), 0.0);
    }
  });
}

Tensor ResNet::forward(const Tensor& x) {
  Tensor y = child("maxpool")(conv_bn_add_relu(child("conv1"), child("bn1"), child("relu"), x));
  for (const char* layer : {"layer1", "layer2", "layer3", "layer4"}) y = child(layer)(y);
  return child("fc")(child("avgpool")(y).flatten(1));
}

std::vector<std::pair<std::string, std::string>> ResNet::conv_bn_pairs() const {
  return numbered_pairs(1);
}

namespace {
std::shared_ptr<ResNet> basic(const std::array<int64_t, 4>& layers, int64_t num_classes) {
  return std::make_shared<ResNet>(ResNetBlock::Basic, layers, num_classes);
}
std::shared_ptr<ResNet> bottleneck(const std::array<int64_t, 4>& layers, int64_t num_classes,
                                   int64_t groups = 1, int64_t width_per_group = 64) {
  return std::make_shared<ResNet>(ResNetBlock::Bottleneck, layers, num_classes, groups,
                                  width_per_group);
}
}  // namespace

// torchvision's builders.
std::shared_ptr<ResNet> resnet18(int64_t n) {
  return basic({2, 2, 2, 2}, n);
}
std::shared_ptr<ResNet> resnet34(int64_t n) {
  return basic({3, 4, 6, 3}, n);
}
std::shared_ptr<ResNet> resnet50(int64_t n) {
  return bottleneck({3, 4, 6, 3}, n);
}
std::shared_ptr<ResNet> resnet101(int64_t n) {
  return bottleneck({3, 4, 23, 3}, n);
}
std::shared_ptr<ResNet> resnet152(int64_t n) {
  return bottleneck({3, 8, 36, 3}, n);
}
std::shared_ptr<ResNet> resnext50_32x4d(int64_t n) {
  return bottleneck({3, 4, 6, 3}, n, 32, 4);
}
std::shared_ptr<ResNet> resnext101_32x8d(int64_t n) {
  return bottleneck({3, 4, 23, 3}, n, 32, 8);
}
std::shared_ptr<ResNet> resnext101_64x4d(int64_t n) {
  return bottleneck({3, 4, 23, 3}, n, 64, 4);
}
std::shared_ptr<ResNet> wide_resnet50_2(int64_t n) {
  return bottleneck({3, 4, 6, 3}, n, 1, 128);
}
std::shared_ptr<ResNet> wide_resnet101_2(int64_t n) {
  return bottleneck({3, 4, 23, 3}, n, 1, 128);
}

}  // namespace afinar::nn
