#include "afinar/ops/pool2d.h"
#include "afinar/ops/adaptive_pool2d.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/fixtures.h"
#include "testing/gradcheck.h"

namespace afinar {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::array<int64_t, 2> pair_attr(const testing::GoldenCase& c, const char* key) {
  const auto v = c.attr_ints(key);
  EXPECT_EQ(v.size(), 2u) << key;
  return {v.at(0), v.at(1)};
}

// ---- max_pool2d ----

TEST(MaxPool2d, MatchesClosedForm) {
  // Non-overlapping 2x2 windows of a 4x4 plane.
  Tensor x = from_vector<double>({1, 5, 2, 0,  //
                                  3, 4, 8, 1,  //
                                  0, 2, 7, 6,  //
                                  9, 1, 3, 5},
                                 {1, 1, 4, 4});
  auto [y, idx] = max_pool2d_with_indices(x, {.kernel_size = {2, 2}});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{5, 8, 9, 7}));
  EXPECT_EQ(idx.dtype(), DType::I64);
  EXPECT_EQ(idx.to_vector<int64_t>(), (std::vector<int64_t>{1, 6, 12, 10}));

  // Padding 1, stride 1 on 0..8 (3x3): windows start at -1, so the output is 4x4 and the padded
  // border (-inf) never wins.
  Tensor a = arange(9, DType::F64).reshape({1, 1, 3, 3});
  auto [ya, ia] =
      max_pool2d_with_indices(a, {.kernel_size = {2, 2}, .stride = {1, 1}, .padding = {1, 1}});
  EXPECT_EQ(ya.to_vector<double>(),
            (std::vector<double>{0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8, 8, 6, 7, 8, 8}));
  EXPECT_EQ(ia.to_vector<int64_t>(),
            (std::vector<int64_t>{0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8, 8, 6, 7, 8, 8}));

  // Dilation 2: the 2x2 kernel reads rows/cols {0, 2} of a 3x3 plane.
  Tensor d = from_vector<double>({1, 9, 2, 9, 9, 9, 4, 9, 3}, {1, 1, 3, 3});
  auto [yd, id] = max_pool2d_with_indices(d, {.kernel_size = {2, 2}, .dilation = {2, 2}});
  EXPECT_EQ(yd.to_vector<double>(), (std::vector<double>{4}));
  EXPECT_EQ(id.to_vector<int64_t>(), (std::vector<int64_t>{6}));
}

TEST(MaxPool2d, OutputSizeFollowsPyTorch) {
  // (H + 2p - d(k-1) - 1) / s + 1, floored or ceiled.
  EXPECT_EQ(ops::pool2d_output_size(5, 2, 2, 0, 1, false), 2);
  EXPECT_EQ(ops::pool2d_output_size(5, 2, 2, 0, 1, true), 3);  // last window (row 4) kept
  // ceil gives 3 windows, but the third would start at 6 - 1 = 5 = H + p: dropped.
  EXPECT_EQ(ops::pool2d_output_size(5, 3, 3, 1, 1, true), 2);
  EXPECT_EQ(ops::pool2d_output_size(4, 1, 2, 0, 1, true), 2);  // would start at 4 = H
  EXPECT_EQ(ops::pool2d_output_size(8, 3, 1, 1, 2, false), 6);
  EXPECT_EQ(ops::pool2d_output_size(2, 3, 1, 0, 1, false), 0);  // too small: caller rejects
}

TEST(MaxPool2d, WindowsMatchNaiveEnumeration) {
  // Every admissible geometry: the windows read exactly the positions start + i·d (i < k) that
  // lie inside the input, never anything outside it, and `padded` counts those in
  // [-p, input + p). The kernels index the input only through these windows.
  int64_t checked = 0;
  for (int64_t input = 1; input <= 9; ++input)
    for (int64_t k = 1; k <= 4; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t p = 0; p <= k / 2; ++p)
          for (int64_t d = 1; d <= 3; ++d)
            for (bool ceil : {false, true}) {
              const int64_t out = ops::pool2d_output_size(input, k, s, p, d, ceil);
              if (out < 1) continue;
              const ops::PoolWindows w = ops::pool_windows(input, out, k, s, p, d);
              ASSERT_EQ(w.size(), out);
              for (int64_t o = 0; o < out; ++o) {
                const int64_t start = o * s - p;
                ASSERT_LT(start, input + p) << "window starts in the right padding";
                std::vector<int64_t> expected, actual;
                int64_t padded = 0;
                for (int64_t i = 0; i < k; ++i) {
                  const int64_t pos = start + i * d;
                  if (pos >= 0 && pos < input) expected.push_back(pos);
                  if (pos >= -p && pos < input + p) ++padded;
                }
                for (int64_t pos = w.begin[size_t(o)]; pos < w.end[size_t(o)]; pos += w.step)
                  actual.push_back(pos);
                ASSERT_EQ(actual, expected) << "input " << input << " k " << k << " s " << s
                                            << " p " << p << " d " << d << " window " << o;
                ASSERT_EQ(w.count(o), int64_t(expected.size()));
                ASSERT_EQ(w.padded[size_t(o)], padded);
                ++checked;
              }
            }
  EXPECT_GT(checked, 1000);
}

TEST(MaxPool2d, OutputSizeMatchesTorchTable) {
  // Rows (H, k, s, p, d, ceil_mode, P) from running PyTorch; P = 0 where it rejects the input.
  for (const auto& c : testing::load_goldens("pool2d")) {
    if (c.name != "output_sizes") continue;
    const Tensor table = c.tensor("table");
    const auto v = table.to_vector<int64_t>();
    ASSERT_GT(table.size(0), 1000);
    for (int64_t r = 0; r < table.size(0); ++r) {
      const int64_t* row = v.data() + r * 7;
      const int64_t ours = ops::pool2d_output_size(row[0], row[1], row[2], row[3], row[4], row[5]);
      EXPECT_EQ(std::max<int64_t>(ours, 0), row[6])
          << "H " << row[0] << " k " << row[1] << " s " << row[2] << " p " << row[3] << " d "
          << row[4] << " ceil " << row[5];
    }
    return;
  }
  FAIL() << "pool2d.h5 has no output_sizes case";
}

TEST(MaxPool2d, TiesNaNAndInfFollowPyTorch) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Tie: the first max in scan order. NaN: propagates, the last NaN's index.
  Tensor x = from_vector<double>({2, 2, 1, 2, 1, nan, 3, nan}, {1, 1, 2, 4});
  auto [y, idx] = max_pool2d_with_indices(x, {.kernel_size = {1, 4}});
  const auto yv = y.to_vector<double>();
  EXPECT_EQ(yv[0], 2);
  EXPECT_TRUE(std::isnan(yv[1]));
  EXPECT_EQ(idx.to_vector<int64_t>(), (std::vector<int64_t>{0, 7}));

  // All -inf: the index is the window's first in-bounds position (windows start at -1, 1, 3).
  Tensor inf = full({1, 1, 1, 4}, -kInf, DType::F64);
  auto [yi, ii] = max_pool2d_with_indices(inf, {.kernel_size = {1, 2}, .padding = {0, 1}});
  EXPECT_EQ(yi.to_vector<double>(), (std::vector<double>{-kInf, -kInf, -kInf}));
  EXPECT_EQ(ii.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 3}));

  // Kernel 2, padding 1, dilation 3 on 2x2: the window reads -1 and 2, both outside. PyTorch
  // gives -inf; its index would point outside the plane, afinar's is -1 and gets no gradient.
  Tensor e = ones({1, 1, 2, 2}, DType::F64).set_requires_grad(true);
  auto [ye, ie] = max_pool2d_with_indices(
      e, {.kernel_size = {2, 2}, .stride = {1, 1}, .padding = {1, 1}, .dilation = {3, 3}});
  EXPECT_EQ(ye.to_vector<double>(), (std::vector<double>{-kInf}));
  EXPECT_EQ(ie.to_vector<int64_t>(), (std::vector<int64_t>{-1}));
  ye.backward(ones({1, 1, 1, 1}, DType::F64));
  EXPECT_EQ(e.grad().to_vector<double>(), (std::vector<double>{0, 0, 0, 0}));
}

// The reference scan of one plane, written out here: y and indices [P, Q] of x [H, W] with the
// windows of `o`, PyTorch's rule (start from -inf at the first position read; take a greater
// value or a NaN; -1 for a window that reads nothing).
std::pair<std::vector<double>, std::vector<int64_t>> scan_plane(const double* x, int64_t H,
                                                                int64_t W,
                                                                const MaxPool2dOptions& o,
                                                                int64_t P, int64_t Q) {
  const ops::PoolWindows rows =
      ops::pool_windows(H, P, o.kernel_size.h, o.stride.h, o.padding.h, o.dilation.h);
  const ops::PoolWindows cols =
      ops::pool_windows(W, Q, o.kernel_size.w, o.stride.w, o.padding.w, o.dilation.w);
  std::vector<double> y;
  std::vector<int64_t> idx;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t q = 0; q < Q; ++q) {
      double best = -kInf;
      int64_t arg = -1;
      for (int64_t h = rows.begin[size_t(p)]; h < rows.end[size_t(p)]; h += rows.step)
        for (int64_t w = cols.begin[size_t(q)]; w < cols.end[size_t(q)]; w += cols.step) {
          if (arg == -1) arg = h * W + w;
          const double v = x[h * W + w];
          if (v > best || std::isnan(v)) {
            best = v;
            arg = h * W + w;
          }
        }
      y.push_back(best);
      idx.push_back(arg);
    }
  return {y, idx};
}

// The CPU kernel runs NCHW as rows of outputs side by side and channels-last as channels side by
// side (src/ops/cpu/pool2d.cpp), both reordering the scan: over every geometry of small planes,
// with values full of ties, NaNs and -inf, both must give the reference scan's values and indices
// to the bit.
TEST(MaxPool2d, VectorisedLoopsAreTheReferenceScanBitForBit) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double pool[] = {-2, -1, 0, 1, 2, 2, nan, -kInf};
  int64_t checked = 0;
  for (int64_t H = 1; H <= 9; H += 2)
    for (int64_t k = 1; k <= 4; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t p = 0; p <= k / 2; ++p)
          for (int64_t d = 1; d <= 2; ++d)
            for (bool ceil : {false, true}) {
              const int64_t W = H + 3;
              const MaxPool2dOptions o{.kernel_size = k,
                                       .stride = {s, s % 3 + 1},
                                       .padding = p,
                                       .dilation = d,
                                       .ceil_mode = ceil};
              const int64_t P = ops::pool2d_output_size(H, k, s, p, d, ceil);
              const int64_t Q = ops::pool2d_output_size(W, k, o.stride.w, p, d, ceil);
              if (P < 1 || Q < 1) continue;
              SCOPED_TRACE(::testing::Message()
                           << "H " << H << " W " << W << " k " << k << " s " << s << " p " << p
                           << " d " << d << " ceil " << ceil);
              Generator gen(static_cast<uint64_t>(checked));
              const Shape shape{2, 3, H, W};
              const auto u = uniform(shape, 0, 8, DType::F64, gen).to_vector<double>();
              std::vector<double> v(u.size());
              for (size_t i = 0; i < u.size(); ++i) v[i] = pool[size_t(u[i])];
              std::vector<double> want_y;
              std::vector<int64_t> want_idx;
              for (int64_t plane = 0; plane < 6; ++plane) {
                auto [y, idx] = scan_plane(v.data() + plane * H * W, H, W, o, P, Q);
                want_y.insert(want_y.end(), y.begin(), y.end());
                want_idx.insert(want_idx.end(), idx.begin(), idx.end());
              }
              const Tensor x = from_vector<double>(v, shape);
              for (DType t : {DType::F64, DType::F32})
                for (MemoryFormat fmt : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
                  const auto [y, idx] = max_pool2d_with_indices(x.to(t).contiguous(fmt), o);
                  testing::expect_identical(y.contiguous(),
                                            from_vector<double>(want_y, y.shape()).to(t), "values");
                  EXPECT_EQ(idx.contiguous().to_vector<int64_t>(), want_idx);
                }
              ++checked;
            }
  EXPECT_GT(checked, 200);
}

TEST(MaxPool2d, BackwardAccumulatesOverlappingWindows) {
  // 3x3 with the max in the centre; k = 2, s = 1 gives four windows that all pick it, so its
  // gradient is the sum of the four upstream values and every other input gets 0.
  Tensor x = from_vector<double>({1, 2, 3, 4, 9, 5, 6, 7, 8}, {1, 1, 3, 3}).set_requires_grad(true);
  Tensor y = max_pool2d(x, {.kernel_size = {2, 2}, .stride = {1, 1}});
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{9, 9, 9, 9}));
  y.backward(from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0, 0, 0, 10, 0, 0, 0, 0}));
}

TEST(MaxPool2d, GradCheck) {
  const std::vector<MaxPool2dOptions> configs = {
      {.kernel_size = {2, 2}},
      {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}},
      {.kernel_size = {3, 2},
       .stride = {1, 2},
       .padding = {1, 1},
       .dilation = {2, 1},
       .ceil_mode = true},
      {.kernel_size = {2, 2}, .stride = {2, 2}, .ceil_mode = true},
  };
  for (const auto& opt : configs) {
    Tensor x = testing::distinct_leaf_f64({2, 2, 5, 7});
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return max_pool2d(in[0], opt); }, {x});
  }
}

TEST(MaxPool2d, MatchesTorchGolden) {
  int64_t n_cases = 0;
  for (const auto& c : testing::load_goldens("pool2d")) {
    if (c.name.rfind("max_", 0) != 0) continue;
    SCOPED_TRACE(c.name);
    ++n_cases;
    const MaxPool2dOptions opt{.kernel_size = pair_attr(c, "kernel_size"),
                               .stride = pair_attr(c, "stride"),
                               .padding = pair_attr(c, "padding"),
                               .dilation = pair_attr(c, "dilation"),
                               .ceil_mode = c.attr_int("ceil_mode") != 0};
    Tensor x = c.tensor("x").set_requires_grad(true);
    auto [y, idx] = max_pool2d_with_indices(x, opt);
    // A max is exact; the gradient sums at most R·S upstream values into one input.
    const auto tol = testing::tolerance_for(x.dtype(), opt.kernel_size[0] * opt.kernel_size[1]);
    EXPECT_ALLCLOSE(y, c.tensor("y"), tol);
    EXPECT_EQ(idx.to_vector<int64_t>(), c.tensor("indices").to_vector<int64_t>());
    y.backward(c.tensor("g"));
    EXPECT_ALLCLOSE(x.grad(), c.tensor("gx"), tol);
  }
  EXPECT_GE(n_cases, 8);
}

TEST(MaxPool2d, AcceptsNonContiguousInputAndEmptyBatch) {
  Generator gen(5);
  Tensor x = randn({2, 5, 6, 3}, DType::F32, gen);  // read as [N, W, H, C] -> permute to NCHW
  Tensor xp = x.permute({0, 3, 2, 1});
  const MaxPool2dOptions opt{.kernel_size = {3, 2}, .stride = {2, 1}, .padding = {1, 1}};
  EXPECT_ALLCLOSE(max_pool2d(xp, opt), max_pool2d(xp.contiguous(), opt),
                  testing::tolerance_for(DType::F32));
  EXPECT_EQ(max_pool2d(zeros({0, 3, 4, 4}), {.kernel_size = {2, 2}}).shape(), (Shape{0, 3, 2, 2}));
}

// A kernel far wider than the input costs the input's size, not the kernel's: every window is
// clipped to the 5x5 plane (PyTorch refuses sizes past 32 bits; afinar's are 64-bit).
TEST(MaxPool2d, AHugeKernelCostsOnlyTheInput) {
  Generator gen(8);
  const Tensor x = randn({1, 2, 5, 5}, DType::F64, gen);
  const auto values = x.to_vector<double>();  // plane c: values[25c, 25c + 25)
  const int64_t k = int64_t(1) << 40;
  for (MemoryFormat format : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
    const auto [y, indices] = max_pool2d_with_indices(
        x.contiguous(format), {.kernel_size = {k, k}, .padding = {k / 2, k / 2}});
    ASSERT_EQ(y.shape(), (Shape{1, 2, 1, 1}));
    for (size_t c = 0; c < 2; ++c) {
      const auto plane = values.begin() + ptrdiff_t(25 * c);
      const auto at = std::max_element(plane, plane + 25);
      EXPECT_EQ(y.contiguous().to_vector<double>()[c], *at);
      EXPECT_EQ(indices.contiguous().to_vector<int64_t>()[c], at - plane);
    }
  }
  const Tensor mean =
      avg_pool2d(x, {.kernel_size = {k, k}, .padding = {k / 2, k / 2}, .count_include_pad = false});
  EXPECT_NEAR(mean.to_vector<double>()[0],
              std::accumulate(values.begin(), values.begin() + 25, 0.0) / 25.0, 1e-15);
}

TEST(MaxPool2d, RejectsBadArguments) {
  Tensor x = zeros({1, 2, 5, 5});
  const MaxPool2dOptions k2{.kernel_size = {2, 2}};
  EXPECT_THROW(max_pool2d(zeros({5, 5}), k2), Error);           // 2-D (3-D is unbatched)
  EXPECT_THROW(max_pool2d(zeros({1, 1, 2, 5, 5}), k2), Error);  // 5-D
  EXPECT_THROW(max_pool2d(zeros({1, 0, 5, 5}), k2), Error);     // C = 0
  EXPECT_THROW(max_pool2d(zeros({1, 2, 5, 5}, DType::I64), k2), Error);
  EXPECT_THROW(max_pool2d(Tensor(), k2), Error);
  EXPECT_THROW(max_pool2d(x, {.kernel_size = {0, 2}}), Error);
  EXPECT_THROW(max_pool2d(x, {.kernel_size = {2, 2}, .stride = {-1, 1}}), Error);
  EXPECT_THROW(max_pool2d(x, {.kernel_size = {2, 2}, .dilation = {1, 0}}), Error);
  EXPECT_THROW(max_pool2d(x, {.kernel_size = {2, 2}, .padding = {-1, 0}}), Error);
  EXPECT_THROW(max_pool2d(x, {.kernel_size = {3, 3}, .padding = {2, 0}}), Error);  // > k/2
  EXPECT_THROW(max_pool2d(x, {.kernel_size = {6, 2}}), Error);                     // empty output
  EXPECT_THROW(max_pool2d(x, {.kernel_size = {3, 3}, .dilation = {3, 3}}), Error);

  // Raw backward: indices and grad_output must fit the forward.
  auto [y, idx] = ops::max_pool2d_forward(x, k2);
  const Shape in = x.shape();
  EXPECT_NO_THROW(ops::max_pool2d_backward(y, idx, in, k2));
  EXPECT_THROW(ops::max_pool2d_backward(y, idx.to(DType::F32), in, k2), Error);
  EXPECT_THROW(ops::max_pool2d_backward(y, Tensor(), in, k2), Error);
  EXPECT_THROW(ops::max_pool2d_backward(y, idx, {1, 2, 7, 7}, k2), Error);  // output is 3x3
  EXPECT_THROW(ops::max_pool2d_backward(y, idx, {2, 5, 5}, k2), Error);
  EXPECT_THROW(ops::max_pool2d_backward(y, idx.slice(3, 0, 1), in, k2), Error);
  Tensor bad = idx.clone();
  bad.data<int64_t>()[3] = 25;  // outside the 5x5 plane
  EXPECT_THROW(ops::max_pool2d_backward(y, bad, in, k2), Error);
}

// ---- avg_pool2d ----

TEST(AvgPool2d, MatchesClosedForm) {
  // 0..8 (3x3), k = 2, s = 2, p = 1: windows rows/cols [-1, 1) and [1, 3).
  Tensor x = arange(9, DType::F64).reshape({1, 1, 3, 3});
  const AvgPool2dOptions base{.kernel_size = {2, 2}, .padding = {1, 1}};
  // count_include_pad: every window divides by 4 (padding counted).
  EXPECT_EQ(avg_pool2d(x, base).to_vector<double>(),
            (std::vector<double>{0. / 4, (1. + 2) / 4, (3. + 6) / 4, (4. + 5 + 7 + 8) / 4}));
  AvgPool2dOptions exclude = base;
  exclude.count_include_pad = false;  // divides by the number of inputs summed: 1, 2, 2, 4
  EXPECT_EQ(avg_pool2d(x, exclude).to_vector<double>(),
            (std::vector<double>{0, (1. + 2) / 2, (3. + 6) / 2, (4. + 5 + 7 + 8) / 4}));
  AvgPool2dOptions over = base;
  over.divisor_override = 3;
  EXPECT_EQ(avg_pool2d(x, over).to_vector<double>(), (std::vector<double>{0, 1, 3, 8}));

  // ceil_mode on W = 4, k = 3, s = 2, p = 1: three windows [-1,2), [1,4), [3,5). The last one
  // reaches W + p = 5 only, so counting padding it has area 2, not 3; its only input is col 3.
  Tensor r = from_vector<double>({1, 2, 3, 4}, {1, 1, 1, 4});
  AvgPool2dOptions ceil{
      .kernel_size = {1, 3}, .stride = {1, 2}, .padding = {0, 1}, .ceil_mode = true};
  EXPECT_EQ(avg_pool2d(r, ceil).to_vector<double>(),
            (std::vector<double>{(1. + 2) / 3, (2. + 3 + 4) / 3, 4. / 2}));
  ceil.count_include_pad = false;
  EXPECT_EQ(avg_pool2d(r, ceil).to_vector<double>(),
            (std::vector<double>{(1. + 2) / 2, (2. + 3 + 4) / 3, 4. / 1}));
}

TEST(AvgPool2d, BackwardSpreadsOverWindows) {
  // Same geometry as the ceil_mode case above: dL/dx_w = Σ_{windows holding w} g / D.
  Tensor r = from_vector<double>({1, 2, 3, 4}, {1, 1, 1, 4}).set_requires_grad(true);
  Tensor y = avg_pool2d(
      r, {.kernel_size = {1, 3}, .stride = {1, 2}, .padding = {0, 1}, .ceil_mode = true});
  y.backward(from_vector<double>({3, 6, 2}, {1, 1, 1, 3}));
  EXPECT_ALLCLOSE(r.grad(), from_vector<double>({1, 1 + 2, 2, 2 + 1}, {1, 1, 1, 4}),
                  testing::tolerance_for(DType::F64, 3));
}

TEST(AvgPool2d, GradCheck) {
  const std::vector<AvgPool2dOptions> configs = {
      {.kernel_size = {2, 2}},
      {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true},
      {.kernel_size = {3, 2},
       .stride = {2, 1},
       .padding = {1, 1},
       .ceil_mode = true,
       .count_include_pad = false},
      {.kernel_size = {2, 3}, .stride = {1, 2}, .padding = {1, 1}, .divisor_override = 5},
  };
  Generator gen(11);
  for (const auto& opt : configs) {
    Tensor x = testing::leaf_f64({2, 2, 5, 6}, gen);
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return avg_pool2d(in[0], opt); }, {x});
  }
}

TEST(AvgPool2d, MatchesTorchGolden) {
  int64_t n_cases = 0;
  for (const auto& c : testing::load_goldens("pool2d")) {
    if (c.name.rfind("avg_", 0) != 0) continue;
    SCOPED_TRACE(c.name);
    ++n_cases;
    const AvgPool2dOptions opt{.kernel_size = pair_attr(c, "kernel_size"),
                               .stride = pair_attr(c, "stride"),
                               .padding = pair_attr(c, "padding"),
                               .ceil_mode = c.attr_int("ceil_mode") != 0,
                               .count_include_pad = c.attr_int("count_include_pad") != 0,
                               .divisor_override = c.attr_int("divisor_override")};
    Tensor x = c.tensor("x").set_requires_grad(true);
    Tensor y = avg_pool2d(x, opt);
    const auto tol = testing::tolerance_for(x.dtype(), opt.kernel_size[0] * opt.kernel_size[1]);
    EXPECT_ALLCLOSE(y, c.tensor("y"), tol);
    y.backward(c.tensor("g"));
    EXPECT_ALLCLOSE(x.grad(), c.tensor("gx"), tol);
  }
  EXPECT_GE(n_cases, 11);
}

TEST(AvgPool2d, RejectsBadArguments) {
  Tensor x = zeros({1, 2, 5, 5});
  const AvgPool2dOptions k2{.kernel_size = {2, 2}};
  EXPECT_THROW(avg_pool2d(zeros({5, 5}), k2), Error);
  EXPECT_THROW(avg_pool2d(zeros({1, 2, 0, 5}), k2), Error);
  EXPECT_THROW(avg_pool2d(zeros({1, 2, 5, 5}, DType::U8), k2), Error);
  EXPECT_THROW(avg_pool2d(x, {.kernel_size = {2, 0}}), Error);
  EXPECT_THROW(avg_pool2d(x, {.kernel_size = {2, 2}, .stride = {1, -2}}), Error);
  EXPECT_THROW(avg_pool2d(x, {.kernel_size = {2, 2}, .padding = {0, 2}}), Error);  // > k/2
  EXPECT_THROW(avg_pool2d(x, {.kernel_size = {2, 6}}), Error);                     // empty output

  Tensor y = ops::avg_pool2d_forward(x, k2);
  EXPECT_NO_THROW(ops::avg_pool2d_backward(y, x.shape(), k2));
  EXPECT_THROW(ops::avg_pool2d_backward(y, {1, 2, 6, 7}, k2), Error);  // output would be 3x3
  EXPECT_THROW(ops::avg_pool2d_backward(y, {1, 3, 5, 5}, k2), Error);  // C differs
  EXPECT_THROW(ops::avg_pool2d_backward(y.to(DType::I64), x.shape(), k2), Error);
}

}  // namespace
}  // namespace afinar

// ---- CUDA: against the CPU reference on fresh random inputs ----

namespace afinar {
namespace {

// Odd and non-divisible plane sizes, a batch large enough for the grid-stride loops, and N = 0.
const std::vector<Shape> kPoolShapes = {
    {2, 3, 11, 13}, {1, 2, 7, 5}, {3, 5, 16, 16}, {4, 16, 67, 61}, {0, 3, 9, 9}};

// Values and indices of the max pool are exact (the same scan); backward sums at most
// `overlap` upstream values into one input.
void expect_max_pool_matches(const MaxPool2dOptions& opt, const Shape& shape, DType t,
                             Generator& gen) {
  SCOPED_TRACE(::testing::Message()
               << shape_str(shape) << " k " << opt.kernel_size[0] << "x" << opt.kernel_size[1]
               << " s " << opt.stride[0] << "," << opt.stride[1] << " p " << opt.padding[0] << ","
               << opt.padding[1] << " d " << opt.dilation[0] << "," << opt.dilation[1] << " ceil "
               << opt.ceil_mode << " " << t);
  if (ops::pool2d_output_size(shape[2], opt.kernel_size[0],
                              opt.stride[0] ? opt.stride[0] : opt.kernel_size[0], opt.padding[0],
                              opt.dilation[0], opt.ceil_mode) < 1 ||
      ops::pool2d_output_size(shape[3], opt.kernel_size[1],
                              opt.stride[1] ? opt.stride[1] : opt.kernel_size[1], opt.padding[1],
                              opt.dilation[1], opt.ceil_mode) < 1)
    return;  // too small for this window
  Tensor x = randn(shape, t, gen);
  auto [y, idx] = ops::max_pool2d_forward(x, opt);
  auto [yg, idxg] = ops::max_pool2d_forward(x.cuda(), opt);
  ASSERT_EQ(yg.device(), testing::kCuda0);
  EXPECT_EQ(yg.cpu().to_vector<double>(), y.to_vector<double>());
  EXPECT_EQ(idxg.cpu().to_vector<int64_t>(), idx.to_vector<int64_t>());

  Tensor g = randn(y.shape(), t, gen);
  Tensor gx = ops::max_pool2d_backward(g, idx, shape, opt);
  Tensor gxg = ops::max_pool2d_backward(g.cuda(), idxg, shape, opt);
  // bf16: float sums on both devices, rounded once; a different order can flip one rounding.
  EXPECT_ALLCLOSE(gxg.cpu(), gx,
                  testing::tolerance_for(t, opt.kernel_size[0] * opt.kernel_size[1],
                                         t == DType::BF16 ? 1.0 : 8.0));
}

TEST(MaxPool2dCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  const std::vector<MaxPool2dOptions> configs = {
      {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}},  // ResNet stem
      {.kernel_size = {2, 2}},                                       // stride = kernel
      {.kernel_size = {2, 2}, .stride = {2, 2}, .ceil_mode = true},
      {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true},
      {.kernel_size = {3, 2},
       .stride = {1, 2},
       .padding = {1, 1},
       .dilation = {2, 1},
       .ceil_mode = true},
      {.kernel_size = {3, 3}, .stride = {1, 1}, .padding = {1, 1}, .dilation = {2, 3}},
      {.kernel_size = {5, 4}, .stride = {3, 1}, .padding = {2, 1}},
      {.kernel_size = {1, 1}},
  };
  Generator gen(31);
  for (DType t : {DType::F32, DType::F64, DType::BF16})
    for (const auto& opt : configs)
      for (const Shape& s : kPoolShapes) expect_max_pool_matches(opt, s, t, gen);
}

TEST(MaxPool2dCuda, AllPaddingWindowsTiesAndNaN) {
  AFN_REQUIRE_CUDA();
  // Dilation 3 on 2x2 with padding 1: the only window reads nothing (-inf, index -1, no grad).
  const MaxPool2dOptions empty{
      .kernel_size = {2, 2}, .stride = {1, 1}, .padding = {1, 1}, .dilation = {3, 3}};
  Generator gen(32);
  for (DType t : {DType::F32, DType::F64}) expect_max_pool_matches(empty, {2, 3, 2, 2}, t, gen);
  // Dilated windows that are empty for some outputs only.
  const MaxPool2dOptions some{
      .kernel_size = {2, 3}, .stride = {1, 1}, .padding = {1, 1}, .dilation = {4, 3}};
  for (DType t : {DType::F32, DType::F64}) expect_max_pool_matches(some, {2, 2, 5, 6}, t, gen);

  // Ties keep the first max, NaN propagates with the last NaN's index, an all -inf window points
  // at its first position.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x =
      from_vector<double>({2, 2, 1, 2, 1, nan, 3, nan, -kInf, -kInf, -kInf, -kInf}, {1, 1, 3, 4});
  for (DType t : {DType::F32, DType::F64}) {
    const MaxPool2dOptions opt{.kernel_size = {1, 2}, .stride = {1, 1}};
    auto [y, idx] = ops::max_pool2d_forward(x.to(t), opt);
    auto [yg, idxg] = ops::max_pool2d_forward(x.to(t).cuda(), opt);
    EXPECT_EQ(idxg.cpu().to_vector<int64_t>(), idx.to_vector<int64_t>());
    const auto yv = y.to_vector<double>(), ygv = yg.cpu().to_vector<double>();
    ASSERT_EQ(yv.size(), ygv.size());
    for (size_t i = 0; i < yv.size(); ++i) {
      if (std::isnan(yv[i]))
        EXPECT_TRUE(std::isnan(ygv[i])) << i;
      else
        EXPECT_EQ(ygv[i], yv[i]) << i;
    }
  }
}

TEST(MaxPool2dCuda, BackwardThroughAutograd) {
  AFN_REQUIRE_CUDA();
  Generator gen(33);
  const MaxPool2dOptions opt{.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}};
  Tensor x = randn({2, 4, 9, 10}, DType::F32, gen);
  Tensor xc = x.clone().set_requires_grad(true);
  Tensor xg = x.cuda().set_requires_grad(true);
  Tensor y = max_pool2d(xc, opt), yg = max_pool2d(xg, opt);
  Tensor g = randn(y.shape(), DType::F32, gen);
  y.backward(g);
  yg.backward(g.cuda());
  ASSERT_EQ(xg.grad().device(), testing::kCuda0);
  EXPECT_ALLCLOSE(xg.grad().cpu(), xc.grad(), testing::tolerance_for(DType::F32, 9));
}

TEST(MaxPool2dCuda, IndicesOffTheirWindowTakeTheScatter) {
  AFN_REQUIRE_CUDA();
  // Raw-op indices may point anywhere in the plane: every output of a 4x4 -> 2x2 pool credits
  // input 15 (off the window of three of them) and output 1 credits input 0.
  const MaxPool2dOptions opt{.kernel_size = {2, 2}};
  Generator gen(34);
  for (DType t : {DType::F32, DType::F64}) {
    Tensor g = randn({2, 3, 2, 2}, t, gen);
    std::vector<int64_t> iv(size_t(g.numel()), 15);
    for (size_t i = 1; i < iv.size(); i += 4) iv[i] = 0;
    Tensor idx = from_vector<int64_t>(iv, g.shape());
    const Shape in{2, 3, 4, 4};
    Tensor gx = ops::max_pool2d_backward(g, idx, in, opt);
    Tensor gxg = ops::max_pool2d_backward(g.cuda(), idx.cuda(), in, opt);
    EXPECT_ALLCLOSE(gxg.cpu(), gx, testing::tolerance_for(t, 4));
  }
}

TEST(MaxPool2dCuda, RejectsBadInput) {
  AFN_REQUIRE_CUDA();
  const MaxPool2dOptions k2{.kernel_size = {2, 2}};
  Tensor x = randn({1, 2, 5, 5}, DType::F32, testing::kCuda0);
  auto [y, idx] = ops::max_pool2d_forward(x, k2);
  const Shape in = x.shape();
  EXPECT_NO_THROW(ops::max_pool2d_backward(y, idx, in, k2));
  EXPECT_THROW(ops::max_pool2d_backward(y, idx.cpu(), in, k2), Error);  // mixed devices
  EXPECT_THROW(ops::max_pool2d_backward(y.cpu(), idx, in, k2), Error);
  // Found on the device, reported at the next synchronisation (the copy to the host here);
  // off-window indices in the same call do not hide it.
  for (int64_t v : {int64_t(25), int64_t(-2), int64_t(1) << 40}) {
    Tensor bad = idx.cpu();
    bad.data<int64_t>()[3] = v;   // outside the 5x5 plane
    bad.data<int64_t>()[0] = 24;  // in the plane, off output 0's window
    try {
      ops::max_pool2d_backward(y, bad.cuda(), in, k2).cpu();
      ADD_FAILURE() << "no error for index " << v;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("max_pool2d_backward: indices lie outside the input "
                                           "plane [0, 25)"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_NO_THROW(ops::max_pool2d_backward(y, idx, in, k2).cpu());  // still usable
}

void expect_avg_pool_matches(const AvgPool2dOptions& opt, const Shape& shape, DType t,
                             Generator& gen) {
  SCOPED_TRACE(::testing::Message()
               << shape_str(shape) << " k " << opt.kernel_size[0] << "x" << opt.kernel_size[1]
               << " s " << opt.stride[0] << "," << opt.stride[1] << " p " << opt.padding[0] << ","
               << opt.padding[1] << " ceil " << opt.ceil_mode << " cip " << opt.count_include_pad
               << " div " << opt.divisor_override << " " << t);
  for (int a = 0; a < 2; ++a)
    if (ops::pool2d_output_size(
            shape[size_t(2 + a)], opt.kernel_size[size_t(a)],
            opt.stride[size_t(a)] ? opt.stride[size_t(a)] : opt.kernel_size[size_t(a)],
            opt.padding[size_t(a)], 1, opt.ceil_mode) < 1)
      return;
  const auto tol = testing::tolerance_for(t, opt.kernel_size[0] * opt.kernel_size[1],
                                          t == DType::BF16 ? 1.0 : 8.0);
  Tensor x = randn(shape, t, gen);
  Tensor y = ops::avg_pool2d_forward(x, opt);
  Tensor yg = ops::avg_pool2d_forward(x.cuda(), opt);
  ASSERT_EQ(yg.device(), testing::kCuda0);
  EXPECT_ALLCLOSE(yg.cpu(), y, tol);
  Tensor g = randn(y.shape(), t, gen);
  Tensor gx = ops::avg_pool2d_backward(g, shape, opt);
  Tensor gxg = ops::avg_pool2d_backward(g.cuda(), shape, opt);
  EXPECT_ALLCLOSE(gxg.cpu(), gx, tol);
}

TEST(AvgPool2dCuda, MatchesReference) {
  AFN_REQUIRE_CUDA();
  std::vector<AvgPool2dOptions> configs = {
      {.kernel_size = {2, 2}},
      {.kernel_size = {3, 3}, .stride = {1, 1}, .padding = {1, 1}},
      {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true},
      {.kernel_size = {3, 2}, .stride = {2, 1}, .padding = {1, 1}, .ceil_mode = true},
      {.kernel_size = {2, 3}, .stride = {1, 2}, .padding = {1, 1}, .divisor_override = 5},
      {.kernel_size = {4, 5}, .stride = {3, 2}, .padding = {2, 1}, .ceil_mode = true},
      {.kernel_size = {7, 7}, .stride = {1, 1}, .padding = {3, 3}},  // >= 32: warp per output
      {.kernel_size = {7, 5}, .stride = {2, 3}, .padding = {3, 2}, .ceil_mode = true},
  };
  // Every configuration with count_include_pad both ways.
  const size_t n = configs.size();
  for (size_t i = 0; i < n; ++i) {
    AvgPool2dOptions o = configs[i];
    o.count_include_pad = !o.count_include_pad;
    configs.push_back(o);
  }
  Generator gen(35);
  for (DType t : {DType::F32, DType::F64, DType::BF16})
    for (const auto& opt : configs)
      for (const Shape& s : kPoolShapes) expect_avg_pool_matches(opt, s, t, gen);
}

TEST(AvgPool2dCuda, BackwardThroughAutograd) {
  AFN_REQUIRE_CUDA();
  Generator gen(36);
  const AvgPool2dOptions opt{
      .kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .count_include_pad = false};
  Tensor x = randn({2, 4, 9, 10}, DType::F64, gen);
  Tensor xc = x.clone().set_requires_grad(true);
  Tensor xg = x.cuda().set_requires_grad(true);
  Tensor y = avg_pool2d(xc, opt), yg = avg_pool2d(xg, opt);
  Tensor g = randn(y.shape(), DType::F64, gen);
  y.backward(g);
  yg.backward(g.cuda());
  EXPECT_ALLCLOSE(xg.grad().cpu(), xc.grad(), testing::tolerance_for(DType::F64, 9));
}

TEST(AvgPool2dCuda, RejectsBadInput) {
  AFN_REQUIRE_CUDA();
  const AvgPool2dOptions k2{.kernel_size = {2, 2}};
  Tensor x = randn({1, 2, 5, 5}, DType::F32, testing::kCuda0);
  EXPECT_THROW(avg_pool2d(x, {.kernel_size = {2, 6}}), Error);
  Tensor y = ops::avg_pool2d_forward(x, k2);
  EXPECT_THROW(ops::avg_pool2d_backward(y, {1, 2, 6, 7}, k2), Error);
}

}  // namespace
}  // namespace afinar

namespace afinar {
namespace {

// PyTorch's int-or-tuple: kernel_size=3 means (3, 3).
TEST(MaxPool2d, IntOrPairArguments) {
  Generator gen(77);
  Tensor x = randn({2, 3, 11, 9}, DType::F32, gen);
  EXPECT_EQ(max_pool2d(x, {.kernel_size = 3, .stride = 2, .padding = 1}).to_vector<float>(),
            max_pool2d(x, {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}})
                .to_vector<float>());
  EXPECT_EQ(avg_pool2d(x, {.kernel_size = 2}).to_vector<float>(),
            avg_pool2d(x, {.kernel_size = {2, 2}, .stride = {2, 2}}).to_vector<float>());
  EXPECT_EQ(adaptive_avg_pool2d(x, 1).shape(), (Shape{2, 3, 1, 1}));
  EXPECT_EQ(adaptive_max_pool2d(x, {2, 3}).shape(), (Shape{2, 3, 2, 3}));
}

}  // namespace
}  // namespace afinar
