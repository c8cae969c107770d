#include "afinar/ops/topk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "testing/gradcheck.h"

namespace afinar {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(Argmax, MatchesClosedForm) {
  Tensor x = from_vector<double>({1, 5, 5, 2, 2, 1}, {2, 3});
  EXPECT_EQ(argmax(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));  // first of ties
  EXPECT_EQ(argmax(x, 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(argmax(x, -1).dtype(), DType::I64);
  EXPECT_EQ(argmax(x, 1).shape(), (Shape{2}));
  EXPECT_EQ(argmax(x, 1, /*keepdim=*/true).shape(), (Shape{2, 1}));
  EXPECT_EQ(argmax(x).item<int64_t>(), 1);
  EXPECT_EQ(argmax(x).dim(), 0);
  EXPECT_EQ(argmax(scalar_tensor(3.0), 0).item<int64_t>(), 0);
}

TEST(Argmax, MiddleDimMatchesNaive) {
  Generator gen(31);
  Tensor x = randn({3, 5, 4}, DType::F32, gen);
  const auto v = x.to_vector<float>();
  const auto idx = argmax(x, 1).to_vector<int64_t>();
  for (int64_t a = 0; a < 3; ++a)
    for (int64_t d = 0; d < 4; ++d) {
      int64_t best = 0;
      for (int64_t b = 1; b < 5; ++b)
        if (v[size_t((a * 5 + b) * 4 + d)] > v[size_t((a * 5 + best) * 4 + d)]) best = b;
      EXPECT_EQ(idx[size_t(a * 4 + d)], best);
    }
}

TEST(Argmax, NaNIsTheMaximum) {
  // PyTorch: the first NaN wins.
  Tensor x = from_vector<double>({1, kNaN, 3, kNaN}, {4});
  EXPECT_EQ(argmax(x, 0).item<int64_t>(), 1);
}

TEST(Argmax, IsNotDifferentiable) {
  Tensor x = ones({3}, DType::F64).set_requires_grad(true);
  EXPECT_FALSE(argmax(x, 0).requires_grad());
}

TEST(Argmax, RejectsBadInput) {
  EXPECT_THROW(argmax(zeros({2, 3}), 2), Error);
  EXPECT_THROW(argmax(zeros({0, 3}), 0), Error);  // no maximum of nothing
  EXPECT_EQ(argmax(zeros({0, 3}), 1).shape(), (Shape{0}));
  EXPECT_THROW(argmax(zeros({2}, DType::I64), 0), Error);
}

TEST(Topk, MatchesClosedForm) {
  Tensor x = from_vector<double>({3, 1, 4, 1, 5, 9, 2, 6}, {8});
  TopK big = topk(x, 3);
  EXPECT_EQ(big.values.to_vector<double>(), (std::vector<double>{9, 6, 5}));
  EXPECT_EQ(big.indices.to_vector<int64_t>(), (std::vector<int64_t>{5, 7, 4}));
  TopK small = topk(x, 3, 0, /*largest=*/false);
  EXPECT_EQ(small.values.to_vector<double>(), (std::vector<double>{1, 1, 2}));
  EXPECT_EQ(small.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 6}));
  EXPECT_EQ(topk(x, 0).values.shape(), (Shape{0}));
  EXPECT_EQ(topk(x, 8).indices.to_vector<int64_t>(),
            (std::vector<int64_t>{5, 7, 4, 2, 0, 6, 1, 3}));
}

TEST(Topk, Ties) {
  // Equal values: every returned index holds the value, no index twice, lower index first.
  Tensor x = from_vector<double>({2, 7, 7, 1, 7, 2}, {6});
  TopK t = topk(x, 4);
  EXPECT_EQ(t.values.to_vector<double>(), (std::vector<double>{7, 7, 7, 2}));
  EXPECT_EQ(t.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 4, 0}));
  TopK s = topk(x, 3, -1, /*largest=*/false);
  EXPECT_EQ(s.values.to_vector<double>(), (std::vector<double>{1, 2, 2}));
  EXPECT_EQ(s.indices.to_vector<int64_t>(), (std::vector<int64_t>{3, 0, 5}));
}

TEST(Topk, NaNRanksAboveEverything) {
  // As PyTorch: NaNs first for largest, last for smallest.
  Tensor x = from_vector<double>({1, kNaN, 3, kNaN, 2}, {5});
  TopK big = topk(x, 3);
  EXPECT_EQ(big.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 2}));
  TopK small = topk(x, 4, 0, false);
  EXPECT_EQ(small.indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 4, 2, 1}));
  EXPECT_TRUE(std::isnan(small.values.to_vector<double>()[3]));
}

TEST(Topk, MiddleDimMatchesNaiveSort) {
  Generator gen(32);
  Tensor x = randn({2, 6, 3}, DType::F64, gen);
  const auto v = x.to_vector<double>();
  for (bool largest : {true, false}) {
    TopK t = topk(x, 4, 1, largest);
    EXPECT_EQ(t.values.shape(), (Shape{2, 4, 3}));
    const auto tv = t.values.to_vector<double>();
    const auto ti = t.indices.to_vector<int64_t>();
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t d = 0; d < 3; ++d) {
        std::vector<int64_t> order(6);
        std::iota(order.begin(), order.end(), 0);
        auto at = [&](int64_t b) { return v[size_t((a * 6 + b) * 3 + d)]; };
        std::sort(order.begin(), order.end(),
                  [&](int64_t l, int64_t r) { return largest ? at(l) > at(r) : at(l) < at(r); });
        for (int64_t r = 0; r < 4; ++r) {
          EXPECT_EQ(ti[size_t((a * 4 + r) * 3 + d)], order[size_t(r)]);
          EXPECT_EQ(tv[size_t((a * 4 + r) * 3 + d)], at(order[size_t(r)]));
        }
      }
  }
}

TEST(Topk, UnsortedSelectsTheSameSet) {
  Generator gen(33);
  Tensor x = randn({3, 50}, DType::F32, gen);
  TopK s = topk(x, 7, 1, true, true), u = topk(x, 7, 1, true, /*sorted=*/false);
  auto sorted_rows = [](const Tensor& idx) {
    auto v = idx.to_vector<int64_t>();
    for (size_t r = 0; r < 3; ++r) std::sort(v.begin() + long(r * 7), v.begin() + long(r * 7 + 7));
    return v;
  };
  EXPECT_EQ(sorted_rows(s.indices), sorted_rows(u.indices));
}

TEST(Topk, GradCheck) {
  Generator gen(34);
  // Uniform draws are distinct with probability 1, so no ties (the kinks of topk) occur.
  Tensor x = testing::leaf_f64({3, 5, 2}, gen);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return topk(in[0], 2, 1).values; }, {x});
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) { return topk(in[0], 3, -2, false, false).values; }, {x});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return topk(in[0], 1, -1).values; }, {x});
}

TEST(Topk, IndicesCarryNoGradient) {
  Tensor x = ones({4}, DType::F64).set_requires_grad(true);
  TopK t = topk(x, 2);
  EXPECT_TRUE(t.values.requires_grad());
  EXPECT_FALSE(t.indices.requires_grad());
}

TEST(Topk, RejectsBadInput) {
  Tensor x = zeros({2, 5});
  EXPECT_THROW(topk(x, 6), Error);
  EXPECT_THROW(topk(x, 3, 0), Error);
  EXPECT_THROW(topk(x, -1), Error);
  EXPECT_THROW(topk(x, 1, 2), Error);
  EXPECT_THROW(topk(zeros({5}, DType::I64), 1), Error);
  // The raw backward checks indices against the input's dim.
  EXPECT_THROW(
      ops::topk_backward(ones({2, 2}), from_vector<int64_t>({0, 1, 5, 0}, {2, 2}), {2, 5}, 1),
      Error);
  EXPECT_THROW(ops::topk_backward(ones({2, 2}), zeros({2, 2}), {2, 5}, 1), Error);
  EXPECT_THROW(ops::topk_backward(ones({3, 2}), zeros({3, 2}, DType::I64), {2, 5}, 1), Error);
}

}  // namespace
}  // namespace afinar
