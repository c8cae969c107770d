#include "afinar/ops/softmax.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "afinar/ops/elementwise.h"
#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

// Naive softmax / log_softmax of x [A, B, D] along dim 1, straight from the definition
// exp(x_c) / Σ_k exp(x_k) (no max subtraction: the inputs here are small).
Tensor naive_softmax_dim1(const Tensor& x, bool log) {
  const int64_t A = x.size(0), B = x.size(1), D = x.size(2);
  const std::vector<double> v = x.to_vector<double>();
  std::vector<double> out(v.size());
  for (int64_t a = 0; a < A; ++a)
    for (int64_t d = 0; d < D; ++d) {
      double sum = 0;
      for (int64_t b = 0; b < B; ++b) sum += std::exp(v[size_t((a * B + b) * D + d)]);
      for (int64_t b = 0; b < B; ++b) {
        const size_t k = size_t((a * B + b) * D + d);
        out[k] = log ? v[k] - std::log(sum) : std::exp(v[k]) / sum;
      }
    }
  return from_vector<double>(out, x.shape());
}

TEST(Softmax, MatchesClosedFormTwoByThree) {
  Tensor x = from_vector<double>({1, 2, 3, -1, 0, 4}, {2, 3});
  const double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0);
  const double s0 = e1 + e2 + e3;
  Tensor y = softmax(x, 1);
  const auto tol = testing::tolerance_for(DType::F64, 3);
  EXPECT_ALLCLOSE(y.slice(0, 0, 1).reshape({3}),
                  from_vector<double>({e1 / s0, e2 / s0, e3 / s0}, {3}), tol);
  // dim 0: columns of two; softmax(a, b) = 1 / (1 + exp(b - a)) for the first element.
  Tensor y0 = softmax(x, 0);
  const std::vector<double> expect0 = {1 / (1 + std::exp(-2.0)), 1 / (1 + std::exp(-2.0)),
                                       1 / (1 + std::exp(1.0)),  1 / (1 + std::exp(2.0)),
                                       1 / (1 + std::exp(2.0)),  1 / (1 + std::exp(-1.0))};
  EXPECT_ALLCLOSE(y0, from_vector<double>(expect0, {2, 3}), tol);
  Tensor ly = log_softmax(x, -1);
  EXPECT_NEAR(ly.to_vector<double>()[0], 1 - std::log(s0), 1e-14);
}

TEST(Softmax, MiddleAndLastDimMatchNaive) {
  // 72,000 elements: large enough for the kernels' parallel loop.
  Generator gen(7);
  Tensor x = randn({8, 100, 90}, DType::F64, gen);
  EXPECT_ALLCLOSE(softmax(x, 1), naive_softmax_dim1(x, false),
                  testing::tolerance_for(DType::F64, 100));
  EXPECT_ALLCLOSE(log_softmax(x, -2), naive_softmax_dim1(x, true),
                  testing::tolerance_for(DType::F64, 100));
  // Last dim: the same naive formula on x viewed as [8*100, 90, 1].
  Tensor rows = x.reshape({800, 90, 1});
  const auto tol = testing::tolerance_for(DType::F64, 90);
  EXPECT_ALLCLOSE(softmax(x, -1), naive_softmax_dim1(rows, false).reshape({8, 100, 90}), tol);
  EXPECT_ALLCLOSE(log_softmax(x, 2), naive_softmax_dim1(rows, true).reshape({8, 100, 90}), tol);
}

TEST(Softmax, Float32MatchesFloat64) {
  Generator gen(8);
  Tensor x = randn({4, 33}, DType::F64, gen);
  EXPECT_ALLCLOSE(softmax(x.to(DType::F32), 1).to(DType::F64), softmax(x, 1),
                  testing::tolerance_for(DType::F32, 33));
  EXPECT_ALLCLOSE(log_softmax(x.to(DType::F32), 1).to(DType::F64), log_softmax(x, 1),
                  testing::tolerance_for(DType::F32, 33));
}

TEST(Softmax, NonContiguousInput) {
  Generator gen(9);
  Tensor x = randn({4, 6}, DType::F64, gen);
  Tensor xt = x.transpose(0, 1);  // [6, 4], not contiguous
  ASSERT_FALSE(xt.is_contiguous());
  EXPECT_ALLCLOSE(softmax(xt, 0), softmax(x, 1).transpose(0, 1).contiguous(),
                  testing::tolerance_for(DType::F64, 4));
}

TEST(Softmax, LargeLogitsStayFinite) {
  // Without subtracting the max, exp(1000) overflows to inf and the result is NaN.
  Tensor x = from_vector<float>({1000, 0, -1000}, {3});
  EXPECT_EQ(softmax(x, 0).to_vector<float>(), (std::vector<float>{1, 0, 0}));
  EXPECT_EQ(log_softmax(x, 0).to_vector<float>(), (std::vector<float>{0, -1000, -2000}));
  Tensor same = full({2, 4}, 1000.0, DType::F32);
  for (float v : softmax(same, 1).to_vector<float>()) EXPECT_EQ(v, 0.25f);
  for (float v : log_softmax(same, 1).to_vector<float>()) EXPECT_NEAR(v, -std::log(4.0f), 1e-6f);
}

TEST(Softmax, ScalarIsOne) {
  EXPECT_EQ(softmax(scalar_tensor(3.0), 0).item<float>(), 1.0f);
  EXPECT_EQ(log_softmax(scalar_tensor(3.0), -1).item<float>(), 0.0f);
}

TEST(Softmax, GradCheck) {
  Generator gen(10);
  Tensor x = testing::leaf_f64({2, 4, 3}, gen, -2.0, 2.0);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return softmax(in[0], 1); }, {x});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return softmax(in[0], -1); }, {x});
}

TEST(LogSoftmax, GradCheck) {
  Generator gen(11);
  Tensor x = testing::leaf_f64({2, 4, 3}, gen, -2.0, 2.0);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return log_softmax(in[0], 1); }, {x});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return log_softmax(in[0], -1); }, {x});
}

TEST(Softmax, RejectsBadInput) {
  EXPECT_THROW(softmax(zeros({2, 3}, DType::I64), 1), Error);
  EXPECT_THROW(softmax(zeros({2, 3}), 2), Error);
  EXPECT_THROW(log_softmax(zeros({2, 3}), -3), Error);
  EXPECT_THROW(softmax(Tensor(), 0), Error);
  Tensor y = softmax(zeros({2, 3}, DType::F64), 1);
  EXPECT_THROW(ops::softmax_backward(zeros({3, 2}, DType::F64), y, 1), Error);
  EXPECT_THROW(ops::log_softmax_backward(zeros({2, 3}, DType::F32), y, 1), Error);
}

}  // namespace
}  // namespace afinar

namespace afinar {
namespace {

// ---- CUDA vs the CPU reference ------------------------------------------------------------------

// NaN where the reference has NaN, elsewhere within tol.
::testing::AssertionResult close_or_both_nan(const Tensor& actual, const Tensor& expected,
                                             testing::Tolerance tol) {
  const auto a = actual.to_vector<double>(), e = expected.to_vector<double>();
  if (a.size() != e.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(e[i]) != std::isnan(a[i]))
      return ::testing::AssertionFailure()
             << "element " << i << ": actual " << a[i] << ", expected " << e[i];
    // Equal infinities pass (their difference is NaN).
    if (!std::isnan(e[i]) && a[i] != e[i] &&
        !(std::abs(a[i] - e[i]) <= tol.atol + tol.rtol * std::abs(e[i])))
      return ::testing::AssertionFailure()
             << "element " << i << ": actual " << a[i] << ", expected " << e[i];
  }
  return ::testing::AssertionSuccess();
}

// Forward of both ops and their backward (fed the reference's y, so each kernel is compared
// alone) on CUDA against the CPU, for x on the CPU.
void expect_softmax_cuda_matches(const Tensor& x, int64_t dim, Generator& gen) {
  const DType t = x.dtype();
  const int64_t C = x.dim() == 0 ? 1 : x.size(dim < 0 ? dim + x.dim() : dim);
  const auto tol = testing::tolerance_for(t, C);
  const Tensor gx = x.cuda();
  for (bool log : {false, true}) {
    SCOPED_TRACE(std::string(log ? "log_softmax " : "softmax ") + shape_str(x.shape()) + " dim " +
                 std::to_string(dim) + " " + (t == DType::F32 ? "f32" : "f64"));
    const Tensor y = log ? ops::log_softmax_forward(x, dim) : ops::softmax_forward(x, dim);
    const Tensor gy = log ? ops::log_softmax_forward(gx, dim) : ops::softmax_forward(gx, dim);
    ASSERT_TRUE(gy.device().is_cuda());
    EXPECT_TRUE(close_or_both_nan(gy.cpu(), y, tol));
    const Tensor g = randn(x.shape(), t, gen);
    const Tensor gi = log ? ops::log_softmax_backward(g, y, dim) : ops::softmax_backward(g, y, dim);
    const Tensor ggi = log ? ops::log_softmax_backward(g.cuda(), y.cuda(), dim)
                           : ops::softmax_backward(g.cuda(), y.cuda(), dim);
    EXPECT_TRUE(close_or_both_nan(ggi.cpu(), gi, tol));
  }
}

TEST(SoftmaxCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(41);
  struct Case {
    Shape shape;
    int64_t dim;
  };
  const std::vector<Case> cases = {
      {{7, 10}, 1},        // warp per row, 1 element per lane, scalar loads (10 % 4 != 0)
      {{33, 1000}, -1},    // warp per row, 16-byte loads (the classifier case)
      {{5, 1023}, 1},      // warp per row, odd length
      {{9, 512}, 1},       // the longest f64 warp row
      {{3, 1}, 1},         // C = 1
      {{2, 3, 17}, 2},     // 3-D, last dim
      {{6, 1025}, 1},      // block per row, row in registers, scalar loads
      {{4, 4100}, 1},      // block per row, row in registers, 16-byte loads
      {{2, 20000}, 1},     // f32: registers forward, online backward; f64: online both ways
      {{3, 100003}, 1},    // long rows: online max/sum
      {{4, 37, 5}, 1},     // middle dim, inner < 32
      {{3, 300, 67}, 1},   // middle dim, inner > 32 (partial tile)
      {{2, 5, 3, 7}, 0},   // first dim
      {{2, 2000, 3}, -2},  // middle dim, long lines
      {{2, 9000, 3}, 1},   // middle dim, lines too long for registers: online pass
      {{513}, 0},          // 1-D
      {{}, 0},             // 0-D counts as [1]
      {{0, 5}, 1},         // empty
  };
  for (const Case& c : cases)
    for (DType t : {DType::F32, DType::F64})
      expect_softmax_cuda_matches(randn(c.shape, t, gen) * 3.0, c.dim, gen);
}

TEST(SoftmaxCuda, MisalignedRowsTakeScalarLoads) {
  AFN_REQUIRE_CUDA();
  Generator gen(42);
  for (DType t : {DType::F32, DType::F64})
    for (int64_t C : {int64_t(1000), int64_t(4096)}) {
      // A contiguous view one element into its storage: rows are not 16-byte aligned.
      const Tensor flat = randn({4 * C + 1}, t, gen);
      const Tensor x = flat.slice(0, 1, 4 * C + 1).reshape({4, C});
      const Tensor gx = flat.cuda().slice(0, 1, 4 * C + 1).reshape({4, C});
      ASSERT_TRUE(gx.is_contiguous());
      const auto tol = testing::tolerance_for(t, C);
      EXPECT_ALLCLOSE(softmax(gx, 1).cpu(), softmax(x, 1), tol);
      EXPECT_ALLCLOSE(log_softmax(gx, 1).cpu(), log_softmax(x, 1), tol);
      const Tensor y = softmax(x, 1), g = randn({4, C}, t, gen);
      const Tensor gg = randn({4 * C + 1}, t, gen);
      EXPECT_ALLCLOSE(
          ops::softmax_backward(gg.cuda().slice(0, 1, 4 * C + 1).reshape({4, C}), y.cuda(), 1)
              .cpu(),
          ops::softmax_backward(gg.slice(0, 1, 4 * C + 1).reshape({4, C}), y, 1), tol);
    }
}

TEST(SoftmaxCuda, SpecialValuesAsTheCpu) {
  AFN_REQUIRE_CUDA();
  // Rows with ±1000, +inf, all -inf, NaN and some -inf: the register path (C = 4), the online
  // block path (C = 1500) and the columns path (dim 0) must give the CPU's values and NaNs.
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::vector<double>> rows = {
      {1000, 0, -1000, 5}, {inf, 1, 2, 3},   {-inf, -inf, -inf, -inf}, {nan, 1, 2, 3},
      {-inf, 0, 1, -inf},  {1, inf, inf, 0}, {-inf, nan, -inf, -inf}};
  for (DType t : {DType::F32, DType::F64})
    for (int64_t C : {int64_t(4), int64_t(1500)}) {
      std::vector<double> v;
      for (const auto& r : rows)
        for (int64_t c = 0; c < C; ++c) v.push_back(c < 4 ? r[size_t(c)] : -3.0 + double(c % 7));
      const int64_t n = int64_t(rows.size());
      const Tensor x = from_vector<double>(v, {n, C}).to(t);
      const auto tol = testing::tolerance_for(t, C);
      for (int64_t dim : {1, 0}) {
        const Tensor xd = dim == 1 ? x : x.transpose(0, 1).contiguous();
        EXPECT_TRUE(close_or_both_nan(softmax(xd.cuda(), dim).cpu(), softmax(xd, dim), tol))
            << "C " << C << " dim " << dim;
        EXPECT_TRUE(close_or_both_nan(log_softmax(xd.cuda(), dim).cpu(), log_softmax(xd, dim), tol))
            << "C " << C << " dim " << dim;
      }
    }
}

TEST(SoftmaxCuda, AutogradOnDevice) {
  AFN_REQUIRE_CUDA();
  Generator gen(43);
  const Tensor x = randn({6, 50, 3}, DType::F32, gen), g = randn({6, 50, 3}, DType::F32, gen);
  Tensor a = x.cuda().set_requires_grad(true), b = x.detach().clone().set_requires_grad(true);
  log_softmax(a, 1).backward(g.cuda());
  log_softmax(b, 1).backward(g);
  ASSERT_TRUE(a.grad().device().is_cuda());
  EXPECT_ALLCLOSE(a.grad().cpu(), b.grad(), testing::tolerance_for(DType::F32, 50));
}

TEST(SoftmaxCuda, RejectsMixedDevices) {
  AFN_REQUIRE_CUDA();
  const Tensor y = softmax(zeros({2, 3}, DType::F32, testing::kCuda0), 1);
  EXPECT_THROW(ops::softmax_backward(zeros({2, 3}), y, 1), Error);
  EXPECT_THROW(ops::log_softmax_backward(zeros({2, 3}, DType::F32, testing::kCuda0), y.cpu(), 1),
               Error);
}

}  // namespace
}  // namespace afinar
