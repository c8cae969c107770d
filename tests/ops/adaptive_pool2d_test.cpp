#include "afinar/ops/adaptive_pool2d.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/fixtures.h"
#include "testing/gradcheck.h"

namespace afinar {

namespace {

// Window of output o of n over L inputs: [⌊o·L/n⌋, ⌈(o+1)·L/n⌉).
TEST(AdaptiveAvgPool2d, MatchesClosedForm) {
  // 5 -> 3: windows [0,2), [1,4), [3,5) (overlapping).
  Tensor x = from_vector<double>({1, 2, 3, 4, 5}, {1, 1, 1, 5});
  EXPECT_EQ(adaptive_avg_pool2d(x, {1, 3}).to_vector<double>(), (std::vector<double>{1.5, 3, 4.5}));
  // 2 -> 3 (upsampling): windows [0,1), [0,2), [1,2) along each axis.
  Tensor u = from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2});
  EXPECT_EQ(adaptive_avg_pool2d(u, {3, 3}).to_vector<double>(),
            (std::vector<double>{1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}));
  // 1x1: the global average.
  EXPECT_EQ(adaptive_avg_pool2d(u, {1, 1}).to_vector<double>(), (std::vector<double>{2.5}));
}

TEST(AdaptiveAvgPool2d, WindowsMatchFloorCeilRule) {
  // In floating point, for every input size L and output size n (n > L too): non-empty windows
  // inside [0, L) that together cover every input.
  for (int64_t L = 1; L <= 12; ++L)
    for (int64_t n = 1; n <= 15; ++n) {
      const ops::PoolWindows w = ops::adaptive_pool_windows(L, n);
      ASSERT_EQ(w.size(), n);
      std::vector<bool> covered(size_t(L), false);
      for (int64_t o = 0; o < n; ++o) {
        const auto b = int64_t(std::floor(double(o) * double(L) / double(n)));
        const auto e = int64_t(std::ceil(double(o + 1) * double(L) / double(n)));
        ASSERT_EQ(w.begin[size_t(o)], b) << L << " -> " << n << " window " << o;
        ASSERT_EQ(w.end[size_t(o)], e) << L << " -> " << n << " window " << o;
        ASSERT_TRUE(0 <= b && b < e && e <= L);
        EXPECT_EQ(w.count(o), e - b);
        for (int64_t i = b; i < e; ++i) covered[size_t(i)] = true;
      }
      EXPECT_EQ(std::count(covered.begin(), covered.end(), false), 0);
    }
}

TEST(AdaptiveAvgPool2d, BackwardSpreadsOverOverlappingWindows) {
  // 5 -> 3 as above: dL/dx_w = Σ_{windows holding w} g / |window|.
  Tensor x = from_vector<double>({1, 2, 3, 4, 5}, {1, 1, 1, 5}).set_requires_grad(true);
  adaptive_avg_pool2d(x, {1, 3}).backward(from_vector<double>({2, 3, 4}, {1, 1, 1, 3}));
  EXPECT_ALLCLOSE(x.grad(), from_vector<double>({1, 1 + 1, 1, 1 + 2, 2}, {1, 1, 1, 5}),
                  testing::tolerance_for(DType::F64, 2));
}

TEST(AdaptiveAvgPool2d, GradCheck) {
  Generator gen(13);
  for (const std::array<int64_t, 2> out : {std::array<int64_t, 2>{3, 2}, {7, 4}, {1, 1}}) {
    Tensor x = testing::leaf_f64({2, 2, 5, 4}, gen);
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], out); },
                     {x});
  }
}

// Both adaptive ops against PyTorch on the same inputs (tools/goldens/adaptive_pool2d.py).
void check_golden(bool is_max) {
  for (const auto& c : testing::load_goldens("adaptive_pool2d")) {
    SCOPED_TRACE(c.name);
    const auto size = c.attr_ints("output_size");
    ASSERT_EQ(size.size(), 2u);
    const std::array<int64_t, 2> out{size[0], size[1]};
    Tensor x = c.tensor("x").set_requires_grad(true);
    // Window area: ⌈H/P⌉ + 1 rows at most, likewise columns.
    const int64_t area = (x.size(2) / out[0] + 2) * (x.size(3) / out[1] + 2);
    const auto tol = testing::tolerance_for(x.dtype(), area);
    Tensor y;
    if (is_max) {
      auto [ym, idx] = adaptive_max_pool2d_with_indices(x, out);
      EXPECT_EQ(idx.to_vector<int64_t>(), c.tensor("max_indices").to_vector<int64_t>());
      y = ym;
    } else {
      y = adaptive_avg_pool2d(x, out);
    }
    const std::string prefix = is_max ? "max_" : "avg_";
    EXPECT_ALLCLOSE(y, c.tensor(prefix + "y"), tol);
    y.backward(c.tensor("g"));
    EXPECT_ALLCLOSE(x.grad(), c.tensor(prefix + "gx"), tol);
  }
}

TEST(AdaptiveAvgPool2d, MatchesTorchGolden) {
  check_golden(false);
}

// Bad arguments of either op: `pool(x, output_size)` runs one of them.
template <typename Pool>
void check_rejects(Pool pool) {
  Tensor x = zeros({1, 2, 5, 5});
  EXPECT_THROW(pool(zeros({5, 5}), {2, 2}), Error);           // 2-D (3-D is unbatched)
  EXPECT_THROW(pool(zeros({1, 1, 2, 5, 5}), {2, 2}), Error);  // 5-D
  EXPECT_THROW(pool(zeros({1, 2, 5, 0}), {2, 2}), Error);     // W = 0
  EXPECT_THROW(pool(zeros({1, 2, 5, 5}, DType::I32), {2, 2}), Error);
  EXPECT_THROW(pool(x, {0, 2}), Error);
  EXPECT_THROW(pool(x, {2, -1}), Error);
  EXPECT_NO_THROW(pool(x, {9, 1}));  // larger than the input: allowed
}

TEST(AdaptiveAvgPool2d, RejectsBadArguments) {
  check_rejects(
      [](const Tensor& x, std::array<int64_t, 2> s) { return adaptive_avg_pool2d(x, s); });
  Tensor g = zeros({1, 2, 3, 3});
  EXPECT_NO_THROW(ops::adaptive_avg_pool2d_backward(g, {1, 2, 5, 5}));
  EXPECT_THROW(ops::adaptive_avg_pool2d_backward(g, {1, 3, 5, 5}), Error);  // C differs
  EXPECT_THROW(ops::adaptive_avg_pool2d_backward(g, {2, 5, 5}), Error);
  EXPECT_THROW(ops::adaptive_avg_pool2d_backward(zeros({1, 2, 3}), {1, 2, 5, 5}), Error);
}

TEST(AdaptiveMaxPool2d, MatchesClosedForm) {
  // 5 -> 3: windows [0,2), [1,4), [3,5).
  Tensor x = from_vector<double>({3, 1, 4, 1, 5}, {1, 1, 1, 5});
  auto [y, idx] = adaptive_max_pool2d_with_indices(x, {1, 3});
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{3, 4, 5}));
  EXPECT_EQ(idx.to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 4}));
  // 2x2 -> 3x3 (windows [0,1), [0,2), [1,2)); indices are flat h·W + w in the input plane.
  Tensor u = from_vector<double>({1, 4, 3, 2}, {1, 1, 2, 2});
  auto [yu, iu] = adaptive_max_pool2d_with_indices(u, {3, 3});
  EXPECT_EQ(yu.to_vector<double>(), (std::vector<double>{1, 4, 4, 3, 4, 4, 3, 3, 2}));
  EXPECT_EQ(iu.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1, 2, 1, 1, 2, 2, 3}));
  EXPECT_EQ(adaptive_max_pool2d(u, {1, 1}).to_vector<double>(), (std::vector<double>{4}));
}

TEST(AdaptiveMaxPool2d, BackwardAccumulatesOverlappingWindows) {
  // The 2x2 -> 3x3 case above: input 1 (value 4) wins four windows, input 2 (value 3) three.
  Tensor u = from_vector<double>({1, 4, 3, 2}, {1, 1, 2, 2}).set_requires_grad(true);
  adaptive_max_pool2d(u, {3, 3}).backward(
      from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}));
  EXPECT_EQ(u.grad().to_vector<double>(), (std::vector<double>{1, 2 + 3 + 5 + 6, 4 + 7 + 8, 9}));
}

TEST(AdaptiveMaxPool2d, GradCheck) {
  for (const std::array<int64_t, 2> out : {std::array<int64_t, 2>{3, 2}, {7, 4}, {1, 1}}) {
    Tensor x = testing::distinct_leaf_f64({2, 2, 5, 4});
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return adaptive_max_pool2d(in[0], out); },
                     {x});
  }
}

TEST(AdaptiveMaxPool2d, MatchesTorchGolden) {
  check_golden(true);
}

TEST(AdaptiveMaxPool2d, RejectsBadArguments) {
  check_rejects(
      [](const Tensor& x, std::array<int64_t, 2> s) { return adaptive_max_pool2d(x, s); });
  auto [y, idx] = ops::adaptive_max_pool2d_forward(zeros({1, 2, 5, 5}), {3, 3});
  const Shape in{1, 2, 5, 5};
  EXPECT_NO_THROW(ops::adaptive_max_pool2d_backward(y, idx, in));
  EXPECT_THROW(ops::adaptive_max_pool2d_backward(y, idx.to(DType::F32), in), Error);
  EXPECT_THROW(ops::adaptive_max_pool2d_backward(y, idx.slice(2, 0, 2), in), Error);
  EXPECT_THROW(ops::adaptive_max_pool2d_backward(y, idx, {1, 2, 0, 5}), Error);
  Tensor bad = idx.clone();
  bad.data<int64_t>()[0] = -2;
  EXPECT_THROW(ops::adaptive_max_pool2d_backward(y, bad, in), Error);
  bad.data<int64_t>()[0] = 25;  // one past the 5x5 plane
  EXPECT_THROW(ops::adaptive_max_pool2d_backward(y, bad, in), Error);
}

}  // namespace
}  // namespace afinar

// ---- CUDA: against the CPU reference on fresh random inputs ----

namespace afinar {
namespace {

struct AdaptiveCase {
  Shape input;
  std::array<int64_t, 2> output;
};

// 7->3 and 10->4 (overlapping windows), 5->7 (upsampling), a (2,5) output of a non-divisible
// plane, global pooling (7x7 and 56x56: a warp per output), windows of >= 32 elements that are
// not whole rows, and an empty batch.
const std::vector<AdaptiveCase> kAdaptiveCases = {
    {{2, 3, 7, 7}, {3, 3}},   {{2, 3, 10, 10}, {4, 4}}, {{2, 3, 5, 5}, {7, 7}},
    {{3, 2, 9, 11}, {2, 5}},  {{2, 4, 7, 10}, {3, 4}},  {{4, 5, 7, 7}, {1, 1}},
    {{2, 3, 56, 56}, {1, 1}}, {{2, 3, 33, 20}, {4, 3}}, {{1, 2, 5, 13}, {7, 2}},
    {{0, 3, 6, 6}, {2, 2}},
};

// Largest window area of the case (⌈L/n⌉ + 1 positions per axis at most).
int64_t max_area(const AdaptiveCase& c) {
  return (c.input[2] / c.output[0] + 2) * (c.input[3] / c.output[1] + 2);
}

TEST(AdaptiveAvgPool2dCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(41);
  for (DType t : {DType::F32, DType::F64, DType::BF16})
    for (const auto& c : kAdaptiveCases) {
      SCOPED_TRACE(::testing::Message() << shape_str(c.input) << " -> " << c.output[0] << "x"
                                        << c.output[1] << " " << t);
      const auto tol = testing::tolerance_for(t, max_area(c), t == DType::BF16 ? 1.0 : 8.0);
      Tensor x = randn(c.input, t, gen);
      Tensor y = ops::adaptive_avg_pool2d_forward(x, c.output);
      Tensor yg = ops::adaptive_avg_pool2d_forward(x.cuda(), c.output);
      ASSERT_EQ(yg.device(), testing::kCuda0);
      EXPECT_ALLCLOSE(yg.cpu(), y, tol);
      Tensor g = randn(y.shape(), t, gen);
      Tensor gx = ops::adaptive_avg_pool2d_backward(g, c.input);
      Tensor gxg = ops::adaptive_avg_pool2d_backward(g.cuda(), c.input);
      EXPECT_ALLCLOSE(gxg.cpu(), gx, tol);
    }
}

TEST(AdaptiveMaxPool2dCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  Generator gen(42);
  for (DType t : {DType::F32, DType::F64, DType::BF16})
    for (const auto& c : kAdaptiveCases) {
      SCOPED_TRACE(::testing::Message() << shape_str(c.input) << " -> " << c.output[0] << "x"
                                        << c.output[1] << " " << t);
      Tensor x = randn(c.input, t, gen);
      auto [y, idx] = ops::adaptive_max_pool2d_forward(x, c.output);
      auto [yg, idxg] = ops::adaptive_max_pool2d_forward(x.cuda(), c.output);
      EXPECT_EQ(yg.cpu().to_vector<double>(), y.to_vector<double>());
      EXPECT_EQ(idxg.cpu().to_vector<int64_t>(), idx.to_vector<int64_t>());
      Tensor g = randn(y.shape(), t, gen);
      Tensor gx = ops::adaptive_max_pool2d_backward(g, idx, c.input);
      Tensor gxg = ops::adaptive_max_pool2d_backward(g.cuda(), idxg, c.input);
      EXPECT_ALLCLOSE(gxg.cpu(), gx,
                      testing::tolerance_for(t, max_area(c), t == DType::BF16 ? 1.0 : 8.0));
    }
}

TEST(AdaptiveMaxPool2dCuda, BackwardThroughAutograd) {
  AFN_REQUIRE_CUDA();
  Generator gen(43);
  for (const std::array<int64_t, 2> out : {std::array<int64_t, 2>{3, 2}, {7, 4}, {1, 1}}) {
    Tensor x = randn({2, 3, 5, 4}, DType::F64, gen);
    Tensor xc = x.clone().set_requires_grad(true), xg = x.cuda().set_requires_grad(true);
    Tensor y = adaptive_max_pool2d(xc, out), yg = adaptive_max_pool2d(xg, out);
    Tensor ya = adaptive_avg_pool2d(xc, out), yga = adaptive_avg_pool2d(xg, out);
    Tensor g = randn(y.shape(), DType::F64, gen);
    y.backward(g);
    yg.backward(g.cuda());
    ya.backward(g);
    yga.backward(g.cuda());
    EXPECT_ALLCLOSE(xg.grad().cpu(), xc.grad(), testing::tolerance_for(DType::F64, 20));
  }
}

TEST(AdaptiveMaxPool2dCuda, RejectsBadInput) {
  AFN_REQUIRE_CUDA();
  Tensor x = randn({1, 2, 5, 5}, DType::F32, testing::kCuda0);
  auto [y, idx] = ops::adaptive_max_pool2d_forward(x, {3, 3});
  const Shape in{1, 2, 5, 5};
  EXPECT_NO_THROW(ops::adaptive_max_pool2d_backward(y, idx, in));
  EXPECT_THROW(ops::adaptive_max_pool2d_backward(y, idx.cpu(), in), Error);  // mixed devices
  for (int64_t v : {int64_t(-2), int64_t(25)}) {
    Tensor bad = idx.cpu();
    bad.data<int64_t>()[0] = v;
    // Found on the device, reported at the next synchronisation (the copy to the host).
    EXPECT_THROW(ops::adaptive_max_pool2d_backward(y, bad.cuda(), in).cpu(), Error) << v;
  }
  // In the plane but off its window: legal, credited like the CPU's scatter.
  Tensor off = idx.cpu();
  off.data<int64_t>()[0] = 24;
  Tensor g = randn(y.shape(), DType::F32);
  EXPECT_ALLCLOSE(ops::adaptive_max_pool2d_backward(g.cuda(), off.cuda(), in).cpu(),
                  ops::adaptive_max_pool2d_backward(g, off, in),
                  testing::tolerance_for(DType::F32, 9));
  EXPECT_THROW(adaptive_avg_pool2d(x, {0, 2}), Error);
}

}  // namespace
}  // namespace afinar
