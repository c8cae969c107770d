// New classification heads for torchvision's VGG and ResNet: what the seeds build by hand when
// they replace a pretrained model's classifier, with the module names the equivalent PyTorch code
// gives, so state_dicts and checkpoints stay interchangeable with PyTorch.
//
//   kind      ResNet (`fc`)                             VGG (`avgpool`, `classifier`)
//   default   Linear(F, C): torchvision's own head      torchvision's classifier, its last
//                                                        Linear resized: classifier.6 [C, 4096]
//   linear    the same as default                       avgpool = AdaptiveAvgPool2d((1, 1)),
//                                                        classifier = Linear(512, C)  (seed 000)
//   mlp       fc = Sequential(Dropout(d0), Linear(F, hidden), ReLU(), Dropout(d1),
//             Linear(hidden, C)): keys fc.1.*, fc.4.*  (seed 003; for VGG avgpool =
//             AdaptiveAvgPool2d((1, 1)) and classifier = that Sequential, F = 512)
//
// F is the backbone's width: 512 for VGG and ResNet18/34, 2048 for ResNet50/101/152. The new
// modules get PyTorch's default initialisation (Linear: U(±1/√fan_in)), as assigning a fresh
// nn.Linear does. AdaptiveAvgPool2d(1) in PyTorch prints as output_size=1; afinar always prints
// the pair, so the VGG heads are written with (1, 1) (the same pooling).
//
//   auto model = nn::create_model("resnet50", 5, {.kind = "mlp", .hidden = 512});
//   nn::set_head(*nn::vgg16(), {.kind = "linear"}, 10);
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "afinar/core/shape.h"
#include "afinar/nn/module.h"

namespace afinar::nn {

struct HeadSpec {
  std::string kind = "default";             // "default", "linear" or "mlp"
  int64_t hidden = 256;                     // mlp: width of the hidden Linear
  std::array<double, 2> dropout{0.5, 0.3};  // mlp: p of the Dropout before each Linear

  bool is_default() const { return kind == "default"; }
  friend bool operator==(const HeadSpec&, const HeadSpec&) = default;
};

// The kinds, in the order above.
const std::vector<std::string>& head_kinds();
// Throws for an unknown kind, hidden < 1 or a dropout outside [0, 1).
void check_head(const HeadSpec& head);
// "default", "linear", "mlp (hidden 256, dropout 0.5, 0.3)": for logs and error messages.
std::string head_str(const HeadSpec& head);

// The head's child of an architecture by name: "classifier" (vgg*) or "fc" (resnet*).
std::string head_module_name(const std::string& arch);
// The state_dict key of the head's output weight [num_classes, ...]: "fc.weight",
// "fc.4.weight", "classifier.6.weight", "classifier.weight", "classifier.4.weight".
std::string head_output_key(const std::string& arch, const HeadSpec& head);
// The state_dict keys and shapes of a linear or mlp head of `arch` whose input has `in_features`
// values, in state_dict order ("classifier.weight" [C, F], "classifier.bias" [C], ...). The
// default head is the architecture's own (io::torchvision_keys).
std::vector<std::pair<std::string, Shape>> head_keys(const std::string& arch, const HeadSpec& head,
                                                     int64_t in_features, int64_t num_classes);

// Installs `head` with num_classes outputs on a torchvision VGG or ResNet, in place: `fc`, or
// `avgpool` and `classifier`, are replaced (`model.fc = nn.Sequential(...)`). The default head
// (and ResNet's linear one) only replaces the last Linear when its output count is not
// num_classes, so a model built for num_classes is left exactly as it is.
void set_head(Module& model, const HeadSpec& head, int64_t num_classes);

}  // namespace afinar::nn
