#include "afinar/ops/loss.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "afinar/ops/softmax.h"
#include "testing/compare.h"
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
    Tensor loss = cross_entropy(logits, c.tensor("target"), opt);
    // Each loss value sums C log-probabilities (and N rows for sum / mean).
    const int64_t N = logits.size(0), C = logits.size(1);
    EXPECT_ALLCLOSE(loss, c.tensor("loss"), testing::tolerance_for(logits.dtype(), N * C));
    loss.backward(c.has("grad_loss") ? c.tensor("grad_loss") : Tensor());
    EXPECT_ALLCLOSE(logits.grad(), c.tensor("grad_logits"),
                    testing::tolerance_for(logits.dtype(), C));
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

}  // namespace
}  // namespace afinar
