#include "afinar/ops/batch_norm2d.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "testing/compare.h"
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
}

}  // namespace
}  // namespace afinar
