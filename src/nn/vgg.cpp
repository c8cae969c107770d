// VGG as torchvision.models.vgg (torchvision 0.14): make_layers, cfgs and VGG.__init__.
#include "afinar/nn/vgg.h"

#include <vector>

#include "afinar/nn/init.h"

namespace afinar::nn {

namespace {

constexpr int64_t kPool = 0;  // "M" in torchvision's cfgs

const std::vector<int64_t>& config_layers(VggConfig config) {
  static const std::vector<int64_t> a = {64,  kPool, 128,   kPool, 256, 256,  kPool,
                                         512, 512,   kPool, 512,   512, kPool};
  static const std::vector<int64_t> b = {64,    64,  kPool, 128,   128, kPool, 256,  256,
                                         kPool, 512, 512,   kPool, 512, 512,   kPool};
  static const std::vector<int64_t> d = {64,    64,  kPool, 128, 128,   kPool, 256, 256, 256,
                                         kPool, 512, 512,   512, kPool, 512,   512, 512, kPool};
  static const std::vector<int64_t> e = {64,  64,    kPool, 128,   128, kPool, 256,
                                         256, 256,   256,   kPool, 512, 512,   512,
                                         512, kPool, 512,   512,   512, 512,   kPool};
  switch (config) {
    case VggConfig::A:
      return a;
    case VggConfig::B:
      return b;
    case VggConfig::D:
      return d;
    case VggConfig::E:
      return e;
  }
  AFN_FAIL("make_vgg_features: unknown configuration");
}

std::shared_ptr<VGG> make_vgg(VggConfig config, bool batch_norm, int64_t num_classes) {
  return std::make_shared<VGG>(make_vgg_features(config, batch_norm), num_classes);
}

}  // namespace

std::shared_ptr<Sequential> make_vgg_features(VggConfig config, bool batch_norm) {
  auto features = std::make_shared<Sequential>();
  int64_t in_channels = 3;
  for (int64_t v : config_layers(config)) {
    if (v == kPool) {
      features->push_back(
          std::make_shared<MaxPool2d>(MaxPool2dOptions{.kernel_size = 2, .stride = 2}));
      continue;
    }
    features->push_back(std::make_shared<Conv2d>(in_channels, v, 3, Conv2dOptions{.padding = 1}));
    if (batch_norm) features->push_back(std::make_shared<BatchNorm2d>(v));
    features->push_back(std::make_shared<ReLU>(true));
    in_channels = v;
  }
  return features;
}

VGG::VGG(ModulePtr features, int64_t num_classes, double dropout, bool init_weights)
    : Module("VGG") {
  register_module("features", std::move(features));
  register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(IntPair{7, 7}));
  register_module(
      "classifier",
      make_sequential(std::make_shared<Linear>(512 * 7 * 7, 4096), std::make_shared<ReLU>(true),
                      std::make_shared<Dropout>(dropout), std::make_shared<Linear>(4096, 4096),
                      std::make_shared<ReLU>(true), std::make_shared<Dropout>(dropout),
                      std::make_shared<Linear>(4096, num_classes)));
  if (!init_weights) return;
  apply([](Module& m) {
    if (auto* conv = dynamic_cast<Conv2d*>(&m)) {
      init::kaiming_normal_(conv->weight(), 0.0, init::FanMode::FanOut, init::Nonlinearity::ReLU);
      if (conv->bias().defined()) init::constant_(conv->bias(), 0.0);
    } else if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) {
      init::constant_(bn->weight(), 1.0);
      init::constant_(bn->bias(), 0.0);
    } else if (auto* fc = dynamic_cast<Linear*>(&m)) {
      init::normal_(fc->weight(), 0.0, 0.01);
      init::constant_(fc->bias(), 0.0);
    }
  });
}

Tensor VGG::forward(const Tensor& x) {
  Tensor y = child("features")(x);
  y = child("avgpool")(y);
  return child("classifier")(y.flatten(1));
}

std::shared_ptr<VGG> vgg11(int64_t num_classes) {
  return make_vgg(VggConfig::A, false, num_classes);
}
std::shared_ptr<VGG> vgg11_bn(int64_t num_classes) {
  return make_vgg(VggConfig::A, true, num_classes);
}
std::shared_ptr<VGG> vgg13(int64_t num_classes) {
  return make_vgg(VggConfig::B, false, num_classes);
}
std::shared_ptr<VGG> vgg13_bn(int64_t num_classes) {
  return make_vgg(VggConfig::B, true, num_classes);
}
std::shared_ptr<VGG> vgg16(int64_t num_classes) {
  return make_vgg(VggConfig::D, false, num_classes);
}
std::shared_ptr<VGG> vgg16_bn(int64_t num_classes) {
  return make_vgg(VggConfig::D, true, num_classes);
}
std::shared_ptr<VGG> vgg19(int64_t num_classes) {
  return make_vgg(VggConfig::E, false, num_classes);
}
std::shared_ptr<VGG> vgg19_bn(int64_t num_classes) {
  return make_vgg(VggConfig::E, true, num_classes);
}

}  // namespace afinar::nn
