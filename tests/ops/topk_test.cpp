#include "afinar/ops/topk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include "testing/cuda.h"
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

TEST(Topk, ZeroDimInputGivesItsElementForKZeroAndOne) {
  // torch.topk(torch.tensor(3.), k) for k = 0 and 1: values tensor(3.), indices tensor(0).
  const Tensor x = scalar_tensor(3.0, DType::F64).set_requires_grad(true);
  for (int64_t k : {0, 1}) {
    const TopK t = topk(x, k);
    EXPECT_EQ(t.values.shape(), Shape{});
    EXPECT_EQ(t.values.item<double>(), 3.0);
    EXPECT_EQ(t.indices.item<int64_t>(), 0);
  }
  topk(x, 0).values.backward();
  EXPECT_EQ(x.grad().item<double>(), 1.0);
  EXPECT_THROW(topk(x, 2), Error);
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

namespace afinar {
namespace {

// ---- CUDA vs the CPU reference ------------------------------------------------------------------

// Values full of ties: integers in [-3, 3] with zeros of both signs, a NaN every `nan_every`
// elements (none for 0); or standard normal draws when !ties.
Tensor topk_input(const Shape& shape, DType t, bool ties, int64_t nan_every, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double x = ties ? double(int64_t(rng() % 7) - 3) : normal(rng);
    if (x == 0 && rng() % 2) x = -0.0;
    if (nan_every > 0 && i % nan_every == nan_every / 2) x = kNaN;
    v[size_t(i)] = x;
  }
  return from_vector<double>(v, shape).to(t);
}

// Same length, NaN at the same places, equal elsewhere (-0 == +0).
void expect_same_values(const Tensor& actual, const Tensor& expected) {
  const auto a = actual.to_vector<double>(), e = expected.to_vector<double>();
  ASSERT_EQ(a.size(), e.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(e[i]))
      EXPECT_TRUE(std::isnan(a[i])) << "element " << i;
    else
      EXPECT_EQ(a[i], e[i]) << "element " << i;
  }
}

struct DimCase {
  Shape shape;
  int64_t dim;
};

TEST(ArgmaxCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  const std::vector<DimCase> cases = {{{7, 10}, 1},    {{33, 1000}, -1},   {{3, 100003}, 1},
                                      {{4, 37, 5}, 1}, {{3, 300, 67}, 1},  {{2, 5, 3, 7}, 0},
                                      {{513}, 0},      {{2, 3000, 3}, -2}, {{}, 0}};
  uint64_t seed = 70;
  for (const DimCase& c : cases)
    for (DType t : {DType::F32, DType::F64})
      for (bool ties : {false, true})
        for (int64_t nan_every : {int64_t(0), int64_t(29)}) {
          SCOPED_TRACE(shape_str(c.shape) + " dim " + std::to_string(c.dim) +
                       (ties ? " ties" : "") + (nan_every ? " NaN" : ""));
          const Tensor x = topk_input(c.shape, t, ties, nan_every, ++seed);
          const Tensor gx = x.cuda();
          EXPECT_EQ(argmax(gx, c.dim).to_vector<int64_t>(), argmax(x, c.dim).to_vector<int64_t>());
          EXPECT_EQ(argmax(gx, c.dim, true).shape(), argmax(x, c.dim, true).shape());
          EXPECT_EQ(argmax(gx).item<int64_t>(), argmax(x).item<int64_t>());
        }
}

TEST(TopkCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  struct Case {
    Shape shape;
    int64_t dim, k;
  };
  const std::vector<Case> cases = {
      // WarpSelect (k <= 32)
      {{7, 10}, 1, 3},
      {{33, 1000}, -1, 5},
      {{9, 1000}, 1, 32},
      {{4, 37, 5}, 1, 7},
      {{3, 5000}, 1, 10},
      {{5}, 0, 5},
      {{}, 0, 1},
      // BitonicSort (k > 32, C <= 4096)
      {{6, 100}, 1, 40},
      {{5, 4096}, 1, 33},
      {{3, 300, 7}, 1, 100},
      {{4, 50}, 1, 50},
      {{2, 3000}, -1, 3000},
      // RadixSort (k > 32, C > 4096)
      {{3, 5000}, 1, 40},
      {{2, 4097, 3}, 1, 100},
      {{2, 10000}, 1, 10000},
  };
  uint64_t seed = 80;
  for (const Case& c : cases)
    for (DType t : {DType::F32, DType::F64})
      for (bool ties : {false, true})
        for (bool largest : {true, false}) {
          SCOPED_TRACE(shape_str(c.shape) + " dim " + std::to_string(c.dim) + " k " +
                       std::to_string(c.k) + (ties ? " ties" : "") +
                       (largest ? " largest" : " smallest"));
          const Tensor x = topk_input(c.shape, t, ties, ties ? 13 : 0, ++seed);
          const TopK ref = topk(x, c.k, c.dim, largest);
          const TopK out = topk(x.cuda(), c.k, c.dim, largest);
          ASSERT_TRUE(out.values.device().is_cuda());
          ASSERT_EQ(out.values.shape(), ref.values.shape());
          EXPECT_EQ(out.indices.to_vector<int64_t>(), ref.indices.to_vector<int64_t>());
          expect_same_values(out.values, ref.values);
        }
}

TEST(TopkCuda, TiesNaNAndSmallest) {
  AFN_REQUIRE_CUDA();
  // The CPU tests' closed forms, on the device: ties by lower index, NaN first for largest and
  // last for smallest, -0 tied with +0.
  const Tensor x = from_vector<double>({2, 7, 7, 1, 7, 2}, {6}).cuda();
  EXPECT_EQ(topk(x, 4).indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 4, 0}));
  EXPECT_EQ(topk(x, 3, -1, false).indices.to_vector<int64_t>(), (std::vector<int64_t>{3, 0, 5}));
  const Tensor n = from_vector<double>({1, kNaN, 3, kNaN, 2}, {5}).cuda();
  EXPECT_EQ(topk(n, 3).indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 2}));
  EXPECT_EQ(topk(n, 4, 0, false).indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 4, 2, 1}));
  EXPECT_EQ(argmax(n, 0).item<int64_t>(), 1);
  const Tensor z = from_vector<float>({-0.0f, 0.0f, -1.0f, 0.0f}, {4}).cuda();
  EXPECT_EQ(topk(z, 3).indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(argmax(z, 0).item<int64_t>(), 0);
}

TEST(TopkCuda, UnsortedSelectsTheSameSet) {
  AFN_REQUIRE_CUDA();
  Generator gen(90);
  const Tensor x = randn({3, 500}, DType::F32, gen);
  for (int64_t k : {int64_t(7), int64_t(100)}) {
    const TopK s = topk(x, k, 1, true, true), u = topk(x.cuda(), k, 1, true, false);
    auto sorted_rows = [k](const Tensor& idx) {
      auto v = idx.to_vector<int64_t>();
      for (size_t r = 0; r < 3; ++r)
        std::sort(v.begin() + long(r * size_t(k)), v.begin() + long((r + 1) * size_t(k)));
      return v;
    };
    EXPECT_EQ(sorted_rows(u.indices), sorted_rows(s.indices));
  }
}

TEST(TopkCuda, Backward) {
  AFN_REQUIRE_CUDA();
  Generator gen(91);
  // Through autograd, last and middle dims.
  for (int64_t dim : {int64_t(-1), int64_t(1)}) {
    const Tensor x = randn({4, 60, 3}, DType::F64, gen);
    Tensor a = x.cuda().set_requires_grad(true), b = x.detach().clone().set_requires_grad(true);
    const Tensor g = randn({4, 60, 3}, DType::F64, gen).slice(dim < 0 ? 2 : 1, 0, dim < 0 ? 2 : 40);
    topk(a, dim < 0 ? 2 : 40, dim).values.backward(g.contiguous().cuda());
    topk(b, dim < 0 ? 2 : 40, dim).values.backward(g.contiguous());
    ASSERT_TRUE(a.grad().device().is_cuda());
    EXPECT_EQ(a.grad().to_vector<double>(), b.grad().to_vector<double>());
  }
  // Repeated indices add up in the CPU's order; every other element is 0.
  const Tensor gv = randn({3, 4}, DType::F32, gen);
  const Tensor idx = from_vector<int64_t>({0, 0, 4, 0, 2, 2, 2, 2, 1, 3, 1, 3}, {3, 4});
  EXPECT_EQ(ops::topk_backward(gv.cuda(), idx.cuda(), {3, 5}, 1).to_vector<float>(),
            ops::topk_backward(gv, idx, {3, 5}, 1).to_vector<float>());
}

TEST(TopkCuda, BadInputThrows) {
  AFN_REQUIRE_CUDA();
  const Tensor gv = ones({2, 2}, DType::F32, testing::kCuda0);
  // Found on the device, reported at the next synchronisation (the copy to the host here).
  try {
    ops::topk_backward(gv, from_vector<int64_t>({0, 1, 5, 0}, {2, 2}).cuda(), {2, 5}, 1).cpu();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("index 5 is out of range for a dim of size 5"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(
      ops::topk_backward(gv, from_vector<int64_t>({0, 1, 2, -1}, {2, 2}).cuda(), {2, 5}, 1).cpu(),
      Error);
  EXPECT_THROW(ops::topk_backward(gv, from_vector<int64_t>({0, 1, 2, 3}, {2, 2}), {2, 5}, 1),
               Error);  // indices on the CPU
  // The device is still usable.
  EXPECT_EQ(topk(ones({5}, DType::F32, testing::kCuda0), 2).indices.to_vector<int64_t>(),
            (std::vector<int64_t>{0, 1}));
}

}  // namespace
}  // namespace afinar
