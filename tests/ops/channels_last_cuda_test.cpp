// Channels-last (NHWC) activations on the GPU: conv2d, batch_norm2d and the pools run on
// x.to(cuda).contiguous(MemoryFormat::ChannelsLast) must return channels-last results whose values
// match the CPU reference computed on the NCHW input. Odd sizes (C = 5, 13; H = 7, W = 9), C a
// multiple of 8, and C above one warp's 32 channels (several channel blocks, a partial last one).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <vector>

#include "afinar/ops/adaptive_pool2d.h"
#include "afinar/ops/batch_norm2d.h"
#include "afinar/ops/conv2d.h"
#include "afinar/ops/pool2d.h"
#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/fixtures.h"

namespace afinar {
namespace {

constexpr MemoryFormat kCl = MemoryFormat::ChannelsLast;

Tensor cl_cuda(const Tensor& t) {
  return t.cuda().contiguous(kCl);
}

// `got`: a GPU tensor in `fmt` (channels-last unless said) whose values are within tol of the
// CPU's `want`.
void expect_cl_close(const Tensor& got, const Tensor& want, testing::Tolerance tol,
                     const char* what, MemoryFormat fmt = kCl) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(got.defined());
  EXPECT_EQ(got.device(), testing::kCuda0);
  EXPECT_EQ(suggest_memory_format(got), fmt) << what << " is not in the expected format";
  EXPECT_ALLCLOSE(got.cpu().contiguous(), want, tol);
}

// ... and bit for bit equal (max pooling's values and indices).
template <typename V>
void expect_cl_equal(const Tensor& got, const Tensor& want, const char* what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(got.device(), testing::kCuda0);
  EXPECT_TRUE(got.is_contiguous(kCl)) << what << " is not channels-last";
  EXPECT_EQ(got.cpu().contiguous().to_vector<V>(), want.to_vector<V>());
}

// Odd sizes, C a multiple of 8, C > 32 and not a multiple of 32.
const std::vector<Shape> kShapes = {{3, 5, 7, 9}, {3, 13, 7, 9}, {2, 16, 6, 5}, {2, 40, 5, 3}};

// ---- conv2d ----

struct ConvCase {
  Shape x, w;
  Conv2dOptions opt;
};

// TF32 (PyTorch's default, on here) products carry a relative error up to ~2^-10: a sum of L
// terms of magnitude <= 1 is off by about 1e-3·sqrt(L) (as tests/ops/conv2d_test.cpp); float64
// has no TF32.
testing::Tolerance conv_tolerance(DType dt, int64_t length) {
  if (dt == DType::F64) return testing::tolerance_for(dt, length);
  const double t = 1e-3 * std::sqrt(double(length));
  return {t, t};
}

TEST(Conv2dCuda, ChannelsLastMatchesReference) {
  AFN_REQUIRE_CUDA();
  const std::vector<ConvCase> cases = {
      {{3, 5, 7, 9}, {13, 5, 3, 3}, {.padding = 1}},
      {{3, 13, 7, 9}, {8, 13, 1, 1}, {}},
      {{2, 16, 6, 5}, {8, 4, 3, 3}, {.stride = 2, .padding = 1, .groups = 4}},
      {{2, 40, 5, 3}, {24, 40, 3, 2}, {.stride = {1, 2}, .padding = {2, 1}, .dilation = {2, 1}}},
  };
  Generator gen(61);
  for (DType dt : {DType::F32, DType::F64})
    for (const ConvCase& c : cases) {
      SCOPED_TRACE(::testing::Message()
                   << "x " << shape_str(c.x) << " w " << shape_str(c.w) << " " << dt);
      Conv2dOptions ref = c.opt, dev = c.opt;
      ref.algo = Conv2dAlgo::Naive;
      dev.algo = Conv2dAlgo::Default;
      const auto g = ops::conv2d_geometry(c.x, c.w, c.opt, "test");
      Tensor x = uniform(c.x, -1, 1, dt, gen), w = uniform(c.w, -1, 1, dt, gen);
      Tensor b = uniform({g.K}, -1, 1, dt, gen);
      Tensor gy = uniform({g.N, g.K, g.Ho, g.Wo}, -1, 1, dt, gen);
      Tensor xd = cl_cuda(x), wd = cl_cuda(w), gyd = cl_cuda(gy);
      // float64 stays NCHW on the GPU, as PyTorch's (cuDNN has no NHWC double kernels).
      const MemoryFormat fmt = dt == DType::F64 ? MemoryFormat::Contiguous : kCl;
      expect_cl_close(ops::conv2d_forward(xd, wd, b.cuda(), dev), ops::conv2d_forward(x, w, b, ref),
                      conv_tolerance(dt, g.Cg() * g.R * g.S + 1), "y", fmt);
      expect_cl_close(ops::conv2d_backward_input(gyd, wd, c.x, dev),
                      ops::conv2d_backward_input(gy, w, c.x, ref),
                      conv_tolerance(dt, g.Kg() * g.R * g.S), "grad_input", fmt);
      expect_cl_close(ops::conv2d_backward_weight(gyd, xd, c.w, dev),
                      ops::conv2d_backward_weight(gy, x, c.w, ref),
                      conv_tolerance(dt, g.N * g.Ho * g.Wo), "grad_weight", fmt);
      // The bias gradient: a plain sum over the N·Ho·Wo rows (no TF32), 1-D whatever the layout.
      Tensor gb = ops::conv2d_backward_bias(gyd);
      EXPECT_EQ(gb.device(), testing::kCuda0);
      EXPECT_ALLCLOSE(gb.cpu(), ops::conv2d_backward_bias(gy),
                      testing::tolerance_for(dt, g.N * g.Ho * g.Wo));
    }
}

// The teaching kernels index NCHW arrays: a clear error, not wrong numbers.
TEST(Conv2dCuda, ChannelsLastRejectedByNchwOnlyAlgorithms) {
  AFN_REQUIRE_CUDA();
  Generator gen(62);
  Tensor x = cl_cuda(randn({2, 8, 5, 5}, DType::F32, gen));
  Tensor w = cl_cuda(randn({4, 8, 3, 3}, DType::F32, gen));
  for (Conv2dAlgo algo : {Conv2dAlgo::Direct, Conv2dAlgo::Im2colGemm}) {
    SCOPED_TRACE(::testing::Message() << algo);
    EXPECT_THROW(ops::conv2d_forward(x, w, {}, {.algo = algo}), Error);
  }
}

// ---- batch_norm2d ----

// Forward (3 training steps with running statistics, then eval), with no epilogue and with the
// add + relu one, and backward with several masks, each against the CPU on the NCHW tensors.
// Tolerances as tests/ops/batch_norm2d_test.cpp: sums over n = N·H·W values per channel, x with
// |μ|/σ ≈ 3.5 (safety 32).
void expect_batch_norm_cl_matches(const Shape& shape, DType t, Generator& gen) {
  SCOPED_TRACE(::testing::Message() << shape_str(shape) << " " << t);
  const int64_t C = shape[1], n = shape[0] * shape[2] * shape[3];
  const auto tol = testing::tolerance_for(t, n, 32);
  const double momentum = 0.1, eps = 1e-5;
  Tensor w = uniform({C}, 0.5, 1.5, t, gen), b = randn({C}, t, gen);
  Tensor rm = uniform({C}, -0.5, 0.5, t, gen), rv = uniform({C}, 0.5, 2.0, t, gen);
  Tensor rm_g = rm.cuda(), rv_g = rv.cuda();
  const std::vector<std::array<bool, 4>> masks = {
      {true, true, true, false}, {true, false, false, false}, {false, true, true, false}};
  for (int step = 0; step < 4; ++step)
    for (bool fused : {false, true}) {
      const bool training = step < 3;
      SCOPED_TRACE(::testing::Message() << "step " << step << (training ? " training" : " eval")
                                        << (fused ? " add+relu" : ""));
      Tensor x = uniform(shape, 1.0, 3.0, t, gen);
      Tensor r = fused ? randn(shape, t, gen) : Tensor();
      Tensor xg = cl_cuda(x);
      const ops::AddReluEpilogue ep{.residual = r, .relu = fused};
      const ops::AddReluEpilogue ep_g{.residual = r.defined() ? cl_cuda(r) : Tensor(),
                                      .relu = fused};
      auto ref = ops::batch_norm2d_forward(x, w, b, rm, rv, training, momentum, eps, ep);
      auto got = ops::batch_norm2d_forward(xg, w.cuda(), b.cuda(), rm_g, rv_g, training, momentum,
                                           eps, ep_g);
      expect_cl_close(got.y, ref.y, tol, "y");
      EXPECT_ALLCLOSE(got.mean.cpu(), ref.mean, tol);
      EXPECT_ALLCLOSE(got.invstd.cpu(), ref.invstd, tol);
      EXPECT_ALLCLOSE(rm_g.cpu(), rm, tol);
      EXPECT_ALLCLOSE(rv_g.cpu(), rv, tol);

      Tensor g = randn(shape, t, gen);
      Tensor gg = cl_cuda(g);
      for (std::array<bool, 4> mask : masks) {
        mask[3] = fused;
        SCOPED_TRACE(::testing::Message() << "mask " << mask[0] << mask[1] << mask[2] << mask[3]);
        auto rb = ops::batch_norm2d_backward(g, x, w, ref.mean, ref.invstd, training, mask,
                                             fused ? ref.y : Tensor());
        auto gb = ops::batch_norm2d_backward(gg, xg, w.cuda(), got.mean, got.invstd, training, mask,
                                             fused ? got.y : Tensor());
        ASSERT_EQ(gb.grad_input.defined(), mask[0]);
        if (mask[0]) expect_cl_close(gb.grad_input, rb.grad_input, tol, "grad_input");
        ASSERT_EQ(gb.grad_weight.defined(), mask[1]);
        if (mask[1]) {
          EXPECT_ALLCLOSE(gb.grad_weight.cpu(), rb.grad_weight, tol);
        }
        ASSERT_EQ(gb.grad_bias.defined(), mask[2]);
        if (mask[2]) {
          EXPECT_ALLCLOSE(gb.grad_bias.cpu(), rb.grad_bias, tol);
        }
        if (fused) expect_cl_close(gb.grad_residual, rb.grad_residual, tol, "grad_residual");
      }
    }
}

TEST(BatchNorm2dCuda, ChannelsLastMatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(63);
  for (DType t : {DType::F32, DType::F64}) {
    for (const Shape& s : kShapes) expect_batch_norm_cl_matches(s, t, gen);
    // Many rows: several row blocks per channel, merged through the partials.
    expect_batch_norm_cl_matches({16, 64, 28, 28}, t, gen);
  }
}

// ---- pools ----

// Pooling sums are short (one window): the dtype's tolerance over the window area; bf16 sums in
// float on both devices, rounded once, where a different order can flip one rounding.
testing::Tolerance pool_tolerance(DType t, int64_t area) {
  return testing::tolerance_for(t, area, t == DType::BF16 ? 1.0 : 8.0);
}

TEST(MaxPool2dCuda, ChannelsLastMatchesReference) {
  AFN_REQUIRE_CUDA();
  const std::vector<MaxPool2dOptions> configs = {
      {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}},  // ResNet stem
      {.kernel_size = {2, 2}},
      {.kernel_size = {3, 2},
       .stride = {1, 2},
       .padding = {1, 1},
       .dilation = {2, 1},
       .ceil_mode = true},
      {.kernel_size = {5, 4}, .stride = {3, 1}, .padding = {2, 1}},  // overlapping windows
  };
  Generator gen(65);
  for (DType t : {DType::F32, DType::F64, DType::BF16})
    for (const auto& opt : configs)
      for (const Shape& shape : kShapes) {
        SCOPED_TRACE(::testing::Message() << shape_str(shape) << " k " << opt.kernel_size[0] << "x"
                                          << opt.kernel_size[1] << " " << t);
        Tensor x = randn(shape, t, gen);
        auto [y, idx] = ops::max_pool2d_forward(x, opt);
        auto [yg, idxg] = ops::max_pool2d_forward(cl_cuda(x), opt);
        expect_cl_equal<double>(yg, y, "y");
        expect_cl_equal<int64_t>(idxg, idx, "indices");
        Tensor g = randn(y.shape(), t, gen);
        expect_cl_close(ops::max_pool2d_backward(cl_cuda(g), idxg, shape, opt),
                        ops::max_pool2d_backward(g, idx, shape, opt),
                        pool_tolerance(t, opt.kernel_size[0] * opt.kernel_size[1]), "grad_input");
      }
}

TEST(AvgPool2dCuda, ChannelsLastMatchesReference) {
  AFN_REQUIRE_CUDA();
  std::vector<AvgPool2dOptions> configs = {
      {.kernel_size = {2, 2}},
      {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true},
      {.kernel_size = {2, 3}, .stride = {1, 2}, .padding = {1, 1}, .divisor_override = 5},
      {.kernel_size = {7, 7}, .stride = {1, 1}, .padding = {3, 3}},  // >= 32: NCHW's group path
  };
  for (size_t i = 0, n = configs.size(); i < n; ++i) {
    AvgPool2dOptions o = configs[i];
    o.count_include_pad = !o.count_include_pad;
    configs.push_back(o);
  }
  Generator gen(66);
  for (DType t : {DType::F32, DType::F64, DType::BF16})
    for (const auto& opt : configs)
      for (const Shape& shape : kShapes) {
        SCOPED_TRACE(::testing::Message()
                     << shape_str(shape) << " k " << opt.kernel_size[0] << "x" << opt.kernel_size[1]
                     << " cip " << opt.count_include_pad << " " << t);
        const auto tol = pool_tolerance(t, opt.kernel_size[0] * opt.kernel_size[1]);
        Tensor x = randn(shape, t, gen);
        Tensor y = ops::avg_pool2d_forward(x, opt);
        expect_cl_close(ops::avg_pool2d_forward(cl_cuda(x), opt), y, tol, "y");
        Tensor g = randn(y.shape(), t, gen);
        expect_cl_close(ops::avg_pool2d_backward(cl_cuda(g), shape, opt),
                        ops::avg_pool2d_backward(g, shape, opt), tol, "grad_input");
      }
}

// Output sizes: the global pool of a ResNet head (a [N, C, 1, 1] output, both layouts at once),
// smaller and larger than the input.
const std::vector<std::array<int64_t, 2>> kAdaptiveOutputs = {{1, 1}, {3, 4}, {8, 11}};

// Largest window of an adaptive pool from `in` to `out` positions along one axis.
int64_t adaptive_window(int64_t in, int64_t out) {
  return (in + out - 1) / out + 1;
}

TEST(AdaptiveAvgPool2dCuda, ChannelsLastMatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(67);
  for (DType t : {DType::F32, DType::F64, DType::BF16})
    for (const auto& out : kAdaptiveOutputs)
      for (const Shape& shape : kShapes) {
        SCOPED_TRACE(::testing::Message()
                     << shape_str(shape) << " -> " << out[0] << "x" << out[1] << " " << t);
        const auto tol = pool_tolerance(
            t, adaptive_window(shape[2], out[0]) * adaptive_window(shape[3], out[1]));
        Tensor x = randn(shape, t, gen);
        Tensor y = ops::adaptive_avg_pool2d_forward(x, out);
        expect_cl_close(ops::adaptive_avg_pool2d_forward(cl_cuda(x), out), y, tol, "y");
        Tensor g = randn(y.shape(), t, gen);
        expect_cl_close(ops::adaptive_avg_pool2d_backward(cl_cuda(g), shape),
                        ops::adaptive_avg_pool2d_backward(g, shape), tol, "grad_input");
      }
}

TEST(AdaptiveMaxPool2dCuda, ChannelsLastMatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(68);
  for (DType t : {DType::F32, DType::F64, DType::BF16})
    for (const auto& out : kAdaptiveOutputs)
      for (const Shape& shape : kShapes) {
        SCOPED_TRACE(::testing::Message()
                     << shape_str(shape) << " -> " << out[0] << "x" << out[1] << " " << t);
        Tensor x = randn(shape, t, gen);
        auto [y, idx] = ops::adaptive_max_pool2d_forward(x, out);
        auto [yg, idxg] = ops::adaptive_max_pool2d_forward(cl_cuda(x), out);
        expect_cl_equal<double>(yg, y, "y");
        expect_cl_equal<int64_t>(idxg, idx, "indices");
        Tensor g = randn(y.shape(), t, gen);
        expect_cl_close(ops::adaptive_max_pool2d_backward(cl_cuda(g), idxg, shape),
                        ops::adaptive_max_pool2d_backward(g, idx, shape),
                        pool_tolerance(t, adaptive_window(shape[2], out[0]) *
                                              adaptive_window(shape[3], out[1])),
                        "grad_input");
      }
}

}  // namespace
}  // namespace afinar
