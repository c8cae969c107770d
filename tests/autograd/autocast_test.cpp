// Autocast (autograd/autocast.h): which ops cast to what, that the bf16 ops compute what PyTorch's
// do (float accumulation on the rounded operands, one rounding per output), and that gradients
// come back to float32 parameters in float32. The whole-model comparison with
// torch.autocast("cpu", bfloat16) is ResNet.AutocastBf16MatchesTorch (tests/nn/models_test.cpp).
#include "afinar/autograd/autocast.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "afinar/ops/conv2d.h"
#include "afinar/ops/linear.h"
#include "afinar/ops/loss.h"
#include "afinar/ops/reduce.h"
#include "afinar/ops/softmax.h"
#include "testing/compare.h"
#include "testing/cuda.h"

namespace afinar {
namespace {

// t's values as `dtype` (bf16 by default) would hold them, in float32.
Tensor rounded(const Tensor& t, DType dtype = DType::BF16) {
  return t.to(dtype).to(DType::F32);
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
    EXPECT_EQ(autocast_dtype(DeviceType::CPU), DType::BF16);
    {
      AutocastGuard half(DeviceType::CPU, true, DType::F16);
      EXPECT_EQ(autocast_dtype(DeviceType::CPU), DType::F16);
    }
    EXPECT_EQ(autocast_dtype(DeviceType::CPU), DType::BF16);
  }
  EXPECT_FALSE(autocast_enabled(DeviceType::CPU));
  EXPECT_THROW(AutocastGuard(DeviceType::CPU, true, DType::F32), Error);
}

// conv2d and linear under autocast in `dt`: outputs in dt equal to the float32 op on the rounded
// operands, rounded once; outside autocast, float32 as before.
void expect_conv_and_linear_compute_in(DType dt) {
  SCOPED_TRACE(::testing::Message() << dt);
  Generator gen(5);
  const Tensor x = randn({2, 3, 9, 7}, DType::F32, gen), w = randn({4, 3, 3, 3}, DType::F32, gen),
               b = randn({4}, DType::F32, gen);
  const Conv2dOptions o{.stride = 2, .padding = 1};
  const Tensor xl = randn({5, 11}, DType::F32, gen), wl = randn({3, 11}, DType::F32, gen),
               bl = randn({3}, DType::F32, gen);
  Tensor y, yl;
  {
    AutocastGuard amp(DeviceType::CPU, true, dt);
    y = conv2d(x, w, b, o);
    yl = linear(xl, wl, bl);
  }
  ASSERT_EQ(y.dtype(), dt);
  ASSERT_EQ(yl.dtype(), dt);
  testing::expect_identical(y, conv2d(rounded(x, dt), rounded(w, dt), rounded(b, dt), o).to(dt),
                            "conv2d");
  testing::expect_identical(yl, linear(rounded(xl, dt), rounded(wl, dt), rounded(bl, dt)).to(dt),
                            "linear");
  EXPECT_EQ(conv2d(x, w, b, o).dtype(), DType::F32);
  // float64 is never cast.
  AutocastGuard amp(DeviceType::CPU, true, dt);
  EXPECT_EQ(linear(xl.to(DType::F64), wl.to(DType::F64), bl.to(DType::F64)).dtype(), DType::F64);
}

TEST(Autocast, ConvAndLinearComputeInBf16) {
  expect_conv_and_linear_compute_in(DType::BF16);
}

TEST(Autocast, ConvAndLinearComputeInFloat16) {
  expect_conv_and_linear_compute_in(DType::F16);
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
  // float16 logits too, under a float16 guard.
  const Tensor half = logits.to(DType::F16);
  AutocastGuard f16(DeviceType::CPU, true, DType::F16);
  testing::expect_identical(cross_entropy(half, target), cross_entropy(half.to(DType::F32), target),
                            "cross_entropy from float16");
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

namespace afinar {
namespace {

// Leaves on the GPU holding t's values.
Tensor cuda_leaf(const Tensor& t) {
  return t.defined() ? t.cuda().set_requires_grad(true) : Tensor();
}
Tensor cpu_leaf(const Tensor& t) {
  return t.defined() ? t.clone().set_requires_grad(true) : Tensor();
}

// The same autocast forward and backward on the GPU and on the CPU: output and gradients agree
// to two bf16 roundings (2^-7) of their scale: the GPU's own bf16 kernels (cuDNN, cuBLAS) and the
// CPU's float32 path sum in different orders, which moves a result across a rounding boundary
// now and then.
void expect_autocast_matches_cpu(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                 const std::vector<Tensor>& inputs, const Tensor& grad_output,
                                 const std::string& what) {
  SCOPED_TRACE(what);
  const double tol = std::ldexp(1.0, -7);
  std::vector<Tensor> gpu, cpu;
  for (const Tensor& t : inputs) {
    gpu.push_back(cuda_leaf(t));
    cpu.push_back(cpu_leaf(t));
  }
  Tensor yg, yc;
  {
    AutocastGuard amp(DeviceType::CUDA);
    yg = f(gpu);
  }
  {
    AutocastGuard amp(DeviceType::CPU);
    yc = f(cpu);
  }
  ASSERT_EQ(yg.dtype(), DType::BF16);
  EXPECT_LT(testing::max_relative_error(yg.cpu().to(DType::F32), yc.to(DType::F32)), tol);
  yg.backward(grad_output.to(DType::BF16).cuda());
  yc.backward(grad_output.to(DType::BF16));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) continue;
    ASSERT_EQ(gpu[i].grad().dtype(), DType::F32) << "input " << i;
    EXPECT_LT(testing::max_relative_error(gpu[i].grad().cpu(), cpu[i].grad()), tol)
        << "gradient of input " << i;
  }
}

TEST(AutocastCuda, ConvAndLinearMatchTheCpu) {
  AFN_REQUIRE_CUDA();
  Generator gen(8);
  struct ConvCase {
    Shape x, w;
    Conv2dOptions o;
    bool bias;
  };
  // cuDNN in bf16: 3x3 strided, 3x3, 1x1, and 3x3 with a bias (added in float, rounded again).
  for (const ConvCase& c :
       {ConvCase{{2, 3, 9, 7}, {4, 3, 3, 3}, {.stride = 2, .padding = 1}, false},
        ConvCase{{4, 16, 14, 14}, {32, 16, 3, 3}, {.padding = 1}, false},
        ConvCase{{3, 64, 7, 7}, {128, 64, 1, 1}, {}, false},
        ConvCase{{2, 8, 10, 9}, {16, 8, 3, 3}, {.padding = 1}, true}}) {
    const Tensor x = randn(c.x, DType::F32, gen), w = randn(c.w, DType::F32, gen);
    const Tensor b = c.bias ? randn({c.w[0]}, DType::F32, gen) : Tensor();
    const Tensor y = conv2d(x, w, b, c.o);
    expect_autocast_matches_cpu(
        [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], c.o); }, {x, w, b},
        randn(y.shape(), DType::F32, gen), "conv2d " + shape_str(c.x) + " * " + shape_str(c.w));
  }
  const Tensor x = randn({5, 37}, DType::F32, gen), w = randn({11, 37}, DType::F32, gen),
               b = randn({11}, DType::F32, gen);
  expect_autocast_matches_cpu(
      [&](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, {x, w, b},
      randn({5, 11}, DType::F32, gen), "linear");
}

}  // namespace
}  // namespace afinar
