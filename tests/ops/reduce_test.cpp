#include "afinar/ops/reduce.h"

#include <gtest/gtest.h>

#include "testing/compare.h"
#include "testing/cuda.h"
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

// A 0-D tensor takes dim 0 or -1, as PyTorch's (it wraps dims as if the tensor were 1-D), and
// reduces to itself; any other dim is out of range.
TEST(Sum, ZeroDimTensorTakesDimZero) {
  const Tensor x = full({}, 2.5, DType::F64);
  for (const std::vector<int64_t>& dims : {std::vector<int64_t>{0}, std::vector<int64_t>{-1}})
    for (bool keepdim : {false, true}) {
      EXPECT_EQ(sum(x, dims, keepdim).shape(), Shape{});
      EXPECT_EQ(sum(x, dims, keepdim).item<double>(), 2.5);
      EXPECT_EQ(mean(x, dims, keepdim).item<double>(), 2.5);
    }
  EXPECT_THROW(sum(x, {1}), Error);
  EXPECT_THROW(sum(x, {0, -1}), Error);  // the same dim twice
  Generator gen(4);
  const Tensor leaf = testing::leaf_f64({}, gen);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return mean(in[0], {0}); }, {leaf});
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

namespace afinar {
namespace {

// Every CUDA row-sum variant against the CPU reference (double accumulation).
void expect_sum_variant_matches(ReduceAlgo algo) {
  Generator gen(25);
  for (Shape s : {Shape{1, 1}, Shape{7, 33}, Shape{1000, 31}, Shape{3, 100003}, Shape{64, 4096}}) {
    for (DType t : {DType::F32, DType::F64}) {
      Tensor x = randn(s, t, gen);
      EXPECT_ALLCLOSE(ops::sum(x.cuda(), {1}, false, algo).cpu(), sum(x, {1}),
                      testing::tolerance_for(t, s[1]))
          << shape_str(s);
    }
  }
}

TEST(SumCuda, Naive) {
  AFN_REQUIRE_CUDA();
  expect_sum_variant_matches(ReduceAlgo::Naive);
}
TEST(SumCuda, WarpShuffle) {
  AFN_REQUIRE_CUDA();
  expect_sum_variant_matches(ReduceAlgo::WarpShuffle);
}
TEST(SumCuda, Cub) {
  AFN_REQUIRE_CUDA();
  expect_sum_variant_matches(ReduceAlgo::Cub);
}

TEST(SumCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(24);
  // short rows (warp per row) and long rows (block per row), odd sizes
  for (Shape s : {Shape{3, 5, 7}, Shape{64, 3, 33, 31}, Shape{2, 100003}, Shape{1}}) {
    for (DType t : {DType::F32, DType::F64}) {
      Tensor x = randn(s, t, gen);
      Tensor gx = x.cuda();
      EXPECT_ALLCLOSE(sum(gx).cpu(), sum(x), testing::tolerance_for(t, x.numel()));
      const std::vector<int64_t> dims{-1};
      EXPECT_ALLCLOSE(mean(gx, dims).cpu(), mean(x, dims), testing::tolerance_for(t, s.back()));
      if (s.size() == 4) {
        const std::vector<int64_t> nhw{0, 2, 3};  // per-channel sums, as batch norm needs
        EXPECT_ALLCLOSE(sum(gx, nhw).cpu(), sum(x, nhw),
                        testing::tolerance_for(t, x.numel() / s[1]));
      }
    }
  }
}

TEST(SumCuda, BackwardBroadcastsOnDevice) {
  AFN_REQUIRE_CUDA();
  Tensor x = ones({4, 5}, DType::F32, testing::kCuda0).set_requires_grad(true);
  mean(x, {1}).backward(from_vector<float>({1, 2, 3, 4}, {4}).cuda());
  EXPECT_EQ(x.grad().cpu().to_vector<float>()[5], 2.0f / 5);
}

}  // namespace
}  // namespace afinar
