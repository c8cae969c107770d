// Unbatched [C,H,W] inputs of the 2-D spatial ops (ops/unbatched.h), as torch.nn.functional takes
// them: each op on [C,H,W] equals the op on the batch of one [1,C,H,W] with the batch dimension
// dropped, value for value; gradients come back as [C,H,W] (f64 gradient checks); other ranks
// are errors naming the op.
#include "afinar/ops/unbatched.h"

#include <gtest/gtest.h>

#include <functional>

#include "afinar/ops/adaptive_pool2d.h"
#include "afinar/ops/conv2d.h"
#include "afinar/ops/pool2d.h"
#include "afinar/ops/reduce.h"
#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/errors.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

using testing::leaf_f64;

using SpatialOp = std::function<Tensor(const Tensor&)>;

// The ops under test with fixed weights and settings; odd sizes, groups, padding, ceil_mode.
std::vector<std::pair<const char*, SpatialOp>> spatial_ops(const Tensor& weight, const Tensor& bias,
                                                           const Tensor& residual) {
  return {
      {"conv2d",
       [=](const Tensor& x) {
         return conv2d(x, weight, bias, {.stride = {2, 1}, .padding = 1, .groups = 2});
       }},
      {"conv2d_add_relu",
       [=](const Tensor& x) {
         const Tensor r = x.dim() == 3 ? residual : ops::with_batch_dim(residual);
         return conv2d_add_relu(x, weight, bias, r, {.stride = {2, 1}, .padding = 1, .groups = 2});
       }},
      {"max_pool2d",
       [](const Tensor& x) {
         return max_pool2d(x,
                           {.kernel_size = {3, 2}, .stride = 2, .padding = 1, .ceil_mode = true});
       }},
      {"avg_pool2d",
       [](const Tensor& x) {
         return avg_pool2d(x, {.kernel_size = 3, .stride = 2, .count_include_pad = false});
       }},
      {"adaptive_avg_pool2d",
       [](const Tensor& x) {
         return adaptive_avg_pool2d(x, {3, 4});
       }},
      {"adaptive_max_pool2d",
       [](const Tensor& x) {
         return adaptive_max_pool2d(x, {2, 3});
       }},
  };
}

TEST(Unbatched, EachOpEqualsItsBatchOfOne) {
  Generator gen(4);
  const Tensor x = leaf_f64({4, 9, 7}, gen);
  const Tensor w = leaf_f64({6, 2, 3, 3}, gen), b = leaf_f64({6}, gen);
  const Tensor residual = leaf_f64({6, 5, 7}, gen);  // conv2d's output shape
  for (const auto& [name, op] : spatial_ops(w, b, residual)) {
    const Tensor unbatched = op(x);
    const Tensor batched = op(ops::with_batch_dim(x));
    ASSERT_EQ(unbatched.dim(), 3) << name;
    EXPECT_EQ(ops::with_batch_dim(unbatched).shape(), batched.shape()) << name;
    testing::expect_identical(ops::with_batch_dim(unbatched), batched, name);
  }
  const auto [y, indices] = max_pool2d_with_indices(x, {.kernel_size = 2});
  const auto [y4, indices4] = max_pool2d_with_indices(ops::with_batch_dim(x), {.kernel_size = 2});
  EXPECT_EQ(indices.shape(), (Shape{4, 4, 3}));
  testing::expect_identical(ops::with_batch_dim(indices), indices4, "max_pool2d indices");
  const auto [ay, aindices] = adaptive_max_pool2d_with_indices(x, {2, 2});
  EXPECT_EQ(aindices.shape(), (Shape{4, 2, 2}));
}

TEST(Unbatched, GradientsComeBackUnbatched) {
  Generator gen(5);
  const Tensor w = leaf_f64({6, 2, 3, 3}, gen), b = leaf_f64({6}, gen);
  const Tensor residual = leaf_f64({6, 4, 5}, gen);
  for (const auto& [name, op] : spatial_ops(w, b, residual)) {
    SCOPED_TRACE(name);
    // conv2d_add_relu's relu has a kink at 0 the differences could cross; EachOpEqualsItsBatchOfOne
    // covers its unbatched path, and the batched rule has its own gradient check.
    if (std::string(name) == "conv2d_add_relu") continue;
    // Distinct values keep the max poolings away from ties.
    const Tensor x = testing::distinct_leaf_f64({4, 7, 5});
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return op(in[0]); }, {x});
    sum(op(x)).backward();
    EXPECT_EQ(x.grad().shape(), x.shape());
  }
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return conv2d(in[0], in[1], in[2], {.padding = {0, 1}, .groups = 2});
      },
      {leaf_f64({4, 5, 6}, gen), w, b});
}

TEST(Unbatched, OtherRanksAreErrorsNamingTheOp) {
  const Tensor w = zeros({6, 2, 3, 3}), b = zeros({6}), residual = zeros({6, 4, 5});
  for (const auto& [name, op] : spatial_ops(w, b, residual)) {
    for (const Shape& shape : {Shape{4, 7}, Shape{1, 1, 4, 7, 5}}) {
      const std::string message = testing::error_of([&] { op(zeros(shape)); });
      EXPECT_NE(message.find(std::string(name) +
                             ": expected a 3-D (unbatched [C,H,W]) or 4-D ([N,C,H,W]) input"),
                std::string::npos)
          << message;
    }
  }
}

TEST(UnbatchedCuda, MatchesTheCpu) {
  AFN_REQUIRE_CUDA();
  Generator gen(6);
  // float64: no TF32 products, so the tolerance is that of the reduction alone.
  const Tensor x = randn({4, 11, 9}, DType::F64, gen);
  const Tensor w = randn({6, 2, 3, 3}, DType::F64, gen), b = randn({6}, DType::F64, gen);
  const Tensor residual = randn({6, 6, 9}, DType::F64, gen);
  const auto cpu_ops = spatial_ops(w, b, residual);
  const auto cuda_ops =
      spatial_ops(w.to(testing::kCuda0), b.to(testing::kCuda0), residual.to(testing::kCuda0));
  for (size_t i = 0; i < cpu_ops.size(); ++i) {
    const Tensor want = cpu_ops[i].second(x);
    const Tensor got = cuda_ops[i].second(x.to(testing::kCuda0)).cpu();
    ASSERT_EQ(got.shape(), want.shape()) << cpu_ops[i].first;
    // The convolutions sum C/G·R·S = 18 products; the poolings at most 9 terms.
    EXPECT_ALLCLOSE(got, want, testing::tolerance_for(DType::F64, 18)) << cpu_ops[i].first;
  }
}

}  // namespace
}  // namespace afinar
