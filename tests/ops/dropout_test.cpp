#include "afinar/ops/dropout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "testing/cuda.h"
#include "testing/gradcheck.h"

namespace afinar {
namespace {

TEST(Dropout, MaskIsThePhiloxContract) {
  // The documented mask, recomputed here from the generator alone: element i is kept when word
  // i % 4 of block offset + i / 4, as a float in (0, 1], exceeds p. This is what makes the mask
  // independent of the thread count (the kernel's parallel loop must produce exactly this).
  const double p = 0.4;
  // Large enough for the kernel's parallel loop; not a multiple of 4: the last block is partial.
  const int64_t n = 100003;
  Generator gen(77);
  gen.draw_offset(5);  // start mid-stream
  const uint64_t offset = gen.offset();
  Tensor x = ones({n}, DType::F64);
  Tensor y = dropout(x, p, true, gen);
  EXPECT_EQ(gen.offset(), offset + uint64_t((n + 3) / 4));
  const std::vector<double> yv = y.to_vector<double>();
  const Generator ref(77);
  for (int64_t i = 0; i < n; ++i) {
    const auto words = ref.block(offset + uint64_t(i / 4));
    const bool keep = double(uint_to_unit_float(words[size_t(i % 4)])) > p;
    ASSERT_EQ(yv[size_t(i)], keep ? 1.0 / (1.0 - p) : 0.0) << "element " << i;
  }
}

TEST(Dropout, SameSeedSameMaskOtherSeedOtherMask) {
  Tensor x = ones({4096}, DType::F32);
  Generator a(5), b(5), c(6);
  const auto ya = dropout(x, 0.5, true, a).to_vector<float>();
  EXPECT_EQ(ya, dropout(x, 0.5, true, b).to_vector<float>());
  EXPECT_NE(ya, dropout(x, 0.5, true, c).to_vector<float>());
  // The stream moves on: the next draw from the same generator is a different mask.
  EXPECT_NE(ya, dropout(x, 0.5, true, a).to_vector<float>());
}

TEST(Dropout, KeptFractionAndScale) {
  const double p = 0.3;
  const int64_t n = 100000;
  Generator gen(123);
  Tensor x = uniform({n}, 1.0, 2.0, DType::F32, gen);  // never 0, so kept values are nonzero
  Tensor y = dropout(x, p, true, gen);
  const auto xv = x.to_vector<float>(), yv = y.to_vector<float>();
  int64_t kept = 0;
  const float scale = float(1.0 / (1.0 - p));
  for (int64_t i = 0; i < n; ++i) {
    if (yv[size_t(i)] == 0.0f) continue;
    ++kept;
    ASSERT_EQ(yv[size_t(i)], xv[size_t(i)] * scale) << "element " << i;
  }
  // kept ~ Binomial(n, 1-p): standard deviation sqrt(n p (1-p)) ≈ 145 for n = 1e5, p = 0.3. A
  // 6-sigma bound (|kept/n - (1-p)| < 6 sqrt(p(1-p)/n) ≈ 0.0087) fails by chance with
  // probability ~2e-9, while a mask of the wrong rate (e.g. p instead of 1-p) misses by 0.4.
  const double bound = 6.0 * std::sqrt(p * (1 - p) / double(n));
  EXPECT_NEAR(double(kept) / double(n), 1.0 - p, bound);
}

TEST(Dropout, EvalAndZeroProbabilityReturnTheInput) {
  Tensor x = ones({8}).set_requires_grad(true);
  Generator gen(1);
  EXPECT_TRUE(dropout(x, 0.5, /*training=*/false, gen).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true, gen).is_same(x));
  EXPECT_EQ(gen.offset(), 0u);  // no random numbers drawn
}

TEST(Dropout, ProbabilityOneGivesZeros) {
  // PyTorch: x · 0, so a NaN input stays NaN and the gradient is zero.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = from_vector<double>({1.5, -2, nan}, {3}).set_requires_grad(true);
  Tensor y = dropout(x, 1.0);
  const auto yv = y.to_vector<double>();
  EXPECT_EQ(yv[0], 0.0);
  EXPECT_EQ(yv[1], 0.0);
  EXPECT_TRUE(std::isnan(yv[2]));
  y.backward(ones({3}, DType::F64));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0, 0}));
}

TEST(Dropout, BackwardIsMaskTimesScale) {
  Generator gen(9);
  Tensor x = uniform({64}, 1.0, 2.0, DType::F64, gen).set_requires_grad(true);
  Tensor y = dropout(x, 0.25, true, gen);
  y.backward(full({64}, 3.0, DType::F64));
  const auto yv = y.to_vector<double>(), gv = x.grad().to_vector<double>();
  for (size_t i = 0; i < yv.size(); ++i) EXPECT_EQ(gv[i], yv[i] == 0 ? 0.0 : 3.0 / 0.75);
}

TEST(Dropout, GradCheck) {
  Generator gen(3);
  Tensor x = testing::leaf_f64({5, 7}, gen);
  // A fresh generator per call: every evaluation draws the same mask, so f is a fixed function.
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        Generator g(42);
        return dropout(in[0], 0.3, true, g);
      },
      {x});
}

TEST(Dropout, RejectsBadInput) {
  Tensor x = ones({4});
  EXPECT_THROW(dropout(x, -0.1), Error);
  EXPECT_THROW(dropout(x, 1.5), Error);
  EXPECT_THROW(dropout(x, std::nan(""), false), Error);  // checked in eval mode too (PyTorch)
  EXPECT_THROW(dropout(zeros({4}, DType::I64), 0.5), Error);
  auto out = ops::dropout_forward(x, 0.5, default_generator());
  EXPECT_THROW(ops::dropout_backward(ones({5}), out.mask, 0.5), Error);
  EXPECT_THROW(ops::dropout_backward(ones({4}), ones({4}), 0.5), Error);  // mask must be uint8
}

}  // namespace
}  // namespace afinar

namespace afinar {
namespace {

// ---- CUDA vs the CPU reference ------------------------------------------------------------------

TEST(DropoutCuda, MaskMatchesCpu) {
  AFN_REQUIRE_CUDA();
  // The mask is a function of (seed, offset, i): bit-identical on both devices, and so are the
  // outputs (the same x · (m · scale) in the same dtype). Sizes cover a partial last group of 4.
  Generator data(61);
  for (DType t : {DType::F32, DType::F64})
    for (int64_t n : {int64_t(1), int64_t(3), int64_t(4), int64_t(5), int64_t(1000003)})
      for (double p : {0.1, 0.5, 0.9, 1.0}) {
        SCOPED_TRACE("n " + std::to_string(n) + " p " + std::to_string(p));
        const Tensor x = randn({n}, t, data);
        Generator cpu_gen(1234), gpu_gen(1234);
        cpu_gen.draw_offset(7);  // start mid-stream
        gpu_gen.draw_offset(7);
        const auto ref = ops::dropout_forward(x, p, cpu_gen);
        const auto out = ops::dropout_forward(x.cuda(), p, gpu_gen);
        EXPECT_EQ(gpu_gen.offset(), cpu_gen.offset());
        ASSERT_TRUE(out.mask.device().is_cuda());
        ASSERT_EQ(out.mask.dtype(), DType::U8);
        EXPECT_EQ(out.mask.to_vector<uint8_t>(), ref.mask.to_vector<uint8_t>());
        EXPECT_EQ(out.output.to_vector<double>(), ref.output.to_vector<double>());
        const Tensor g = randn({n}, t, data);
        EXPECT_EQ(ops::dropout_backward(g.cuda(), out.mask, p).to_vector<double>(),
                  ops::dropout_backward(g, ref.mask, p).to_vector<double>());
      }
}

TEST(DropoutCuda, MisalignedViewsMatchCpu) {
  AFN_REQUIRE_CUDA();
  // Contiguous views one element into their storage take the element-wise path.
  Generator data(62);
  const int64_t n = 4099;
  for (DType t : {DType::F32, DType::F64}) {
    const Tensor flat = randn({n + 1}, t, data);
    Generator cpu_gen(9), gpu_gen(9);
    const auto ref = ops::dropout_forward(flat.slice(0, 1, n + 1), 0.3, cpu_gen);
    const auto out = ops::dropout_forward(flat.cuda().slice(0, 1, n + 1), 0.3, gpu_gen);
    EXPECT_EQ(out.mask.to_vector<uint8_t>(), ref.mask.to_vector<uint8_t>());
    EXPECT_EQ(out.output.to_vector<double>(), ref.output.to_vector<double>());
    const Tensor g = randn({n + 1}, t, data);
    EXPECT_EQ(ops::dropout_backward(g.cuda().slice(0, 1, n + 1), out.mask, 0.3).to_vector<double>(),
              ops::dropout_backward(g.slice(0, 1, n + 1), ref.mask, 0.3).to_vector<double>());
  }
}

TEST(DropoutCuda, NaNStaysNaNAndAutogradOnDevice) {
  AFN_REQUIRE_CUDA();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = from_vector<double>({1.5, -2, nan, 4, 5}, {5});
  Generator a(3), b(3);
  const auto yc = dropout(x, 1.0, true, a).to_vector<double>();
  const auto yg = dropout(x.cuda(), 1.0, true, b).to_vector<double>();
  EXPECT_EQ(yg[0], 0.0);
  EXPECT_TRUE(std::isnan(yg[2]));
  EXPECT_TRUE(std::isnan(yc[2]));
  Generator c(5);
  Tensor xa = uniform({300}, 1.0, 2.0, DType::F32, c).cuda().set_requires_grad(true);
  Tensor xb = xa.detach().cpu().set_requires_grad(true);
  Generator ga(11), gb(11);
  dropout(xa, 0.4, true, ga).backward(full({300}, 2.0, DType::F32, testing::kCuda0));
  dropout(xb, 0.4, true, gb).backward(full({300}, 2.0, DType::F32));
  ASSERT_TRUE(xa.grad().device().is_cuda());
  EXPECT_EQ(xa.grad().to_vector<float>(), xb.grad().to_vector<float>());
}

TEST(DropoutCuda, RejectsMixedDevices) {
  AFN_REQUIRE_CUDA();
  const auto out =
      ops::dropout_forward(ones({8}, DType::F32, testing::kCuda0), 0.5, default_generator());
  EXPECT_THROW(ops::dropout_backward(ones({8}), out.mask, 0.5), Error);
  EXPECT_THROW(ops::dropout_backward(ones({8}, DType::F32, testing::kCuda0), out.mask.cpu(), 0.5),
               Error);
}

}  // namespace
}  // namespace afinar
