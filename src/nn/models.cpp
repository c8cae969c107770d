// The name -> constructor table behind create_model.
#include "afinar/nn/models.h"

#include <functional>
#include <utility>

#include "afinar/nn/resnet.h"
#include "afinar/nn/vgg.h"

namespace afinar::nn {

namespace {

using Factory = std::function<ModulePtr(int64_t)>;

const std::vector<std::pair<std::string, Factory>>& registry() {
  static const std::vector<std::pair<std::string, Factory>> table = {
      {"vgg11", vgg11},
      {"vgg11_bn", vgg11_bn},
      {"vgg13", vgg13},
      {"vgg13_bn", vgg13_bn},
      {"vgg16", vgg16},
      {"vgg16_bn", vgg16_bn},
      {"vgg19", vgg19},
      {"vgg19_bn", vgg19_bn},
      {"resnet18", resnet18},
      {"resnet34", resnet34},
      {"resnet50", resnet50},
      {"resnet101", resnet101},
      {"resnet152", resnet152},
      {"resnext50_32x4d", resnext50_32x4d},
      {"resnext101_32x8d", resnext101_32x8d},
      {"resnext101_64x4d", resnext101_64x4d},
      {"wide_resnet50_2", wide_resnet50_2},
      {"wide_resnet101_2", wide_resnet101_2},
  };
  return table;
}

}  // namespace

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [name, make] : registry()) out.push_back(name);
    return out;
  }();
  return names;
}

bool is_model_name(const std::string& name) {
  for (const auto& n : model_names())
    if (n == name) return true;
  return false;
}

ModulePtr create_model(const std::string& name, int64_t num_classes, const HeadSpec& head) {
  AFN_CHECK(num_classes > 0, "create_model: num_classes must be positive, got ", num_classes);
  check_head(head);
  for (const auto& [n, make] : registry()) {
    if (n != name) continue;
    // torchvision's model first, then the head replaced: the draws of the PyTorch code that
    // assigns a new head after building the model.
    ModulePtr model = make(num_classes);
    set_head(*model, head, num_classes);
    return model;
  }
  std::string valid;
  for (const auto& n : model_names()) valid += (valid.empty() ? "" : ", ") + n;
  AFN_FAIL("unknown architecture '", name, "'; valid names: ", valid);
}

}  // namespace afinar::nn
