#include "afinar/ops/softmax.h"

#include <gtest/gtest.h>

#include <cmath>

#include "testing/compare.h"
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
