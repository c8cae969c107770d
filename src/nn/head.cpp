// New heads for VGG and ResNet (see include/afinar/nn/head.h): the spec's checks, its keys, and
// the module surgery that installs it.
#include "afinar/nn/head.h"

#include <cstdio>

#include "afinar/nn/layers.h"
#include "afinar/nn/resnet.h"
#include "afinar/nn/vgg.h"

namespace afinar::nn {

namespace {

bool is_vgg(const std::string& arch) {
  return arch.rfind("vgg", 0) == 0;
}

// The last module of type M in `root`'s subtree, in registration order (nullptr when none).
template <typename M>
M* last_of(Module& root) {
  M* found = nullptr;
  root.apply([&](Module& m) {  // children before parents; siblings in order
    if (auto* t = dynamic_cast<M*>(&m)) found = t;
  });
  return found;
}

// Dropout(d0) -> Linear(F, hidden) -> ReLU -> Dropout(d1) -> Linear(hidden, C): children 0..4,
// so the Linears are `.1` and `.4` as in PyTorch's nn.Sequential.
ModulePtr mlp(const HeadSpec& h, int64_t in_features, int64_t num_classes) {
  return make_sequential(std::make_shared<Dropout>(h.dropout[0]),
                         std::make_shared<Linear>(in_features, h.hidden),
                         std::make_shared<ReLU>(false), std::make_shared<Dropout>(h.dropout[1]),
                         std::make_shared<Linear>(h.hidden, num_classes));
}

// torchvision's head with its last Linear (`path`) replaced when it has another output count.
void resize_last_linear(Module& model, const std::string& path, int64_t num_classes) {
  auto last = model.get_submodule_as<Linear>(path);
  if (last->out_features() != num_classes)
    model.replace_module(path, std::make_shared<Linear>(last->in_features(), num_classes));
}

void set_vgg_head(Module& model, const HeadSpec& head, int64_t num_classes) {
  if (head.is_default()) return resize_last_linear(model, "classifier.6", num_classes);
  // The head sees the last convolution's channels after a global average pool (seed 000).
  auto* conv = last_of<Conv2d>(*model.get_submodule("features"));
  AFN_CHECK(conv != nullptr, "set_head: the VGG has no convolution in `features`");
  const int64_t features = conv->out_channels();
  model.replace_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(IntPair{1, 1}));
  model.replace_module("classifier", head.kind == "linear" ? ModulePtr(std::make_shared<Linear>(
                                                                 features, num_classes))
                                                           : mlp(head, features, num_classes));
}

void set_resnet_head(Module& model, const HeadSpec& head, int64_t num_classes) {
  if (head.kind != "mlp") return resize_last_linear(model, "fc", num_classes);
  // The width after layer4: its last BatchNorm's channels (512 · expansion).
  auto* bn = last_of<BatchNorm2d>(*model.get_submodule("layer4"));
  AFN_CHECK(bn != nullptr, "set_head: the ResNet has no BatchNorm2d in layer4");
  model.replace_module("fc", mlp(head, bn->num_features(), num_classes));
}

}  // namespace

const std::vector<std::string>& head_kinds() {
  static const std::vector<std::string> kinds = {"default", "linear", "mlp"};
  return kinds;
}

void check_head(const HeadSpec& h) {
  bool known = false;
  for (const auto& k : head_kinds()) known = known || k == h.kind;
  AFN_CHECK(known, "unknown head '", h.kind, "': expected default, linear or mlp");
  if (h.kind != "mlp") return;
  AFN_CHECK(h.hidden >= 1, "head mlp: hidden must be >= 1, got ", h.hidden);
  for (double p : h.dropout)
    AFN_CHECK(p >= 0 && p < 1, "head mlp: dropout must be in [0, 1), got ", p);
}

std::string head_str(const HeadSpec& h) {
  if (h.kind != "mlp") return h.kind;
  char text[96];
  std::snprintf(text, sizeof text, "mlp (hidden %lld, dropout %g, %g)", (long long)h.hidden,
                h.dropout[0], h.dropout[1]);
  return text;
}

std::string head_module_name(const std::string& arch) {
  return is_vgg(arch) ? "classifier" : "fc";
}

std::string head_output_key(const std::string& arch, const HeadSpec& head) {
  const std::string module = head_module_name(arch);
  if (head.kind == "mlp") return module + ".4.weight";
  if (is_vgg(arch) && head.is_default()) return "classifier.6.weight";
  return module + ".weight";
}

std::vector<std::pair<std::string, Shape>> head_keys(const std::string& arch, const HeadSpec& head,
                                                     int64_t in_features, int64_t num_classes) {
  check_head(head);
  AFN_CHECK(!head.is_default(), "head_keys: the default head is ", arch,
            "'s own (io::torchvision_keys lists it)");
  const std::string m = head_module_name(arch);
  if (head.kind == "linear")
    return {{m + ".weight", {num_classes, in_features}}, {m + ".bias", {num_classes}}};
  return {{m + ".1.weight", {head.hidden, in_features}},
          {m + ".1.bias", {head.hidden}},
          {m + ".4.weight", {num_classes, head.hidden}},
          {m + ".4.bias", {num_classes}}};
}

void set_head(Module& model, const HeadSpec& head, int64_t num_classes) {
  check_head(head);
  AFN_CHECK(num_classes > 0, "set_head: num_classes must be positive, got ", num_classes);
  if (dynamic_cast<VGG*>(&model)) return set_vgg_head(model, head, num_classes);
  if (dynamic_cast<ResNet*>(&model)) return set_resnet_head(model, head, num_classes);
  AFN_FAIL("set_head: a ", model.type_name(),
           " has no known head; heads are defined for torchvision's VGG and ResNet");
}

}  // namespace afinar::nn
