#include "afinar/ops/batch_norm2d.h"

#include "afinar/autograd/node.h"
#include "afinar/ops/activation.h"
#include "afinar/ops/elementwise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/fixtures.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

// Index of x[i, c, s] (s = h·W + w) in a contiguous [N, C, H·W] buffer.
size_t at(const Shape& shape, int64_t i, int64_t c, int64_t s) {
  return size_t((i * shape[1] + c) * shape[2] * shape[3] + s);
}

// The forward and backward written out per element, straight from the header's formulas.
struct NaiveBatchNorm {
  std::vector<double> mean, var;  // per channel: the statistics used (biased var in training)
  std::vector<double> y, gx, gw, gb;
};

NaiveBatchNorm naive_batch_norm(const Tensor& xt, const Tensor& gt, const std::vector<double>& w,
                                const std::vector<double>& b, bool training,
                                const std::vector<double>& running_mean,
                                const std::vector<double>& running_var, double eps) {
  const Shape& s = xt.shape();
  const int64_t n_img = s[0], channels = s[1], hw = s[2] * s[3];
  const double n = double(n_img * hw);
  const auto x = xt.to_vector<double>(), g = gt.to_vector<double>();
  NaiveBatchNorm r;
  r.y.resize(x.size());
  r.gx.resize(x.size());
  for (int64_t c = 0; c < channels; ++c) {
    double mean = running_mean.empty() ? 0 : running_mean[size_t(c)];
    double var = running_var.empty() ? 0 : running_var[size_t(c)];
    if (training) {
      mean = var = 0;
      for (int64_t i = 0; i < n_img; ++i)
        for (int64_t p = 0; p < hw; ++p) mean += x[at(s, i, c, p)] / n;
      for (int64_t i = 0; i < n_img; ++i)
        for (int64_t p = 0; p < hw; ++p) var += std::pow(x[at(s, i, c, p)] - mean, 2) / n;
    }
    r.mean.push_back(mean);
    r.var.push_back(var);
    const double sd = std::sqrt(var + eps), gamma = w.empty() ? 1 : w[size_t(c)];
    const double beta = b.empty() ? 0 : b[size_t(c)];
    double sum_g = 0, sum_gxhat = 0;
    for (int64_t i = 0; i < n_img; ++i)
      for (int64_t p = 0; p < hw; ++p) {
        const size_t k = at(s, i, c, p);
        const double xhat = (x[k] - mean) / sd;
        r.y[k] = gamma * xhat + beta;
        sum_g += g[k];
        sum_gxhat += g[k] * xhat;
      }
    r.gw.push_back(sum_gxhat);
    r.gb.push_back(sum_g);
    for (int64_t i = 0; i < n_img; ++i)
      for (int64_t p = 0; p < hw; ++p) {
        const size_t k = at(s, i, c, p);
        const double xhat = (x[k] - mean) / sd;
        r.gx[k] =
            training ? gamma / sd * (g[k] - sum_g / n - xhat * sum_gxhat / n) : gamma / sd * g[k];
      }
  }
  return r;
}

Tensor f64(const std::vector<double>& v, const Shape& shape) {
  return from_vector<double>(v, shape);
}

TEST(BatchNorm2d, MatchesClosedForm) {
  // By hand: one channel holding 1, 2, 3, 4: μ = 2.5, σ² = 1.25, unbiased 5/3.
  {
    Tensor x = f64({1, 2, 3, 4}, {1, 1, 2, 2});
    Tensor rm = zeros({1}, DType::F64), rv = ones({1}, DType::F64);
    Tensor y = batch_norm2d(x, {}, {}, rm, rv, /*training=*/true, 0.1, 0.0);
    const double sd = std::sqrt(1.25);
    EXPECT_ALLCLOSE(y, f64({-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd}, {1, 1, 2, 2}),
                    testing::tolerance_for(DType::F64, 4));
    EXPECT_NEAR(rm.item<double>(), 0.25, 1e-15);
    EXPECT_NEAR(rv.item<double>(), 0.9 + 0.1 * 5.0 / 3.0, 1e-15);
  }

  // Random inputs against the per-element formulas, train and eval, forward and backward.
  Generator gen(21);
  const Shape shape{3, 2, 2, 3};
  const int64_t n = 3 * 2 * 3;
  const auto tol = testing::tolerance_for(DType::F64, n);
  Tensor x = uniform(shape, -2, 3, DType::F64, gen), g = randn(shape, DType::F64, gen);
  Tensor w = uniform({2}, 0.5, 1.5, DType::F64, gen), b = randn({2}, DType::F64, gen);
  const std::vector<double> rm0 = {0.3, -0.2}, rv0 = {0.8, 1.7};
  const double eps = 1e-3, momentum = 0.2;
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "eval");
    Tensor rm = f64(rm0, {2}), rv = f64(rv0, {2});
    auto fwd = ops::batch_norm2d_forward(x, w, b, rm, rv, training, momentum, eps);
    auto bwd =
        ops::batch_norm2d_backward(g, x, w, fwd.mean, fwd.invstd, training, {true, true, true});
    const auto ref = naive_batch_norm(x, g, w.to_vector<double>(), b.to_vector<double>(), training,
                                      rm0, rv0, eps);
    EXPECT_ALLCLOSE(fwd.y, f64(ref.y, shape), tol);
    EXPECT_ALLCLOSE(fwd.mean, f64(ref.mean, {2}), tol);
    EXPECT_ALLCLOSE(bwd.grad_input, f64(ref.gx, shape), tol);
    EXPECT_ALLCLOSE(bwd.grad_weight, f64(ref.gw, {2}), tol);
    EXPECT_ALLCLOSE(bwd.grad_bias, f64(ref.gb, {2}), tol);
    std::vector<double> rm1 = rm0, rv1 = rv0;
    if (training) {
      for (size_t c = 0; c < 2; ++c) {
        rm1[c] = (1 - momentum) * rm0[c] + momentum * ref.mean[c];
        rv1[c] = (1 - momentum) * rv0[c] + momentum * ref.var[c] * double(n) / double(n - 1);
      }
    }
    EXPECT_ALLCLOSE(rm, f64(rm1, {2}), tol);
    EXPECT_ALLCLOSE(rv, f64(rv1, {2}), tol);
  }

  // float32 forward against the same formulas.
  Tensor y32 = batch_norm2d(x.to(DType::F32), w.to(DType::F32), b.to(DType::F32), {}, {}, true);
  const auto ref =
      naive_batch_norm(x, g, w.to_vector<double>(), b.to_vector<double>(), true, {}, {}, 1e-5);
  EXPECT_ALLCLOSE(y32, f64(ref.y, shape).to(DType::F32), testing::tolerance_for(DType::F32, n));

  // Strided running statistics (every other element of a buffer) are updated in place too.
  Tensor buf = zeros({4}, DType::F64);
  Tensor rm_strided = buf.slice(0, 0, 4, 2), rv_strided = ones({2}, DType::F64);
  batch_norm2d(x, {}, {}, rm_strided, rv_strided, true, momentum, eps);
  EXPECT_ALLCLOSE(buf, f64({momentum * ref.mean[0], 0, momentum * ref.mean[1], 0}, {4}), tol);
}

TEST(BatchNorm2d, BackwardComputesOnlyRequestedGradients) {
  Generator gen(22);
  Tensor x = randn({2, 3, 2, 2}, DType::F64, gen), g = randn({2, 3, 2, 2}, DType::F64, gen);
  Tensor w = randn({3}, DType::F64, gen);
  auto fwd = ops::batch_norm2d_forward(x, w, {}, {}, {}, true, 0.1, 1e-5);
  auto only_w =
      ops::batch_norm2d_backward(g, x, w, fwd.mean, fwd.invstd, true, {false, true, false});
  EXPECT_FALSE(only_w.grad_input.defined());
  EXPECT_TRUE(only_w.grad_weight.defined());
  EXPECT_FALSE(only_w.grad_bias.defined());

  // A frozen affine layer (γ, β without requires_grad) gets no parameter gradients.
  Tensor xl = x.detach().set_requires_grad(true);
  batch_norm2d(xl, w, {}, {}, {}, true).backward(g);
  EXPECT_TRUE(xl.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

TEST(BatchNorm2d, GradCheck) {
  Generator gen(23);
  const Shape shape{3, 2, 2, 3};
  Tensor x = testing::leaf_f64(shape, gen), w = testing::leaf_f64({2}, gen, 0.5, 1.5),
         b = testing::leaf_f64({2}, gen);
  Tensor rm = uniform({2}, -0.5, 0.5, DType::F64, gen),
         rv = uniform({2}, 0.5, 1.5, DType::F64, gen);
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "eval");
    EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return batch_norm2d(in[0], in[1], in[2], rm, rv, training, 0.1, 1e-3);
        },
        {x, w, b});
    EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return batch_norm2d(in[0], {}, {}, rm, rv, training, 0.1, 1e-3);
        },
        {x});
  }
}

TEST(BatchNorm2d, MatchesTorchGolden) {
  for (const auto& c : testing::load_goldens("batch_norm2d")) {
    SCOPED_TRACE(c.name);
    const bool training = c.attr_int("training") != 0, affine = c.attr_int("affine") != 0,
               track = c.attr_int("track") != 0;
    const double momentum = c.attr_double("momentum"), eps = c.attr_double("eps");
    Tensor w, b, rm, rv;
    if (affine) {
      w = c.tensor("weight").set_requires_grad(true);
      b = c.tensor("bias").set_requires_grad(true);
    }
    if (track) {
      rm = c.tensor("running_mean_init");
      rv = c.tensor("running_var_init");
    }
    for (int64_t k = 0; k < c.attr_int("steps"); ++k) {
      SCOPED_TRACE(::testing::Message() << "step " << k);
      // Dataset `name` of step k: "<name>_<k>".
      auto at_step = [&](const char* name) {
        std::string key = name;
        key += "_";
        key += std::to_string(k);
        return c.tensor(key);
      };
      Tensor x = at_step("x").set_requires_grad(true);
      const auto tol = testing::tolerance_for(DType::F64, x.numel() / x.size(1));
      // momentum = -1 encodes PyTorch's momentum=None: the module's factor 1/num_batches_tracked.
      const double factor = momentum < 0 ? 1.0 / double(k + 1) : momentum;
      if (affine) {
        w.set_grad(Tensor());
        b.set_grad(Tensor());
      }
      Tensor y = batch_norm2d(x, w, b, rm, rv, training, factor, eps);
      y.backward(at_step("g"));
      EXPECT_ALLCLOSE(y, at_step("y"), tol);
      EXPECT_ALLCLOSE(x.grad(), at_step("gx"), tol);
      if (affine) {
        EXPECT_ALLCLOSE(w.grad(), at_step("gw"), tol);
        EXPECT_ALLCLOSE(b.grad(), at_step("gb"), tol);
      }
      if (track) {
        EXPECT_ALLCLOSE(rm, at_step("running_mean"), tol);
        EXPECT_ALLCLOSE(rv, at_step("running_var"), tol);
      }
    }
  }
}

// relu(bn(x) + r) by the unfused differentiable ops: what the fused op must equal.
Tensor unfused_add_relu(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm,
                        const Tensor& rv, const Tensor& r, bool training) {
  Tensor y = batch_norm2d(x, w, b, rm, rv, training, 0.1, 1e-5);
  return relu(r.defined() ? y + r : y);
}

// The fused op runs the unfused ops' expressions in the same order: every output, gradient and
// running statistic is bit for bit the same, with and without a residual, training and eval; and
// with bf16 activations and float32 parameters (autocast's mixed batch norm), where the unfused
// ops round after bn and after the add.
TEST(BatchNorm2d, AddReluIsTheUnfusedOpsBitForBit) {
  Generator gen(24);
  for (DType t : {DType::F32, DType::F64, DType::BF16})
    for (bool training : {true, false})
      for (bool with_residual : {true, false}) {
        SCOPED_TRACE(::testing::Message() << t << (training ? " training" : " eval")
                                          << (with_residual ? " residual" : ""));
        const Shape shape{3, 4, 5, 7};
        const DType pt = t == DType::BF16 ? DType::F32 : t;  // the parameters' dtype
        Tensor x = randn(shape, pt, gen).to(t), g = randn(shape, pt, gen).to(t);
        Tensor r = with_residual ? randn(shape, pt, gen).to(t) : Tensor();
        Tensor w = uniform({4}, 0.5, 1.5, pt, gen), b = randn({4}, pt, gen);
        Tensor rm = uniform({4}, -0.5, 0.5, pt, gen), rv = uniform({4}, 0.5, 1.5, pt, gen);
        struct Run {
          Tensor y, gx, gw, gb, gr, rm, rv;
        };
        auto run = [&](bool fused) {
          Run o;
          o.rm = rm.clone();
          o.rv = rv.clone();
          Tensor xl = x.clone().set_requires_grad(true), wl = w.clone().set_requires_grad(true),
                 bl = b.clone().set_requires_grad(true);
          Tensor rl = with_residual ? r.clone().set_requires_grad(true) : Tensor();
          o.y = fused ? batch_norm2d_add_relu(xl, wl, bl, o.rm, o.rv, rl, training)
                      : unfused_add_relu(xl, wl, bl, o.rm, o.rv, rl, training);
          o.y.backward(g);
          o.gx = xl.grad();
          o.gw = wl.grad();
          o.gb = bl.grad();
          if (with_residual) o.gr = rl.grad();
          return o;
        };
        const Run fused = run(true), unfused = run(false);
        testing::expect_identical(fused.y, unfused.y, "y");
        testing::expect_identical(fused.gx, unfused.gx, "grad x");
        testing::expect_identical(fused.gw, unfused.gw, "grad weight");
        testing::expect_identical(fused.gb, unfused.gb, "grad bias");
        if (with_residual) testing::expect_identical(fused.gr, unfused.gr, "grad residual");
        testing::expect_identical(fused.rm, unfused.rm, "running_mean");
        testing::expect_identical(fused.rv, unfused.rv, "running_var");
        EXPECT_STREQ(fused.y.grad_fn()->name(), "BatchNorm2dAddReluBackward");
      }
}

TEST(BatchNorm2d, AddReluGradCheck) {
  Generator gen(25);
  const Shape shape{3, 2, 2, 3};
  Tensor x = testing::leaf_f64(shape, gen), w = testing::leaf_f64({2}, gen, 0.5, 1.5),
         b = testing::leaf_f64({2}, gen), r = testing::leaf_f64(shape, gen);
  Tensor rm = uniform({2}, -0.5, 0.5, DType::F64, gen),
         rv = uniform({2}, 0.5, 1.5, DType::F64, gen);
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "eval");
    // Central differences are only a derivative away from relu's kink: every pre-relu value
    // must stay clear of 0 by far more than a step moves it (in training a step of one x moves
    // the whole channel through μ and σ).
    const Tensor z =
        batch_norm2d(x.detach(), w.detach(), b.detach(), rm, rv, training, 0.0, 1e-3) + r.detach();
    double margin = INFINITY;
    for (double v : z.to_vector<double>()) margin = std::min(margin, std::abs(v));
    ASSERT_GT(margin, 1e3 * testing::GradcheckOptions{}.step) << "a value sits on the kink";
    EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return batch_norm2d_add_relu(in[0], in[1], in[2], rm, rv, in[3], training, 0.0, 1e-3);
        },
        {x, w, b, r});
    EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return batch_norm2d_add_relu(in[0], {}, {}, rm, rv, {}, training, 0.0, 1e-3);
        },
        {x});
  }
}

// bf16 activations with float32 parameters and statistics (what autocast runs): the float32 op on
// the bf16 values, y rounded once; mean / invstd and the parameters' gradients stay float32.
TEST(BatchNorm2d, Bf16InputWithFloat32Parameters) {
  Generator gen(26);
  const Shape shape{4, 3, 5, 6};
  const Tensor x = randn(shape, DType::F32, gen).to(DType::BF16);
  const Tensor g = randn(shape, DType::F32, gen).to(DType::BF16);
  const Tensor w = uniform({3}, 0.5, 1.5, DType::F32, gen), b = randn({3}, DType::F32, gen);
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "eval");
    Tensor rm = uniform({3}, -0.5, 0.5, DType::F32, gen),
           rv = uniform({3}, 0.5, 1.5, DType::F32, gen);
    Tensor rm32 = rm.clone(), rv32 = rv.clone();
    const auto got = ops::batch_norm2d_forward(x, w, b, rm, rv, training, 0.1, 1e-5);
    const auto want =
        ops::batch_norm2d_forward(x.to(DType::F32), w, b, rm32, rv32, training, 0.1, 1e-5);
    testing::expect_identical(got.y, want.y.to(DType::BF16), "y");
    testing::expect_identical(got.mean, want.mean, "mean");
    testing::expect_identical(got.invstd, want.invstd, "invstd");
    testing::expect_identical(rm, rm32, "running_mean");
    testing::expect_identical(rv, rv32, "running_var");
    const auto gg = ops::batch_norm2d_backward(g, x, w, got.mean, got.invstd, training,
                                               {true, true, true, false});
    const auto gw = ops::batch_norm2d_backward(g.to(DType::F32), x.to(DType::F32), w, want.mean,
                                               want.invstd, training, {true, true, true, false});
    testing::expect_identical(gg.grad_input, gw.grad_input.to(DType::BF16), "grad_input");
    testing::expect_identical(gg.grad_weight, gw.grad_weight, "grad_weight");
    testing::expect_identical(gg.grad_bias, gw.grad_bias, "grad_bias");
  }
  // Parameters of another dtype than float32 or the input's are refused.
  EXPECT_THROW(batch_norm2d(x, w.to(DType::F64), {}, {}, {}, true), Error);
}

void expect_error_containing(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(BatchNorm2d, RejectsBadArguments) {
  Tensor x = zeros({2, 3, 2, 2}), c3 = ones({3}), c4 = ones({4});
  // Channel mismatches, naming the argument.
  expect_error_containing([&] { batch_norm2d(x, c4, c3, c3, c3, true); },
                          "batch_norm2d: weight has 4 elements but input has 3 channels");
  expect_error_containing([&] { batch_norm2d(x, c3, c4, c3, c3, true); }, "bias has 4");
  expect_error_containing([&] { batch_norm2d(x, c3, c3, c4, c3, true); }, "running_mean has 4");
  expect_error_containing([&] { batch_norm2d(x, c3, c3, c3, c4, false); }, "running_var has 4");
  // Eval mode needs both running statistics.
  expect_error_containing([&] { batch_norm2d(x, c3, c3, {}, {}, false); },
                          "running_mean and running_var must be defined in evaluation mode");
  EXPECT_THROW(batch_norm2d(x, c3, c3, c3, {}, false), Error);
  // One value per channel cannot be normalised with batch statistics (PyTorch's message)...
  Tensor one = zeros({1, 3, 1, 1});
  expect_error_containing([&] { batch_norm2d(one, c3, c3, c3, c3, true); },
                          "Expected more than 1 value per channel when training");
  // ... but is fine in eval mode.
  EXPECT_NO_THROW(batch_norm2d(one, c3, c3, c3, c3, false));
  // Rank, dtype and type mismatches.
  EXPECT_THROW(batch_norm2d(zeros({2, 3, 4}), {}, {}, {}, {}, true), Error);
  EXPECT_THROW(batch_norm2d(x, ones({3}, DType::F64), {}, {}, {}, true), Error);
  EXPECT_THROW(batch_norm2d(x, ones({1, 3}), {}, {}, {}, true), Error);
  EXPECT_THROW(batch_norm2d(zeros({2, 3, 2, 2}, DType::I64), {}, {}, {}, {}, true), Error);
  EXPECT_THROW(
      ops::batch_norm2d_backward(zeros({2, 3, 2, 1}), x, {}, c3, c3, true, {true, true, true}),
      Error);
  // The fused epilogue's residual must match the input.
  expect_error_containing(
      [&] {
        batch_norm2d_add_relu(x, c3, c3, c3, c3, zeros({2, 3, 2}), true);
      },
      "batch_norm2d_add_relu");
  EXPECT_THROW(batch_norm2d_add_relu(x, c3, c3, c3, c3, zeros({2, 3, 2, 2}, DType::F64), true),
               Error);
}

}  // namespace
}  // namespace afinar

// ---- CUDA: against the CPU reference on fresh random inputs ----

namespace afinar {
namespace {

// Either tensor may be undefined; then both must be.
void expect_close_or_both_undefined(const Tensor& gpu, const Tensor& cpu, testing::Tolerance tol,
                                    const char* what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(gpu.defined(), cpu.defined());
  if (!cpu.defined()) return;
  EXPECT_EQ(gpu.device(), testing::kCuda0);
  EXPECT_ALLCLOSE(gpu.cpu(), cpu, tol);
}

Tensor cuda_or_none(const Tensor& t) {
  return t.defined() ? t.cuda() : Tensor();
}

// A contiguous copy of x on the GPU starting 1 element past a 16-byte boundary: the kernels'
// one-element (unvectorised) path even where H·W would allow 16-byte packs.
Tensor misaligned_cuda(const Tensor& x) {
  Tensor buf = empty({x.numel() + 1}, x.dtype(), testing::kCuda0);
  Tensor view = buf.slice(0, 1, x.numel() + 1).reshape(x.shape());
  view.copy_(x.cuda());
  return view;
}

// Forward (training with running statistics over 3 steps, then eval) and backward with every
// mask, each against the CPU. Tolerances: sums over n = N·H·W values per channel.
void expect_batch_norm_matches(const Shape& shape, DType t, bool affine, bool misaligned,
                               Generator& gen) {
  SCOPED_TRACE(::testing::Message() << shape_str(shape) << " " << t << (affine ? " affine" : "")
                                    << (misaligned ? " misaligned" : ""));
  const int64_t C = shape[1], n = shape[0] * shape[2] * shape[3];
  // x is uniform on [1, 3): |μ|/σ ≈ 3.5, and y = x·scale + shift in T loses about that factor
  // on top of the sums' rounding (in the CPU reference too), hence safety 32 instead of 8.
  const auto tol = testing::tolerance_for(t, n, 32);
  const double momentum = 0.1, eps = 1e-5;
  Tensor w, b;
  if (affine) {
    w = uniform({C}, 0.5, 1.5, t, gen);
    b = randn({C}, t, gen);
  }
  Tensor rm = uniform({C}, -0.5, 0.5, t, gen), rv = uniform({C}, 0.5, 2.0, t, gen);
  Tensor rm_g = rm.cuda(), rv_g = rv.cuda();
  const std::vector<std::array<bool, 4>> masks = {{true, true, true},   {true, false, false},
                                                  {false, true, false}, {false, false, true},
                                                  {false, true, true},  {true, false, true}};
  for (int step = 0; step < 4; ++step) {
    const bool training = step < 3;  // 3 training steps, then eval with the running statistics
    SCOPED_TRACE(::testing::Message() << "step " << step << (training ? " training" : " eval"));
    // A mean away from 0 relative to the spread, as after a ReLU: the statistics must not cancel.
    Tensor x = uniform(shape, 1.0, 3.0, t, gen);
    Tensor xg = misaligned ? misaligned_cuda(x) : x.cuda();
    auto ref = ops::batch_norm2d_forward(x, w, b, rm, rv, training, momentum, eps);
    auto got = ops::batch_norm2d_forward(xg, cuda_or_none(w), cuda_or_none(b), rm_g, rv_g, training,
                                         momentum, eps);
    expect_close_or_both_undefined(got.y, ref.y, tol, "y");
    expect_close_or_both_undefined(got.mean, ref.mean, tol, "mean");
    expect_close_or_both_undefined(got.invstd, ref.invstd, tol, "invstd");
    expect_close_or_both_undefined(rm_g, rm, tol, "running_mean");
    expect_close_or_both_undefined(rv_g, rv, tol, "running_var");

    Tensor g = randn(shape, t, gen);
    Tensor gg = misaligned ? misaligned_cuda(g) : g.cuda();
    for (const auto& mask : masks) {
      SCOPED_TRACE(::testing::Message() << "mask " << mask[0] << mask[1] << mask[2]);
      auto rb = ops::batch_norm2d_backward(g, x, w, ref.mean, ref.invstd, training, mask);
      auto gb =
          ops::batch_norm2d_backward(gg, xg, cuda_or_none(w), got.mean, got.invstd, training, mask);
      expect_close_or_both_undefined(gb.grad_input, rb.grad_input, tol, "grad_input");
      expect_close_or_both_undefined(gb.grad_weight, rb.grad_weight, tol, "grad_weight");
      expect_close_or_both_undefined(gb.grad_bias, rb.grad_bias, tol, "grad_bias");
    }
  }
}

// Shapes: odd H·W (one element per access), H·W % 4 == 0 (16-byte packs), H·W = 1, one image
// with large planes (rows split across blocks), many blocks per channel, an empty batch.
const std::vector<Shape> kBnShapes = {{4, 3, 5, 7},     {8, 16, 8, 8},   {6, 5, 1, 1},
                                      {1, 2, 256, 256}, {16, 8, 56, 56}, {3, 7, 2, 2}};

TEST(BatchNorm2dCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(51);
  for (DType t : {DType::F32, DType::F64})
    for (const Shape& s : kBnShapes) expect_batch_norm_matches(s, t, /*affine=*/true, false, gen);
}

TEST(BatchNorm2dCuda, NoAffine) {
  AFN_REQUIRE_CUDA();
  Generator gen(52);
  for (DType t : {DType::F32, DType::F64})
    for (const Shape& s : {Shape{4, 3, 5, 7}, Shape{8, 16, 8, 8}})
      expect_batch_norm_matches(s, t, /*affine=*/false, false, gen);
  // Training without running statistics or affine parameters.
  for (DType t : {DType::F32, DType::F64}) {
    Tensor x = randn({5, 4, 6, 6}, t, gen);
    const auto tol = testing::tolerance_for(t, 5 * 36);
    EXPECT_ALLCLOSE(batch_norm2d(x.cuda(), {}, {}, {}, {}, true).cpu(),
                    batch_norm2d(x, {}, {}, {}, {}, true), tol);
  }
}

TEST(BatchNorm2dCuda, MisalignedInput) {
  AFN_REQUIRE_CUDA();
  Generator gen(53);
  for (DType t : {DType::F32, DType::F64})
    for (const Shape& s : {Shape{8, 16, 8, 8}, Shape{1, 2, 64, 64}})
      expect_batch_norm_matches(s, t, /*affine=*/true, /*misaligned=*/true, gen);
}

TEST(BatchNorm2dCuda, ThroughAutograd) {
  AFN_REQUIRE_CUDA();
  Generator gen(54);
  Tensor x = randn({4, 3, 6, 5}, DType::F64, gen), g = randn({4, 3, 6, 5}, DType::F64, gen);
  Tensor w = uniform({3}, 0.5, 1.5, DType::F64, gen), b = randn({3}, DType::F64, gen);
  Tensor xc = x.clone().set_requires_grad(true), xg = x.cuda().set_requires_grad(true);
  Tensor wc = w.clone().set_requires_grad(true), wg = w.cuda().set_requires_grad(true);
  Tensor bc = b.clone().set_requires_grad(true), bg = b.cuda().set_requires_grad(true);
  batch_norm2d(xc, wc, bc, {}, {}, true).backward(g);
  batch_norm2d(xg, wg, bg, {}, {}, true).backward(g.cuda());
  const auto tol = testing::tolerance_for(DType::F64, 4 * 30);
  EXPECT_ALLCLOSE(xg.grad().cpu(), xc.grad(), tol);
  EXPECT_ALLCLOSE(wg.grad().cpu(), wc.grad(), tol);
  EXPECT_ALLCLOSE(bg.grad().cpu(), bc.grad(), tol);
}

// The fused epilogue on the GPU against the CPU's fused op: output, running statistics and,
// through autograd, every gradient; odd and packed H·W, with no residual, an aligned one and a
// misaligned one (the one-element path).
TEST(BatchNorm2dCuda, AddReluMatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(55);
  enum Residual { kNone, kAligned, kMisaligned };
  for (DType t : {DType::F32, DType::F64})
    for (const Shape& shape : {Shape{4, 3, 5, 7}, Shape{8, 16, 8, 8}, Shape{6, 5, 1, 1}})
      for (bool training : {true, false})
        for (Residual res : {kNone, kAligned, kMisaligned}) {
          SCOPED_TRACE(::testing::Message()
                       << t << " " << shape_str(shape) << (training ? " training" : " eval")
                       << " residual " << int(res));
          const int64_t C = shape[1], n = shape[0] * shape[2] * shape[3];
          const auto tol = testing::tolerance_for(t, n, 32);
          Tensor x = randn(shape, t, gen), g = randn(shape, t, gen);
          Tensor r = res == kNone ? Tensor() : randn(shape, t, gen);
          Tensor w = uniform({C}, 0.5, 1.5, t, gen), b = randn({C}, t, gen);
          Tensor rm = uniform({C}, -0.5, 0.5, t, gen), rv = uniform({C}, 0.5, 2.0, t, gen);
          Tensor rm_g = rm.cuda(), rv_g = rv.cuda();
          Tensor xc = x.clone().set_requires_grad(true), xg = x.cuda().set_requires_grad(true);
          Tensor wc = w.clone().set_requires_grad(true), wg = w.cuda().set_requires_grad(true);
          Tensor rc, rg;
          if (res != kNone) {
            rc = r.clone().set_requires_grad(true);
            rg = res == kAligned ? r.cuda() : misaligned_cuda(r);
            rg.set_requires_grad(true);
          }
          Tensor yc = batch_norm2d_add_relu(xc, wc, b, rm, rv, rc, training);
          Tensor yg = batch_norm2d_add_relu(xg, wg, b.cuda(), rm_g, rv_g, rg, training);
          EXPECT_ALLCLOSE(yg.cpu(), yc, tol);
          EXPECT_ALLCLOSE(rm_g.cpu(), rm, tol);
          EXPECT_ALLCLOSE(rv_g.cpu(), rv, tol);
          yc.backward(g);
          yg.backward(g.cuda());
          EXPECT_ALLCLOSE(xg.grad().cpu(), xc.grad(), tol);
          EXPECT_ALLCLOSE(wg.grad().cpu(), wc.grad(), tol);
          if (res != kNone) {
            EXPECT_ALLCLOSE(rg.grad().cpu(), rc.grad(), tol);
          }
        }
}

// 16-bit activations `dt` (bf16 or f16) in memory format `fmt` with float32 parameters and
// statistics (autocast) on the GPU's own kernels, against the CPU, which computes on float32
// copies: the outputs within two roundings of the dtype of their scale (the float sums differ in
// order, which moves a value across a rounding boundary now and then), the float32 statistics
// and parameter gradients within float32 sums over n values.
void expect_16bit_matches_the_cpu(DType dt, MemoryFormat fmt) {
  SCOPED_TRACE(::testing::Message() << dt << (fmt == MemoryFormat::ChannelsLast ? " NHWC" : ""));
  Generator gen(56);
  // Two roundings of the dtype: 2^-8 (bf16) or 2^-11 (f16) relative each.
  const double tol = dt == DType::BF16 ? std::ldexp(1.0, -7) : std::ldexp(1.0, -10);
  const auto on_gpu = [&](const Tensor& t) {
    return t.defined() ? t.cuda().contiguous(fmt) : Tensor();
  };
  // H·W odd (one element per access), a multiple of 8 (16-byte packs), of 4 only (8-byte packs:
  // ResNet's 14x14), and 1; C = 40 spans two channel blocks of the channels-last kernels.
  for (const Shape& shape : {Shape{4, 3, 5, 7}, Shape{8, 16, 8, 8}, Shape{4, 6, 14, 14},
                             Shape{2, 5, 1, 1}, Shape{2, 40, 3, 4}})
    for (bool training : {true, false})
      for (bool fused : {false, true}) {
        SCOPED_TRACE(::testing::Message() << shape_str(shape) << (training ? " training" : " eval")
                                          << (fused ? " add+relu" : ""));
        const int64_t C = shape[1], n = shape[0] * shape[2] * shape[3];
        const auto f32_tol = testing::tolerance_for(DType::F32, n, 32);
        const Tensor x = randn(shape, DType::F32, gen).to(dt);
        const Tensor g = randn(shape, DType::F32, gen).to(dt);
        const Tensor r = fused ? randn(shape, DType::F32, gen).to(dt) : Tensor();
        const Tensor w = uniform({C}, 0.5, 1.5, DType::F32, gen), b = randn({C}, DType::F32, gen);
        Tensor rm = uniform({C}, -0.5, 0.5, DType::F32, gen),
               rv = uniform({C}, 0.5, 2.0, DType::F32, gen);
        Tensor rm_g = rm.cuda(), rv_g = rv.cuda();
        const ops::AddReluEpilogue ep{.residual = r, .relu = fused};
        const ops::AddReluEpilogue ep_g{.residual = on_gpu(r), .relu = fused};
        const auto ref = ops::batch_norm2d_forward(x, w, b, rm, rv, training, 0.1, 1e-5, ep);
        const auto got = ops::batch_norm2d_forward(on_gpu(x), w.cuda(), b.cuda(), rm_g, rv_g,
                                                   training, 0.1, 1e-5, ep_g);
        ASSERT_EQ(got.y.dtype(), dt);
        ASSERT_EQ(got.mean.dtype(), DType::F32);
        EXPECT_EQ(suggest_memory_format(got.y), fmt);
        EXPECT_LT(testing::max_relative_error(got.y.cpu().to(DType::F32), ref.y.to(DType::F32)),
                  tol);
        EXPECT_ALLCLOSE(got.mean.cpu(), ref.mean, f32_tol);
        EXPECT_ALLCLOSE(got.invstd.cpu(), ref.invstd, f32_tol);
        EXPECT_ALLCLOSE(rm_g.cpu(), rm, f32_tol);
        EXPECT_ALLCLOSE(rv_g.cpu(), rv, f32_tol);
        const std::array<bool, 4> mask{true, true, true, fused};
        const auto rb = ops::batch_norm2d_backward(g, x, w, ref.mean, ref.invstd, training, mask,
                                                   fused ? ref.y : Tensor());
        const auto gb =
            ops::batch_norm2d_backward(on_gpu(g), on_gpu(x), w.cuda(), got.mean, got.invstd,
                                       training, mask, fused ? got.y : Tensor());
        ASSERT_EQ(gb.grad_input.dtype(), dt);
        ASSERT_EQ(gb.grad_weight.dtype(), DType::F32);
        EXPECT_EQ(suggest_memory_format(gb.grad_input), fmt);
        EXPECT_LT(testing::max_relative_error(gb.grad_input.cpu().to(DType::F32),
                                              rb.grad_input.to(DType::F32)),
                  tol);
        EXPECT_LT(testing::max_relative_error(gb.grad_weight.cpu(), rb.grad_weight), tol);
        EXPECT_LT(testing::max_relative_error(gb.grad_bias.cpu(), rb.grad_bias), tol);
        if (fused) {
          EXPECT_LT(testing::max_relative_error(gb.grad_residual.cpu().to(DType::F32),
                                                rb.grad_residual.to(DType::F32)),
                    tol);
        }
      }
}

TEST(BatchNorm2dCuda, Bf16MatchesTheCpu) {
  AFN_REQUIRE_CUDA();
  for (MemoryFormat fmt : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast})
    expect_16bit_matches_the_cpu(DType::BF16, fmt);
}

TEST(BatchNorm2dCuda, Float16MatchesTheCpu) {
  AFN_REQUIRE_CUDA();
  for (MemoryFormat fmt : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast})
    expect_16bit_matches_the_cpu(DType::F16, fmt);
}

TEST(BatchNorm2dCuda, EmptyBatchLeavesRunningStatistics) {
  AFN_REQUIRE_CUDA();
  Tensor rm = full({3}, 0.25, DType::F32, testing::kCuda0),
         rv = ones({3}, DType::F32, testing::kCuda0);
  auto out = ops::batch_norm2d_forward(zeros({0, 3, 4, 4}, DType::F32, testing::kCuda0), {}, {}, rm,
                                       rv, true, 0.1, 1e-5);
  EXPECT_EQ(out.y.shape(), (Shape{0, 3, 4, 4}));
  auto ref = ops::batch_norm2d_forward(zeros({0, 3, 4, 4}), {}, {}, full({3}, 0.25), ones({3}),
                                       true, 0.1, 1e-5);
  EXPECT_EQ(out.mean.cpu().to_vector<float>(), ref.mean.to_vector<float>());
  EXPECT_EQ(out.invstd.cpu().to_vector<float>(), ref.invstd.to_vector<float>());
  EXPECT_EQ(rm.cpu().to_vector<float>(), (std::vector<float>{0.25f, 0.25f, 0.25f}));
  EXPECT_EQ(rv.cpu().to_vector<float>(), (std::vector<float>{1, 1, 1}));
}

TEST(BatchNorm2dCuda, RejectsBadInput) {
  AFN_REQUIRE_CUDA();
  Tensor x = randn({2, 3, 4, 4}, DType::F32, testing::kCuda0);
  Tensor c3 = ones({3}), c3g = ones({3}, DType::F32, testing::kCuda0);
  EXPECT_THROW(batch_norm2d(x, c3, c3g, c3g, c3g, true), Error);  // weight on the CPU
  EXPECT_THROW(batch_norm2d(x, c3g, c3g, c3, c3g, true), Error);  // running_mean on the CPU
  EXPECT_THROW(batch_norm2d(x, c3g, c3g, {}, {}, false), Error);  // eval without statistics
  EXPECT_THROW(batch_norm2d(x.cpu(), c3g, c3g, c3g, c3g, true), Error);
  auto fwd = ops::batch_norm2d_forward(x, c3g, c3g, c3g, c3g, true, 0.1, 1e-5);
  EXPECT_THROW(
      ops::batch_norm2d_backward(x.cpu(), x, c3g, fwd.mean, fwd.invstd, true, {true, true, true}),
      Error);
}

}  // namespace
}  // namespace afinar
