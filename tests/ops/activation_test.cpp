#include "afinar/ops/activation.h"

#include <gtest/gtest.h>

#include <cmath>

#include "testing/cuda.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

TEST(Relu, MatchesClosedForm) {
  Tensor x = from_vector<float>({-2, -0.0f, 0, 1.5f, 3}, {5});
  EXPECT_EQ(relu(x).to_vector<float>(), (std::vector<float>{0, 0, 0, 1.5f, 3}));
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
  for (DType t : {DType::F32, DType::F64}) {
    for (int64_t n : {1, 7, 4099, (1 << 20) + 1}) {
      Tensor x = randn({n}, t, gen), g = randn({n}, t, gen);
      Tensor gx = x.cuda().set_requires_grad(true);
      Tensor y = relu(gx);
      EXPECT_EQ(y.cpu().to_vector<double>(), relu(x).to_vector<double>());
      y.backward(g.cuda());
      EXPECT_EQ(gx.grad().cpu().to_vector<double>(),
                ops::relu_backward(g, relu(x)).to_vector<double>());
    }
  }
}

}  // namespace
}  // namespace afinar
