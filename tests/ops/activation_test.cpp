#include "afinar/ops/activation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

TEST(Relu, MatchesClosedForm) {
  Tensor x = from_vector<float>({-2, -0.0f, 0, 1.5f, 3}, {5});
  EXPECT_EQ(relu(x).to_vector<float>(), (std::vector<float>{0, 0, 0, 1.5f, 3}));
}

// torch 1.13: torch.relu(tensor([nan, -0., -inf, inf])) is [nan, -0., 0., inf], and the gradient
// passes where the output is NaN (threshold_backward tests y <= 0), so NaNs are never hidden.
TEST(Relu, KeepsNanAndNegativeZeroAsPyTorch) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = from_vector<float>({nan, -0.0f, -inf, inf}, {4}).set_requires_grad(true);
  Tensor y = relu(x);
  const std::vector<float> v = y.to_vector<float>();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], 0.0f);
  EXPECT_TRUE(std::signbit(v[1]));
  EXPECT_EQ(v[2], 0.0f);
  EXPECT_FALSE(std::signbit(v[2]));
  EXPECT_EQ(v[3], inf);
  y.backward(from_vector<float>({2, 2, 2, 2}, {4}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 0, 0, 2}));
}

TEST(Relu, BackwardIsZeroAtAndBelowZero) {
  // PyTorch's convention: the subgradient at exactly 0 is 0.
  Tensor x = from_vector<double>({-1, 0, 2}, {3}).set_requires_grad(true);
  relu(x).backward(from_vector<double>({5, 5, 5}, {3}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0, 5}));
}

TEST(Relu, GradCheck) {
  Generator gen(2);
  Tensor x = testing::leaf_f64({4, 5}, gen);
  testing::GradcheckOptions opt;
  // Kink window: central differences straddling 0 are not a derivative of relu.
  const std::vector<double> xv = x.to_vector<double>();
  opt.skip = [&](size_t, int64_t j) { return std::abs(xv[size_t(j)]) < 10 * opt.step; };
  EXPECT_TRUE(
      testing::gradcheck([](const std::vector<Tensor>& in) { return relu(in[0]); }, {x}, opt));
}

TEST(Relu, RejectsIntegerInput) {
  EXPECT_THROW(relu(zeros({2}, DType::I64)), Error);
}

}  // namespace
}  // namespace afinar

namespace afinar {
namespace {

TEST(ReluCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(23);
  for (DType t : {DType::F32, DType::F64, DType::BF16}) {
    for (int64_t n : {1, 7, 4099, (1 << 20) + 1}) {
      // The edge values of relu_rule.h in the first elements (the vectorised body).
      std::vector<double> xv = randn({n}, DType::F64, gen).to_vector<double>();
      const double edges[] = {std::nan(""), -0.0, 0.0, -INFINITY};
      for (size_t i = 0; i < std::min<size_t>(xv.size(), 4); ++i) xv[i] = edges[i];
      Tensor x = from_vector<double>(xv, {n}).to(t), g = randn({n}, DType::F64, gen).to(t);
      Tensor gx = x.cuda().set_requires_grad(true);
      Tensor y = relu(gx);
      testing::expect_identical(y.cpu(), relu(x), "relu forward");
      y.backward(g.cuda());
      testing::expect_identical(gx.grad().cpu(), ops::relu_backward(g, relu(x)), "relu backward");
    }
  }
}

}  // namespace
}  // namespace afinar
