#include "afinar/ops/conv2d.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "testing/compare.h"
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
// of several whole images.
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
  expect_error(conv(zeros({4, 6, 6}), w, b), "conv2d", "input must be 4-D");
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

}  // namespace
}  // namespace afinar
