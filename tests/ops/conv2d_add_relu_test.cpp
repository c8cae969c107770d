// conv2d_add_relu: relu(conv2d(x, w, b) + residual) fused into the convolution's epilogue. On the
// CPU it must be the unfused ops bit for bit (the same roundings in the same order), in every
// algorithm, memory format and dtype; on the GPU within the convolution's tolerance of the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "afinar/autograd/autocast.h"
#include "afinar/autograd/node.h"
#include "afinar/ops/activation.h"
#include "afinar/ops/conv2d.h"
#include "afinar/ops/elementwise.h"
#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

struct Case {
  const char* name;
  Shape x, w;
  Conv2dOptions opt;
};

// Tiles inside one image and runs of whole images (the im2col path's two slab layouts), groups,
// strides, odd sizes, and few pixels for the weight (the threads split the output channels).
const Case kCases[] = {
    {"3x3_pad1", {2, 5, 7, 9}, {6, 5, 3, 3}, {.padding = 1}},
    {"stride2_groups", {3, 4, 9, 8}, {6, 2, 3, 3}, {.stride = 2, .padding = 1, .groups = 2}},
    {"1x1_small_images", {9, 8, 3, 5}, {7, 8, 1, 1}, {}},
    {"tile_inside_an_image", {2, 3, 40, 41}, {4, 3, 3, 3}, {.padding = 1}},
    {"few_pixels_wide_weight", {3, 8, 3, 4}, {25, 8, 3, 3}, {.stride = 2, .padding = 1}},
};

Conv2dOptions with_algo(Conv2dOptions o, Conv2dAlgo algo) {
  o.algo = algo;
  return o;
}

Tensor in_format(const Tensor& t, MemoryFormat fmt) {
  return t.defined() ? t.contiguous(fmt) : Tensor();
}

// The unfused ops: conv2d, then + residual, then relu.
Tensor unfused(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& r,
               const Conv2dOptions& o) {
  const Tensor y = conv2d(x, w, b, o);
  return relu(r.defined() ? y + r : y);
}

TEST(Conv2dAddRelu, IsTheUnfusedOpsBitForBit) {
  Generator gen(41);
  for (DType t : {DType::F32, DType::F64, DType::BF16})
    for (const Case& c : kCases)
      for (Conv2dAlgo algo : {Conv2dAlgo::Default, Conv2dAlgo::Naive})
        for (MemoryFormat fmt : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast})
          for (bool with_bias : {true, false})
            for (bool with_residual : {true, false}) {
              SCOPED_TRACE(::testing::Message()
                           << t << " " << c.name << " " << algo
                           << (fmt == MemoryFormat::ChannelsLast ? " NHWC" : "")
                           << (with_bias ? " bias" : "") << (with_residual ? " residual" : ""));
              const Conv2dOptions o = with_algo(c.opt, algo);
              const auto g = ops::conv2d_geometry(c.x, c.w, o, "test");
              const Shape ys{g.N, g.K, g.Ho, g.Wo};
              const DType ft = t == DType::BF16 ? DType::F32 : t;
              const Tensor x = in_format(randn(c.x, ft, gen).to(t), fmt);
              const Tensor w = in_format(randn(c.w, ft, gen).to(t), fmt);
              const Tensor b = with_bias ? randn({g.K}, ft, gen).to(t) : Tensor();
              const Tensor r = with_residual ? in_format(randn(ys, ft, gen).to(t), fmt) : Tensor();
              const Tensor gy = in_format(randn(ys, ft, gen).to(t), fmt);
              auto run = [&](bool fused) {
                Tensor xl = x.clone().set_requires_grad(true),
                       wl = w.clone().set_requires_grad(true);
                Tensor bl = with_bias ? b.clone().set_requires_grad(true) : Tensor();
                Tensor rl = with_residual ? r.clone().set_requires_grad(true) : Tensor();
                Tensor y = fused ? conv2d_add_relu(xl, wl, bl, rl, o) : unfused(xl, wl, bl, rl, o);
                y.backward(gy);
                return std::vector<Tensor>{y, xl.grad(), wl.grad(),
                                           with_bias ? bl.grad() : Tensor(),
                                           with_residual ? rl.grad() : Tensor()};
              };
              const auto fused = run(true), plain = run(false);
              const char* what[] = {"y", "grad x", "grad weight", "grad bias", "grad residual"};
              for (size_t i = 0; i < fused.size(); ++i)
                if (plain[i].defined()) testing::expect_identical(fused[i], plain[i], what[i]);
              EXPECT_EQ(suggest_memory_format(fused[0]), fmt);
              EXPECT_STREQ(fused[0].grad_fn()->name(), "Conv2dAddReluBackward");
            }
}

// relu keeps NaN and -0.0 and passes the gradient where the output is NaN (relu_rule.h), fused as
// unfused: a 1x1 convolution with weight 1 makes y = x + residual exactly.
TEST(Conv2dAddRelu, EdgeValuesAsTorchRelu) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = from_vector<double>({-1.0, -0.0, 0.0, 2.0, nan, 3.0}, {1, 1, 2, 3});
  const Tensor r = from_vector<double>({0.5, 0.0, -0.0, -5.0, 1.0, 0.0}, {1, 1, 2, 3});
  const Tensor w = ones({1, 1, 1, 1}, DType::F64);
  for (Conv2dAlgo algo : {Conv2dAlgo::Default, Conv2dAlgo::Naive}) {
    SCOPED_TRACE(::testing::Message() << algo);
    const Conv2dOptions o{.algo = algo};
    testing::expect_identical(conv2d_add_relu(x, w, {}, r, o), unfused(x, w, {}, r, o), "y");
    testing::expect_identical(conv2d_add_relu(x, w, {}, {}, o), unfused(x, w, {}, {}, o),
                              "y without residual");
  }
}

TEST(Conv2dAddRelu, GradCheck) {
  for (Conv2dAlgo algo : {Conv2dAlgo::Default, Conv2dAlgo::Naive}) {
    SCOPED_TRACE(::testing::Message() << algo);
    Generator gen(42);
    const Shape xs{2, 3, 5, 6}, ws{4, 3, 3, 3}, ys{2, 4, 3, 3};
    const Conv2dOptions o{.stride = 2, .padding = 1, .algo = algo};
    Tensor x = testing::leaf_f64(xs, gen), w = testing::leaf_f64(ws, gen),
           b = testing::leaf_f64({4}, gen), r = testing::leaf_f64(ys, gen);
    // Central differences are a derivative only away from relu's kink: every pre-relu value must
    // stay clear of 0 by far more than a step of one input moves it.
    double margin = INFINITY;
    for (double v :
         (conv2d(x.detach(), w.detach(), b.detach(), o) + r.detach()).to_vector<double>())
      margin = std::min(margin, std::abs(v));
    ASSERT_GT(margin, 1e3 * testing::GradcheckOptions{}.step) << "a value sits on the kink";
    EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return conv2d_add_relu(in[0], in[1], in[2], in[3], o);
        },
        {x, w, b, r});
  }
}

// Under autocast the convolution's operands become bf16; the residual must already be bf16 (the
// add it replaces would otherwise give a float32 sum), and the result is the unfused ops'.
TEST(Conv2dAddRelu, AutocastBf16) {
  Generator gen(43);
  const Tensor x = randn({2, 3, 6, 6}, DType::F32, gen), w = randn({4, 3, 3, 3}, DType::F32, gen),
               b = randn({4}, DType::F32, gen);
  const Tensor r = randn({2, 4, 6, 6}, DType::F32, gen).to(DType::BF16);
  AutocastGuard amp(DeviceType::CPU);
  const Tensor fused = conv2d_add_relu(x, w, b, r, {.padding = 1});
  EXPECT_EQ(fused.dtype(), DType::BF16);
  testing::expect_identical(fused, unfused(x, w, b, r, {.padding = 1}), "y");
  EXPECT_THROW(conv2d_add_relu(x, w, b, r.to(DType::F32), {.padding = 1}), Error);
}

TEST(Conv2dAddRelu, RejectsBadResidual) {
  Generator gen(44);
  const Tensor x = randn({2, 3, 6, 6}, DType::F32, gen), w = randn({4, 3, 3, 3}, DType::F32, gen);
  auto message = [&](const Tensor& r) {
    try {
      conv2d_add_relu(x, w, {}, r);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // The output is [2, 4, 4, 4]: the input's shape is not the output's.
  EXPECT_NE(message(randn({2, 3, 6, 6}, DType::F32, gen))
                .find("conv2d_add_relu: residual has shape [2, 3, 6, 6] but the output has shape "
                      "[2, 4, 4, 4]"),
            std::string::npos)
      << message(randn({2, 3, 6, 6}, DType::F32, gen));
  EXPECT_NE(message(randn({2, 4, 4, 4}, DType::F64, gen)).find("residual has dtype float64"),
            std::string::npos);
  EXPECT_NE(message(randn({4, 4, 4}, DType::F32, gen)).find("residual has shape"),
            std::string::npos);
}

// The GPU's epilogue (after cuDNN, im2col + GEMM or the direct kernel) against the CPU's fused op,
// forward and every gradient, NCHW and (cuDNN) channels-last, float32 without TF32 and float64;
// bf16 and f16 on cuDNN within two roundings of the dtype.
TEST(Conv2dAddReluCuda, MatchesTheCpu) {
  AFN_REQUIRE_CUDA();
  const bool tf32 = tf32_conv_allowed();
  allow_tf32_conv(false);
  Generator gen(45);
  for (DType t : {DType::F32, DType::F64, DType::BF16, DType::F16})
    for (const Case& c : kCases)
      for (Conv2dAlgo algo : {Conv2dAlgo::Cudnn, Conv2dAlgo::Im2colGemm, Conv2dAlgo::Direct})
        for (MemoryFormat fmt : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast})
          for (bool with_bias : {true, false}) {
            const bool reduced = t == DType::BF16 || t == DType::F16;
            if ((reduced || fmt == MemoryFormat::ChannelsLast) && algo != Conv2dAlgo::Cudnn)
              continue;  // the teaching kernels take float NCHW only
            if (t == DType::F64 && fmt == MemoryFormat::ChannelsLast) continue;  // cuDNN: NCHW
            SCOPED_TRACE(::testing::Message() << t << " " << c.name << " " << algo
                                              << (fmt == MemoryFormat::ChannelsLast ? " NHWC" : "")
                                              << (with_bias ? " bias" : ""));
            const Conv2dOptions o = with_algo(c.opt, algo);
            const Conv2dOptions ref = with_algo(c.opt, Conv2dAlgo::Naive);
            const auto g = ops::conv2d_geometry(c.x, c.w, o, "test");
            const Shape ys{g.N, g.K, g.Ho, g.Wo};
            const DType ft = reduced ? DType::F32 : t;
            const Tensor x = randn(c.x, ft, gen).to(t), w = randn(c.w, ft, gen).to(t);
            const Tensor b = with_bias ? randn({g.K}, ft, gen).to(t) : Tensor();
            const Tensor r = randn(ys, ft, gen).to(t), gy = randn(ys, ft, gen).to(t);
            auto run = [&](Device dev, const Conv2dOptions& opt) {
              auto leaf = [&](const Tensor& v) {
                return v.defined() ? in_format(v.to(dev), fmt).set_requires_grad(true) : Tensor();
              };
              Tensor xl = leaf(x), wl = leaf(w), rl = leaf(r);
              Tensor bl = b.defined() ? b.to(dev).set_requires_grad(true) : Tensor();
              Tensor y = conv2d_add_relu(xl, wl, bl, rl, opt);
              y.backward(in_format(gy.to(dev), fmt));
              return std::vector<Tensor>{y.cpu(), xl.grad().cpu(), wl.grad().cpu(), rl.grad().cpu(),
                                         bl.defined() ? bl.grad().cpu() : Tensor()};
            };
            const auto got = run(testing::kCuda0, o), want = run(kCPU, ref);
            EXPECT_EQ(suggest_memory_format(got[0]), fmt);
            const int64_t lengths[] = {g.Cg() * g.R * g.S + 2, g.Kg() * g.R * g.S,
                                       g.N * g.Ho * g.Wo, 1, g.N * g.Ho * g.Wo};
            for (size_t i = 0; i < got.size(); ++i) {
              if (!want[i].defined()) continue;
              if (reduced) {
                // The output only: 16-bit roundings put outputs near 0 on the other side of the
                // relu now and then, which changes that gradient element's mask. cuDNN's sums in
                // float, rounded once; the CPU's in float32 on rounded operands, rounded, then the
                // epilogue's two roundings: within three roundings of the dtype of y's scale.
                const double tol = t == DType::BF16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
                EXPECT_LT(
                    testing::max_relative_error(got[0].to(DType::F32), want[0].to(DType::F32)),
                    3 * tol);
                break;
              } else {
                // cuDNN may use Winograd / FFT in float32: 32x the plain sum's bound (see
                // conv2d_test.cpp's cudnn_fp32_tolerance).
                EXPECT_ALLCLOSE(got[i], want[i],
                                testing::tolerance_for(t, lengths[i], t == DType::F32 ? 256 : 8));
              }
            }
          }
  allow_tf32_conv(tf32);
}

}  // namespace
}  // namespace afinar
