#include "afinar/ops/conv2d.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>

#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/fixtures.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

using testing::tolerance_for;

// The CPU's algorithms: every test that computes runs each of them.
const Conv2dAlgo kAlgos[] = {Conv2dAlgo::Default, Conv2dAlgo::Naive, Conv2dAlgo::Im2colGemm};

Conv2dOptions with_algo(Conv2dOptions o, Conv2dAlgo algo) {
  o.algo = algo;
  return o;
}

// x = 1..9 as a 3x3 image, in `dtype`.
Tensor image_1_to_9(DType dtype) {
  return from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}).to(dtype);
}

TEST(Conv2d, MatchesClosedForm) {
  for (DType dt : {DType::F32, DType::F64}) {
    for (Conv2dAlgo algo : kAlgos) {
      SCOPED_TRACE(::testing::Message() << dt << " " << algo);
      // w = [[1, 0], [0, -1]]: y[i,j] = x[i,j] - x[i+1,j+1] + b = 1 - 5 + 0.5 everywhere.
      Tensor x = image_1_to_9(dt).set_requires_grad(true);
      Tensor w = from_vector<double>({1, 0, 0, -1}, {1, 1, 2, 2}).to(dt).set_requires_grad(true);
      Tensor b = from_vector<double>({0.5}, {1}).to(dt).set_requires_grad(true);
      Tensor y = conv2d(x, w, b, {.algo = algo});
      EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
      EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{-3.5, -3.5, -3.5, -3.5}));
      // gy = 1: dw[r,s] = sum of the 2x2 window at offset (r,s); db = 4 outputs; dx[i,j] counts
      // +1 where (i,j) is a window's top-left and -1 where it is a bottom-right.
      y.backward(ones_like(y));
      EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{12, 16, 24, 28}));
      EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{4}));
      EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 1, 0, 1, 0, -1, 0, -1, -1}));

      // A 2x2 box filter, padding 1, stride 2 on 3x3: windows start at -1 and 1 in each dim.
      Tensor box = ones({1, 1, 2, 2}, dt);
      EXPECT_EQ(conv2d(image_1_to_9(dt), box, {}, {.stride = 2, .padding = 1, .algo = algo})
                    .to_vector<double>(),
                (std::vector<double>{1, 2 + 3, 4 + 7, 5 + 6 + 8 + 9}));
      // Dilation 2: the 2x2 box reads the four corners.
      EXPECT_EQ(
          conv2d(image_1_to_9(dt), box, {}, {.dilation = 2, .algo = algo}).to_vector<double>(),
          (std::vector<double>{1 + 3 + 7 + 9}));
      // Two groups of one channel: channel k sees only input channel k (the second is x + 10).
      Tensor x2 = from_vector<double>({1, 2, 3, 4, 11, 12, 13, 14}, {1, 2, 2, 2}).to(dt);
      Tensor w2 = from_vector<double>({1, 1, 1, 1, 2, 0, 0, 0}, {2, 1, 2, 2}).to(dt);
      EXPECT_EQ(conv2d(x2, w2, {}, {.groups = 2, .algo = algo}).to_vector<double>(),
                (std::vector<double>{1 + 2 + 3 + 4, 2 * 11}));
    }
  }
}

// A convolution's sizes and arguments, for the randomized tests.
struct Case {
  const char* name;
  Shape x, w;
  bool bias;
  Conv2dOptions opt;
};

// Odd sizes, every argument, and the im2col path's tiling (equal parts of an image, or runs of
// whole images, of up to 1024 output pixels, 512 for the weight gradient; images split between
// threads): "many_columns" cuts each image into tiles, "tile_inside_a_row" has tiles that lie
// inside an image's first or last row, "tile_edges", "image_groups" and "tiny_images" have tiles
// of several whole images; "few_pixels_wide_weight" (K >= 2·N·Ho·Wo, one group) splits the
// forward and the weight gradient between threads by output channels instead of by images.
const Case kCases[] = {
    {"plain_bias", {2, 3, 7, 9}, {4, 3, 3, 3}, true, {.padding = 1}},
    {"stride2_groups2_nonsquare",
     {3, 4, 11, 8},
     {6, 2, 3, 2},
     false,
     {.stride = 2, .padding = {1, 0}, .groups = 2}},
    {"depthwise_dilation2",
     {2, 4, 9, 10},
     {4, 1, 3, 3},
     true,
     {.padding = 2, .dilation = 2, .groups = 4}},
    {"asymmetric_everything",
     {2, 6, 13, 11},
     {4, 3, 5, 3},
     true,
     {.stride = {2, 3}, .padding = {2, 1}, .dilation = {1, 2}, .groups = 2}},
    {"pointwise", {5, 5, 8, 7}, {3, 5, 1, 1}, false, {}},
    {"same_width_shorter", {2, 3, 8, 9}, {4, 3, 3, 3}, true, {.padding = {0, 1}}},
    {"same_width_taller", {2, 3, 5, 6}, {4, 3, 3, 5}, false, {.padding = 2}},
    {"tiny_images", {7, 3, 4, 5}, {2, 3, 3, 3}, true, {.padding = 1}},
    {"many_columns", {3, 32, 37, 41}, {8, 32, 3, 3}, true, {.padding = 1}},
    {"tile_inside_a_row", {2, 2, 3, 1100}, {2, 2, 3, 3}, true, {.padding = 1}},
    {"tile_edges", {5, 128, 10, 25}, {4, 128, 3, 3}, false, {.padding = 1}},
    {"image_groups", {7, 128, 10, 12}, {4, 128, 3, 3}, true, {.padding = 1}},
    {"few_pixels_wide_weight", {3, 8, 3, 4}, {25, 8, 3, 3}, true, {.stride = 2, .padding = 1}},
};

TEST(Conv2d, Im2colMatchesNaive) {
  for (DType dt : {DType::F32, DType::F64}) {
    for (const Case& c : kCases) {
      SCOPED_TRACE(::testing::Message() << c.name << " " << dt);
      Generator gen(7);
      Tensor x = uniform(c.x, -1, 1, dt, gen), w = uniform(c.w, -1, 1, dt, gen);
      Tensor b = c.bias ? uniform({c.w[0]}, -1, 1, dt, gen) : Tensor();
      const auto g = ops::conv2d_geometry(c.x, c.w, c.opt, "test");
      Tensor gy = uniform({g.N, g.K, g.Ho, g.Wo}, -1, 1, dt, gen);
      const auto fast = with_algo(c.opt, Conv2dAlgo::Im2colGemm);
      const auto naive = with_algo(c.opt, Conv2dAlgo::Naive);

      EXPECT_ALLCLOSE(ops::conv2d_forward(x, w, b, fast), ops::conv2d_forward(x, w, b, naive),
                      tolerance_for(dt, g.Cg() * g.R * g.S));
      EXPECT_ALLCLOSE(ops::conv2d_backward_input(gy, w, c.x, fast),
                      ops::conv2d_backward_input(gy, w, c.x, naive),
                      tolerance_for(dt, g.Kg() * g.R * g.S));
      EXPECT_ALLCLOSE(ops::conv2d_backward_weight(gy, x, c.w, fast),
                      ops::conv2d_backward_weight(gy, x, c.w, naive),
                      tolerance_for(dt, g.N * g.Ho * g.Wo));
    }
  }
}

TEST(Conv2d, GradCheck) {
  const Case cases[] = {
      {"stride2_padding", {2, 3, 5, 6}, {4, 3, 3, 3}, true, {.stride = 2, .padding = 1}},
      {"dilation2_groups2",
       {2, 4, 6, 5},
       {4, 2, 2, 3},
       true,
       {.padding = {1, 2}, .dilation = 2, .groups = 2}},
      {"depthwise", {1, 3, 5, 5}, {6, 1, 3, 3}, true, {.padding = 1, .groups = 3}},
      {"asymmetric",
       {2, 2, 7, 5},
       {3, 2, 3, 2},
       true,
       {.stride = {2, 1}, .padding = {0, 1}, .dilation = {1, 2}}},
  };
  for (Conv2dAlgo algo : kAlgos) {
    for (const Case& c : cases) {
      SCOPED_TRACE(::testing::Message() << c.name << " " << algo);
      Generator gen(3);
      Tensor x = testing::leaf_f64(c.x, gen), w = testing::leaf_f64(c.w, gen),
             b = testing::leaf_f64({c.w[0]}, gen);
      const auto opt = with_algo(c.opt, algo);
      EXPECT_GRADCHECK(
          [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], opt); },
          {x, w, b});
    }
  }
}

TEST(Conv2d, MatchesTorchGolden) {
  for (const testing::GoldenCase& c : testing::load_goldens("conv2d")) {
    const auto st = c.attr_ints("stride"), pad = c.attr_ints("padding"),
               dil = c.attr_ints("dilation");
    const Conv2dOptions opt{.stride = {st[0], st[1]},
                            .padding = {pad[0], pad[1]},
                            .dilation = {dil[0], dil[1]},
                            .groups = c.attr_int("groups")};
    for (Conv2dAlgo algo : kAlgos) {
      SCOPED_TRACE(::testing::Message() << c.name << " " << algo);
      Tensor x = c.tensor("x").set_requires_grad(true);
      Tensor w = c.tensor("weight").set_requires_grad(true);
      Tensor b = c.has("bias") ? c.tensor("bias").set_requires_grad(true) : Tensor();
      Tensor y = conv2d(x, w, b, with_algo(opt, algo));
      y.backward(c.tensor("gy"));
      const auto g = ops::conv2d_geometry(x.shape(), w.shape(), opt, "test");
      EXPECT_ALLCLOSE(y, c.tensor("y"), tolerance_for(DType::F64, g.Cg() * g.R * g.S));
      EXPECT_ALLCLOSE(x.grad(), c.tensor("gx"), tolerance_for(DType::F64, g.Kg() * g.R * g.S));
      EXPECT_ALLCLOSE(w.grad(), c.tensor("gw"), tolerance_for(DType::F64, g.N * g.Ho * g.Wo));
      if (b.defined()) {
        EXPECT_ALLCLOSE(b.grad(), c.tensor("gb"), tolerance_for(DType::F64, g.N * g.Ho * g.Wo));
      }
    }
  }
}

// Runs conv2d + backward and returns how often each backward op ran.
struct BackwardCalls {
  int64_t input, weight, bias;
};
BackwardCalls backward_calls(const Tensor& x, const Tensor& w, const Tensor& b) {
  reset_op_call_counts();
  conv2d(x, w, b, {.padding = 1}).backward(ones({2, 4, 5, 5}));
  return {op_call_count("conv2d_backward_input"), op_call_count("conv2d_backward_weight"),
          op_call_count("conv2d_backward_bias")};
}

TEST(Conv2d, FrozenWeightSkipsWeightGradient) {
  Generator gen(5);
  Tensor x = randn({2, 3, 5, 5}, DType::F32, gen).set_requires_grad(true);
  Tensor w = randn({4, 3, 3, 3}, DType::F32, gen);  // frozen: requires_grad false
  Tensor b = randn({4}, DType::F32, gen).set_requires_grad(true);
  const BackwardCalls calls = backward_calls(x, w, b);
  EXPECT_EQ(calls.weight, 0);
  EXPECT_EQ(calls.input, 1);
  EXPECT_EQ(calls.bias, 1);
  EXPECT_FALSE(w.grad().defined());
  EXPECT_TRUE(x.grad().defined());
}

TEST(Conv2d, InputWithoutGradSkipsInputGradient) {
  // The first layer of a network: the image needs no gradient, the parameters do.
  Generator gen(6);
  Tensor x = randn({2, 3, 5, 5}, DType::F32, gen);
  Tensor w = randn({4, 3, 3, 3}, DType::F32, gen).set_requires_grad(true);
  const BackwardCalls calls = backward_calls(x, w, Tensor());  // and no bias: no bias gradient
  EXPECT_EQ(calls.input, 0);
  EXPECT_EQ(calls.weight, 1);
  EXPECT_EQ(calls.bias, 0);
  EXPECT_TRUE(w.grad().defined());
}

TEST(Conv2d, EmptyBatch) {
  // PyTorch allows N = 0: an empty output, and zero weight and bias gradients.
  for (Conv2dAlgo algo : kAlgos) {
    Tensor x = zeros({0, 3, 5, 5});
    Tensor w = ones({4, 3, 3, 3}).set_requires_grad(true);
    Tensor b = ones({4}).set_requires_grad(true);
    Tensor y = conv2d(x, w, b, {.algo = algo});
    EXPECT_EQ(y.shape(), (Shape{0, 4, 3, 3}));
    y.backward(zeros({0, 4, 3, 3}));
    EXPECT_EQ(w.grad().to_vector<float>(), std::vector<float>(4 * 3 * 3 * 3, 0.0f));
    EXPECT_EQ(b.grad().to_vector<float>(), std::vector<float>(4, 0.0f));
  }
}

// `f` throws an afinar::Error whose message contains `op` and `what`.
void expect_error(const std::function<void()>& f, const std::string& op, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << what << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(op + ":"), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

TEST(Conv2d, RejectsBadArguments) {
  const Tensor x = zeros({2, 4, 6, 6}), w = zeros({8, 4, 3, 3}), b = zeros({8});
  auto conv = [&](const Tensor& xx, const Tensor& ww, const Tensor& bb, Conv2dOptions o = {}) {
    return [=] { conv2d(xx, ww, bb, o); };
  };
  expect_error(conv(zeros({4, 6}), w, b), "conv2d",
               "expected a 3-D (unbatched [C,H,W]) or 4-D ([N,C,H,W]) input, got shape [4, 6]");
  expect_error(conv(x, zeros({8, 36}), b), "conv2d", "weight must be 4-D");
  expect_error(conv(x, zeros({8, 3, 3, 3}), b), "conv2d", "weight expects 3");
  expect_error(conv(x, zeros({8, 1, 3, 3}), b, {.groups = 3}), "conv2d", "groups=3 does not");
  expect_error(conv(x, zeros({6, 2, 3, 3}), {}, {.groups = 4}), "conv2d", "6 output channels");
  expect_error(conv(x, w, zeros({4})), "conv2d", "bias must have shape [8]");
  expect_error(conv(x, w, b, {.stride = {1, 0}}), "conv2d", "stride must be positive");
  expect_error(conv(x, w, b, {.dilation = 0}), "conv2d", "dilation must be positive");
  expect_error(conv(x, w, b, {.padding = -1}), "conv2d", "padding must be non-negative");
  expect_error(conv(x, w, b, {.groups = 0}), "conv2d", "groups must be positive");
  expect_error(conv(x, zeros({8, 4, 7, 3}), b), "conv2d", "input is too small for the kernel");
  expect_error(conv(x, zeros({8, 4, 4, 3}), b, {.dilation = {2, 1}}), "conv2d", "too small");
  expect_error(conv(x, zeros({8, 4, 3, 3}, DType::F64), b), "conv2d", "dtype");
  expect_error(conv(x, w, zeros({8}, DType::F64)), "conv2d", "bias has dtype");
  expect_error(conv(zeros({2, 4, 6, 6}, DType::I64), w, b), "conv2d", "floating");
  expect_error(conv(x, Tensor(), b), "conv2d", "weight is undefined");
  expect_error(conv(zeros({2, 0, 6, 6}), zeros({8, 0, 3, 3}), b), "conv2d", "zero-size");

  // The backward ops check the gradient against the convolution's output shape [2,8,4,4].
  expect_error(
      [&] {
        ops::conv2d_backward_input(zeros({2, 8, 5, 4}), w, x.shape(), {});
      },
      "conv2d_backward_input", "grad_output has shape");
  expect_error(
      [&] {
        ops::conv2d_backward_weight(zeros({2, 8, 4, 4}), x, {8, 4, 3}, {});
      },
      "conv2d_backward_weight", "weight must be 4-D");
  expect_error(
      [&] {
        ops::conv2d_backward_weight(zeros({2, 8, 4, 4}, DType::F64), x, w.shape(), {});
      },
      "conv2d_backward_weight", "dtype");
  expect_error([&] { ops::conv2d_backward_bias(zeros({2, 8})); }, "conv2d_backward_bias", "4-D");
}

// ---- CUDA ------------------------------------------------------------------------------------
// Every CUDA algorithm against the CPU reference (Naive) on fresh random inputs, all four
// directions, float32 and float64.

const Conv2dAlgo kCudaAlgos[] = {Conv2dAlgo::Default, Conv2dAlgo::Cudnn, Conv2dAlgo::Im2colGemm,
                                 Conv2dAlgo::Direct};

// Sets the cuDNN switches for a scope and restores them after.
class CudnnSettings {
 public:
  CudnnSettings(bool tf32, bool benchmark)
      : tf32_(tf32_conv_allowed()), benchmark_(cudnn_benchmark()) {
    allow_tf32_conv(tf32);
    set_cudnn_benchmark(benchmark);
  }
  ~CudnnSettings() {
    allow_tf32_conv(tf32_);
    set_cudnn_benchmark(benchmark_);
  }
  CudnnSettings(const CudnnSettings&) = delete;
  CudnnSettings& operator=(const CudnnSettings&) = delete;

 private:
  bool tf32_, benchmark_;
};

// kCases plus shapes for the CUDA kernels' own edges: one image (the bias gradient in one pass),
// more groups than images (Im2colGemm batches its GEMMs over groups, not images), a plane wider
// than a block (the bias kernels' loops), a 1-wide output.
const Case kCudaCases[] = {
    {"single_image", {1, 5, 17, 19}, {6, 5, 3, 3}, true, {.padding = 1}},
    {"groups3_stride3",
     {2, 6, 16, 15},
     {9, 2, 3, 3},
     true,
     {.stride = 3, .padding = {2, 1}, .dilation = {2, 1}, .groups = 3}},
    {"wide_plane", {2, 3, 21, 40}, {5, 3, 1, 3}, true, {.padding = {0, 1}}},
    {"one_column_output", {3, 4, 9, 3}, {2, 4, 3, 3}, true, {}},
};

using TolFn = std::function<testing::Tolerance(DType, int64_t)>;

testing::Tolerance fp_tolerance(DType dt, int64_t length) {
  return tolerance_for(dt, length);
}

// cuDNN in float32 without TF32: besides direct and implicit-GEMM kernels, cuDNN may pick (by
// heuristics or by measurement) Winograd or FFT algorithms, which compute on transformed tiles.
// The transforms' own rounding multiplies the error of the plain sum by a constant: up to 7.7x
// the fp_tolerance bound measured on an H100 (cuDNN 9.14; backward_weight on image_groups and
// the forward of tile_edges in benchmark mode). 32x keeps a 4x margin and still separates full
// float32 from TF32, whose error is ~1e-3·sqrt(L), 10-50x more on these shapes.
testing::Tolerance cudnn_fp32_tolerance(DType dt, int64_t length) {
  return tolerance_for(dt, length, dt == DType::F32 ? 8.0 * 32 : 8.0);
}

// The tolerance of full-precision results of `algo` (TF32 off).
TolFn full_precision_tolerance(Conv2dAlgo algo) {
  return algo == Conv2dAlgo::Default || algo == Conv2dAlgo::Cudnn ? cudnn_fp32_tolerance
                                                                  : fp_tolerance;
}

// TF32 products carry a relative error up to ~2^-10 (10-bit mantissas of both operands, fp32
// sums): with terms of magnitude <= 1 (uniform(-1,1) inputs) a sum of L of them is off by about
// 1e-3·sqrt(L) (random walk), which is the relative and absolute tolerance. Float64 has no TF32:
// its tolerance stays the dtype's.
testing::Tolerance tf32_tolerance(DType dt, int64_t length) {
  if (dt == DType::F64) return tolerance_for(dt, length);
  const double t = 1e-3 * std::sqrt(double(length));
  return {t, t};
}

// The four directions of case `c` on CUDA with `algo` against the CPU reference (Naive).
void expect_cuda_matches_reference(const Case& c, DType dt, Conv2dAlgo algo, const TolFn& tol) {
  SCOPED_TRACE(::testing::Message() << c.name << " " << dt << " " << algo);
  Generator gen(17);
  Tensor x = uniform(c.x, -1, 1, dt, gen), w = uniform(c.w, -1, 1, dt, gen);
  Tensor b = c.bias ? uniform({c.w[0]}, -1, 1, dt, gen) : Tensor();
  const auto g = ops::conv2d_geometry(c.x, c.w, c.opt, "test");
  Tensor gy = uniform({g.N, g.K, g.Ho, g.Wo}, -1, 1, dt, gen);
  const auto ref = with_algo(c.opt, Conv2dAlgo::Naive), dev = with_algo(c.opt, algo);
  Tensor xd = x.cuda(), wd = w.cuda(), bd = b.defined() ? b.cuda() : Tensor(), gyd = gy.cuda();

  EXPECT_ALLCLOSE(ops::conv2d_forward(xd, wd, bd, dev).cpu(), ops::conv2d_forward(x, w, b, ref),
                  tol(dt, g.Cg() * g.R * g.S + 1));
  EXPECT_ALLCLOSE(ops::conv2d_backward_input(gyd, wd, c.x, dev).cpu(),
                  ops::conv2d_backward_input(gy, w, c.x, ref), tol(dt, g.Kg() * g.R * g.S));
  EXPECT_ALLCLOSE(ops::conv2d_backward_weight(gyd, xd, c.w, dev).cpu(),
                  ops::conv2d_backward_weight(gy, x, c.w, ref), tol(dt, g.N * g.Ho * g.Wo));
  // The bias gradient is a plain float sum on every algorithm (no TF32).
  EXPECT_ALLCLOSE(ops::conv2d_backward_bias(gyd).cpu(), ops::conv2d_backward_bias(gy),
                  tolerance_for(dt, g.N * g.Ho * g.Wo));
}

void expect_all_cases_match(Conv2dAlgo algo, DType dt, const TolFn& tol) {
  for (const Case& c : kCases) expect_cuda_matches_reference(c, dt, algo, tol);
  for (const Case& c : kCudaCases) expect_cuda_matches_reference(c, dt, algo, tol);
}

TEST(Conv2d, CudnnSettingsDefaults) {
  // PyTorch's defaults: torch.backends.cudnn.benchmark = False, .allow_tf32 = True.
  EXPECT_FALSE(cudnn_benchmark());
  EXPECT_TRUE(tf32_conv_allowed());
}

TEST(Conv2dCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  const CudnnSettings full_fp32(/*tf32=*/false, /*benchmark=*/false);
  for (Conv2dAlgo algo : kCudaAlgos)
    for (DType dt : {DType::F32, DType::F64})
      expect_all_cases_match(algo, dt, full_precision_tolerance(algo));
}

TEST(Conv2dCuda, Tf32MatchesReference) {
  AFN_REQUIRE_CUDA();
  const CudnnSettings tf32(/*tf32=*/true, /*benchmark=*/false);  // PyTorch's default
  for (Conv2dAlgo algo : {Conv2dAlgo::Cudnn, Conv2dAlgo::Im2colGemm})
    for (DType dt : {DType::F32, DType::F64}) expect_all_cases_match(algo, dt, tf32_tolerance);
}

TEST(Conv2dCuda, BenchmarkModeMatchesReference) {
  AFN_REQUIRE_CUDA();
  // The measured algorithm choice: the first call of each shape times cuDNN's algorithms (and
  // overwrites the output while doing so), the second takes the cached choice.
  for (bool tf32 : {false, true}) {
    const CudnnSettings settings(tf32, /*benchmark=*/true);
    for (int call = 0; call < 2; ++call) {
      SCOPED_TRACE(::testing::Message() << "tf32 " << tf32 << ", call " << call);
      for (DType dt : {DType::F32, DType::F64})
        expect_all_cases_match(Conv2dAlgo::Cudnn, dt, tf32 ? tf32_tolerance : cudnn_fp32_tolerance);
    }
  }
}

TEST(Conv2dCuda, LegacyApiMatchesReference) {
  AFN_REQUIRE_CUDA();
  // The Cudnn algorithm runs on cuDNN's graph API where it can and falls back on the legacy API
  // (for a batch split at 2^31 elements, or where no graph plan exists): the legacy road, forced,
  // by heuristics and by measurement, without and with TF32.
  ASSERT_EQ(setenv("AFINAR_CUDNN_LEGACY", "1", 1), 0);
  for (bool tf32 : {false, true}) {
    for (bool benchmark : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "tf32 " << tf32 << ", benchmark " << benchmark);
      const CudnnSettings settings(tf32, benchmark);
      for (DType dt : {DType::F32, DType::F64})
        expect_all_cases_match(Conv2dAlgo::Cudnn, dt, tf32 ? tf32_tolerance : cudnn_fp32_tolerance);
    }
  }
  unsetenv("AFINAR_CUDNN_LEGACY");
}

TEST(Conv2dCuda, Im2colChunks) {
  AFN_REQUIRE_CUDA();
  // Im2colGemm unrolls a bounded number of images at a time: one per chunk (1 byte budget), and
  // two per chunk over five images (the last chunk partial).
  const CudnnSettings full_fp32(false, false);
  const Case cases[] = {
      {"five_images", {5, 4, 7, 6}, {6, 4, 3, 3}, true, {.padding = 1}},
      {"five_images_groups", {5, 4, 7, 6}, {6, 2, 3, 2}, false, {.stride = 2, .groups = 2}},
  };
  for (const char* budget : {"1", "2"}) {
    for (const Case& c : cases) {
      const auto g = ops::conv2d_geometry(c.x, c.w, c.opt, "test");
      const std::string bytes =
          budget[0] == '1' ? "1" : std::to_string(2 * g.C * g.R * g.S * g.Ho * g.Wo * 8);
      ASSERT_EQ(setenv("AFN_IM2COL_CHUNK_BYTES", bytes.c_str(), 1), 0);
      for (DType dt : {DType::F32, DType::F64})
        expect_cuda_matches_reference(c, dt, Conv2dAlgo::Im2colGemm, fp_tolerance);
    }
  }
  unsetenv("AFN_IM2COL_CHUNK_BYTES");
}

TEST(Conv2dCuda, AutogradMatchesCpu) {
  AFN_REQUIRE_CUDA();
  const CudnnSettings full_fp32(false, false);
  const Case& c = kCases[3];  // asymmetric_everything
  Generator gen(19);
  Tensor x = uniform(c.x, -1, 1, DType::F32, gen), w = uniform(c.w, -1, 1, DType::F32, gen),
         b = uniform({c.w[0]}, -1, 1, DType::F32, gen);
  const auto g = ops::conv2d_geometry(c.x, c.w, c.opt, "test");
  Tensor gy = uniform({g.N, g.K, g.Ho, g.Wo}, -1, 1, DType::F32, gen);
  Tensor xc = x.detach().set_requires_grad(true), wc = w.detach().set_requires_grad(true),
         bc = b.detach().set_requires_grad(true);
  Tensor xd = x.cuda().set_requires_grad(true), wd = w.cuda().set_requires_grad(true),
         bd = b.cuda().set_requires_grad(true);
  Tensor yc = conv2d(xc, wc, bc, c.opt), yd = conv2d(xd, wd, bd, c.opt);
  EXPECT_EQ(yd.device(), testing::kCuda0);
  yc.backward(gy);
  yd.backward(gy.cuda());
  EXPECT_ALLCLOSE(yd.cpu(), yc, cudnn_fp32_tolerance(DType::F32, g.Cg() * g.R * g.S + 1));
  EXPECT_ALLCLOSE(xd.grad().cpu(), xc.grad(), cudnn_fp32_tolerance(DType::F32, g.Kg() * g.R * g.S));
  EXPECT_ALLCLOSE(wd.grad().cpu(), wc.grad(), cudnn_fp32_tolerance(DType::F32, g.N * g.Ho * g.Wo));
  EXPECT_ALLCLOSE(bd.grad().cpu(), bc.grad(), tolerance_for(DType::F32, g.N * g.Ho * g.Wo));
  EXPECT_EQ(wd.grad().device(), testing::kCuda0);
}

TEST(Conv2dCuda, FrozenWeightSkipsWeightGradient) {
  AFN_REQUIRE_CUDA();
  Generator gen(5);
  Tensor x = randn({2, 3, 5, 5}, DType::F32, testing::kCuda0, gen).set_requires_grad(true);
  Tensor w = randn({4, 3, 3, 3}, DType::F32, testing::kCuda0, gen);  // frozen
  Tensor b = randn({4}, DType::F32, testing::kCuda0, gen).set_requires_grad(true);
  for (Conv2dAlgo algo : kCudaAlgos) {
    SCOPED_TRACE(::testing::Message() << algo);
    x.set_grad(Tensor());
    b.set_grad(Tensor());
    reset_op_call_counts();
    conv2d(x, w, b, {.padding = 1, .algo = algo})
        .backward(ones({2, 4, 5, 5}, DType::F32, testing::kCuda0));
    EXPECT_EQ(op_call_count("conv2d_backward_weight"), 0);
    EXPECT_EQ(op_call_count("conv2d_backward_input"), 1);
    EXPECT_EQ(op_call_count("conv2d_backward_bias"), 1);
    EXPECT_FALSE(w.grad().defined());
    ASSERT_TRUE(x.grad().defined());
    EXPECT_EQ(x.grad().device(), testing::kCuda0);
    // gy = 1: db[k] = N·Ho·Wo = 50 exactly.
    EXPECT_EQ(b.grad().cpu().to_vector<float>(), std::vector<float>(4, 50.0f));
  }
}

TEST(Conv2dCuda, EmptyBatch) {
  AFN_REQUIRE_CUDA();
  for (Conv2dAlgo algo : kCudaAlgos) {
    SCOPED_TRACE(::testing::Message() << algo);
    Tensor x = zeros({0, 3, 5, 5}, DType::F32, testing::kCuda0);
    Tensor w = ones({4, 3, 3, 3}, DType::F32, testing::kCuda0).set_requires_grad(true);
    Tensor b = ones({4}, DType::F32, testing::kCuda0).set_requires_grad(true);
    Tensor y = conv2d(x, w, b, {.algo = algo});
    EXPECT_EQ(y.shape(), (Shape{0, 4, 3, 3}));
    y.backward(zeros({0, 4, 3, 3}, DType::F32, testing::kCuda0));
    EXPECT_EQ(w.grad().cpu().to_vector<float>(), std::vector<float>(4 * 3 * 3 * 3, 0.0f));
    EXPECT_EQ(b.grad().cpu().to_vector<float>(), std::vector<float>(4, 0.0f));
  }
}

TEST(Conv2dCuda, RejectsBadArguments) {
  AFN_REQUIRE_CUDA();
  const Tensor x = zeros({2, 4, 6, 6}, DType::F32, testing::kCuda0);
  const Tensor w = zeros({8, 4, 3, 3}, DType::F32, testing::kCuda0);
  const Tensor b = zeros({8}, DType::F32, testing::kCuda0);
  // Mixed devices: never a silent copy.
  expect_error([&] { conv2d(x, w.cpu(), b); }, "conv2d", "weight is on cpu");
  expect_error([&] { conv2d(x, w, b.cpu()); }, "conv2d", "bias is on cpu");
  expect_error([&] { conv2d(x.cpu(), w, Tensor()); }, "conv2d", "weight is on cuda:0");
  expect_error(
      [&] {
        ops::conv2d_backward_weight(zeros({2, 8, 4, 4}), x, w.shape(), {});
      },
      "conv2d_backward_weight", "input is on cuda:0");
  // Each backend's variants only: Naive is the CPU's, Cudnn and Direct are CUDA's.
  expect_error([&] { conv2d(x, w, b, {.algo = Conv2dAlgo::Naive}); }, "conv2d",
               "no CUDA implementation");
  expect_error([&] { conv2d(x.cpu(), w.cpu(), b.cpu(), {.algo = Conv2dAlgo::Cudnn}); }, "conv2d",
               "no CPU implementation");
  expect_error([&] { conv2d(x.cpu(), w.cpu(), b.cpu(), {.algo = Conv2dAlgo::Direct}); }, "conv2d",
               "no CPU implementation");
  // Shape errors are the front end's, the same on every device.
  expect_error(
      [&] {
        conv2d(x, zeros({8, 3, 3, 3}, DType::F32, testing::kCuda0), b);
      },
      "conv2d", "weight expects 3");
}

}  // namespace
}  // namespace afinar
