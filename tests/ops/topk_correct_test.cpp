// topk_correct: hand-worked rows (ties, NaN, ignored targets), agreement with topk and argmax on
// random logits, bad input, and the CUDA kernel against the CPU reference.
#include "afinar/ops/topk_correct.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "afinar/ops/topk.h"
#include "testing/cuda.h"

namespace afinar {
namespace {

int64_t count_of(const std::vector<double>& logits, int64_t C, const std::vector<int64_t>& target,
                 int64_t k, DType dtype = DType::F64) {
  Tensor x = from_vector(logits, {int64_t(target.size()), C}).to(dtype);
  return topk_correct(x, from_vector(target, {int64_t(target.size())}), k).item<int64_t>();
}

TEST(TopkCorrect, HandWorkedRows) {
  // Row 0: target 2 holds 3, tied with index 1, which ranks above it: rank 1.
  // Row 1: target 0 is the unique maximum: rank 0.
  // Row 2: target 3 is the smallest: rank 3.
  const std::vector<double> x = {1, 3, 3, 0, /**/ 9, 1, 2, 3, /**/ 5, 6, 7, -1};
  EXPECT_EQ(count_of(x, 4, {2, 0, 3}, 1), 1);
  EXPECT_EQ(count_of(x, 4, {2, 0, 3}, 2), 2);
  EXPECT_EQ(count_of(x, 4, {2, 0, 3}, 3), 2);
  EXPECT_EQ(count_of(x, 4, {2, 0, 3}, 4), 3);
  EXPECT_EQ(count_of(x, 4, {1, 0, 3}, 1), 2);  // index 1 wins the tie at k = 1
}

TEST(TopkCorrect, NaNRanksAboveEveryNumber) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> x = {1, nan, 5, /**/ nan, nan, 0};
  EXPECT_EQ(count_of(x, 3, {2, 0}, 1), 1);  // row 0: NaN first, 5 second; row 1: first NaN
  EXPECT_EQ(count_of(x, 3, {2, 1}, 1), 0);
  EXPECT_EQ(count_of(x, 3, {2, 1}, 2), 2);
  EXPECT_EQ(count_of(x, 3, {0, 2}, 3), 2);
}

TEST(TopkCorrect, TargetsOutsideTheClassesNeverCount) {
  const std::vector<double> x = {1, 2, /**/ 3, 4, /**/ 5, 6};
  EXPECT_EQ(count_of(x, 2, {-100, 1, 2}, 2), 1);  // k = C counts every valid row
}

// Independent of the counting loop: membership in topk's indices, and argmax for k = 1.
TEST(TopkCorrect, AgreesWithTopkAndArgmax) {
  Generator gen(3);
  for (DType dt : {DType::F32, DType::F64}) {
    const int64_t N = 61, C = 17;
    // Rounded values make ties common.
    std::vector<double> v = (uniform({N, C}, -3, 3, DType::F64, gen)).to_vector<double>();
    for (double& e : v) e = std::round(e * 2) / 2;
    Tensor x = from_vector(v, {N, C}).to(dt);
    std::vector<int64_t> t(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) t[size_t(n)] = (n * 7) % C;
    Tensor target = from_vector(t, {N});
    for (int64_t k : {int64_t(1), int64_t(2), int64_t(5), C}) {
      const std::vector<int64_t> idx = topk(x, k, 1).indices.to_vector<int64_t>();
      int64_t want = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t r = 0; r < k; ++r) want += idx[size_t(n * k + r)] == t[size_t(n)] ? 1 : 0;
      EXPECT_EQ(topk_correct(x, target, k).item<int64_t>(), want) << "k=" << k;
    }
    const std::vector<int64_t> am = argmax(x, 1).to_vector<int64_t>();
    int64_t want1 = 0;
    for (int64_t n = 0; n < N; ++n) want1 += am[size_t(n)] == t[size_t(n)] ? 1 : 0;
    EXPECT_EQ(topk_correct(x, target, 1).item<int64_t>(), want1);
  }
}

TEST(TopkCorrect, BadInputThrows) {
  Tensor x = zeros({4, 3});
  Tensor t = zeros({4}, DType::I64);
  EXPECT_THROW(topk_correct(x, t, 0), Error);
  EXPECT_THROW(topk_correct(x, t, 4), Error);
  EXPECT_THROW(topk_correct(zeros({4}), t, 1), Error);
  EXPECT_THROW(topk_correct(x, zeros({4}), 1), Error);  // float target
  EXPECT_THROW(topk_correct(x, zeros({5}, DType::I64), 1), Error);
  EXPECT_THROW(topk_correct(zeros({4, 3}, DType::I64), t, 1), Error);
  EXPECT_EQ(topk_correct(zeros({0, 3}), zeros({0}, DType::I64), 1).item<int64_t>(), 0);
}

TEST(TopkCorrectCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(4);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dt : {DType::F32, DType::F64}) {
    for (auto [N, C] : {std::pair<int64_t, int64_t>{1, 1}, {37, 5}, {1000, 1001}, {3, 70000}}) {
      std::vector<double> v = uniform({N, C}, -2, 2, DType::F64, gen).to_vector<double>();
      for (size_t i = 0; i < v.size(); ++i) {
        v[i] = std::round(v[i] * 4) / 4;  // ties
        if (i % 97 == 5) v[i] = nan;
      }
      std::vector<int64_t> t(static_cast<size_t>(N));
      for (int64_t n = 0; n < N; ++n) t[size_t(n)] = n % 11 == 3 ? -100 : (n * 13) % C;
      Tensor x = from_vector(v, {N, C}).to(dt), target = from_vector(t, {N});
      for (int64_t k : {int64_t(1), std::min<int64_t>(5, C), C}) {
        Tensor got = topk_correct(x.cuda(), target.cuda(), k);
        EXPECT_EQ(got.device(), testing::kCuda0);
        EXPECT_EQ(got.item<int64_t>(), topk_correct(x, target, k).item<int64_t>())
            << dtype_name(dt) << " N=" << N << " C=" << C << " k=" << k;
      }
    }
  }
}

}  // namespace
}  // namespace afinar
