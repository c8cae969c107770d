// Mixup / CutMix (train/mixup.h): the Beta draws' moments, timm's cutmix box and λ correction,
// the mixing of images, the loss against timm's soft targets, and the per-step draws.
#include "afinar/train/mixup.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "afinar/core/rng.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/flip.h"
#include "afinar/ops/loss.h"
#include "testing/compare.h"
#include "testing/cuda.h"

namespace afinar::train {
namespace {

// The sample mean and variance of n Beta(a, b) draws are within 5 standard errors of the
// distribution's: mean a/(a+b), variance ab/((a+b)²(a+b+1)). The variance's standard error uses
// the fourth central moment bound E[(X-μ)^4] <= E[(X-μ)^2] (X in [0, 1]).
void expect_beta_moments(double a, double b, uint64_t seed) {
  SCOPED_TRACE("Beta(" + std::to_string(a) + ", " + std::to_string(b) + ")");
  constexpr int n = 20000;
  Generator gen(seed);
  std::vector<double> x(n);
  double sum = 0;
  for (double& v : x) {
    v = draw_beta(gen, a, b);
    ASSERT_TRUE(v >= 0 && v <= 1) << v;
    sum += v;
  }
  const double mean = sum / n;
  double ss = 0;
  for (double v : x) ss += (v - mean) * (v - mean);
  const double var = ss / (n - 1);
  const double mu = a / (a + b), sigma2 = a * b / ((a + b) * (a + b) * (a + b + 1));
  EXPECT_NEAR(mean, mu, 5 * std::sqrt(sigma2 / n));
  EXPECT_NEAR(var, sigma2, 5 * std::sqrt(sigma2 / n));
}

TEST(DrawBeta, MomentsMatchTheDistribution) {
  expect_beta_moments(0.2, 0.2, 1);  // timm's usual mixup α: mass near 0 and 1
  expect_beta_moments(1.0, 1.0, 2);  // uniform (cutmix's usual α)
  expect_beta_moments(2.0, 5.0, 3);
  expect_beta_moments(0.5, 3.0, 4);
}

TEST(DrawBeta, RefusesBadShapes) {
  Generator gen(1);
  EXPECT_THROW(draw_beta(gen, 0.0, 1.0), Error);
  EXPECT_THROW(draw_beta(gen, 1.0, -1.0), Error);
  EXPECT_THROW(draw_beta(gen, std::nan(""), 1.0), Error);
}

TEST(Cutmix, BoxAndLambdaAsTimm) {
  // timm's rand_bbox: cut = int(side·√(1-λ)), box = centre ∓ cut // 2 clipped; λ = 1 - area/HW.
  MixDraw d = cutmix_box(0.64, 10, 10, 5, 5);  // cut 6: [2, 8) × [2, 8)
  EXPECT_EQ((std::vector<int64_t>{d.y0, d.y1, d.x0, d.x1}), (std::vector<int64_t>{2, 8, 2, 8}));
  EXPECT_DOUBLE_EQ(d.lam, 1.0 - 36.0 / 100.0);
  d = cutmix_box(0.64, 10, 10, 0, 9);  // clipped: [0, 3) × [6, 10)
  EXPECT_EQ((std::vector<int64_t>{d.y0, d.y1, d.x0, d.x1}), (std::vector<int64_t>{0, 3, 6, 10}));
  EXPECT_DOUBLE_EQ(d.lam, 1.0 - 12.0 / 100.0);
  // 7 × 9, λ = 0.5: cut_h = int(4.95) = 4, cut_w = int(6.36) = 6 (odd cuts lose a row/column).
  d = cutmix_box(0.5, 7, 9, 6, 1);
  EXPECT_EQ((std::vector<int64_t>{d.y0, d.y1, d.x0, d.x1}), (std::vector<int64_t>{4, 7, 0, 4}));
  EXPECT_DOUBLE_EQ(d.lam, 1.0 - 12.0 / 63.0);
  EXPECT_TRUE(d.cutmix);
}

// [N = 3, C = 2, H = 3, W = 4] with distinct values.
Tensor batch(DType t = DType::F64) {
  return arange(72, t).reshape({3, 2, 3, 4});
}

TEST(MixImages, MixupBlendsEachImageWithItsMirror) {
  const Tensor x = batch();
  const Tensor y = mix_images(x, {.lam = 0.3});
  EXPECT_ALLCLOSE(y, x * 0.3 + flip(x, {0}) * 0.7, testing::tolerance_for(DType::F64, 2));
  // λ = 1: the batch itself, not a copy.
  EXPECT_EQ(mix_images(x, {}).raw_data_ptr(), x.raw_data_ptr());
}

TEST(MixImages, CutmixPastesTheBoxFromTheMirror) {
  const Tensor x = batch();
  const MixDraw d = cutmix_box(0.5, 3, 4, 1, 2);  // cut 2 × 2: rows [0, 2), columns [1, 3)
  const Tensor y = mix_images(x, d);
  const auto xv = x.to_vector<double>(), mv = flip(x, {0}).to_vector<double>();
  const auto yv = y.to_vector<double>();
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t h = 0; h < 3; ++h)
        for (int64_t w = 0; w < 4; ++w) {
          const size_t i = size_t(((n * 2 + c) * 3 + h) * 4 + w);
          const bool in_box = h >= d.y0 && h < d.y1 && w >= d.x0 && w < d.x1;
          EXPECT_EQ(yv[i], in_box ? mv[i] : xv[i]) << n << c << h << w;
        }
  EXPECT_EQ(x.to_vector<double>(), xv);  // the input is untouched
  EXPECT_THROW(mix_images(zeros({3, 4}), d), Error);
}

TEST(MixedCrossEntropy, EqualsTimmsSoftTargetLoss) {
  // timm: SoftTargetCrossEntropy(logits, mixup_target(y, C, λ, ε)) with
  // mixup_target = λ·smooth(onehot(y)) + (1-λ)·smooth(onehot(flip(y))).
  Generator gen(9);
  const int64_t N = 5, C = 4;
  const Tensor logits = randn({N, C}, DType::F64, gen);
  const std::vector<int64_t> y = {0, 3, 1, 1, 2};
  const Tensor labels = from_vector<int64_t>(y, {N});
  for (double eps : {0.0, 0.1})
    for (double lam : {1.0, 0.37}) {
      std::vector<double> soft(size_t(N * C), 0.0);
      for (int64_t i = 0; i < N; ++i) {
        soft[size_t(i * C + y[size_t(i)])] += lam;
        soft[size_t(i * C + y[size_t(N - 1 - i)])] += 1.0 - lam;
      }
      const Tensor expected =
          cross_entropy(logits, from_vector<double>(soft, {N, C}), {.label_smoothing = eps});
      EXPECT_ALLCLOSE(mixed_cross_entropy(logits, labels, {.lam = lam}, eps), expected,
                      testing::tolerance_for(DType::F64, N * C));
    }
}

TEST(DrawMix, FollowsTheOptions) {
  // Off, or prob 0: never mixed.
  EXPECT_EQ(draw_mix({}, 8, 8, 1, 0).lam, 1.0);
  EXPECT_EQ(draw_mix({.mixup_alpha = 1, .prob = 0}, 8, 8, 1, 0).lam, 1.0);
  // Both on: switch_prob 1 always cuts, 0 never does; one alone decides.
  for (int64_t step = 0; step < 50; ++step) {
    EXPECT_TRUE(
        draw_mix({.mixup_alpha = 1, .cutmix_alpha = 1, .switch_prob = 1}, 8, 8, 1, step).cutmix);
    EXPECT_FALSE(
        draw_mix({.mixup_alpha = 1, .cutmix_alpha = 1, .switch_prob = 0}, 8, 8, 1, step).cutmix);
    const MixDraw c = draw_mix({.cutmix_alpha = 1}, 8, 8, 1, step);
    EXPECT_TRUE(c.cutmix || c.lam == 1.0);
    EXPECT_FALSE(draw_mix({.mixup_alpha = 1}, 8, 8, 1, step).cutmix);
  }
}

TEST(DrawMix, IsAFunctionOfSeedAndStep) {
  const MixupOptions o{.mixup_alpha = 0.4, .cutmix_alpha = 1.0};
  const MixDraw a = draw_mix(o, 32, 32, 7, 123), b = draw_mix(o, 32, 32, 7, 123);
  EXPECT_EQ(a.lam, b.lam);
  EXPECT_EQ(a.cutmix, b.cutmix);
  EXPECT_EQ((std::vector<int64_t>{a.y0, a.y1, a.x0, a.x1}),
            (std::vector<int64_t>{b.y0, b.y1, b.x0, b.x1}));
  int distinct = 0;
  for (int64_t step = 0; step < 20; ++step)
    distinct += draw_mix(o, 32, 32, 7, step).lam != draw_mix(o, 32, 32, 8, step).lam;
  EXPECT_GE(distinct, 19);  // another seed, other draws (equal λ only by chance)
}

TEST(DrawMix, MixesAboutProbOfTheBatches) {
  // 4000 steps with prob 0.3: the mixed fraction is within 5 standard errors of 0.3.
  constexpr int n = 4000;
  int mixed = 0;
  for (int64_t step = 0; step < n; ++step)
    mixed += draw_mix({.mixup_alpha = 1.0, .prob = 0.3}, 8, 8, 3, step).lam != 1.0;
  EXPECT_NEAR(double(mixed) / n, 0.3, 5 * std::sqrt(0.3 * 0.7 / n));
}

TEST(MixImagesCuda, MatchesTheCpu) {
  AFN_REQUIRE_CUDA();
  const Tensor x = batch(DType::F32);
  for (const MixDraw& d : {MixDraw{.lam = 0.3}, cutmix_box(0.5, 3, 4, 1, 2)})
    EXPECT_ALLCLOSE(mix_images(x.cuda(), d).cpu(), mix_images(x, d),
                    testing::tolerance_for(DType::F32, 2));
}

}  // namespace
}  // namespace afinar::train
