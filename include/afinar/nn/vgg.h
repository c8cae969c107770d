// VGG (Simonyan & Zisserman 2014) exactly as torchvision 0.14 builds it: the same modules, names
// (`features.0.weight`, `classifier.6.bias`), shapes and initialisation, so torchvision's
// state_dicts load with strict=true and give the same logits.
//
//   auto model = nn::vgg16_bn(10);                // any num_classes
//   model->replace_module("classifier.6", std::make_shared<nn::Linear>(4096, 3));
//
// features: the configuration's 3×3 convolutions (padding 1; + BatchNorm2d for _bn) each followed
// by ReLU(inplace=True), and MaxPool2d(2, 2) at each "M"; avgpool: AdaptiveAvgPool2d((7, 7)), so
// any input of at least 32×32 works; classifier: Linear(25088, 4096), ReLU, Dropout(0.5),
// Linear(4096, 4096), ReLU, Dropout(0.5), Linear(4096, num_classes).
// Initialisation (torchvision's): conv weights kaiming_normal_(fan_out, relu), conv biases 0,
// BatchNorm γ = 1, β = 0, Linear weights N(0, 0.01), biases 0.
#pragma once

#include <cstdint>
#include <memory>

#include "afinar/nn/layers.h"

namespace afinar::nn {

class VGG : public Module {
 public:
  // `features` is the convolutional part (make_vgg_features); dropout is the classifier's p.
  VGG(ModulePtr features, int64_t num_classes = 1000, double dropout = 0.5,
      bool init_weights = true);
  // [N, 3, H, W] -> [N, num_classes]: features, avgpool, flatten, classifier.
  Tensor forward(const Tensor& x) override;
};

// The configurations of the paper's table 1: A = vgg11, B = vgg13, D = vgg16, E = vgg19.
enum class VggConfig { A, B, D, E };
std::shared_ptr<Sequential> make_vgg_features(VggConfig config, bool batch_norm);

std::shared_ptr<VGG> vgg11(int64_t num_classes = 1000);
std::shared_ptr<VGG> vgg11_bn(int64_t num_classes = 1000);
std::shared_ptr<VGG> vgg13(int64_t num_classes = 1000);
std::shared_ptr<VGG> vgg13_bn(int64_t num_classes = 1000);
std::shared_ptr<VGG> vgg16(int64_t num_classes = 1000);
std::shared_ptr<VGG> vgg16_bn(int64_t num_classes = 1000);
std::shared_ptr<VGG> vgg19(int64_t num_classes = 1000);
std::shared_ptr<VGG> vgg19_bn(int64_t num_classes = 1000);

}  // namespace afinar::nn
