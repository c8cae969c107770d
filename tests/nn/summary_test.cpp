// summary(): torchsummary's table and estimates, plus the Trainable column; and `afinar summary`
// end to end. The small model's expected text is written out from torchsummary's layout
// ("{:>20}  {:>25} {:>15}", one more column "{:>11}") with counts and sizes computed by hand; the
// resnet18 figures are torchsummary 1.5.1's output for torchvision's resnet18 at 3x224x224.
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>

#include "afinar/nn/freeze.h"
#include "afinar/nn/resnet.h"
#include "afinar/nn/summary.h"
#include "testing/cli.h"

namespace afinar::nn {
namespace {

// conv 3->8 (3x3, padding 1), bn, relu, 2x2 max pool, then a Sequential head (no row of its own).
struct Tiny : Module {
  Tiny() : Module("Tiny") {
    register_module("conv", std::make_shared<Conv2d>(3, 8, 3, Conv2dOptions{.padding = 1}));
    register_module("bn", std::make_shared<BatchNorm2d>(8));
    register_module("relu", std::make_shared<ReLU>());
    register_module("pool", std::make_shared<MaxPool2d>(MaxPool2dOptions{.kernel_size = 2}));
    register_module("head", make_sequential(std::make_shared<Flatten>(),
                                            std::make_shared<Linear>(8 * 4 * 4, 10)));
  }
  Tensor forward(const Tensor& x) override {
    return child("head")(child("pool")(child("relu")(child("bn")(child("conv")(x)))));
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string mb(double numbers) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0.2f", numbers * 4 / (1024.0 * 1024.0));
  return buf;
}

TEST(Summary, SmallModelInTorchsummarysLayout) {
  auto model = std::make_shared<Tiny>();
  freeze(*model, {"conv.weight", "bn.*"});  // conv partly frozen, bn frozen
  const std::string text = summary(*model, {3, 8, 8});
  // Parameters: conv 3·8·9 + 8 = 224, bn 8 + 8 = 16, linear 128·10 + 10 = 1290.
  const int64_t total = 224 + 16 + 1290, trainable = 8 + 1290;
  // Output elements per sample: 3 rows of 8·8·8, then 8·4·4, 128, 10 (the input: 3·8·8).
  const double outputs = 3 * 512 + 128 + 128 + 10;
  const std::string rule(75, '-'), double_rule(75, '=');
  const std::vector<std::string> expected = {
      rule,
      "        Layer (type)               Output Shape         Param #   Trainable",
      double_rule,
      "            Conv2d-1              [-1, 8, 8, 8]             224     Partial",
      "       BatchNorm2d-2              [-1, 8, 8, 8]              16       False",
      "              ReLU-3              [-1, 8, 8, 8]               0           -",
      "         MaxPool2d-4              [-1, 8, 4, 4]               0           -",
      "           Flatten-5                  [-1, 128]               0           -",
      "            Linear-6                   [-1, 10]           1,290        True",
      double_rule,
      "Total params: 1,530",
      "Trainable params: 1,298",
      "Non-trainable params: 232",
      rule,
      "Input size (MB): " + mb(3 * 8 * 8),
      "Forward/backward pass size (MB): " + mb(2 * outputs),
      "Params size (MB): " + mb(double(total)),
      "Estimated Total Size (MB): " + mb(3 * 8 * 8 + 2 * outputs + double(total)),
      rule};
  EXPECT_EQ(lines_of(text), expected) << text;
  EXPECT_EQ(with_commas(total), "1,530");
  EXPECT_EQ(trainable, count_params(*model).trainable);
}

TEST(Summary, ResNet18TotalsEqualTorchsummarys) {
  auto model = resnet18();
  const auto lines = lines_of(summary(*model, {3, 224, 224}));
  auto has = [&](const std::string& l) {
    return std::find(lines.begin(), lines.end(), l) != lines.end();
  };
  EXPECT_TRUE(has("            Conv2d-1         [-1, 64, 112, 112]           9,408        True"));
  // A block's row follows its layers'; its relu runs twice, so it has two rows.
  EXPECT_TRUE(has("              ReLU-7           [-1, 64, 56, 56]               0           -"));
  EXPECT_TRUE(has("             ReLU-10           [-1, 64, 56, 56]               0           -"));
  EXPECT_TRUE(has("       BasicBlock-11           [-1, 64, 56, 56]               0           -"));
  EXPECT_TRUE(has("AdaptiveAvgPool2d-67            [-1, 512, 1, 1]               0           -"));
  EXPECT_TRUE(has("           Linear-68                 [-1, 1000]         513,000        True"));
  EXPECT_TRUE(has("Total params: 11,689,512"));
  EXPECT_TRUE(has("Trainable params: 11,689,512"));
  EXPECT_TRUE(has("Non-trainable params: 0"));
  EXPECT_TRUE(has("Input size (MB): 0.57"));
  EXPECT_TRUE(has("Forward/backward pass size (MB): 62.79"));
  EXPECT_TRUE(has("Params size (MB): 44.59"));
  EXPECT_TRUE(has("Estimated Total Size (MB): 107.96"));
  EXPECT_EQ(lines.size(), 3u + 68u + 10u);  // header, rows, totals and sizes

  freeze_until(*model, "layer4");
  const auto frozen = lines_of(summary(*model, {3, 224, 224}));
  const int64_t trainable = count_params(*model).trainable;
  EXPECT_NE(std::find(frozen.begin(), frozen.end(), "Trainable params: " + with_commas(trainable)),
            frozen.end());
  EXPECT_NE(std::find(frozen.begin(), frozen.end(),
                      "Non-trainable params: " + with_commas(11689512 - trainable)),
            frozen.end());
}

TEST(Summary, RestoresModesAndLeavesStatisticsAlone) {
  auto model = resnet18();
  model->train();
  model->get_submodule("layer2")->eval();
  const auto before = model->state_dict().at("bn1.running_mean").to_vector<float>();
  summary(*model, {3, 32, 32});
  EXPECT_TRUE(model->is_training());
  EXPECT_TRUE(model->get_submodule("layer1.0.bn1")->is_training());
  EXPECT_FALSE(model->get_submodule("layer2")->is_training());
  EXPECT_FALSE(model->get_submodule("layer2.1.bn2")->is_training());
  EXPECT_EQ(model->state_dict().at("bn1.running_mean").to_vector<float>(), before);
  EXPECT_EQ(model->state_dict().at("bn1.num_batches_tracked").item<int64_t>(), 0);
  EXPECT_THROW(summary(*model, {3, 0, 32}), Error);
  EXPECT_TRUE(model->is_training());  // restored after an error too
}

TEST(Summary, WithCommas) {
  EXPECT_EQ(with_commas(0), "0");
  EXPECT_EQ(with_commas(999), "999");
  EXPECT_EQ(with_commas(1000), "1,000");
  EXPECT_EQ(with_commas(138357544), "138,357,544");
  EXPECT_EQ(with_commas(-1234567), "-1,234,567");
}

// ---- the CLI ----------------------------------------------------------------------------------

using testing::cli;
using testing::Result;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(SummaryCli, PrintsTheTableOfAnArchitecture) {
  const Result r = cli("summary --arch resnet18");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(
      contains(r.output, "            Conv2d-1         [-1, 64, 112, 112]           9,408"));
  EXPECT_TRUE(contains(r.output, "\nTotal params: 11,689,512\n"));
  EXPECT_TRUE(contains(r.output, "\nEstimated Total Size (MB): 107.96\n"));

  // --model, as `afinar train` names it, is the same option.
  const Result small = cli("summary --model vgg16 --num-classes 10 --input 3,64,64");
  ASSERT_EQ(small.code, 0) << small.output;
  // vgg16 with a 10-way last layer: 138,357,544 - 4096·990 - 990.
  EXPECT_TRUE(contains(small.output, "\nTotal params: 134,301,514\n")) << small.output;
  EXPECT_TRUE(contains(small.output, "[-1, 64, 64, 64]"));
  EXPECT_TRUE(contains(small.output, "           Linear-39                   [-1, 10]"));
}

TEST(SummaryCli, ErrorsExitWithOneAndAMessage) {
  Result r = cli("summary --arch resnet19");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.output, "afinar: error: unknown architecture 'resnet19'")) << r.output;
  EXPECT_TRUE(contains(r.output, "resnet152")) << r.output;
  r = cli("summary --arch resnet18 --input 3,224");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.output, "needs 3 sizes C,H,W, got 2")) << r.output;
  r = cli("summary --arch resnet18 --input 3,x,224");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.output, "must be positive integers")) << r.output;
  r = cli("summary --arch resnet18 --num-classes 0");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.output, "num_classes must be positive")) << r.output;
  r = cli("summary --arch vgg11 --input 3,16,16");  // too small for five 2x2 poolings
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "afinar: error:")) << r.output;
  EXPECT_EQ(cli("summary").code, 2);  // --arch is required: a usage error
}

}  // namespace
}  // namespace afinar::nn
