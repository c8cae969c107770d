#include "afinar/ops/reduce.h"

#include <gtest/gtest.h>

#include "testing/compare.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

TEST(Sum, MatchesClosedForm) {
  Tensor x = arange(24, DType::F32).reshape({2, 3, 4});
  EXPECT_EQ(sum(x).item<float>(), 276.0f);
  EXPECT_EQ(sum(x).dim(), 0);
  Tensor s1 = sum(x, {1});
  EXPECT_EQ(s1.shape(), (Shape{2, 4}));
  EXPECT_EQ(s1.to_vector<float>(), (std::vector<float>{12, 15, 18, 21, 48, 51, 54, 57}));
  Tensor s02 = sum(x, {0, -1}, /*keepdim=*/true);
  EXPECT_EQ(s02.shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(s02.to_vector<float>(), (std::vector<float>{60, 92, 124}));
  EXPECT_THROW(sum(x, {1, 1}), Error);
  EXPECT_THROW(sum(x, {3}), Error);
}

TEST(Mean, MatchesClosedForm) {
  Tensor x = arange(6, DType::F64).reshape({2, 3});
  EXPECT_EQ(mean(x).item<double>(), 2.5);
  EXPECT_EQ(mean(x, {0}).to_vector<double>(), (std::vector<double>{1.5, 2.5, 3.5}));
}

TEST(Sum, LongFloatSumKeepsPrecision) {
  // 10^6 copies of 0.1f: a float accumulator drifts by ~1e-3 relative; a double one does not.
  Tensor x = full({1000000}, 0.1, DType::F32);
  EXPECT_NEAR(sum(x).item<double>(), 1e6 * double(0.1f), 1e6 * 1e-7);
}

TEST(Sum, GradCheck) {
  Generator gen(3);
  Tensor x = testing::leaf_f64({2, 3, 4}, gen);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return sum(in[0], {0, 2}); }, {x});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return sum(in[0], {1}, true); }, {x});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return mean(in[0]); }, {x});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return mean(in[0], {-1}); }, {x});
}

}  // namespace
}  // namespace afinar
