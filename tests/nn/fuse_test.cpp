// Conv + batch-norm folding (nn/fuse.h): the folded weights are PyTorch's bit for bit, a folded
// convolution computes bn(conv(x)) in eval mode, and the model-level fold finds every pair of
// ResNet and VGG (the folded models' logits are compared with torchvision's in models_test.cpp).
#include "afinar/nn/fuse.h"

#include <gtest/gtest.h>

#include <string>

#include "afinar/autograd/grad_mode.h"
#include "afinar/nn/init.h"
#include "afinar/nn/models.h"
#include "afinar/nn/resnet.h"
#include "afinar/ops/batch_norm2d.h"
#include "afinar/ops/conv2d.h"
#include "testing/compare.h"
#include "testing/fixtures.h"

namespace afinar::nn {
namespace {

TEST(FuseConvBn, WeightsAreTorchsBitForBit) {
  for (const testing::GoldenCase& c : testing::load_goldens("fuse_conv_bn")) {
    SCOPED_TRACE(c.name);
    auto optional = [&](const char* key) { return c.has(key) ? c.tensor(key) : Tensor(); };
    const FusedConvWeights f = fuse_conv_bn_weights(
        c.tensor("conv_w"), optional("conv_b"), c.tensor("running_mean"), c.tensor("running_var"),
        c.attr_double("eps"), optional("bn_w"), optional("bn_b"));
    testing::expect_identical(f.weight, c.tensor("fused_w"), "weight");
    testing::expect_identical(f.bias, c.tensor("fused_b"), "bias");
  }
}

// A convolution and a batch norm with non-trivial statistics, both in eval mode.
struct Pair {
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
};
Pair random_pair(bool conv_bias, Generator& gen) {
  Pair p{std::make_shared<Conv2d>(4, 6, 3, Conv2dOptions{.padding = 1, .bias = conv_bias}),
         std::make_shared<BatchNorm2d>(6)};
  StateDict sd;
  sd.insert("running_mean", randn({6}, DType::F32, gen));
  sd.insert("running_var", uniform({6}, 0.2, 3.0, DType::F32, gen));
  sd.insert("weight", uniform({6}, 0.5, 1.5, DType::F32, gen));
  sd.insert("bias", randn({6}, DType::F32, gen));
  sd.insert("num_batches_tracked", zeros({}, DType::I64));
  p.bn->load_state_dict(sd);
  p.conv->eval();
  p.bn->eval();
  return p;
}

TEST(FuseConvBn, FoldedConvolutionIsBnOfConv) {
  Generator gen(5);
  for (bool conv_bias : {true, false}) {
    SCOPED_TRACE(conv_bias ? "conv bias" : "no conv bias");
    const Pair p = random_pair(conv_bias, gen);
    const auto fused = fuse_conv_bn_eval(*p.conv, *p.bn);
    EXPECT_TRUE(fused->bias().defined());
    EXPECT_FALSE(fused->is_training());
    EXPECT_EQ(fused->repr(), "Conv2d(4, 6, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
    NoGradGuard no_grad;
    const Tensor x = randn({3, 4, 7, 5}, DType::F32, gen);
    // y = γ·(conv - μ)·invstd + β regrouped: float32 roundings of a sum of 4·3·3 products and a
    // few per-channel products.
    EXPECT_ALLCLOSE((*fused)(x), (*p.bn)((*p.conv)(x)), testing::tolerance_for(DType::F32, 40, 4));
  }
}

TEST(FuseConvBn, KeepsDtypeFormatAndRequiresGrad) {
  Generator gen(6);
  Pair p = random_pair(false, gen);
  p.conv->to(MemoryFormat::ChannelsLast);
  p.conv->weight().set_requires_grad(false);
  const auto fused = fuse_conv_bn_eval(*p.conv, *p.bn);
  EXPECT_EQ(suggest_memory_format(fused->weight()), MemoryFormat::ChannelsLast);
  EXPECT_FALSE(fused->weight().requires_grad());
  EXPECT_FALSE(fused->bias().requires_grad());
  // The originals are untouched.
  EXPECT_FALSE(p.conv->bias().defined());

  // float64 weights fold in float64: conv2d with them is batch_norm2d of conv2d to float64
  // rounding.
  const Tensor w = randn({6, 4, 3, 3}, DType::F64, gen), b = randn({6}, DType::F64, gen);
  const Tensor rm = randn({6}, DType::F64, gen), rv = uniform({6}, 0.2, 3.0, DType::F64, gen);
  const Tensor gamma = randn({6}, DType::F64, gen), beta = randn({6}, DType::F64, gen);
  const FusedConvWeights f = fuse_conv_bn_weights(w, b, rm, rv, 1e-5, gamma, beta);
  EXPECT_EQ(f.weight.dtype(), DType::F64);
  const Tensor x = randn({2, 4, 5, 5}, DType::F64, gen);
  NoGradGuard no_grad;
  EXPECT_ALLCLOSE(conv2d(x, f.weight, f.bias, {.padding = 1}),
                  batch_norm2d(conv2d(x, w, b, {.padding = 1}), gamma, beta, rm, rv, false),
                  testing::tolerance_for(DType::F64, 40, 4));
}

TEST(FuseConvBn, RefusesWhatCannotBeFolded) {
  Generator gen(8);
  Pair p = random_pair(false, gen);
  p.bn->train();
  try {
    fuse_conv_bn_eval(*p.conv, *p.bn);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fusion only for eval mode"), std::string::npos)
        << e.what();
  }
  p.bn->eval();
  const BatchNorm2d wrong_width(5);
  EXPECT_THROW(fuse_conv_bn_eval(*p.conv, wrong_width), Error);
  BatchNorm2d no_stats(6, {.track_running_stats = false});
  no_stats.eval();
  EXPECT_THROW(fuse_conv_bn_eval(*p.conv, no_stats), Error);

  // A whole model in training mode: nothing is folded.
  auto model = resnet18(10);
  EXPECT_THROW(fuse_conv_bn(*model), Error);
  EXPECT_TRUE(model->state_dict().contains("bn1.running_mean"));
}

TEST(FuseConvBn, FoldsEveryPairOfResNetAndVgg) {
  struct Want {
    const char* arch;
    size_t pairs;
  };
  // resnet18: stem + 2 per BasicBlock · 8 + 3 downsamples; resnet50: stem + 3 · 16 + 4;
  // vgg11_bn: its 8 convolutions; vgg16 has no batch norm.
  for (const Want& w :
       {Want{"resnet18", 20}, Want{"resnet50", 53}, Want{"vgg11_bn", 8}, Want{"vgg16", 0}}) {
    SCOPED_TRACE(w.arch);
    ModulePtr model;
    {
      init::SkipInitGuard skip;
      model = create_model(w.arch, 10);
    }
    model->eval();
    EXPECT_EQ(fuse_conv_bn(*model), w.pairs);
    size_t bns = 0;
    for (const auto& [name, m] : model->named_modules())
      bns += dynamic_cast<BatchNorm2d*>(m.get()) != nullptr;
    EXPECT_EQ(bns, 0u);
    EXPECT_EQ(fuse_conv_bn(*model), 0u);  // nothing left
  }
}

// The folded ResNet's state_dict: each convolution gains a bias, the batch norms are gone (as
// torch.ao.quantization.fuse_modules' result); summary() walks it module by module (the hook
// turns the fused path off) and gives the same logits.
TEST(FuseConvBn, FoldedResNetStructure) {
  auto model = resnet18(10);
  model->eval();
  fuse_conv_bn(*model);
  const StateDict sd = model->state_dict();
  EXPECT_TRUE(sd.contains("conv1.bias"));
  EXPECT_TRUE(sd.contains("layer2.0.downsample.0.bias"));
  EXPECT_FALSE(sd.contains("layer1.0.bn1.running_mean"));
  EXPECT_EQ(model->get_submodule("layer1.0.bn2")->type_name(), "Identity");
  Generator gen(9);
  const Tensor x = randn({2, 3, 32, 32}, DType::F32, gen);
  NoGradGuard no_grad;
  const Tensor fused = (*model)(x);
  Tensor hooked;
  {
    ScopedForwardHook watch([](Module&, const Tensor&, const Tensor&) {});
    hooked = (*model)(x);
  }
  testing::expect_identical(fused, hooked, "logits");
}

}  // namespace
}  // namespace afinar::nn
