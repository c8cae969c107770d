// Freezing: glob patterns, seed 003's freeze_until, errors for patterns that match nothing,
// frozen BatchNorm statistics, counts, and backward through a frozen backbone (no gradient and
// no gradient work below the head). Expected counts are torchvision's resnet18, computed with
// torch (sum of p.numel() over the named parameters selected the same way).
#include <gtest/gtest.h>

#include <optional>

#include "afinar/autograd/grad_mode.h"
#include "afinar/core/allocator.h"
#include "afinar/nn/freeze.h"
#include "afinar/nn/init.h"
#include "afinar/nn/resnet.h"
#include "afinar/ops/dispatch.h"
#include "afinar/ops/reduce.h"

namespace afinar::nn {
namespace {

constexpr int64_t kResNet18Params = 11689512;
constexpr int64_t kResNet18Layer4AndFc = 8906728;   // names starting with layer4. or fc.
constexpr int64_t kResNet18FromLayer3 = 11006440;   // layer3., layer4., fc.
constexpr int64_t kResNet18BatchNormParams = 9600;  // γ and β of the 20 BatchNorm2d

bool requires_grad(Module& m, const std::string& name) {
  for (const auto& [n, p] : m.named_parameters())
    if (n == name) return p.requires_grad();
  ADD_FAILURE() << "no parameter " << name;
  return false;
}

TEST(Freeze, GlobMatchIsFnmatchOnWholeNames) {
  EXPECT_TRUE(glob_match("*", "layer1.0.conv1.weight"));
  EXPECT_TRUE(glob_match("layer4.*", "layer4.1.bn2.bias"));
  EXPECT_FALSE(glob_match("layer4.*", "layer40.weight"));
  EXPECT_FALSE(glob_match("layer4", "layer4.1.bn2.bias"));  // the whole name must match
  EXPECT_TRUE(glob_match("*.bn?.weight", "layer1.0.bn2.weight"));
  EXPECT_FALSE(glob_match("*.bn?.weight", "layer1.0.bn12.weight"));
  EXPECT_TRUE(glob_match("*bn*", "bn1.bias"));
  EXPECT_TRUE(glob_match("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXbYbZ"));
  EXPECT_TRUE(glob_match("fc.?eight", "fc.weight"));
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "x"));
  EXPECT_TRUE(glob_match("**", ""));
}

TEST(Freeze, FreezeAndUnfreezeByPatternsWithCounts) {
  auto model = resnet18();
  EXPECT_EQ(count_params(*model).trainable, kResNet18Params);
  EXPECT_EQ(freeze(*model, {"*"}), 62u);  // resnet18 has 62 parameter tensors
  EXPECT_EQ(count_params(*model).trainable, 0);
  EXPECT_EQ(unfreeze(*model, {"layer4.*", "fc.*"}), 17u);
  const ParamCounts c = count_params(*model);
  EXPECT_EQ(c.trainable, kResNet18Layer4AndFc);
  EXPECT_EQ(c.frozen, kResNet18Params - kResNet18Layer4AndFc);
  EXPECT_EQ(c.total, kResNet18Params);
  EXPECT_FALSE(requires_grad(*model, "layer3.1.conv2.weight"));
  EXPECT_TRUE(requires_grad(*model, "layer4.0.downsample.0.weight"));

  // Freeze the BatchNorm affine parameters everywhere (bn1, bn2, downsample.1).
  unfreeze(*model, {"*"});
  freeze(*model, {"*bn?.*", "*downsample.1.*"});
  EXPECT_EQ(count_params(*model).frozen, kResNet18BatchNormParams);
}

TEST(Freeze, PatternMatchingNothingIsAnErrorAndChangesNothing) {
  auto model = resnet18();
  try {
    freeze(*model, {"layer1.*", "layer5.*"});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'layer5.*' matches no parameter"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(count_params(*model).frozen, 0);  // layer1.* was not applied either
  EXPECT_THROW(unfreeze(*model, {}), Error);
}

TEST(Freeze, FreezeUntilIsSeed003s) {
  auto model = resnet18();
  freeze_until(*model, "layer3");  // trains layer3, layer4, fc
  EXPECT_EQ(count_params(*model).trainable, kResNet18FromLayer3);
  EXPECT_FALSE(requires_grad(*model, "conv1.weight"));
  EXPECT_FALSE(requires_grad(*model, "layer2.1.bn2.bias"));
  EXPECT_TRUE(requires_grad(*model, "layer3.0.conv1.weight"));
  EXPECT_TRUE(requires_grad(*model, "fc.bias"));
  // Everything after the first match trains, matching or not; a second call re-decides all.
  freeze_until(*model, "fc");
  EXPECT_EQ(count_params(*model).trainable, 512 * 1000 + 1000);
  EXPECT_THROW(freeze_until(*model, "classifier"), Error);
  EXPECT_EQ(count_params(*model).trainable, 512 * 1000 + 1000);  // unchanged by the failure
}

TEST(Freeze, FrozenBatchNormStatisticsStayPutInTraining) {
  auto model = resnet18();
  EXPECT_EQ(set_bn_stats_frozen(*model, true), 20u);
  model->train();
  const StateDict before = model->state_dict();
  std::vector<std::vector<double>> stats;
  for (const auto& [name, b] : model->named_buffers()) stats.push_back(b.to_vector<double>());
  (*model)(randn({2, 3, 32, 32}));
  size_t i = 0;
  for (const auto& [name, b] : model->named_buffers())
    EXPECT_EQ(b.to_vector<double>(), stats[i++]) << name;
  set_bn_stats_frozen(*model, false);
  (*model)(randn({2, 3, 32, 32}));
  EXPECT_NE(model->named_buffers()[0].second.to_vector<double>(), stats[0]);
}

TEST(Freeze, BackwardThroughAFrozenBackboneStopsAtTheHead) {
  auto model = resnet18(4);
  freeze(*model, {"*"});
  unfreeze(*model, {"fc.*"});
  model->train();
  const Tensor loss = sum((*model)(randn({2, 3, 32, 32})));
  reset_op_call_counts();
  loss.backward();
  for (const auto& [name, p] : model->named_parameters()) {
    if (name.rfind("fc.", 0) == 0)
      EXPECT_TRUE(p.grad().defined()) << name;
    else
      EXPECT_FALSE(p.grad().defined()) << name;
  }
  // Nothing below fc needs a gradient: no convolution or BatchNorm backward runs at all.
  EXPECT_EQ(op_call_count("conv2d_backward_weight"), 0);
  EXPECT_EQ(op_call_count("conv2d_backward_input"), 0);
  EXPECT_EQ(op_call_count("batch_norm2d_backward"), 0);
  EXPECT_EQ(op_call_count("linear_backward_weight"), 1);
}

// Nor does the forward keep anything for a backward that will not come: with the backbone
// frozen, what a train-mode forward leaves alive (the graph's saved tensors and the logits) is
// the head's input (the pooled [N, 512] features, which fc's weight gradient needs) more than an
// eval-free no-grad forward leaves; with everything training it is every layer's activations.
TEST(Freeze, AFrozenBackboneSavesNoActivations) {
  auto model = resnet18(4);
  model->train();
  const Tensor x = randn({8, 3, 64, 64});
  const auto held_after_forward = [&](bool grad) {
    const size_t before = memory_stats(kCPU).allocated;
    std::optional<NoGradGuard> no_grad;
    if (!grad) no_grad.emplace();
    const Tensor logits = (*model)(x);
    return int64_t(memory_stats(kCPU).allocated) - int64_t(before);
  };
  const int64_t inference = held_after_forward(false);
  const int64_t full = held_after_forward(true);
  freeze(*model, {"*"});
  unfreeze(*model, {"fc.*"});
  const int64_t frozen = held_after_forward(true);
  EXPECT_LE(frozen - inference, 8 * 512 * int64_t(sizeof(float)));  // fc's saved input
  EXPECT_GT(full - inference, 100 * (frozen - inference + 1));      // the activations themselves
}

}  // namespace
}  // namespace afinar::nn
