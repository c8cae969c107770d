// float16 (DType::F16) on the GPU: every CUDA kernel that takes bf16 takes f16 too (computing in
// float, rounding once when it stores), cuDNN and cuBLAS run on CUDNN_DATA_HALF / CUDA_R_16F with
// float accumulation, casts go through float as c10::Half's do, and amp_scale's kernels follow the
// CPU reference. The CPU computes f16 ops on float32 copies (src/ops/float_compute.h), so the GPU
// gives the same values where no sum is reordered (relu, add, mul, max pooling, casts,
// amp_scale: bit for bit) and within f16's tolerance (eps 2^-11, compare.h) over the reduction
// length elsewhere. NaN is compared as NaN: the GPU's canonical f16 NaN is 0x7FFF, c10's CPU
// conversion gives 0x7E00 (as PyTorch's two devices do).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "afinar/ops/activation.h"
#include "afinar/ops/adaptive_pool2d.h"
#include "afinar/ops/amp_scale.h"
#include "afinar/ops/batch_norm2d.h"
#include "afinar/ops/conv2d.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/linear.h"
#include "afinar/ops/pool2d.h"
#include "testing/compare.h"
#include "testing/cuda.h"

namespace afinar {
namespace {

constexpr MemoryFormat kCl = MemoryFormat::ChannelsLast;

// A float32 random tensor rounded to f16 (the CPU's conversion).
Tensor randn_f16(const Shape& shape, Generator& gen) {
  return randn(shape, DType::F32, gen).to(DType::F16);
}

// The same values element by element: equal with the same sign (so -0.0 is not 0.0), or both NaN.
void expect_same_values(const Tensor& got, const Tensor& want, const char* what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(got.dtype(), want.dtype());
  ASSERT_EQ(got.shape(), want.shape());
  const std::vector<double> g = got.cpu().contiguous().to_vector<double>();
  const std::vector<double> w = want.cpu().contiguous().to_vector<double>();
  for (size_t i = 0; i < w.size(); ++i) {
    if (std::isnan(w[i])) {
      EXPECT_TRUE(std::isnan(g[i])) << "element " << i << ": " << g[i] << ", want NaN";
    } else {
      EXPECT_TRUE(g[i] == w[i] && std::signbit(g[i]) == std::signbit(w[i]))
          << "element " << i << ": " << g[i] << ", want " << w[i];
    }
  }
}

// f16 tolerance over a sum of `length` terms; safety 2 for results that may differ by one
// rounding (an f16 ulp is up to 2^-10 of the value).
testing::Tolerance f16_tolerance(int64_t length, double safety = 2.0) {
  return testing::tolerance_for(DType::F16, length, safety);
}

// ---- relu, elementwise ----

TEST(ReluCuda, Float16MatchesTheCpu) {
  AFN_REQUIRE_CUDA();
  Generator gen(71);
  for (int64_t n : {1, 7, 4099, (1 << 20) + 1}) {
    // relu_rule.h's edge values first (the vectorised body), the odd tail last.
    std::vector<float> xv = randn({n}, DType::F32, gen).to_vector<float>();
    const float edges[] = {std::nanf(""), -0.0f, 0.0f, -INFINITY, 65504.0f, -0x1p-24f};
    for (size_t i = 0; i < std::min<size_t>(xv.size(), 6); ++i) xv[i] = edges[i];
    const Tensor x = from_vector<float>(xv, {n}).to(DType::F16), g = randn_f16({n}, gen);
    const Tensor y = ops::relu_forward(x.cuda());
    ASSERT_EQ(y.dtype(), DType::F16);
    expect_same_values(y, ops::relu_forward(x), "relu forward");
    expect_same_values(ops::relu_backward(g.cuda(), y), ops::relu_backward(g, ops::relu_forward(x)),
                       "relu backward");
  }
}

// add and mul are exact on both sides (the products of f16 values and by powers of two are exact
// in float, so a fused multiply-add rounds like the separate operations): equal; affine's
// scale·a + shift may be fused on the GPU only: one rounding apart.
TEST(ElementwiseCuda, Float16MatchesTheCpu) {
  AFN_REQUIRE_CUDA();
  Generator gen(72);
  for (int64_t n : {1, 5, 1023, (1 << 20) + 3})
    for (int64_t offset : {0, 1}) {
      SCOPED_TRACE(::testing::Message() << n << " elements at offset " << offset);
      // Offset 0: 16-byte packs of 8 values (common.cuh); 1: not 16-byte aligned, the scalar path.
      const Tensor whole = randn_f16({n + 1}, gen), b = randn_f16({n}, gen);
      const Tensor a = whole.slice(0, offset, n + offset);
      const Tensor ga = whole.cuda().slice(0, offset, n + offset), gb = b.cuda();
      expect_same_values(add(ga, gb), add(a, b), "add");
      expect_same_values(add(ga, gb, -2.0), add(a, b, -2.0), "add alpha");
      expect_same_values(mul(ga, gb), mul(a, b), "mul");
      EXPECT_ALLCLOSE((ga * 3.0 + 1.5).cpu(), a * 3.0 + 1.5, f16_tolerance(1));
      Tensor acc = gb.clone();
      ops::add_(acc, ga, 0.5);
      expect_same_values(acc, add(b, a, 0.5), "add_");
    }
}

// ---- pools (NCHW and channels-last) ----

const std::vector<Shape> kPoolShapes = {{2, 5, 7, 9}, {2, 40, 6, 5}};

Tensor on_gpu(const Tensor& t, MemoryFormat fmt) {
  return t.cuda().contiguous(fmt);
}

const char* format_name(MemoryFormat fmt) {
  return fmt == kCl ? "channels-last" : "NCHW";
}

TEST(MaxPool2dCuda, Float16MatchesTheCpu) {
  AFN_REQUIRE_CUDA();
  const MaxPool2dOptions opt{.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}};
  Generator gen(73);
  for (MemoryFormat fmt : {MemoryFormat::Contiguous, kCl})
    for (const Shape& shape : kPoolShapes) {
      SCOPED_TRACE(::testing::Message() << shape[1] << " channels, " << format_name(fmt));
      // Ties: values repeat at f16's 11 bits of a small range.
      Tensor x = uniform(shape, -4, 4, DType::F32, gen).to(DType::F16);
      auto [y, idx] = ops::max_pool2d_forward(x, opt);
      auto [yg, idxg] = ops::max_pool2d_forward(on_gpu(x, fmt), opt);
      expect_same_values(yg, y, "y");
      EXPECT_EQ(idxg.cpu().contiguous().to_vector<int64_t>(), idx.to_vector<int64_t>());
      const Tensor g = randn_f16(y.shape(), gen);
      EXPECT_ALLCLOSE(ops::max_pool2d_backward(on_gpu(g, fmt), idxg, shape, opt).cpu().contiguous(),
                      ops::max_pool2d_backward(g, idx, shape, opt), f16_tolerance(9));
      auto [ya, ia] = ops::adaptive_max_pool2d_forward(x, {3, 4});
      auto [yag, iag] = ops::adaptive_max_pool2d_forward(on_gpu(x, fmt), {3, 4});
      expect_same_values(yag, ya, "adaptive y");
      EXPECT_EQ(iag.cpu().contiguous().to_vector<int64_t>(), ia.to_vector<int64_t>());
      const Tensor ga = randn_f16(ya.shape(), gen);
      EXPECT_ALLCLOSE(
          ops::adaptive_max_pool2d_backward(on_gpu(ga, fmt), iag, shape).cpu().contiguous(),
          ops::adaptive_max_pool2d_backward(ga, ia, shape), f16_tolerance(12));
    }
}

// The window sums run in float on both devices in different orders (the grouped kernel for
// windows of >= 32 elements): one f16 rounding apart.
TEST(AvgPool2dCuda, Float16MatchesTheCpu) {
  AFN_REQUIRE_CUDA();
  const std::vector<AvgPool2dOptions> configs = {
      {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true},
      {.kernel_size = {7, 7}, .stride = {1, 1}, .padding = {3, 3}, .count_include_pad = false},
  };
  Generator gen(74);
  for (MemoryFormat fmt : {MemoryFormat::Contiguous, kCl})
    for (const auto& opt : configs)
      for (const Shape& shape : kPoolShapes) {
        SCOPED_TRACE(::testing::Message() << shape[1] << " channels, k " << opt.kernel_size[0]
                                          << ", " << format_name(fmt));
        const auto tol = f16_tolerance(opt.kernel_size[0] * opt.kernel_size[1]);
        const Tensor x = randn_f16(shape, gen);
        const Tensor y = ops::avg_pool2d_forward(x, opt);
        const Tensor yg = ops::avg_pool2d_forward(on_gpu(x, fmt), opt);
        ASSERT_EQ(yg.dtype(), DType::F16);
        EXPECT_ALLCLOSE(yg.cpu().contiguous(), y, tol);
        const Tensor g = randn_f16(y.shape(), gen);
        EXPECT_ALLCLOSE(ops::avg_pool2d_backward(on_gpu(g, fmt), shape, opt).cpu().contiguous(),
                        ops::avg_pool2d_backward(g, shape, opt), tol);
      }
  for (MemoryFormat fmt : {MemoryFormat::Contiguous, kCl})
    for (const Shape& shape : kPoolShapes) {
      const IntPair out{1, 1};  // the global average of a ResNet head: the grouped kernel
      const auto tol = f16_tolerance(shape[2] * shape[3]);
      const Tensor x = randn_f16(shape, gen);
      const Tensor y = ops::adaptive_avg_pool2d_forward(x, out);
      EXPECT_ALLCLOSE(ops::adaptive_avg_pool2d_forward(on_gpu(x, fmt), out).cpu().contiguous(), y,
                      tol);
      const Tensor g = randn_f16(y.shape(), gen);
      EXPECT_ALLCLOSE(ops::adaptive_avg_pool2d_backward(on_gpu(g, fmt), shape).cpu().contiguous(),
                      ops::adaptive_avg_pool2d_backward(g, shape), tol);
    }
}

// ---- conv2d (cuDNN) and linear (cuBLAS) ----

struct ConvCase {
  Shape x, w;
  Conv2dOptions opt;
};

// cuDNN on CUDNN_DATA_HALF accumulates in float, rounds the convolution to f16, then the bias
// kernel adds in float and rounds again; the CPU rounds once: within f16's tolerance over the
// reduction length (default safety).
TEST(Conv2dCuda, Float16MatchesTheCpu) {
  AFN_REQUIRE_CUDA();
  const std::vector<ConvCase> cases = {
      {{2, 3, 9, 9}, {8, 3, 3, 3}, {.padding = 1}},
      {{3, 8, 7, 7}, {6, 4, 3, 3}, {.stride = 2, .padding = 1, .groups = 2}},
      {{2, 16, 5, 6}, {16, 16, 1, 1}, {}},
  };
  Generator gen(75);
  for (MemoryFormat fmt : {MemoryFormat::Contiguous, kCl})
    for (const ConvCase& c : cases) {
      SCOPED_TRACE(::testing::Message() << "x " << c.x[1] << "x" << c.x[2] << "x" << c.x[3]
                                        << ", groups " << c.opt.groups << ", " << format_name(fmt));
      const auto g = ops::conv2d_geometry(c.x, c.w, c.opt, "test");
      const Tensor x = uniform(c.x, -1, 1, DType::F32, gen).to(DType::F16);
      const Tensor w = uniform(c.w, -1, 1, DType::F32, gen).to(DType::F16);
      const Tensor b = uniform({c.w[0]}, -1, 1, DType::F32, gen).to(DType::F16);
      const Tensor gy = uniform({g.N, g.K, g.Ho, g.Wo}, -1, 1, DType::F32, gen).to(DType::F16);
      const Tensor y = ops::conv2d_forward(on_gpu(x, fmt), on_gpu(w, fmt), b.cuda(), c.opt);
      ASSERT_EQ(y.dtype(), DType::F16);
      EXPECT_ALLCLOSE(y.cpu().contiguous(), ops::conv2d_forward(x, w, b, c.opt),
                      testing::tolerance_for(DType::F16, g.Cg() * g.R * g.S + 1));
      EXPECT_ALLCLOSE(ops::conv2d_backward_input(on_gpu(gy, fmt), on_gpu(w, fmt), c.x, c.opt)
                          .cpu()
                          .contiguous(),
                      ops::conv2d_backward_input(gy, w, c.x, c.opt),
                      testing::tolerance_for(DType::F16, g.Kg() * g.R * g.S));
      EXPECT_ALLCLOSE(ops::conv2d_backward_weight(on_gpu(gy, fmt), on_gpu(x, fmt), c.w, c.opt)
                          .cpu()
                          .contiguous(),
                      ops::conv2d_backward_weight(gy, x, c.w, c.opt),
                      testing::tolerance_for(DType::F16, g.N * g.Ho * g.Wo));
      EXPECT_ALLCLOSE(ops::conv2d_backward_bias(on_gpu(gy, fmt)).cpu(),
                      ops::conv2d_backward_bias(gy),
                      testing::tolerance_for(DType::F16, g.N * g.Ho * g.Wo));
    }
}

// cuBLAS on CUDA_R_16F with CUBLAS_COMPUTE_32F: float accumulation, one rounding (bias included).
TEST(LinearCuda, Float16MatchesTheCpu) {
  AFN_REQUIRE_CUDA();
  Generator gen(76);
  for (const std::array<int64_t, 3>& s : {std::array<int64_t, 3>{5, 33, 7}, {64, 128, 10}}) {
    const int64_t m = s[0], in = s[1], out = s[2];
    SCOPED_TRACE(::testing::Message() << m << "x" << in << " -> " << out);
    const Tensor x = uniform({m, in}, -1, 1, DType::F32, gen).to(DType::F16);
    const Tensor w = uniform({out, in}, -1, 1, DType::F32, gen).to(DType::F16);
    const Tensor b = uniform({out}, -1, 1, DType::F32, gen).to(DType::F16);
    const Tensor g = uniform({m, out}, -1, 1, DType::F32, gen).to(DType::F16);
    const Tensor y = ops::linear_forward(x.cuda(), w.cuda(), b.cuda());
    ASSERT_EQ(y.dtype(), DType::F16);
    EXPECT_ALLCLOSE(y.cpu(), ops::linear_forward(x, w, b),
                    testing::tolerance_for(DType::F16, in + 1));
    EXPECT_ALLCLOSE(ops::linear_backward_input(g.cuda(), w.cuda()).cpu(),
                    ops::linear_backward_input(g, w), testing::tolerance_for(DType::F16, out));
    EXPECT_ALLCLOSE(ops::linear_backward_weight(g.cuda(), x.cuda()).cpu(),
                    ops::linear_backward_weight(g, x), testing::tolerance_for(DType::F16, m));
    EXPECT_ALLCLOSE(ops::linear_backward_bias(g.cuda()).cpu(), ops::linear_backward_bias(g),
                    testing::tolerance_for(DType::F16, m));
  }
}

// ---- casts ----

// The f16 bit patterns of a tensor.
std::vector<uint16_t> f16_bits(const Tensor& t) {
  const Tensor c = t.cpu().contiguous();
  std::vector<uint16_t> bits(size_t(c.numel()));
  std::memcpy(bits.data(), c.raw_data(), bits.size() * sizeof(uint16_t));
  return bits;
}

void expect_same_f16_bits(const Tensor& got, const Tensor& want, const char* what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(got.dtype(), DType::F16);
  ASSERT_EQ(want.dtype(), DType::F16);
  const std::vector<uint16_t> g = f16_bits(got), w = f16_bits(want);
  ASSERT_EQ(g.size(), w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    const bool nan = (w[i] & 0x7C00u) == 0x7C00u && (w[i] & 0x3FFu) != 0;
    if (nan)
      EXPECT_TRUE((g[i] & 0x7C00u) == 0x7C00u && (g[i] & 0x3FFu) != 0) << "element " << i;
    else
      EXPECT_EQ(g[i], w[i]) << "element " << i;
  }
}

// float32 -> f16 -> float32 on the GPU equals the CPU's c10::Half conversion: round to nearest
// even, 65520 and beyond to inf, the subnormals (2^-25 ties to 0, 3·2^-26 up to 2^-24), NaN; and
// float64 -> f16 goes through float as c10::Half(float(double)) does (1 + 2^-11 + 2^-40 is above
// the halfway point, but float drops the 2^-40 first: a tie, to even, 1.0). bf16 <-> f16 through
// float too.
TEST(CastCuda, Float16MatchesTheCpu) {
  AFN_REQUIRE_CUDA();
  Generator gen(78);
  std::vector<float> v = {65504.0f,      65519.0f,       65520.0f,        -65520.0f,
                          1e6f,          0x1p-24f,       0x1p-25f,        0x3p-26f,
                          -0x1.8p-24f,   0x1p-14f,       0x1.ffcp-15f,    0.1f,
                          1.0f / 3,      -0.0f,          INFINITY,        -INFINITY,
                          std::nanf(""), -std::nanf(""), 1.0f + 0x1p-11f, 1.0f + 0x3p-11f};
  for (float f : randn({1000}, DType::F32, gen).to_vector<float>()) v.push_back(f * 1000.0f);
  for (float f : randn({1000}, DType::F32, gen).to_vector<float>()) v.push_back(f * 1e-5f);
  const int64_t n = int64_t(v.size());
  const Tensor x = from_vector<float>(v, {n});
  const Tensor h = x.to(DType::F16), hg = x.cuda().to(DType::F16);
  expect_same_f16_bits(hg, h, "float32 -> f16");
  expect_same_values(hg.to(DType::F32), h.to(DType::F32), "f16 -> float32");
  expect_same_values(hg.to(DType::F64), h.to(DType::F64), "f16 -> float64");

  std::vector<double> d(v.begin(), v.end());
  d.push_back(1.0 + 0x1p-11 + 0x1p-40);
  d.push_back(65519.99999);
  const Tensor xd = from_vector<double>(d, {int64_t(d.size())});
  expect_same_f16_bits(xd.cuda().to(DType::F16), xd.to(DType::F16), "float64 -> f16");
  EXPECT_EQ(xd.cuda().to(DType::F16).cpu().to_vector<double>()[d.size() - 2], 1.0);

  const Tensor bf = x.to(DType::BF16);
  expect_same_f16_bits(bf.cuda().to(DType::F16), bf.to(DType::F16), "bf16 -> f16");
  expect_same_values(hg.to(DType::BF16), h.to(DType::BF16), "f16 -> bf16");
  // A strided (transposed) source takes the copy kernel's strided path.
  const auto transposed = [](const Tensor& t) {
    return t.slice(0, 0, 1000).reshape({40, 25}).transpose(0, 1);
  };
  expect_same_f16_bits(transposed(x.cuda()).to(DType::F16), transposed(x).to(DType::F16),
                       "strided float32 -> f16");
}

// ---- amp_scale ----

// Scaled gradients (|g| up to ~5·magnitude, finite in f16) of several dtypes and sizes: odd ones,
// one above a 64K chunk.
std::vector<Tensor> amp_grads(Generator& gen, double magnitude) {
  std::vector<Tensor> g;
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F64, DType::F16})
    for (int64_t n : {int64_t(1), int64_t(37), int64_t(70001)})
      g.push_back((randn({n}, DType::F64, gen) * magnitude).to(t));
  return g;
}

std::vector<Tensor> to_gpu(const std::vector<Tensor>& list) {
  std::vector<Tensor> out;
  for (const Tensor& t : list) out.push_back(t.cuda());
  return out;
}

void plant(Tensor& t, int64_t i, double value) {
  std::vector<double> v = t.to_vector<double>();
  v[size_t(i)] = value;
  t = from_vector<double>(v, t.shape()).to(t.dtype());
}

TEST(AmpScaleCuda, UnscaleAndUpdateMatchTheCpu) {
  AFN_REQUIRE_CUDA();
  Generator gen(79);
  // Unscale: a power-of-two scale and one whose reciprocal rounds; clean gradients, an inf late in
  // a multi-chunk f16 gradient, a NaN in a bf16 one; found_inf already set stays set.
  for (float scale : {65536.0f, 3000.0f})
    for (int planted = 0; planted < 4; ++planted) {
      SCOPED_TRACE(::testing::Message() << "scale " << scale << ", case " << planted);
      std::vector<Tensor> cpu = amp_grads(gen, 1000.0);
      if (planted == 1) plant(cpu[5], 70000, INFINITY);
      if (planted == 2) plant(cpu[7], 20, std::nan(""));
      std::vector<Tensor> gpu = to_gpu(cpu);
      const float flag0 = planted == 3 ? 1.0f : 0.0f;
      Tensor inf_c = full({1}, flag0), scale_c = full({1}, scale);
      Tensor inf_g = inf_c.cuda(), scale_g = scale_c.cuda();
      ops::amp_unscale_(cpu, inf_c, scale_c);
      ops::amp_unscale_(gpu, inf_g, scale_g);
      for (size_t i = 0; i < cpu.size(); ++i) {
        SCOPED_TRACE(::testing::Message() << "gradient " << i << " " << cpu[i].dtype());
        ASSERT_EQ(gpu[i].dtype(), cpu[i].dtype());
        expect_same_values(gpu[i], cpu[i], "unscaled");
      }
      EXPECT_EQ(inf_g.cpu().item<float>(), inf_c.item<float>());
      EXPECT_EQ(inf_c.item<float>(), planted == 0 ? 0.0f : 1.0f);
    }

  // Update: growth and backoff over a sequence of found_inf values; exact factors, and inexact
  // ones from a scale near float's largest (growth overflows: the scale stays, the tracker resets).
  struct Config {
    float scale;
    double growth, backoff;
    int64_t interval;
  };
  for (const Config& c : {Config{65536.0f, 2.0, 0.5, 3}, Config{3.0e38f, 1.7, 0.3, 2}}) {
    SCOPED_TRACE(::testing::Message() << "scale " << c.scale << ", growth " << c.growth);
    Tensor scale_c = full({1}, c.scale), tracker_c = zeros({1}, DType::I32);
    Tensor scale_g = scale_c.cuda(), tracker_g = tracker_c.cuda();
    for (float inf : {0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 1.f, 1.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}) {
      const Tensor inf_c = full({1}, inf);
      ops::amp_update_scale_(scale_c, tracker_c, inf_c, c.growth, c.backoff, c.interval);
      ops::amp_update_scale_(scale_g, tracker_g, inf_c.cuda(), c.growth, c.backoff, c.interval);
      const float sc = scale_c.item<float>(), sg = scale_g.cpu().item<float>();
      EXPECT_EQ(std::memcmp(&sc, &sg, sizeof sc), 0) << sg << " vs " << sc;
      EXPECT_EQ(tracker_g.cpu().item<int32_t>(), tracker_c.item<int32_t>());
    }
  }
}

}  // namespace
}  // namespace afinar
