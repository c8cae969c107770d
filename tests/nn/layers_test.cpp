// The layer modules: PyTorch's default initialisation (checked statistically, bounds from the
// sample size), forward against the ops or a closed form (BatchNorm's running statistics by hand),
// frozen BatchNorm statistics, in-place ReLU, Dropout modes, Sequential indexing and slicing,
// and each layer's repr as PyTorch prints it.
#include <gtest/gtest.h>

#include <cmath>

#include "afinar/autograd/grad_mode.h"
#include "afinar/nn/init.h"
#include "afinar/nn/layers.h"
#include "afinar/nn/resnet.h"
#include "afinar/ops/conv2d.h"
#include "afinar/ops/elementwise.h"
#include "testing/compare.h"
#include "testing/errors.h"

namespace afinar::nn {
namespace {

struct Moments {
  double mean, var, min, max;
  int64_t n;
};

Moments moments(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  Moments m{0, 0, v.at(0), v.at(0), int64_t(v.size())};
  for (double x : v) {
    m.mean += x;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  m.mean /= double(v.size());
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= double(v.size() - 1);
  return m;
}

// U(-b, b): mean 0 (sd b/√(3n)), variance b²/3 (sd of the sample variance √(4b⁴/(45n))),
// all values inside the bound. 5 standard deviations: a false alarm about once in 10^6 runs.
void expect_uniform(const Tensor& t, double b, const std::string& what) {
  const Moments m = moments(t);
  const double n = double(m.n);
  EXPECT_GE(m.min, -b) << what;
  EXPECT_LT(m.max, b) << what;
  EXPECT_NEAR(m.mean, 0.0, 5 * b / std::sqrt(3 * n)) << what;
  EXPECT_NEAR(m.var, b * b / 3, 5 * std::sqrt(4 * std::pow(b, 4) / (45 * n))) << what;
}

// N(0, s²): mean 0 (sd s/√n), variance s² (sd of the sample variance s²·√(2/n)).
void expect_normal(const Tensor& t, double s, const std::string& what) {
  const Moments m = moments(t);
  const double n = double(m.n);
  EXPECT_NEAR(m.mean, 0.0, 5 * s / std::sqrt(n)) << what;
  EXPECT_NEAR(m.var, s * s, 5 * s * s * std::sqrt(2 / n)) << what;
}

TEST(Layers, Conv2dAndLinearDefaultInitIsKaimingUniformSqrt5) {
  auto conv = std::make_shared<Conv2d>(64, 128, 3);
  const double conv_bound = 1 / std::sqrt(64.0 * 9);  // 1/√fan_in
  expect_uniform(conv->weight(), conv_bound, "conv weight");
  expect_uniform(conv->bias(), conv_bound, "conv bias");
  auto grouped = std::make_shared<Conv2d>(64, 256, IntPair{3, 1}, Conv2dOptions{.groups = 4});
  EXPECT_EQ(grouped->weight().shape(), (Shape{256, 16, 3, 1}));
  expect_uniform(grouped->weight(), 1 / std::sqrt(16.0 * 3), "grouped conv weight");
  auto fc = std::make_shared<Linear>(300, 1000);
  expect_uniform(fc->weight(), 1 / std::sqrt(300.0), "linear weight");
  expect_uniform(fc->bias(), 1 / std::sqrt(300.0), "linear bias");
}

TEST(Layers, InitFunctionsFollowTorchFormulas) {
  Tensor w = zeros({256, 128, 3, 3});
  EXPECT_EQ(init::calculate_fans(w.shape()).fan_in, 128 * 9);
  EXPECT_EQ(init::calculate_fans(w.shape()).fan_out, 256 * 9);
  init::kaiming_normal_(w, 0.0, init::FanMode::FanOut, init::Nonlinearity::ReLU);
  expect_normal(w, std::sqrt(2.0 / (256 * 9)), "kaiming_normal fan_out relu");
  init::kaiming_uniform_(w, 0.0, init::FanMode::FanIn, init::Nonlinearity::ReLU);
  expect_uniform(w, std::sqrt(3.0) * std::sqrt(2.0 / (128 * 9)), "kaiming_uniform fan_in relu");
  init::normal_(w, 0.0, 0.01);
  expect_normal(w, 0.01, "normal 0.01");
  init::constant_(w, 0.5);
  EXPECT_EQ(moments(w).min, 0.5);
  EXPECT_EQ(moments(w).max, 0.5);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::LeakyReLU, std::sqrt(5.0)),
                   std::sqrt(1.0 / 3.0));
  EXPECT_THROW(init::calculate_fans({5}), Error);
  {
    init::SkipInitGuard skip;
    init::normal_(w, 0.0, 1.0);
    auto fc = std::make_shared<Linear>(3, 2);
    EXPECT_EQ(moments(fc->weight()).max, 0.0);  // zeros, nothing drawn
  }
  EXPECT_EQ(moments(w).max, 0.5);
}

TEST(Layers, Conv2dForwardPassesItsOptions) {
  auto conv = std::make_shared<Conv2d>(
      4, 6, IntPair{3, 2},
      Conv2dOptions{.stride = {2, 1}, .padding = {1, 0}, .dilation = 2, .groups = 2});
  const Tensor x = randn({2, 4, 9, 8});
  const Tensor expected = conv2d(
      x, conv->weight(), conv->bias(),
      afinar::Conv2dOptions{.stride = {2, 1}, .padding = {1, 0}, .dilation = 2, .groups = 2});
  EXPECT_EQ((*conv)(x).to_vector<float>(), expected.to_vector<float>());
  EXPECT_THROW(Conv2d(3, 4, 3, Conv2dOptions{.groups = 2}), Error);  // 3 channels, 2 groups
}

// Per-channel batch statistics by a double loop over [N, C, H, W] in float64.
void batch_stats(const Tensor& x, int64_t c, double& mean, double& biased_var) {
  const auto v = x.to_vector<double>();
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  double s = 0, ss = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < HW; ++i) s += v[size_t((n * C + c) * HW + i)];
  mean = s / double(N * HW);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < HW; ++i) {
      const double d = v[size_t((n * C + c) * HW + i)] - mean;
      ss += d * d;
    }
  biased_var = ss / double(N * HW);
}

TEST(Layers, BatchNorm2dTrainingUpdatesRunningStatistics) {
  auto bn = std::make_shared<BatchNorm2d>(3);
  const Tensor x = randn({4, 3, 5, 5}) * 2.0 + 1.0;
  const Tensor y = (*bn)(x);
  const double n = 4 * 25;
  const auto rm = bn->running_mean().to_vector<double>();
  const auto rv = bn->running_var().to_vector<double>();
  const auto yv = y.to_vector<double>();
  const auto xv = x.to_vector<double>();
  for (int64_t c = 0; c < 3; ++c) {
    double mean, var;
    batch_stats(x, c, mean, var);
    EXPECT_NEAR(rm[size_t(c)], 0.9 * 0 + 0.1 * mean, 1e-6);
    EXPECT_NEAR(rv[size_t(c)], 0.9 * 1 + 0.1 * var * n / (n - 1), 1e-6);  // unbiased
    const size_t i = size_t(c * 25 + 7);                                  // one element of sample 0
    EXPECT_NEAR(yv[i], (xv[i] - mean) / std::sqrt(var + 1e-5), 1e-5);
  }
  EXPECT_EQ(bn->num_batches_tracked().item<int64_t>(), 1);
  (*bn)(x);
  EXPECT_EQ(bn->num_batches_tracked().item<int64_t>(), 2);
}

// bn.momentum = m after construction: the next batch weighs m in the running statistics.
TEST(Layers, BatchNorm2dMomentumSetLaterWeighsTheNextBatch) {
  auto bn = std::make_shared<BatchNorm2d>(2);
  bn->set_momentum(0.5);
  EXPECT_EQ(bn->options().momentum, 0.5);
  const Tensor x = randn({3, 2, 4, 4}) * 3.0 - 2.0;
  (*bn)(x);
  const auto rm = bn->running_mean().to_vector<double>();
  for (int64_t c = 0; c < 2; ++c) {
    double mean, var;
    batch_stats(x, c, mean, var);
    EXPECT_NEAR(rm[size_t(c)], 0.5 * mean, 1e-6);
  }
  EXPECT_NE(bn->extra_repr().find("momentum=0.5"), std::string::npos) << bn->extra_repr();
  for (double bad : {-0.1, 1.5, std::nan("")}) {
    EXPECT_NE(testing::error_of([&] { bn->set_momentum(bad); }).find("momentum must be in [0, 1]"),
              std::string::npos)
        << bad;
  }
  EXPECT_EQ(bn->options().momentum, 0.5);  // a refused value leaves the layer as it was
}

TEST(Layers, BatchNorm2dMomentumNoneIsTheCumulativeAverage) {
  auto bn = std::make_shared<BatchNorm2d>(2, BatchNorm2dOptions{.momentum = std::nullopt});
  const Tensor a = randn({3, 2, 4, 4}), b = randn({3, 2, 4, 4}) + 3.0;
  (*bn)(a);
  (*bn)(b);
  for (int64_t c = 0; c < 2; ++c) {
    double ma, va, mb, vb;
    batch_stats(a, c, ma, va);
    batch_stats(b, c, mb, vb);
    EXPECT_NEAR(bn->running_mean().to_vector<double>()[size_t(c)], (ma + mb) / 2, 1e-6);
  }
  EXPECT_EQ(bn->extra_repr(), "2, eps=1e-05, momentum=None, affine=True, track_running_stats=True");
}

TEST(Layers, BatchNorm2dEvalAndFrozenStatisticsUseTheRunningOnes) {
  auto bn = std::make_shared<BatchNorm2d>(3);
  {
    NoGradGuard no_grad;
    bn->running_mean().copy_(from_vector<float>({0.5f, -1.0f, 2.0f}, {3}));
    bn->running_var().copy_(from_vector<float>({4.0f, 0.25f, 1.0f}, {3}));
    bn->weight().copy_(from_vector<float>({2.0f, 1.0f, 0.5f}, {3}));
  }
  const Tensor x = randn({2, 3, 3, 3});
  bn->eval();
  const Tensor y_eval = (*bn)(x);
  const auto xv = x.to_vector<double>();
  const auto yv = y_eval.to_vector<double>();
  const double mean[3] = {0.5, -1.0, 2.0}, var[3] = {4.0, 0.25, 1.0}, g[3] = {2.0, 1.0, 0.5};
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = (i / 9) % 3;
    EXPECT_NEAR(yv[i], g[c] * (xv[i] - mean[c]) / std::sqrt(var[c] + 1e-5), 1e-5);
  }
  // Frozen statistics in training mode: the eval output, buffers and counter untouched.
  bn->train();
  bn->set_stats_frozen(true);
  const Tensor y_frozen = (*bn)(x);
  EXPECT_EQ(y_frozen.to_vector<float>(), y_eval.to_vector<float>());
  EXPECT_EQ(bn->running_mean().to_vector<float>(), (std::vector<float>{0.5f, -1.0f, 2.0f}));
  EXPECT_EQ(bn->num_batches_tracked().item<int64_t>(), 0);
  bn->set_stats_frozen(false);
  (*bn)(x);
  EXPECT_NE(bn->running_mean().to_vector<float>(), (std::vector<float>{0.5f, -1.0f, 2.0f}));
}

TEST(Layers, BatchNorm2dWithoutAffineOrTracking) {
  auto bn = std::make_shared<BatchNorm2d>(
      2, BatchNorm2dOptions{.affine = false, .track_running_stats = false});
  EXPECT_TRUE(bn->state_dict().empty());
  bn->eval();  // no running statistics: batch statistics even in eval, as PyTorch
  const Tensor y = (*bn)(randn({4, 2, 3, 3}) + 5.0);
  EXPECT_NEAR(moments(y).mean, 0.0, 1e-5);
  EXPECT_EQ(bn->repr(),
            "BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)");
}

TEST(Layers, ReluNeverOverwritesItsInput) {
  const Tensor x = from_vector<float>({-1, 2, -3, 4}, {4});
  NoGradGuard no_grad;  // even where PyTorch's inplace=True would
  const Tensor y = (*std::make_shared<ReLU>(true))(x);
  EXPECT_FALSE(y.is_same(x));
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{-1, 2, -3, 4}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 2, 0, 4}));
}

TEST(Layers, DropoutTrainsAndIsTheIdentityInEval) {
  auto drop = std::make_shared<Dropout>(0.5);
  const Tensor x = ones({100000});
  const auto v = (*drop)(x).to_vector<float>();
  int64_t zeros_seen = 0;
  for (float f : v) {
    EXPECT_TRUE(f == 0.0f || f == 2.0f);
    zeros_seen += f == 0.0f;
  }
  // Binomial(1e5, 0.5): sd 158; 5 sd.
  EXPECT_NEAR(double(zeros_seen), 50000.0, 5 * 158.0);
  drop->eval();
  EXPECT_TRUE((*drop)(x).is_same(x));
  EXPECT_THROW(Dropout(1.5), Error);
}

TEST(Layers, PoolsFlattenIdentityShapes) {
  const Tensor x = randn({2, 3, 7, 9});
  EXPECT_EQ((*std::make_shared<MaxPool2d>(
                MaxPool2dOptions{.kernel_size = 3, .stride = 2, .padding = 1}))(x)
                .shape(),
            (Shape{2, 3, 4, 5}));
  EXPECT_EQ((*std::make_shared<AvgPool2d>(AvgPool2dOptions{.kernel_size = 2}))(x).shape(),
            (Shape{2, 3, 3, 4}));
  EXPECT_EQ((*std::make_shared<AdaptiveAvgPool2d>(IntPair{2, 3}))(x).shape(), (Shape{2, 3, 2, 3}));
  EXPECT_EQ((*std::make_shared<AdaptiveMaxPool2d>(1))(x).shape(), (Shape{2, 3, 1, 1}));
  EXPECT_EQ((*std::make_shared<Flatten>())(x).shape(), (Shape{2, 189}));
  EXPECT_EQ((*std::make_shared<Flatten>(0, 1))(x).shape(), (Shape{6, 7, 9}));
  EXPECT_TRUE((*std::make_shared<Identity>())(x).is_same(x));
}

TEST(Layers, ReprIsPyTorchs) {
  // Each line is what torch 1.13 prints for the same constructor call.
  auto repr = [](const Module& m) { return m.repr(); };
  EXPECT_EQ(repr(Conv2d(3, 64, 7, {.stride = 2, .padding = 3, .bias = false})),
            "Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)");
  EXPECT_EQ(repr(Conv2d(4, 8, IntPair{1, 3},
                        {.stride = {2, 1}, .padding = {0, 1}, .dilation = 2, .groups = 2})),
            "Conv2d(4, 8, kernel_size=(1, 3), stride=(2, 1), padding=(0, 1), dilation=(2, 2), "
            "groups=2)");
  EXPECT_EQ(repr(Linear(512, 1000)), "Linear(in_features=512, out_features=1000, bias=True)");
  EXPECT_EQ(repr(ReLU(true)), "ReLU(inplace=True)");
  EXPECT_EQ(repr(ReLU()), "ReLU()");
  EXPECT_EQ(repr(MaxPool2d({.kernel_size = 3, .stride = 2, .padding = 1})),
            "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)");
  EXPECT_EQ(repr(MaxPool2d({.kernel_size = {2, 3}})),
            "MaxPool2d(kernel_size=(2, 3), stride=(2, 3), padding=0, dilation=1, ceil_mode=False)");
  EXPECT_EQ(repr(AvgPool2d({.kernel_size = 2})), "AvgPool2d(kernel_size=2, stride=2, padding=0)");
  EXPECT_EQ(repr(AdaptiveAvgPool2d(IntPair{7, 7})), "AdaptiveAvgPool2d(output_size=(7, 7))");
  EXPECT_EQ(repr(AdaptiveMaxPool2d(IntPair{2, 3})), "AdaptiveMaxPool2d(output_size=(2, 3))");
  EXPECT_EQ(repr(Dropout(0.5)), "Dropout(p=0.5, inplace=False)");
  EXPECT_EQ(repr(Flatten()), "Flatten(start_dim=1, end_dim=-1)");
  EXPECT_EQ(repr(Identity()), "Identity()");
  EXPECT_EQ(repr(BatchNorm2d(64)),
            "BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
}

TEST(Layers, SequentialIndexingSlicingAndPushBack) {
  auto a = std::make_shared<Linear>(4, 3);
  auto r = std::make_shared<ReLU>();
  auto b = std::make_shared<Linear>(3, 2);
  auto seq = make_sequential(a, r, b);
  EXPECT_EQ(seq->size(), 3);
  EXPECT_EQ((*seq)[0], a);
  EXPECT_EQ((*seq)[-1], b);
  EXPECT_EQ((*seq)[-3], a);
  EXPECT_THROW((*seq)[3], Error);
  EXPECT_THROW((*seq)[-4], Error);

  const Tensor x = randn({5, 4});
  EXPECT_EQ((*seq)(x).to_vector<float>(), (*b)((*r)((*a)(x))).to_vector<float>());

  // seq[1:] and seq[:-1]: shared children numbered from 0, like nn.Sequential(*children[...]).
  auto tail = seq->slice(1, 3);
  EXPECT_EQ(tail->size(), 2);
  EXPECT_EQ((*tail)[0], r);
  EXPECT_EQ(tail->state_dict().keys(), (std::vector<std::string>{"1.weight", "1.bias"}));
  auto head = seq->slice(0, -1);
  EXPECT_EQ(head->size(), 2);
  EXPECT_EQ((*head)[1], r);
  EXPECT_EQ(seq->slice(-100, 100)->size(), 3);  // clamped
  EXPECT_EQ(seq->slice(2, 1)->size(), 0);
  EXPECT_EQ(python_slice(-1, 3, 3), (std::pair<int64_t, int64_t>{2, 3}));

  head->push_back(std::make_shared<Linear>(3, 7));
  EXPECT_EQ((*head)(x).shape(), (Shape{5, 7}));
  EXPECT_EQ(seq->size(), 3);  // the original is unchanged
  EXPECT_TRUE(seq->get_submodule_as<Linear>("0")->weight().is_same(a->weight()));
}

TEST(Layers, SequentialOfAModelsChildrenSeed000) {
  // backbone = nn.Sequential(*(list(resnet.children())[:-1])): everything but fc.
  auto model = resnet18();
  auto backbone = Sequential::of_children(*model, 0, -1);
  EXPECT_EQ(backbone->size(), 9);
  EXPECT_EQ((*backbone)[-1]->type_name(), "AdaptiveAvgPool2d");
  EXPECT_EQ((*backbone)[0], model->get_submodule("conv1"));  // shared, not copied
  model->eval();
  NoGradGuard no_grad;
  EXPECT_EQ((*backbone)(randn({2, 3, 64, 64})).shape(), (Shape{2, 512, 1, 1}));
}

}  // namespace
}  // namespace afinar::nn
