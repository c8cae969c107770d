// New heads (nn/head.h): module names, shapes and repr against the PyTorch code that builds the
// same heads (seed 000's VGG16 with a 512 -> 10 Linear after AdaptiveAvgPool2d((1, 1)), seed 003's
// dropout MLP on ResNet), seed 000's trainable / frozen counts after unfreezing block 5 by
// pattern, the forward pass through each head, and bad specs.
#include "afinar/nn/head.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "afinar/autograd/grad_mode.h"
#include "afinar/core/check.h"
#include "afinar/core/rng.h"
#include "afinar/nn/freeze.h"
#include "afinar/nn/init.h"
#include "afinar/nn/models.h"
#include "afinar/nn/resnet.h"
#include "testing/compare.h"
#include "testing/python.h"

namespace afinar::nn {
namespace {

ModulePtr shapes_only(const std::string& arch, int64_t classes, const HeadSpec& head) {
  init::SkipInitGuard no_draws;  // names, shapes and counts only
  return create_model(arch, classes, head);
}

// repr, then one "key [shape]" line per state_dict entry: what the Python side prints.
std::string describe(const Module& m) {
  std::string out = m.repr() + "\n";
  for (const auto& [key, t] : m.state_dict()) out += key + " " + shape_str(t.shape()) + "\n";
  return out;
}

// The heads as the seeds' PyTorch code builds them on torchvision's models. Only names, shapes
// and repr are compared, so the initialisation draws are skipped.
const char* kTorchHeads = R"(
import sys, torch, torchvision
from torch import nn
for f in ("kaiming_normal_", "kaiming_uniform_", "normal_", "uniform_", "constant_"):
    setattr(nn.init, f, lambda t, *a, **k: t)
tv = torchvision.models

def mlp(f, hidden, c, d0, d1):  # seed 003 section 6
    return nn.Sequential(nn.Dropout(d0), nn.Linear(f, hidden), nn.ReLU(), nn.Dropout(d1),
                         nn.Linear(hidden, c))

cases = {}
m = tv.resnet18(); m.fc = mlp(m.fc.in_features, 256, 5, 0.5, 0.3); cases["resnet18_mlp"] = m
m = tv.resnet50(); m.fc = mlp(m.fc.in_features, 512, 7, 0.5, 0.3); cases["resnet50_mlp512"] = m
cases["resnet34_linear"] = tv.resnet34(num_classes=4)
m = tv.vgg16(); m.avgpool = nn.AdaptiveAvgPool2d((1, 1)); m.classifier = nn.Linear(512, 10)
cases["vgg16_linear"] = m  # seed 000: features, pool to 1x1, flatten, Linear(512, 10)
m = tv.vgg11_bn(); m.avgpool = nn.AdaptiveAvgPool2d((1, 1)); m.classifier = mlp(512, 64, 3, 0.2, 0.1)
cases["vgg11_bn_mlp"] = m
cases["vgg13_default"] = tv.vgg13(num_classes=6)
for name, m in cases.items():
    with open(sys.argv[1] + "/" + name + ".txt", "w") as f:
        f.write(repr(m) + "\n")
        for k, v in m.state_dict().items():
            f.write(k + " " + str(list(v.shape)) + "\n")
)";

TEST(Head, NamesShapesAndReprMatchThePyTorchCode) {
  SKIP_WITHOUT_TORCH();
  testing::TempDir dir;
  const testing::Result r = testing::python(dir, kTorchHeads, dir.path());
  ASSERT_EQ(r.code, 0) << r.output;
  struct Case {
    const char* name;
    const char* arch;
    int64_t classes;
    HeadSpec head;
  };
  const Case cases[] = {
      {"resnet18_mlp", "resnet18", 5, {.kind = "mlp"}},
      {"resnet50_mlp512", "resnet50", 7, {.kind = "mlp", .hidden = 512}},
      {"resnet34_linear", "resnet34", 4, {.kind = "linear"}},
      {"vgg16_linear", "vgg16", 10, {.kind = "linear"}},
      {"vgg11_bn_mlp", "vgg11_bn", 3, {.kind = "mlp", .hidden = 64, .dropout = {0.2, 0.1}}},
      {"vgg13_default", "vgg13", 6, {}},
  };
  for (const Case& c : cases) {
    std::ifstream in(dir / (std::string(c.name) + ".txt"));
    std::stringstream expected;
    expected << in.rdbuf();
    EXPECT_EQ(describe(*shapes_only(c.arch, c.classes, c.head)), expected.str()) << c.name;
  }
}

// Seed 000: VGG16 with the 512 -> 10 head, features frozen but block 5 (features.24, .26, .28)
// and the head. The seed's notebook prints Trainable 7,084,554 | Frozen 7,635,264 | Total
// 14,719,818 and these trainable names.
TEST(Head, Seed000UnfreezesBlock5ByPattern) {
  ModulePtr model = shapes_only("vgg16", 10, {.kind = "linear"});
  freeze(*model, {"*"});
  unfreeze(*model, {"features.24.*", "features.26.*", "features.28.*", "classifier.*"});
  const ParamCounts c = count_params(*model);
  EXPECT_EQ(c.trainable, 7084554);
  EXPECT_EQ(c.frozen, 7635264);
  EXPECT_EQ(c.total, 14719818);
  std::vector<std::string> trainable;
  for (const auto& [name, p] : model->named_parameters())
    if (p.requires_grad()) trainable.push_back(name);
  // The seed's backbone.0.N is torchvision's features.N; its head.1 is classifier here.
  EXPECT_EQ(trainable,
            (std::vector<std::string>{
                "features.24.weight", "features.24.bias", "features.26.weight", "features.26.bias",
                "features.28.weight", "features.28.bias", "classifier.weight", "classifier.bias"}));
}

// `afinar summary --head` prints the model with that head: seed 000's total, and the mlp's rows.
TEST(Head, SummaryCliShowsTheHead) {
  const testing::Result vgg =
      testing::cli("summary --arch vgg16 --head linear --num-classes 10 --input 3,32,32");
  ASSERT_EQ(vgg.code, 0) << vgg.output;
  EXPECT_TRUE(testing::contains(vgg.output, "Total params: 14,719,818")) << vgg.output;
  const testing::Result mlp = testing::cli(
      "summary --arch resnet18 --head mlp --head-hidden 64 --head-dropout 0.2 0.1 "
      "--num-classes 3 --input 3,32,32");
  ASSERT_EQ(mlp.code, 0) << mlp.output;
  // 11,689,512 - 513,000 (torchvision's fc) + 512*64+64 + 64*3+3
  EXPECT_TRUE(testing::contains(mlp.output, "Total params: 11,209,539")) << mlp.output;
  EXPECT_TRUE(testing::contains(mlp.output, "Dropout")) << mlp.output;
  const testing::Result bad = testing::cli("summary --arch resnet18 --head huge");
  EXPECT_EQ(bad.code, 1) << bad.output;
  EXPECT_TRUE(testing::contains(bad.output, "unknown head 'huge'")) << bad.output;
}

// Each head maps a batch to [N, C]; dropout acts in train mode only; the default head resizes
// torchvision's last Linear and leaves a model built for its classes untouched.
TEST(Head, ForwardThroughEachHead) {
  default_generator().set_state(3, 0);
  const Tensor x = randn({2, 3, 32, 32});
  NoGradGuard no_grad;
  for (const HeadSpec& head : {HeadSpec{.kind = "mlp", .hidden = 32}, HeadSpec{.kind = "linear"}}) {
    SCOPED_TRACE(head_str(head));
    ModulePtr model = create_model("resnet18", 3, head);
    model->eval();
    const Tensor a = (*model)(x);
    EXPECT_EQ(a.shape(), (Shape{2, 3}));
    testing::expect_identical((*model)(x), a, "eval is deterministic");
    if (head.kind == "mlp") {
      model->train();
      EXPECT_GT(testing::max_relative_error((*model)(x), a), 0.0) << "dropout acts in training";
    }
  }
  // VGG's heads read the globally pooled 512 channels, whatever the input size (shapes only:
  // VGG's random initialisation of 130M weights is too slow for a unit test).
  for (const HeadSpec& head : {HeadSpec{.kind = "mlp", .hidden = 16}, HeadSpec{.kind = "linear"}})
    EXPECT_EQ((*shapes_only("vgg11", 3, head))(x).shape(), (Shape{2, 3})) << head_str(head);

  auto r = resnet18(1000);
  auto fc = r->get_submodule("fc");
  set_head(*r, {}, 1000);
  EXPECT_EQ(r->get_submodule("fc"), fc);  // already right: not replaced
  set_head(*r, {}, 10);
  EXPECT_EQ(r->get_submodule_as<Linear>("fc")->out_features(), 10);
  EXPECT_EQ(r->get_submodule_as<Linear>("fc")->in_features(), 512);
}

TEST(Head, KeysAndNames) {
  EXPECT_EQ(head_output_key("resnet50", {}), "fc.weight");
  EXPECT_EQ(head_output_key("resnet50", {.kind = "mlp"}), "fc.4.weight");
  EXPECT_EQ(head_output_key("vgg16_bn", {}), "classifier.6.weight");
  EXPECT_EQ(head_output_key("vgg16_bn", {.kind = "linear"}), "classifier.weight");
  EXPECT_EQ(head_str({.kind = "mlp", .hidden = 512}), "mlp (hidden 512, dropout 0.5, 0.3)");
  using KS = std::vector<std::pair<std::string, Shape>>;
  EXPECT_EQ(head_keys("resnet50", {.kind = "mlp", .hidden = 512}, 2048, 5),
            (KS{{"fc.1.weight", {512, 2048}},
                {"fc.1.bias", {512}},
                {"fc.4.weight", {5, 512}},
                {"fc.4.bias", {5}}}));
  EXPECT_EQ(head_keys("vgg16", {.kind = "linear"}, 512, 10),
            (KS{{"classifier.weight", {10, 512}}, {"classifier.bias", {10}}}));
}

TEST(Head, BadSpecsAreErrors) {
  auto error_of = [](const HeadSpec& h) {
    try {
      shapes_only("resnet18", 2, h);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of({.kind = "conv"}).find("unknown head 'conv'"), std::string::npos);
  EXPECT_NE(error_of({.kind = "mlp", .hidden = 0}).find("hidden must be >= 1"), std::string::npos);
  EXPECT_NE(error_of({.kind = "mlp", .dropout = {0.5, 1.0}}).find("dropout must be in [0, 1)"),
            std::string::npos);
  Sequential not_a_model;
  EXPECT_THROW(set_head(not_a_model, {.kind = "linear"}, 3), Error);
  EXPECT_THROW(head_keys("resnet18", {}, 512, 3), Error);  // the default is the arch's own
}

}  // namespace
}  // namespace afinar::nn
