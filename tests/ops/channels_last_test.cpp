// Channels-last (NHWC) tensors on the CPU: the memory format rules (PyTorch's
// suggest_memory_format, formats kept by factories, copies and every op on a ResNet / VGG path),
// and each op on channels-last operands against the same op on NCHW ones. The CUDA kernels have
// their own comparison in channels_last_cuda_test.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "afinar/ops/activation.h"
#include "afinar/ops/adaptive_pool2d.h"
#include "afinar/ops/batch_norm2d.h"
#include "afinar/ops/conv2d.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/pool2d.h"
#include "afinar/ops/reduce.h"
#include "testing/compare.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

constexpr MemoryFormat kCl = MemoryFormat::ChannelsLast;
constexpr MemoryFormat kNchw = MemoryFormat::Contiguous;

bool is_cl(const Tensor& t) {
  return suggest_memory_format(t) == kCl;
}

// The formats PyTorch 1.13 derives from these strides (c10's is_channels_last_strides_2d).
TEST(ChannelsLast, SuggestMemoryFormatReadsTheStrides) {
  struct Case {
    Shape shape;
    Strides strides;
    MemoryFormat want;
  };
  const std::vector<Case> cases = {
      {{2, 3, 4, 5}, {60, 20, 5, 1}, kNchw},
      {{2, 3, 4, 5}, {60, 1, 15, 3}, kCl},
      {{2, 3, 1, 1}, {3, 1, 1, 1}, kNchw},    // torch.empty(2,3,1,1)
      {{2, 3, 1, 1}, {3, 1, 3, 3}, kCl},      // .to(memory_format=torch.channels_last)
      {{2, 1, 4, 5}, {20, 20, 5, 1}, kNchw},  // C = 1, contiguous strides
      {{2, 1, 4, 5}, {20, 1, 5, 1}, kCl},     // C = 1 after .to(channels_last)
      {{2, 1, 1, 1}, {1, 1, 1, 1}, kNchw},    // N111: PyTorch's fallback to NCHW
      {{1, 3, 4, 5}, {60, 1, 15, 3}, kCl},
      {{2, 3, 4, 5}, {60, 0, 15, 3}, kNchw},  // an expanded C (stride 0)
      {{2, 0, 4, 5}, {0, 1, 0, 0}, kNchw},    // no elements
  };
  for (const Case& c : cases) {
    const Tensor t = empty_strided(c.shape, c.strides);
    EXPECT_EQ(suggest_memory_format(t), c.want)
        << shape_str(c.shape) << " " << shape_str(c.strides);
  }
  EXPECT_EQ(suggest_memory_format(empty({2, 3, 4})), kNchw);  // not 4-D
}

TEST(ChannelsLast, FactoriesAndCopiesKeepTheFormat) {
  Generator gen(1);
  const Tensor x = randn({2, 3, 4, 5}, DType::F32, gen).to(kCl);
  ASSERT_TRUE(x.is_contiguous(kCl));
  EXPECT_EQ(x.strides(), (Strides{60, 1, 15, 3}));
  EXPECT_TRUE(is_cl(empty_like(x)));
  EXPECT_TRUE(is_cl(zeros_like(x)));
  EXPECT_TRUE(is_cl(ones_like(x)));
  EXPECT_TRUE(is_cl(x.clone()));
  EXPECT_TRUE(is_cl(x.to(DType::F64)));
  EXPECT_TRUE(is_cl(x.to(DType::BF16)));
  EXPECT_EQ(x.clone().to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(zeros_like(x).to_vector<float>(), std::vector<float>(120, 0.0f));

  // to(fmt) gives [N,C,1,1] the exact channels-last strides; contiguous(fmt) keeps a tensor
  // whose two layouts coincide as it is (both as PyTorch).
  const Tensor p = randn({2, 3, 1, 1}, DType::F32, gen);
  EXPECT_TRUE(p.contiguous(kCl).is_same(p));
  EXPECT_EQ(p.to(kCl).strides(), (Strides{3, 1, 3, 3}));
  EXPECT_TRUE(x.to(kCl).is_same(x));
  EXPECT_THROW(randn({2, 3}, DType::F32, gen).to(kCl), Error);

  // The counter sees every layout conversion and nothing else.
  const int64_t before = contiguous_copy_count();
  (void)x.contiguous(kCl);
  (void)x.clone();
  EXPECT_EQ(contiguous_copy_count(), before);
  const Tensor back = x.contiguous();
  EXPECT_EQ(contiguous_copy_count(), before + 1);
  EXPECT_EQ(back.to_vector<float>(), x.to_vector<float>());
}

TEST(ChannelsLast, ElementwiseOpsKeepTheFormat) {
  Generator gen(2);
  const Tensor a = randn({2, 5, 3, 4}, DType::F32, gen), b = randn({2, 5, 3, 4}, DType::F32, gen);
  const Tensor ac = a.to(kCl), bc = b.to(kCl);
  const auto check = [](const Tensor& got, const Tensor& want, const char* what) {
    EXPECT_TRUE(is_cl(got)) << what;
    testing::expect_identical(got, want, what);
  };
  check(ops::add(ac, bc, 2.0), ops::add(a, b, 2.0), "add");
  check(ops::add(ac, b, 1.0), ops::add(a, b, 1.0), "add, b NCHW");  // a's format wins
  check(ops::mul(ac, bc), ops::mul(a, b), "mul");
  check(ops::add_scalar(ac, 0.5), ops::add_scalar(a, 0.5), "add_scalar");
  check(ops::mul_scalar(ac, 3.0), ops::mul_scalar(a, 3.0), "mul_scalar");
  check(ops::relu_forward(ac), ops::relu_forward(a), "relu");
  check(ops::relu_backward(bc, ops::relu_forward(ac)), ops::relu_backward(b, ops::relu_forward(a)),
        "relu_backward");
  const Tensor acc = ac.clone();
  ops::add_(acc, b, 1.0);  // b converted to the destination's format
  check(acc, ops::add(a, b, 1.0), "add_");
}

struct ConvCase {
  Shape x, w;
  Conv2dOptions opt;
};

// Odd sizes, groups, stride, padding and dilation per axis, a 1x1, ResNet's 7x7 stem, an image
// larger than one im2col tile, and few output pixels for the weight (K >= 2·N·Ho·Wo: the threads
// split the output channels).
const std::vector<ConvCase> kConvCases = {
    {{3, 5, 7, 9}, {13, 5, 3, 3}, {.padding = 1}},
    {{3, 13, 7, 9}, {8, 13, 1, 1}, {}},
    {{2, 16, 6, 5}, {8, 4, 3, 3}, {.stride = 2, .padding = 1, .groups = 4}},
    {{2, 6, 5, 3}, {9, 6, 3, 2}, {.stride = {1, 2}, .padding = {2, 1}, .dilation = {2, 1}}},
    {{2, 3, 19, 17}, {8, 3, 7, 7}, {.stride = 2, .padding = 3}},
    {{2, 3, 40, 37}, {4, 3, 3, 3}, {.padding = 1}},  // 1480 pixels: tiles inside one image
    {{3, 8, 3, 4}, {25, 8, 3, 3}, {.stride = 2, .padding = 1}},
};

// Naive on channels-last operands runs the NCHW loops through strides: the same sums in the same
// order, so the same bits. Im2colGemm's NHWC path is its own GEMMs: within the sum's rounding.
TEST(ChannelsLast, Conv2dMatchesNchw) {
  Generator gen(3);
  for (DType dt : {DType::F32, DType::F64})
    for (const ConvCase& c : kConvCases) {
      SCOPED_TRACE(::testing::Message() << shape_str(c.x) << " * " << shape_str(c.w) << " " << dt);
      const ops::Conv2dGeometry g = ops::conv2d_geometry(c.x, c.w, c.opt, "test");
      const Tensor x = uniform(c.x, -1, 1, dt, gen), w = uniform(c.w, -1, 1, dt, gen);
      const Tensor b = uniform({g.K}, -1, 1, dt, gen);
      const Tensor gy = uniform({g.N, g.K, g.Ho, g.Wo}, -1, 1, dt, gen);
      const Tensor xc = x.to(kCl), wc = w.to(kCl), gyc = gy.to(kCl);
      Conv2dOptions naive = c.opt, fast = c.opt;
      naive.algo = Conv2dAlgo::Naive;
      fast.algo = Conv2dAlgo::Im2colGemm;

      const Tensor y = ops::conv2d_forward(x, w, b, naive);
      const Tensor gx = ops::conv2d_backward_input(gy, w, c.x, naive);
      const Tensor gw = ops::conv2d_backward_weight(gy, x, c.w, naive);
      for (const Conv2dOptions& o : {naive, fast}) {
        SCOPED_TRACE(conv2d_algo_name(o.algo));
        const bool exact = o.algo == Conv2dAlgo::Naive;
        const auto expect = [&](const Tensor& got, const Tensor& want, int64_t length,
                                const char* what) {
          EXPECT_TRUE(is_cl(got)) << what << " is not channels-last";
          if (exact)
            testing::expect_identical(got, want, what);
          else
            EXPECT_ALLCLOSE(got, want, testing::tolerance_for(dt, length));
        };
        expect(ops::conv2d_forward(xc, wc, b, o), y, g.Cg() * g.R * g.S + 1, "y");
        expect(ops::conv2d_backward_input(gyc, wc, c.x, o), gx, g.Kg() * g.R * g.S, "grad_input");
        expect(ops::conv2d_backward_weight(gyc, xc, c.w, o), gw, g.N * g.Ho * g.Wo, "grad_weight");
      }
      testing::expect_identical(ops::conv2d_backward_bias(gyc), ops::conv2d_backward_bias(gy),
                                "grad_bias");
      // Either operand in channels-last makes the call channels-last (PyTorch's rule).
      EXPECT_TRUE(is_cl(ops::conv2d_forward(x, wc, b, naive)));
      EXPECT_TRUE(is_cl(ops::conv2d_forward(xc, w, b, naive)));
      EXPECT_FALSE(is_cl(ops::conv2d_forward(x, w, b, naive)));
    }
}

TEST(ChannelsLast, BatchNorm2dMatchesNchw) {
  Generator gen(4);
  for (DType dt : {DType::F32, DType::F64})
    for (const Shape& s : std::vector<Shape>{{3, 5, 7, 9}, {2, 40, 5, 3}, {4, 16, 2, 2}}) {
      SCOPED_TRACE(::testing::Message() << shape_str(s) << " " << dt);
      const int64_t c = s[1], n = s[0] * s[2] * s[3];
      // |μ|/σ ≈ 3 as a trained network's activations, sums over n values per channel.
      const Tensor x = ops::add_scalar(uniform(s, -1, 1, dt, gen), 2.0);
      const Tensor r = uniform(s, -1, 1, dt, gen), gy = uniform(s, -1, 1, dt, gen);
      const Tensor w = uniform({c}, 0.5, 1.5, dt, gen), b = uniform({c}, -1, 1, dt, gen);
      const Tensor xc = x.to(kCl), rc = r.to(kCl), gyc = gy.to(kCl);
      const testing::Tolerance tol = testing::tolerance_for(dt, n, 32);
      for (bool training : {true, false})
        for (bool epilogue : {false, true}) {
          SCOPED_TRACE(::testing::Message() << "training " << training << " add_relu " << epilogue);
          Tensor rm = uniform({c}, -1, 1, dt, gen), rv = uniform({c}, 0.5, 2, dt, gen);
          Tensor rm_c = rm.clone(), rv_c = rv.clone();
          const ops::AddReluEpilogue e{epilogue ? r : Tensor(), epilogue};
          const ops::AddReluEpilogue ec{epilogue ? rc : Tensor(), epilogue};
          const ops::BatchNorm2dForward want =
              ops::batch_norm2d_forward(x, w, b, rm, rv, training, 0.1, 1e-5, e);
          const ops::BatchNorm2dForward got =
              ops::batch_norm2d_forward(xc, w, b, rm_c, rv_c, training, 0.1, 1e-5, ec);
          EXPECT_TRUE(is_cl(got.y));
          EXPECT_ALLCLOSE(got.y, want.y, tol);
          EXPECT_ALLCLOSE(got.mean, want.mean, tol);
          EXPECT_ALLCLOSE(got.invstd, want.invstd, tol);
          EXPECT_ALLCLOSE(rm_c, rm, tol);
          EXPECT_ALLCLOSE(rv_c, rv, tol);

          const Tensor relu_out = epilogue ? want.y : Tensor();
          const ops::BatchNorm2dGrads gw = ops::batch_norm2d_backward(
              gy, x, w, want.mean, want.invstd, training, {true, true, true, epilogue}, relu_out);
          const ops::BatchNorm2dGrads gc =
              ops::batch_norm2d_backward(gyc, xc, w, want.mean, want.invstd, training,
                                         {true, true, true, epilogue}, epilogue ? got.y : Tensor());
          EXPECT_TRUE(is_cl(gc.grad_input));
          EXPECT_ALLCLOSE(gc.grad_input, gw.grad_input, tol);
          EXPECT_ALLCLOSE(gc.grad_weight, gw.grad_weight, tol);
          EXPECT_ALLCLOSE(gc.grad_bias, gw.grad_bias, tol);
          if (epilogue) {
            EXPECT_ALLCLOSE(gc.grad_residual, gw.grad_residual, tol);
          }
        }
    }
}

// The pools read the same windows in the same order through the strides: identical values and
// indices, and every result in the input's format.
TEST(ChannelsLast, PoolsMatchNchwExactly) {
  Generator gen(5);
  for (DType dt : {DType::F32, DType::F64})
    for (const Shape& s : std::vector<Shape>{{3, 5, 7, 9}, {2, 16, 6, 5}}) {
      SCOPED_TRACE(::testing::Message() << shape_str(s) << " " << dt);
      const Tensor x = uniform(s, -1, 1, dt, gen), xc = x.to(kCl);
      const MaxPool2dOptions mp{.kernel_size = 3, .stride = 2, .padding = 1};
      const AvgPool2dOptions ap{.kernel_size = 3, .stride = 2, .padding = 1};
      const auto [y, idx] = ops::max_pool2d_forward(x, mp);
      const auto [yc, idxc] = ops::max_pool2d_forward(xc, mp);
      EXPECT_TRUE(is_cl(yc) && is_cl(idxc));
      testing::expect_identical(yc, y, "max_pool2d");
      testing::expect_identical(idxc, idx, "max_pool2d indices");
      const Tensor gy = uniform(y.shape(), -1, 1, dt, gen), gyc = gy.to(kCl);
      const Tensor gmax = ops::max_pool2d_backward(gyc, idxc, s, mp);
      EXPECT_TRUE(is_cl(gmax));
      testing::expect_identical(gmax, ops::max_pool2d_backward(gy, idx, s, mp), "max backward");

      const Tensor avg = ops::avg_pool2d_forward(xc, ap);
      EXPECT_TRUE(is_cl(avg));
      testing::expect_identical(avg, ops::avg_pool2d_forward(x, ap), "avg_pool2d");
      testing::expect_identical(ops::avg_pool2d_backward(gyc, s, ap),
                                ops::avg_pool2d_backward(gy, s, ap), "avg backward");

      for (IntPair out : {IntPair{1, 1}, IntPair{3, 4}}) {
        const Tensor aa = ops::adaptive_avg_pool2d_forward(xc, out);
        EXPECT_TRUE(is_cl(aa));
        testing::expect_identical(aa, ops::adaptive_avg_pool2d_forward(x, out), "adaptive avg");
        const auto [am, ami] = ops::adaptive_max_pool2d_forward(xc, out);
        const auto [am0, ami0] = ops::adaptive_max_pool2d_forward(x, out);
        testing::expect_identical(am, am0, "adaptive max");
        testing::expect_identical(ami, ami0, "adaptive max indices");
        const Tensor g = uniform(aa.shape(), -1, 1, dt, gen), gc = g.to(kCl);
        testing::expect_identical(ops::adaptive_avg_pool2d_backward(gc, s),
                                  ops::adaptive_avg_pool2d_backward(g, s), "adaptive avg backward");
        testing::expect_identical(ops::adaptive_max_pool2d_backward(gc, ami, s),
                                  ops::adaptive_max_pool2d_backward(g, ami0, s),
                                  "adaptive max backward");
      }
    }
}

// The backward of a pool hands back the forward input's format even when the gradient arrives
// in the other one ([N,C,1,1] from a flatten's backward is contiguous), as PyTorch does: a
// channels-last network stays channels-last through its head.
TEST(ChannelsLast, PoolGradientsTakeTheInputsFormat) {
  Generator gen(6);
  const Tensor x = uniform({2, 8, 5, 5}, -1, 1, DType::F32, gen).to(kCl).set_requires_grad(true);
  sum(adaptive_avg_pool2d(x, {1, 1}).flatten(1)).backward();
  EXPECT_TRUE(is_cl(x.grad()));
  const Tensor x2 = uniform({2, 8, 5, 5}, -1, 1, DType::F32, gen).to(kCl).set_requires_grad(true);
  sum(max_pool2d(x2, {.kernel_size = 5}).flatten(1)).backward();
  EXPECT_TRUE(is_cl(x2.grad()));
}

// f64 gradient checks with the ops running channels-last (the inputs converted inside f, so the
// check perturbs NCHW leaves and the conversion's backward is part of the chain).
TEST(ChannelsLast, GradcheckF64) {
  Generator gen(7);
  const Tensor x = testing::leaf_f64({2, 4, 5, 6}, gen), w = testing::leaf_f64({6, 2, 3, 3}, gen);
  const Tensor b = testing::leaf_f64({6}, gen);
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return conv2d(in[0].to(kCl), in[1].to(kCl), in[2],
                      {.stride = 2, .padding = 1, .groups = 2});
      },
      {x, w, b});
  const Tensor gamma = testing::leaf_f64({4}, gen, 0.5, 1.5), beta = testing::leaf_f64({4}, gen);
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return batch_norm2d(in[0].to(kCl), in[1], in[2], {}, {}, /*training=*/true);
      },
      {x, gamma, beta});
  const Tensor d = testing::distinct_leaf_f64({2, 4, 5, 6});
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return max_pool2d(in[0].to(kCl), {.kernel_size = 3, .stride = 2, .padding = 1});
      },
      {d});
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return adaptive_avg_pool2d(avg_pool2d(in[0].to(kCl), {.kernel_size = 2}), {2, 1});
      },
      {x});
}

}  // namespace
}  // namespace afinar
