#include "afinar/ops/loss.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>

#include "afinar/core/allocator.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/softmax.h"
#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/fixtures.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

// Per-row cross entropy straight from PyTorch's definition (LossNLL.cpp), with log-sum-exp:
//   logp_c = x_c - log Σ_k exp(x_k),  ℓ_i = (1-ε)·(-w[t]·logp_t) + ε/C·(-Σ_c w_c·logp_c)
// and the reduction's divisor W = Σ over counted rows of w[t_i].
struct NaiveLoss {
  std::vector<double> rows;
  double total_weight = 0;
};

NaiveLoss naive_cross_entropy(const std::vector<double>& x, const std::vector<int64_t>& t,
                              const std::vector<double>& w, int64_t C, int64_t ignore_index,
                              double eps) {
  NaiveLoss r;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == ignore_index) {
      r.rows.push_back(0);
      continue;
    }
    const double* row = &x[i * size_t(C)];
    double sum_exp = 0;
    for (int64_t c = 0; c < C; ++c) sum_exp += std::exp(row[c]);
    const double lse = std::log(sum_exp);
    auto weight = [&](int64_t c) { return w.empty() ? 1.0 : w[size_t(c)]; };
    double smooth = 0;
    for (int64_t c = 0; c < C; ++c) smooth -= weight(c) * (row[c] - lse);
    const double nll = -weight(t[i]) * (row[t[i]] - lse);
    r.rows.push_back((1 - eps) * nll + eps / double(C) * smooth);
    r.total_weight += weight(t[i]);
  }
  return r;
}

double sum_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

struct LossFixture {
  Tensor logits, target, weight;
  std::vector<double> x, w;
  std::vector<int64_t> t;
};

// N = 6 rows of C = 4 classes; rows 1 and 4 carry the ignore_index -100.
LossFixture make_fixture(uint64_t seed) {
  Generator gen(seed);
  LossFixture f;
  f.logits = testing::leaf_f64({6, 4}, gen, -3.0, 3.0);
  f.t = {0, -100, 3, 1, -100, 2};
  f.target = from_vector<int64_t>(f.t, {6});
  f.w = {0.5, 2.0, 1.25, 0.75};
  f.weight = from_vector<double>(f.w, {4});
  f.x = f.logits.to_vector<double>();
  return f;
}

TEST(CrossEntropy, MatchesClosedForm) {
  const LossFixture f = make_fixture(21);
  const auto tol = testing::tolerance_for(DType::F64, 4 * 6);
  for (bool weighted : {false, true})
    for (double eps : {0.0, 0.1, 0.3}) {
      const std::vector<double> w = weighted ? f.w : std::vector<double>{};
      const NaiveLoss ref = naive_cross_entropy(f.x, f.t, w, 4, -100, eps);
      CrossEntropyOptions opt{.weight = weighted ? f.weight : Tensor(), .label_smoothing = eps};
      SCOPED_TRACE("weighted " + std::to_string(weighted) + " eps " + std::to_string(eps));
      opt.reduction = Reduction::None;
      EXPECT_ALLCLOSE(cross_entropy(f.logits, f.target, opt), from_vector<double>(ref.rows, {6}),
                      tol);
      opt.reduction = Reduction::Sum;
      EXPECT_NEAR(cross_entropy(f.logits, f.target, opt).item<double>(), sum_of(ref.rows),
                  tol.atol + tol.rtol * std::abs(sum_of(ref.rows)));
      opt.reduction = Reduction::Mean;
      const double mean = sum_of(ref.rows) / ref.total_weight;
      EXPECT_NEAR(cross_entropy(f.logits, f.target, opt).item<double>(), mean,
                  tol.atol + tol.rtol * std::abs(mean));
    }
}

TEST(NllLoss, MatchesClosedForm) {
  // ℓ_i = -w[t_i] · logp_{i, t_i}; mean divides by Σ w[t_i] over the counted rows.
  Tensor logp = from_vector<double>({-0.5, -1.0, -2.0, -0.1, -3.0, -0.7}, {3, 2});
  Tensor target = from_vector<int64_t>({1, 0, -100}, {3});
  Tensor w = from_vector<double>({2.0, 3.0}, {2});
  Tensor none = nll_loss(logp, target, {.weight = w, .reduction = Reduction::None});
  EXPECT_EQ(none.to_vector<double>(), (std::vector<double>{3.0, 4.0, 0.0}));
  EXPECT_DOUBLE_EQ(nll_loss(logp, target, {.weight = w}).item<double>(), 7.0 / 5.0);
  EXPECT_DOUBLE_EQ(nll_loss(logp, target, {.reduction = Reduction::Sum}).item<double>(), 3.0);
  EXPECT_DOUBLE_EQ(nll_loss(logp, target).item<double>(), 1.5);
  // A custom ignore_index that is also a class: the rows labelled 0 drop out.
  Tensor target2 = from_vector<int64_t>({1, 0, 1}, {3});
  EXPECT_DOUBLE_EQ(nll_loss(logp, target2, {.ignore_index = 0}).item<double>(), (1.0 + 0.7) / 2);
}

TEST(CrossEntropy, EqualsNllOfLogSoftmax) {
  const LossFixture f = make_fixture(22);
  Tensor a = f.logits.detach().clone().set_requires_grad(true);
  Tensor b = f.logits.detach().clone().set_requires_grad(true);
  Tensor ce = cross_entropy(a, f.target, {.weight = f.weight});
  Tensor nll = nll_loss(log_softmax(b, 1), f.target, {.weight = f.weight});
  const auto tol = testing::tolerance_for(DType::F64, 4 * 6);
  EXPECT_ALLCLOSE(ce, nll, tol);
  ce.backward();
  nll.backward();
  EXPECT_ALLCLOSE(a.grad(), b.grad(), tol);
}

TEST(CrossEntropy, GradCheck) {
  const LossFixture f = make_fixture(23);
  for (Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    const CrossEntropyOptions opt{.weight = f.weight, .reduction = red, .label_smoothing = 0.2};
    EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], f.target, opt); },
        {f.logits});
    const CrossEntropyOptions plain{.reduction = red};
    EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], f.target, plain); },
        {f.logits});
  }
}

// Rows of class probabilities [N, C] (a softmax of uniform draws), f64, requiring grad.
Tensor probability_leaf(int64_t N, int64_t C, Generator& gen) {
  return softmax(uniform({N, C}, -2.0, 2.0, DType::F64, gen), 1).detach().set_requires_grad(true);
}

TEST(CrossEntropy, ProbabilityTargetsGradCheck) {
  // Both the logits and the probabilities get gradients, with weights and smoothing.
  Generator gen(25);
  const Tensor logits = testing::leaf_f64({5, 4}, gen, -3.0, 3.0);
  const Tensor y = probability_leaf(5, 4, gen);
  const Tensor w = from_vector<double>({0.5, 2.0, 1.25, 0.75}, {4});
  for (Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None})
    for (double eps : {0.0, 0.2}) {
      const CrossEntropyOptions opt{.weight = w, .reduction = red, .label_smoothing = eps};
      EXPECT_GRADCHECK(
          [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], opt); },
          {logits, y});
    }
}

TEST(CrossEntropy, OneHotProbabilitiesEqualClassIndices) {
  // One-hot rows give the class-index loss term for term (none, sum); the mean divides by N, which
  // is the index mean without weights (W = N) but not with them.
  const LossFixture f = make_fixture(26);
  const std::vector<int64_t> t = {0, 2, 3, 1, 1, 2};
  std::vector<double> one_hot(24, 0.0);
  for (size_t i = 0; i < t.size(); ++i) one_hot[i * 4 + size_t(t[i])] = 1.0;
  const Tensor y = from_vector<double>(one_hot, {6, 4});
  const Tensor target = from_vector<int64_t>(t, {6});
  const auto tol = testing::tolerance_for(DType::F64, 4 * 6);
  for (double eps : {0.0, 0.1}) {
    SCOPED_TRACE("eps " + std::to_string(eps));
    for (Reduction red : {Reduction::None, Reduction::Sum}) {
      const CrossEntropyOptions opt{.weight = f.weight, .reduction = red, .label_smoothing = eps};
      EXPECT_ALLCLOSE(cross_entropy(f.logits, y, opt), cross_entropy(f.logits, target, opt), tol);
    }
    const CrossEntropyOptions mean{.label_smoothing = eps};
    EXPECT_ALLCLOSE(cross_entropy(f.logits, y, mean), cross_entropy(f.logits, target, mean), tol);
    const CrossEntropyOptions weighted_mean{.weight = f.weight, .label_smoothing = eps};
    const CrossEntropyOptions weighted_sum{
        .weight = f.weight, .reduction = Reduction::Sum, .label_smoothing = eps};
    EXPECT_NEAR(cross_entropy(f.logits, y, weighted_mean).item<double>(),
                cross_entropy(f.logits, y, weighted_sum).item<double>() / 6.0, 1e-12);
  }
}

TEST(NllLoss, GradCheck) {
  const LossFixture f = make_fixture(24);
  for (Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    const NllLossOptions opt{.weight = f.weight, .reduction = red};
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return nll_loss(in[0], f.target, opt); },
                     {f.logits});
  }
}

TEST(CrossEntropy, MatchesTorchGolden) {
  for (const testing::GoldenCase& c : testing::load_goldens("loss")) {
    SCOPED_TRACE(c.name);
    // tools/goldens/loss.py stores PyTorch's reduction codes: 0 none, 1 mean, 2 sum.
    const int64_t red = c.attr_int("reduction");
    ASSERT_TRUE(red >= 0 && red <= 2) << "unknown reduction code " << red;
    CrossEntropyOptions opt{.ignore_index = c.attr_int("ignore_index"),
                            .reduction = red == 0   ? Reduction::None
                                         : red == 1 ? Reduction::Mean
                                                    : Reduction::Sum,
                            .label_smoothing = c.attr_double("label_smoothing")};
    if (c.has("weight")) opt.weight = c.tensor("weight");
    Tensor logits = c.tensor("logits").set_requires_grad(true);
    // Probability targets [N, C] require grad, as in the generator.
    Tensor target = c.tensor("target");
    if (c.has("grad_target")) target.set_requires_grad(true);
    Tensor loss = cross_entropy(logits, target, opt);
    // Each loss value sums C log-probabilities (and N rows for sum / mean).
    const int64_t N = logits.size(0), C = logits.size(1);
    EXPECT_ALLCLOSE(loss, c.tensor("loss"), testing::tolerance_for(logits.dtype(), N * C));
    loss.backward(c.has("grad_loss") ? c.tensor("grad_loss") : Tensor());
    EXPECT_ALLCLOSE(logits.grad(), c.tensor("grad_logits"),
                    testing::tolerance_for(logits.dtype(), C));
    // dL/dy_{i,c} = -a_i (1-ε) w_c logp_{i,c}: a log-softmax of C terms times a few factors.
    if (c.has("grad_target")) {
      EXPECT_ALLCLOSE(target.grad(), c.tensor("grad_target"),
                      testing::tolerance_for(logits.dtype(), C));
    }
  }
}

TEST(CrossEntropy, AllRowsIgnoredMeanIsNaN) {
  // PyTorch: 0 / 0 for mean, 0 for sum.
  Tensor x = zeros({2, 3}, DType::F64);
  Tensor t = from_vector<int64_t>({-100, -100}, {2});
  EXPECT_TRUE(std::isnan(cross_entropy(x, t).item<double>()));
  EXPECT_TRUE(std::isnan(cross_entropy(x, t, {.label_smoothing = 0.1}).item<double>()));
  EXPECT_EQ(cross_entropy(x, t, {.reduction = Reduction::Sum}).item<double>(), 0.0);
}

// The mean over rows whose class weights are all 0 divides by W = 0: the loss is NaN and, as in
// PyTorch, so is nll_loss's gradient at each row's target, while the other classes keep 0.
// cross_entropy's log_softmax backward spreads that NaN over the rows; with label smoothing the
// loss is NaN too (PyTorch's 0/0 NLL term), not the ±inf of the smoothing term alone.
void expect_zero_total_weight_as_pytorch(const Device& device) {
  const Tensor logp =
      from_vector<double>({-1, -2, -0.5, -0.3}, {2, 2}).to(device).set_requires_grad(true);
  const Tensor weight = from_vector<double>({0, 2}, {2}).to(device);
  const Tensor target = from_vector<int64_t>({0, 0}, {2}).to(device);
  const Tensor loss = nll_loss(logp, target, {.weight = weight});
  EXPECT_TRUE(std::isnan(loss.item<double>()));
  loss.backward();
  const auto g = logp.grad().cpu().to_vector<double>();
  EXPECT_TRUE(std::isnan(g[0]) && std::isnan(g[2]));
  EXPECT_EQ(g[1], 0.0);
  EXPECT_EQ(g[3], 0.0);
  for (double eps : {0.0, 0.1, 1.0}) {
    SCOPED_TRACE("label_smoothing " + std::to_string(eps));
    const Tensor x = logp.detach().set_requires_grad(true);
    const Tensor ce = cross_entropy(x, target, {.weight = weight, .label_smoothing = eps});
    EXPECT_TRUE(std::isnan(ce.item<double>()));
    ce.backward();
    for (double gx : x.grad().cpu().to_vector<double>()) EXPECT_TRUE(std::isnan(gx));
  }
}

TEST(NllLoss, ZeroTotalWeightGivesPyTorchsNaNs) {
  expect_zero_total_weight_as_pytorch(kCPU);
}

TEST(NllLoss, InfiniteLogProbOfOtherClassWithoutSmoothing) {
  // Only logp[i, t_i] enters the plain NLL: a -inf elsewhere must not make it NaN.
  const double inf = std::numeric_limits<double>::infinity();
  Tensor logp = from_vector<double>({0.0, -inf}, {1, 2});
  EXPECT_EQ(nll_loss(logp, from_vector<int64_t>({0}, {1})).item<double>(), 0.0);
}

TEST(CrossEntropy, LargeLogitsStayFinite) {
  Tensor x = from_vector<float>({1000, 0, -1000, 500}, {2, 2});
  Tensor loss = cross_entropy(x, from_vector<int64_t>({1, 0}, {2}), {.reduction = Reduction::None});
  EXPECT_EQ(loss.to_vector<float>(), (std::vector<float>{1000, 1500}));
}

// `fn` throws an afinar::Error whose message contains every string in `parts`.
template <typename Fn>
void expect_error_naming(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(CrossEntropy, RejectsBadTargets) {
  Tensor x = zeros({2, 4}, DType::F64);
  expect_error_naming(
      [&] {
        cross_entropy(x, from_vector<int64_t>({0, 4}, {2}));
      },
      {"cross_entropy", "target 4", "4 classes"});
  expect_error_naming(
      [&] {
        cross_entropy(x, from_vector<int64_t>({-1, 0}, {2}));
      },
      {"cross_entropy", "target -1", "4 classes"});
  expect_error_naming(
      [&] {
        nll_loss(x, from_vector<int64_t>({7, 0}, {2}));
      },
      {"nll_loss", "target 7", "4 classes"});
  // -100 is only skipped while it is the ignore_index.
  EXPECT_THROW(cross_entropy(x, from_vector<int64_t>({-100, 0}, {2}), {.ignore_index = 3}), Error);
  expect_error_naming(
      [&] {
        cross_entropy(x, from_vector<int32_t>({0, 1}, {2}));
      },
      {"cross_entropy", "target", "int64"});
  EXPECT_THROW(cross_entropy(x, from_vector<double>({0, 1}, {2})), Error);
  EXPECT_THROW(cross_entropy(x, Tensor()), Error);
}

TEST(CrossEntropy, RejectsBadShapes) {
  Tensor x = zeros({2, 4}, DType::F64);
  Tensor t = from_vector<int64_t>({0, 1}, {2});
  EXPECT_THROW(cross_entropy(x, from_vector<int64_t>({0, 1, 2}, {3})), Error);
  EXPECT_THROW(cross_entropy(x, t.reshape({2, 1})), Error);
  EXPECT_THROW(cross_entropy(zeros({2, 4, 3}, DType::F64), t), Error);
  EXPECT_THROW(cross_entropy(zeros({2, 4}, DType::I64), t), Error);
  EXPECT_THROW(cross_entropy(x, t, {.weight = ones({3}, DType::F64)}), Error);
  EXPECT_THROW(cross_entropy(x, t, {.weight = ones({4}, DType::F32)}), Error);
  EXPECT_THROW(cross_entropy(x, t, {.label_smoothing = 1.5}), Error);
  EXPECT_THROW(cross_entropy(x, t, {.label_smoothing = -0.1}), Error);
  EXPECT_THROW(nll_loss(zeros({4}, DType::F64), t), Error);
  // The raw backward checks its upstream gradient's shape against the reduction.
  auto fwd = ops::cross_entropy_forward(x, t, {});
  EXPECT_THROW(
      ops::cross_entropy_backward(zeros({2}, DType::F64), fwd.log_probs, t, fwd.total_weight, {}),
      Error);
  EXPECT_THROW(ops::nll_loss_backward(zeros({}, DType::F64), t, fwd.total_weight, 4,
                                      {.weight = ones({3}, DType::F64)}),
               Error);
}

TEST(CrossEntropy, ProbabilityTargetsEdgeCasesAndBadInput) {
  // No rows: the mean is 0/0 = NaN and the sum 0, as in PyTorch.
  const Tensor empty_rows = zeros({0, 3}, DType::F64);
  EXPECT_TRUE(std::isnan(cross_entropy(empty_rows, empty_rows).item<double>()));
  EXPECT_EQ(cross_entropy(empty_rows, empty_rows, {.reduction = Reduction::Sum}).item<double>(),
            0.0);
  // A negative ignore_index other than the default is accepted (PyTorch only refuses >= 0).
  const Tensor x = zeros({2, 4}, DType::F64);
  const Tensor y = full({2, 4}, 0.25, DType::F64);
  EXPECT_NEAR(cross_entropy(x, y, {.ignore_index = -5}).item<double>(), std::log(4.0), 1e-15);
  expect_error_naming([&] { cross_entropy(x, y, {.ignore_index = 0}); },
                      {"cross_entropy", "ignore_index = 0", "probability targets"});
  expect_error_naming([&] { cross_entropy(x, y.to(DType::F32)); },
                      {"cross_entropy", "dtype", "float64"});
  expect_error_naming(
      [&] {
        cross_entropy(x, full({2, 3}, 0.25, DType::F64));
      },
      {"cross_entropy", "shape", "[2, 4]"});
  EXPECT_THROW(cross_entropy(x, y, {.weight = ones({3}, DType::F64)}), Error);
  EXPECT_THROW(cross_entropy(x, y, {.label_smoothing = 1.5}), Error);
}

}  // namespace
}  // namespace afinar

namespace afinar {
namespace {

// ---- CUDA vs the CPU reference ------------------------------------------------------------------

// Targets in [0, C), every 5th row (and row 1) set to ignore_index.
Tensor random_targets(int64_t N, int64_t C, int64_t ignore_index, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> t(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i)
    t[size_t(i)] = (i % 5 == 1) ? ignore_index : int64_t(rng() % uint64_t(C));
  return from_vector<int64_t>(t, {N});
}

// allclose where a NaN in `expected` (a mean over no counted rows) must be NaN in `actual`.
::testing::AssertionResult close_or_both_nan(const Tensor& actual, const Tensor& expected,
                                             testing::Tolerance tol) {
  const auto a = actual.to_vector<double>(), e = expected.to_vector<double>();
  if (a.size() != e.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (size_t i = 0; i < a.size(); ++i) {
    const bool ok = std::isnan(e[i])
                        ? std::isnan(a[i])
                        : a[i] == e[i] ||  // equal infinities (their difference is NaN)
                              std::abs(a[i] - e[i]) <= tol.atol + tol.rtol * std::abs(e[i]);
    if (!ok)
      return ::testing::AssertionFailure()
             << "element " << i << ": actual " << a[i] << ", expected " << e[i];
  }
  return ::testing::AssertionSuccess();
}

const char* reduction_name(Reduction r) {
  return r == Reduction::None ? "none" : r == Reduction::Mean ? "mean" : "sum";
}

// The upstream gradient of a loss of this reduction: [N] for None, else 0-D.
Tensor grad_for(Reduction r, int64_t N, DType t, Generator& gen) {
  return r == Reduction::None ? randn({N}, t, gen) : randn({}, t, gen);
}

// Forward (loss, W, logp) and backward of cross_entropy and nll_loss on CUDA against the CPU, for
// every reduction, with and without weights and smoothing and a custom ignore_index.
void expect_losses_cuda_match(int64_t N, int64_t C, DType t, Generator& gen) {
  const Tensor x = randn({N, C}, t, gen) * 2.0;
  const Tensor w = uniform({C}, 0.25, 2.0, t, gen);
  for (int64_t ignore_index : {int64_t(-100), std::min<int64_t>(2, C - 1)})
    for (bool weighted : {false, true})
      for (double eps : {0.0, 0.15})
        for (Reduction red : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
          SCOPED_TRACE(std::string("[") + std::to_string(N) + ", " + std::to_string(C) + "] " +
                       (t == DType::F32 ? "f32" : "f64") + " ignore " +
                       std::to_string(ignore_index) + (weighted ? " weighted" : "") + " eps " +
                       std::to_string(eps) + " " + reduction_name(red));
          const Tensor target = random_targets(N, C, ignore_index, uint64_t(N * C + 7));
          CrossEntropyOptions opt{.weight = weighted ? w : Tensor(),
                                  .ignore_index = ignore_index,
                                  .reduction = red,
                                  .label_smoothing = eps};
          CrossEntropyOptions gopt = opt;
          if (weighted) gopt.weight = w.cuda();
          const Tensor gtarget = target.cuda();
          // A loss sums C log-probabilities per row, N rows for sum / mean.
          const auto loss_tol = testing::tolerance_for(t, red == Reduction::None ? C : N * C);
          const auto row_tol = testing::tolerance_for(t, C);

          const auto ce = ops::cross_entropy_forward(x, target, opt);
          const auto gce = ops::cross_entropy_forward(x.cuda(), gtarget, gopt);
          ASSERT_TRUE(gce.loss.device().is_cuda());
          EXPECT_TRUE(close_or_both_nan(gce.loss.cpu(), ce.loss, loss_tol));
          EXPECT_ALLCLOSE(gce.total_weight.cpu(), ce.total_weight, testing::tolerance_for(t, N));
          EXPECT_ALLCLOSE(gce.log_probs.cpu(), ce.log_probs, row_tol);
          const Tensor g = grad_for(red, N, t, gen);
          // Both backward kernels get the CPU's saved tensors.
          EXPECT_ALLCLOSE(
              ops::cross_entropy_backward(g.cuda(), ce.log_probs.cuda(), gtarget,
                                          ce.total_weight.cuda(), gopt)
                  .cpu(),
              ops::cross_entropy_backward(g, ce.log_probs, target, ce.total_weight, opt), row_tol);

          const auto nll = ops::nll_loss_forward(ce.log_probs, target, opt);
          const auto gnll = ops::nll_loss_forward(ce.log_probs.cuda(), gtarget, gopt);
          EXPECT_TRUE(close_or_both_nan(gnll.loss.cpu(), nll.loss, loss_tol));
          EXPECT_ALLCLOSE(gnll.total_weight.cpu(), nll.total_weight, testing::tolerance_for(t, N));
          EXPECT_ALLCLOSE(
              ops::nll_loss_backward(g.cuda(), gtarget, nll.total_weight.cuda(), C, gopt).cpu(),
              ops::nll_loss_backward(g, target, nll.total_weight, C, opt), row_tol);
        }
}

TEST(CrossEntropyCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(51);
  // Warp per row (C <= 1024 f32 / 512 f64; 16-byte loads when C % 4 == 0 resp. % 2), block per
  // row with the row in registers (C <= 32768 f32 / 16384 f64), block per row with the online
  // pass (longer), odd sizes, one class, one row; 5000 rows take the two-stage reduction.
  const std::vector<std::pair<int64_t, int64_t>> shapes = {
      {7, 10},   {64, 1000}, {33, 1023}, {5, 1},     {1, 3},   {6, 600},
      {5, 4099}, {4, 4100},  {3, 20000}, {2, 40000}, {5000, 7}};
  for (const auto& [N, C] : shapes)
    for (DType t : {DType::F32, DType::F64}) expect_losses_cuda_match(N, C, t, gen);
}

TEST(CrossEntropyCuda, AutogradOnDevice) {
  AFN_REQUIRE_CUDA();
  Generator gen(52);
  const Tensor x = randn({37, 100}, DType::F32, gen);
  const Tensor target = random_targets(37, 100, -100, 3);
  const Tensor w = uniform({100}, 0.5, 1.5, DType::F32, gen);
  Tensor a = x.cuda().set_requires_grad(true), b = x.detach().clone().set_requires_grad(true);
  const Tensor la = cross_entropy(a, target.cuda(), {.weight = w.cuda(), .label_smoothing = 0.1});
  const Tensor lb = cross_entropy(b, target, {.weight = w, .label_smoothing = 0.1});
  EXPECT_ALLCLOSE(la.cpu(), lb, testing::tolerance_for(DType::F32, 37 * 100));
  la.backward();
  lb.backward();
  ASSERT_TRUE(a.grad().device().is_cuda());
  EXPECT_ALLCLOSE(a.grad().cpu(), b.grad(), testing::tolerance_for(DType::F32, 100));
}

TEST(CrossEntropyCuda, ProbabilityTargetsMatchReference) {
  // The composition (log_softmax, products with the expanded weights, sums) on the device, both
  // gradients included, against the CPU; odd sizes.
  AFN_REQUIRE_CUDA();
  Generator gen(53);
  for (const auto& [N, C] : std::vector<std::pair<int64_t, int64_t>>{{7, 10}, {33, 1023}, {5, 1}})
    for (Reduction red : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
      SCOPED_TRACE(std::to_string(N) + "x" + std::to_string(C) + " " + reduction_name(red));
      const Tensor x = randn({N, C}, DType::F32, gen);
      const Tensor y = softmax(randn({N, C}, DType::F32, gen), 1);
      const Tensor w = uniform({C}, 0.5, 1.5, DType::F32, gen);
      const Tensor g = grad_for(red, N, DType::F32, gen);
      Tensor xa = x.cuda().set_requires_grad(true), ya = y.cuda().set_requires_grad(true);
      Tensor xb = x.detach().clone().set_requires_grad(true);
      Tensor yb = y.detach().clone().set_requires_grad(true);
      const Tensor la =
          cross_entropy(xa, ya, {.weight = w.cuda(), .reduction = red, .label_smoothing = 0.1});
      const Tensor lb =
          cross_entropy(xb, yb, {.weight = w, .reduction = red, .label_smoothing = 0.1});
      EXPECT_ALLCLOSE(la.cpu(), lb,
                      testing::tolerance_for(DType::F32, red == Reduction::None ? C : N * C));
      la.backward(g.cuda());
      lb.backward(g);
      ASSERT_TRUE(xa.grad().device().is_cuda() && ya.grad().device().is_cuda());
      EXPECT_ALLCLOSE(xa.grad().cpu(), xb.grad(), testing::tolerance_for(DType::F32, C));
      EXPECT_ALLCLOSE(ya.grad().cpu(), yb.grad(), testing::tolerance_for(DType::F32, C));
    }
}

TEST(CrossEntropyCuda, AllRowsIgnored) {
  AFN_REQUIRE_CUDA();
  // As the CPU: mean is 0/0 = NaN, sum is 0, the gradient is 0.
  const Tensor x = randn({3, 5}, DType::F32, testing::kCuda0).set_requires_grad(true);
  const Tensor t = from_vector<int64_t>({-100, -100, -100}, {3}).cuda();
  EXPECT_TRUE(std::isnan(cross_entropy(x, t).item<float>()));
  EXPECT_TRUE(std::isnan(cross_entropy(x, t, {.label_smoothing = 0.2}).item<float>()));
  const Tensor sum = cross_entropy(x, t, {.reduction = Reduction::Sum});
  EXPECT_EQ(sum.item<float>(), 0.0f);
  sum.backward();
  for (float g : x.grad().to_vector<float>()) EXPECT_EQ(g, 0.0f);
}

TEST(NllLossCuda, ZeroTotalWeightGivesPyTorchsNaNs) {
  AFN_REQUIRE_CUDA();
  expect_zero_total_weight_as_pytorch(testing::kCuda0);
}

TEST(CrossEntropyCuda, InvalidTargetsThrowAtTheNextSynchronisation) {
  AFN_REQUIRE_CUDA();
  // The CPU's message (first bad row, its value), raised without a device assert and without the
  // host waiting inside the op: at the next synchronisation (a copy to the host, synchronize()).
  // The device stays usable afterwards.
  const auto sync = [] { synchronize(testing::kCuda0); };
  for (int64_t C : {int64_t(4), int64_t(3000)}) {  // warp and block kernels
    const Tensor x = zeros({3, C}, DType::F32, testing::kCuda0);
    const std::string classes = std::to_string(C) + " classes";
    const Tensor bad = from_vector<int64_t>({0, C + 3, -1}, {3}).cuda();
    expect_error_naming([&] { cross_entropy(x, bad).item<float>(); },
                        {"cross_entropy", "target " + std::to_string(C + 3), "(row 1)", classes});
    expect_error_naming(
        [&] {
          nll_loss(x, bad);
          sync();
        },
        {"nll_loss", "(row 1)", classes});
    const Tensor neg = from_vector<int64_t>({0, 1, -1}, {3}).cuda();
    expect_error_naming([&] { cross_entropy(x, neg, {.label_smoothing = 0.1}).cpu(); },
                        {"cross_entropy", "target -1", "(row 2)"});
    const Tensor ok = from_vector<int64_t>({0, 1, 2}, {3}).cuda();
    const auto fwd = ops::cross_entropy_forward(x, ok, {});
    expect_error_naming(
        [&] {
          ops::cross_entropy_backward(ones({}, DType::F32, testing::kCuda0), fwd.log_probs, bad,
                                      fwd.total_weight, {});
          sync();
        },
        {"cross_entropy_backward", "(row 1)"});
    expect_error_naming(
        [&] {
          ops::nll_loss_backward(ones({}, DType::F32, testing::kCuda0), neg, fwd.total_weight, C,
                                 {});
          sync();
        },
        {"nll_loss_backward", "target -1", "(row 2)"});
    // Still usable: the same call with good targets works.
    EXPECT_TRUE(std::isfinite(cross_entropy(x, ok).item<float>()));
  }
  const Tensor x = zeros({2, 4}, DType::F32, testing::kCuda0);
  const Tensor first = from_vector<int64_t>({0, 9}, {2}).cuda();
  const Tensor second = from_vector<int64_t>({7, 0}, {2}).cuda();
  // AFINAR_CUDA_SYNC=1 (tools/gpu/run.sh sets it) makes every op check before it returns.
  const char* sync_env = std::getenv("AFINAR_CUDA_SYNC");
  if (sync_env && *sync_env && std::string(sync_env) != "0") {
    expect_error_naming([&] { cross_entropy(x, first); }, {"cross_entropy: target 9 (row 1)"});
    return;
  }
  // The op returns; the first flagged op in queue order is reported once, saying where it came
  // from, and the ops queued after it are not reported again.
  Tensor loss;
  ASSERT_NO_THROW(loss = cross_entropy(x, first));
  ASSERT_NO_THROW(nll_loss(x, second));
  expect_error_naming([&] { loss.item<float>(); },
                      {"cross_entropy: target 9 (row 1)", "found on the device by an earlier op"});
  EXPECT_NO_THROW(sync());
  // More flagged ops than the flag slots (256): the earliest is reported when they run out.
  expect_error_naming(
      [&] {
        for (int i = 0; i < 300; ++i) nll_loss(x, i == 0 ? first : second);
      },
      {"nll_loss: target 9 (row 1)"});
  EXPECT_NO_THROW(sync());
}

TEST(CrossEntropyCuda, RejectsMixedDevices) {
  AFN_REQUIRE_CUDA();
  const Tensor x = zeros({2, 4}, DType::F32, testing::kCuda0);
  const Tensor t = from_vector<int64_t>({0, 1}, {2});
  EXPECT_THROW(cross_entropy(x, t), Error);                                // target on the CPU
  EXPECT_THROW(cross_entropy(x, t.cuda(), {.weight = ones({4})}), Error);  // weight on the CPU
  EXPECT_THROW(nll_loss(x.cpu(), t.cuda()), Error);
}

}  // namespace
}  // namespace afinar
