// Autocast (autograd/autocast.h): which ops cast to what, that the bf16 ops compute what PyTorch's
// do (float accumulation on the rounded operands, one rounding per output), and that gradients
// come back to float32 parameters in float32. The whole-model comparison with
// torch.autocast("cpu", bfloat16) is ResNet.AutocastBf16MatchesTorch (tests/nn/models_test.cpp).
#include "afinar/autograd/autocast.h"

#include <gtest/gtest.h>

#include "afinar/ops/conv2d.h"
#include "afinar/ops/linear.h"
#include "afinar/ops/loss.h"
#include "afinar/ops/reduce.h"
#include "afinar/ops/softmax.h"
#include "testing/compare.h"

namespace afinar {
namespace {

// t's values as bf16 would hold them, in float32.
Tensor rounded(const Tensor& t) {
  return t.to(DType::BF16).to(DType::F32);
}

TEST(Autocast, IsPerDeviceTypeScopedAndNests) {
  EXPECT_FALSE(autocast_enabled(DeviceType::CPU));
  {
    AutocastGuard amp(DeviceType::CPU);
    EXPECT_TRUE(autocast_enabled(DeviceType::CPU));
    EXPECT_FALSE(autocast_enabled(DeviceType::CUDA));
    {
      AutocastGuard off(DeviceType::CPU, /*enabled=*/false);
      EXPECT_FALSE(autocast_enabled(DeviceType::CPU));
    }
    EXPECT_TRUE(autocast_enabled(DeviceType::CPU));
  }
  EXPECT_FALSE(autocast_enabled(DeviceType::CPU));
}

// conv2d and linear under autocast: bf16 outputs equal to the float32 op on the bf16-rounded
// operands, rounded once; outside autocast, float32 as before.
TEST(Autocast, ConvAndLinearComputeInBf16) {
  Generator gen(5);
  const Tensor x = randn({2, 3, 9, 7}, DType::F32, gen), w = randn({4, 3, 3, 3}, DType::F32, gen),
               b = randn({4}, DType::F32, gen);
  const Conv2dOptions o{.stride = 2, .padding = 1};
  const Tensor xl = randn({5, 11}, DType::F32, gen), wl = randn({3, 11}, DType::F32, gen),
               bl = randn({3}, DType::F32, gen);
  Tensor y, yl;
  {
    AutocastGuard amp(DeviceType::CPU);
    y = conv2d(x, w, b, o);
    yl = linear(xl, wl, bl);
  }
  ASSERT_EQ(y.dtype(), DType::BF16);
  ASSERT_EQ(yl.dtype(), DType::BF16);
  testing::expect_identical(y, conv2d(rounded(x), rounded(w), rounded(b), o).to(DType::BF16),
                            "conv2d");
  testing::expect_identical(yl, linear(rounded(xl), rounded(wl), rounded(bl)).to(DType::BF16),
                            "linear");
  EXPECT_EQ(conv2d(x, w, b, o).dtype(), DType::F32);
  // float64 is never cast.
  AutocastGuard amp(DeviceType::CPU);
  EXPECT_EQ(linear(xl.to(DType::F64), wl.to(DType::F64), bl.to(DType::F64)).dtype(), DType::F64);
}

// The float32 list: bf16 logits reach the loss as float32 (the same loss as from the float32
// copy); on the CPU softmax stays in bf16 (torch's CPU list), computed in float, rounded once.
TEST(Autocast, LossesComputeInFloat32) {
  Generator gen(6);
  const Tensor logits = randn({4, 5}, DType::F32, gen).to(DType::BF16);
  const Tensor target = from_vector<int64_t>({0, 4, 2, 1}, {4});
  AutocastGuard amp(DeviceType::CPU);
  const Tensor loss = cross_entropy(logits, target);
  ASSERT_EQ(loss.dtype(), DType::F32);
  testing::expect_identical(loss, cross_entropy(logits.to(DType::F32), target), "cross_entropy");
  const Tensor p = softmax(logits, 1);
  ASSERT_EQ(p.dtype(), DType::BF16);
  testing::expect_identical(p, softmax(logits.to(DType::F32), 1).to(DType::BF16), "softmax");
}

// The parameters stay float32 and their gradients arrive in float32: the gradient computed in
// bf16 (float accumulation, rounded once) and cast back by the autocast cast's backward.
TEST(Autocast, GradientsReachFloat32ParametersInFloat32) {
  Generator gen(7);
  const Tensor x = randn({2, 3, 6, 5}, DType::F32, gen);
  Tensor w = randn({4, 3, 3, 3}, DType::F32, gen).set_requires_grad(true);
  const Tensor g = randn({2, 4, 6, 5}, DType::F32, gen).to(DType::BF16);
  const Conv2dOptions o{.padding = 1};
  Tensor y;
  {
    AutocastGuard amp(DeviceType::CPU);
    y = conv2d(x, w, {}, o);
  }
  y.backward(g);
  ASSERT_EQ(w.dtype(), DType::F32);
  ASSERT_EQ(w.grad().dtype(), DType::F32);
  const Tensor want =
      ops::conv2d_backward_weight(g.to(DType::F32), rounded(x), w.shape(), o).to(DType::BF16);
  testing::expect_identical(w.grad(), want.to(DType::F32), "conv2d weight gradient");
}

}  // namespace
}  // namespace afinar
