// amp_unscale_ / amp_update_scale_ (ops/amp_scale.h) on the CPU: PyTorch's
// _amp_foreach_non_finite_check_and_unscale_ and _amp_update_scale_ rules, case by case. The
// GPU kernels are compared with these in tests/ops/float16_cuda_test.cpp.
#include "afinar/ops/amp_scale.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "afinar/ops/elementwise.h"
#include "testing/compare.h"

namespace afinar {
namespace {

TEST(AmpScale, UnscaleDividesEveryGradientAndFlagsInfAndNaN) {
  Generator gen(1);
  const Tensor scale = scalar_tensor(1024.0, DType::F32);
  std::vector<Tensor> grads = {randn({5, 3}, DType::F32, gen), randn({7}, DType::F64, gen),
                               randn({33}, DType::BF16, gen), randn({2, 2}, DType::F16, gen)};
  std::vector<Tensor> before;
  for (const Tensor& g : grads) before.push_back(g.clone());
  Tensor found_inf = zeros({}, DType::F32);
  ops::amp_unscale_(grads, found_inf, scale);
  EXPECT_EQ(found_inf.item<float>(), 0.0f);
  for (size_t i = 0; i < grads.size(); ++i) {
    // inv_scale = 2^-10 exactly: the division is exact in every dtype (no subnormals here).
    SCOPED_TRACE(grads[i].dtype());
    testing::expect_identical(grads[i], ops::mul_scalar(before[i], 1.0 / 1024).to(grads[i].dtype()),
                              "unscaled");
  }

  // A non-finite value anywhere sets the flag (and is itself scaled: inf stays inf); the flag
  // is never cleared by a later clean call.
  for (float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    Tensor f = zeros({}, DType::F32);
    std::vector<float> v(100, 1.0f);
    v[77] = bad;
    std::vector<Tensor> list = {randn({3}, DType::F32, gen), from_vector<float>(v, {100})};
    ops::amp_unscale_(list, f, scale);
    EXPECT_EQ(f.item<float>(), 1.0f) << bad;
    EXPECT_FALSE(std::isfinite(list[1].to_vector<float>()[77]));
    EXPECT_EQ(list[1].to_vector<float>()[0], 1.0f / 1024);
    std::vector<Tensor> clean = {randn({3}, DType::F32, gen)};
    ops::amp_unscale_(clean, f, scale);
    EXPECT_EQ(f.item<float>(), 1.0f);
  }
  // An f16 value that overflowed in the backward is inf too.
  std::vector<Tensor> half = {from_vector<float>({70000.0f, 1.0f}, {2}).to(DType::F16)};
  Tensor f = zeros({}, DType::F32);
  ops::amp_unscale_(half, f, scale);
  EXPECT_EQ(f.item<float>(), 1.0f);
}

// The inverse is PyTorch's float(1 / double(scale)): for a scale that is not a power of two the
// product rounds once from that float.
TEST(AmpScale, UnscaleUsesTheDoubleReciprocal) {
  const Tensor scale = scalar_tensor(3.0, DType::F32);
  std::vector<Tensor> g = {from_vector<float>({1.0f, 7.0f}, {2})};
  Tensor f = zeros({}, DType::F32);
  ops::amp_unscale_(g, f, scale);
  const float inv = float(1.0 / 3.0);
  EXPECT_EQ(g[0].to_vector<float>(), (std::vector<float>{inv, 7.0f * inv}));
}

TEST(AmpScale, UpdateBacksOffOnInfAndGrowsAfterTheInterval) {
  Tensor scale = scalar_tensor(65536.0, DType::F32), tracker = zeros({}, DType::I32);
  const Tensor clean = zeros({}, DType::F32), inf = ones({}, DType::F32);
  const auto update = [&](const Tensor& found_inf) {
    ops::amp_update_scale_(scale, tracker, found_inf, 2.0, 0.5, 3);
    return std::make_pair(scale.item<float>(), tracker.item<int32_t>());
  };
  EXPECT_EQ(update(clean), std::make_pair(65536.0f, 1));
  EXPECT_EQ(update(clean), std::make_pair(65536.0f, 2));
  EXPECT_EQ(update(clean), std::make_pair(131072.0f, 0));  // the third clean step: grow
  EXPECT_EQ(update(clean), std::make_pair(131072.0f, 1));
  EXPECT_EQ(update(inf), std::make_pair(65536.0f, 0));  // back off, count from zero
  EXPECT_EQ(update(inf), std::make_pair(32768.0f, 0));
  // Growth that would overflow float32 keeps the scale (and still resets the count).
  scale.fill_(3e38);
  tracker.fill_(2);
  update(clean);
  EXPECT_EQ(scale.item<float>(), 3e38f);
  EXPECT_EQ(tracker.item<int32_t>(), 0);
  // A factor that is not a power of two: float(double(scale) · factor), as PyTorch.
  scale.fill_(3.0);
  ops::amp_update_scale_(scale, tracker, inf, 2.0, 0.1, 3);
  EXPECT_EQ(scale.item<float>(), float(3.0 * 0.1));
}

TEST(AmpScale, RejectsBadArguments) {
  std::vector<Tensor> g = {zeros({3})};
  const Tensor f = zeros({}, DType::F32), s = scalar_tensor(2.0, DType::F32);
  EXPECT_THROW(ops::amp_unscale_(g, zeros({}, DType::F64), s), Error);  // found_inf not float32
  EXPECT_THROW(ops::amp_unscale_(g, f, zeros({2})), Error);             // scale not one element
  std::vector<Tensor> ints = {zeros({3}, DType::I64)};
  EXPECT_THROW(ops::amp_unscale_(ints, f, s), Error);
  std::vector<Tensor> strided = {zeros({4, 4}).transpose(0, 1)};
  EXPECT_THROW(ops::amp_unscale_(strided, f, s), Error);
  Tensor t = zeros({}, DType::I32);
  EXPECT_THROW(ops::amp_update_scale_(s, t, f, 2.0, 0.5, 0), Error);  // growth_interval 0
  EXPECT_THROW(ops::amp_update_scale_(s, zeros({}, DType::F32), f, 2.0, 0.5, 10), Error);
}

}  // namespace
}  // namespace afinar
