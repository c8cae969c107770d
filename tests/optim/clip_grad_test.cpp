// clip_grad_norm_ (optim/clip_grad.h) against torch.nn.utils.clip_grad_norm_'s closed form and its
// values for non-finite norms (checked with torch 1.13: the cases below print the same numbers).
#include "afinar/optim/clip_grad.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "afinar/ops/elementwise.h"
#include "afinar/optim/sgd.h"
#include "testing/compare.h"
#include "testing/cuda.h"

namespace afinar::optim {
namespace {

// A parameter whose gradient holds `grad` (an empty list: no gradient).
Tensor param_with_grad(const std::vector<double>& grad, const Device& device = kCPU) {
  Tensor p = zeros({int64_t(std::max<size_t>(grad.size(), 1))}, DType::F64, device);
  p.set_requires_grad(true);
  if (!grad.empty()) p.set_grad(from_vector<double>(grad, {int64_t(grad.size())}).to(device));
  return p;
}

TEST(ClipGradNorm, ScalesEveryGradientByMaxNormOverTheTotal) {
  // ‖(3, 4, 12)‖ = 13; coef = 6.5 / (13 + 1e-6); a parameter without a gradient is skipped.
  const Tensor a = param_with_grad({3, 4}), b = param_with_grad({12}), c = param_with_grad({});
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a, b, c}, 6.5), 13.0);
  const double coef = 6.5 / (13.0 + 1e-6);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{3 * coef, 4 * coef}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{12 * coef}));
  EXPECT_FALSE(c.grad().defined());
}

TEST(ClipGradNorm, LeavesGradientsWithinTheNormAlone) {
  const Tensor a = param_with_grad({0.3, -0.4});
  const Tensor before = a.grad();
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a}, 0.5 + 1e-6), 0.5);  // coef clamped to 1
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.3, -0.4}));
  EXPECT_EQ(a.grad().raw_data_ptr(), before.raw_data_ptr());
  EXPECT_EQ(clip_grad_norm_({param_with_grad({})}, 1.0), 0.0);  // no gradients at all
}

TEST(ClipGradNorm, NonFiniteTotalsAsPyTorch) {
  // torch: an infinite total makes coef 0 (finite gradients become 0, the infinite one NaN); a NaN
  // total makes every gradient NaN.
  const double inf = std::numeric_limits<double>::infinity();
  Tensor a = param_with_grad({3, 4}), b = param_with_grad({inf});
  EXPECT_EQ(clip_grad_norm_({a, b}, 6.5), inf);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0, 0}));
  EXPECT_TRUE(std::isnan(b.grad().item<double>()));
  a = param_with_grad({3, 4});
  b = param_with_grad({std::nan("")});
  EXPECT_TRUE(std::isnan(clip_grad_norm_({a, b}, 6.5)));
  for (double g : a.grad().to_vector<double>()) EXPECT_TRUE(std::isnan(g));
  // error_if_nonfinite refuses before touching anything.
  a = param_with_grad({3, 4});
  b = param_with_grad({inf});
  EXPECT_THROW(clip_grad_norm_({a, b}, 6.5, /*error_if_nonfinite=*/true), Error);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{3, 4}));
}

TEST(ClipGradNorm, KeepsTheGradientsLayoutAndRefusesBadMaxNorm) {
  Generator gen(3);
  Tensor p = zeros({2, 3, 4, 5}).to(MemoryFormat::ChannelsLast);
  p.set_requires_grad(true);
  p.set_grad(randn({2, 3, 4, 5}, DType::F32, gen).to(MemoryFormat::ChannelsLast));
  const Tensor g = p.grad().contiguous().clone();
  const double total = clip_grad_norm_({p}, 1.0);
  EXPECT_TRUE(p.grad().is_contiguous(MemoryFormat::ChannelsLast));
  EXPECT_ALLCLOSE(p.grad().contiguous(), g * (1.0 / (total + 1e-6)),
                  testing::tolerance_for(DType::F32, 2));
  for (double bad : {0.0, -1.0, std::nan("")}) EXPECT_THROW(clip_grad_norm_({p}, bad), Error);
}

TEST(ClipGradNorm, ParamsWithGradAreTheOptimizersWithAGradient) {
  const Tensor a = param_with_grad({1}), b = param_with_grad({}), c = param_with_grad({2});
  SGD opt({a, b}, {.lr = 0.1});
  opt.add_param_group({c});
  const std::vector<Tensor> with = params_with_grad(opt);
  ASSERT_EQ(with.size(), 2u);
  EXPECT_EQ(with[0].raw_data_ptr(), a.raw_data_ptr());
  EXPECT_EQ(with[1].raw_data_ptr(), c.raw_data_ptr());
}

TEST(ClipGradNormCuda, MatchesTheCpu) {
  AFN_REQUIRE_CUDA();
  Generator gen(4);
  const Tensor ga = randn({37, 11}, DType::F32, gen), gb = randn({1000}, DType::F32, gen);
  auto params = [&](const Device& d) {
    std::vector<Tensor> ps;
    for (const Tensor& g : {ga, gb}) {
      Tensor p = zeros(g.shape(), DType::F32, d);
      p.set_requires_grad(true);
      p.set_grad(g.to(d));
      ps.push_back(p);
    }
    return ps;
  };
  const std::vector<Tensor> cpu = params(kCPU), gpu = params(testing::kCuda0);
  const double t_cpu = clip_grad_norm_(cpu, 2.0), t_gpu = clip_grad_norm_(gpu, 2.0);
  EXPECT_NEAR(t_gpu, t_cpu, 1e-5 * t_cpu);
  for (size_t i = 0; i < cpu.size(); ++i)
    EXPECT_ALLCLOSE(gpu[i].grad().cpu(), cpu[i].grad(), testing::tolerance_for(DType::F32, 1037));
}

}  // namespace
}  // namespace afinar::optim
