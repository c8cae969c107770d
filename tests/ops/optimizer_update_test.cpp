// sgd_update / adam_update / rmsprop_update, the op under the optimizers: one step against the
// update written out by hand, list checks, and the CUDA multi-tensor kernels against the CPU
// reference. (tests/optim/optimizer_test.cpp checks whole trajectories against torch.optim.)
#include "afinar/ops/optimizer_update.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "afinar/optim/adam.h"
#include "afinar/optim/rmsprop.h"
#include "afinar/optim/sgd.h"
#include "testing/compare.h"
#include "testing/cuda.h"

namespace afinar {
namespace {

// p = 1, g = 0.5, buf = 2 (an existing buffer): d = g + λp = 0.5 + 0.1 = 0.6;
// buf = μ·buf + (1-τ)·d = 0.9·2 + 0.8·0.6 = 2.28; nesterov: d = d + μ·buf = 0.6 + 2.052 = 2.652;
// p = 1 - 0.1·2.652 = 0.7348.
TEST(OptimizerUpdate, SgdStepMatchesTheWrittenOutRule) {
  Tensor p = from_vector<double>({1.0}, {1}), g = from_vector<double>({0.5}, {1});
  Tensor buf = from_vector<double>({2.0}, {1});
  ops::sgd_update(
      {p}, {g}, {buf}, false,
      {.lr = 0.1, .momentum = 0.9, .dampening = 0.2, .weight_decay = 0.1, .nesterov = true});
  EXPECT_DOUBLE_EQ(buf.item<double>(), 2.28);
  EXPECT_NEAR(p.item<double>(), 0.7348, 1e-15);
  // First step: the buffer starts as d itself (no dampening).
  Tensor q = from_vector<double>({1.0}, {1}), b2 = zeros({1}, DType::F64);
  ops::sgd_update({q}, {g}, {b2}, true, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  EXPECT_DOUBLE_EQ(b2.item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(q.item<double>(), 0.95);
}

// Step t = 2 of AdamW with amsgrad: p = 1, g = 0.5, m = 0.1, v = 0.04, vmax = 0.05,
// lr 0.01, β 0.9 / 0.999, ε 1e-8, λ 0.1.
TEST(OptimizerUpdate, AdamWStepMatchesTheWrittenOutRule) {
  Tensor p = from_vector<double>({1.0}, {1}), g = from_vector<double>({0.5}, {1});
  Tensor m = from_vector<double>({0.1}, {1}), v = from_vector<double>({0.04}, {1});
  Tensor vmax = from_vector<double>({0.05}, {1});
  AdamHyper h{.lr = 0.01,
              .beta1 = 0.9,
              .beta2 = 0.999,
              .eps = 1e-8,
              .weight_decay = 0.1,
              .amsgrad = true,
              .decoupled = true};
  h.step_size = h.lr / (1 - 0.9 * 0.9);
  h.bias2_sqrt = std::sqrt(1 - 0.999 * 0.999);
  ops::adam_update({p}, {g}, {m}, {v}, {vmax}, h);
  const double p1 = 1.0 * (1 - 0.01 * 0.1);
  const double m1 = 0.9 * 0.1 + 0.1 * 0.5, v1 = 0.999 * 0.04 + 0.001 * 0.25;
  const double vhat = std::max(0.05, v1);
  const double want = p1 - h.step_size * m1 / (std::sqrt(vhat) / h.bias2_sqrt + 1e-8);
  EXPECT_DOUBLE_EQ(m.item<double>(), m1);
  EXPECT_DOUBLE_EQ(v.item<double>(), v1);
  EXPECT_DOUBLE_EQ(vmax.item<double>(), vhat);
  EXPECT_NEAR(p.item<double>(), want, 1e-15);
}

// Centered RMSprop with momentum and weight decay: p = 1, g = 0.5, s = 0.2, a = 0.1, b = 0.3,
// lr 0.01, α 0.9, ε 1e-3, λ 0.1, μ 0.5, maximize (the gradient's sign flips first).
TEST(OptimizerUpdate, RmspropStepMatchesTheWrittenOutRule) {
  Tensor p = from_vector<double>({1.0}, {1}), g = from_vector<double>({0.5}, {1});
  Tensor s = from_vector<double>({0.2}, {1}), a = from_vector<double>({0.1}, {1});
  Tensor b = from_vector<double>({0.3}, {1});
  ops::rmsprop_update({p}, {g}, {s}, {a}, {b},
                      {.lr = 0.01,
                       .alpha = 0.9,
                       .eps = 1e-3,
                       .weight_decay = 0.1,
                       .momentum = 0.5,
                       .centered = true,
                       .maximize = true});
  const double d = -0.5 + 0.1 * 1.0;  // -0.4
  const double s1 = 0.2 * 0.9 + (1 - 0.9) * d * d, a1 = 0.1 * 0.9 + (1 - 0.9) * d;
  const double b1 = 0.5 * 0.3 + d / (std::sqrt(s1 - a1 * a1) + 1e-3);
  EXPECT_DOUBLE_EQ(s.item<double>(), s1);
  EXPECT_DOUBLE_EQ(a.item<double>(), a1);
  EXPECT_NEAR(b.item<double>(), b1, 1e-15);
  EXPECT_NEAR(p.item<double>(), 1.0 - 0.01 * b1, 1e-15);
  // Plain RMSprop: no grad_avg, no buffer; p = p - lr·g/(√s + ε).
  Tensor q = from_vector<double>({1.0}, {1}), s2 = from_vector<double>({0.0}, {1});
  ops::rmsprop_update({q}, {g}, {s2}, {}, {}, {.lr = 0.01});
  EXPECT_DOUBLE_EQ(s2.item<double>(), (1 - 0.99) * 0.5 * 0.5);
  EXPECT_NEAR(q.item<double>(), 1.0 - 0.01 * 0.5 / (std::sqrt((1 - 0.99) * 0.25) + 1e-8), 1e-15);
}

TEST(OptimizerUpdate, BadListsAreClearErrors) {
  Tensor p = zeros({3}), g = zeros({3});
  EXPECT_THROW(ops::sgd_update({p}, {}, {}, false, {.lr = 0.1}), Error);  // no grad
  EXPECT_THROW(ops::sgd_update({p}, {zeros({4})}, {}, false, {.lr = 0.1}), Error);
  EXPECT_THROW(ops::sgd_update({p}, {g}, {}, false, {.lr = 0.1, .momentum = 0.9}), Error);
  EXPECT_THROW(ops::sgd_update({p}, {g.to(DType::F64)}, {}, false, {.lr = 0.1}), Error);
  EXPECT_THROW(
      ops::sgd_update({zeros({4, 3}).transpose(0, 1)}, {zeros({3, 4})}, {}, false, {.lr = 0.1}),
      Error);  // a non-contiguous parameter cannot be updated in place
  EXPECT_THROW(ops::adam_update({p}, {g}, {zeros({3})}, {zeros({3})}, {}, {.amsgrad = true}),
               Error);  // amsgrad needs max_exp_avg_sqs
  EXPECT_THROW(ops::rmsprop_update({p}, {g}, {zeros({3})}, {}, {}, {.centered = true}),
               Error);  // centered needs grad_avgs
  EXPECT_THROW(ops::rmsprop_update({p}, {g}, {zeros({3})}, {}, {zeros({3})}, {}),
               Error);                              // a momentum buffer without momentum
  ops::sgd_update({}, {}, {}, false, {.lr = 0.1});  // nothing to update is fine
}

// The multi-tensor CUDA updates against the CPU reference: tensors cut at chunk boundaries
// (65536 elements) and tiny ones in one launch, SGD with momentum, Adam with amsgrad and centered
// RMSprop with momentum, and a parameter joining late (its own step count).
TEST(OptimizerUpdateCuda, MultiTensorUpdatesMatchReference) {
  AFN_REQUIRE_CUDA();
  const std::vector<Shape> shapes = {{1}, {3, 5}, {65537}, {2, 65536}, {7}};
  for (int which = 0; which < 3; ++which) {
    Generator gen(10 + which);
    std::vector<Tensor> cpu, gpu;
    for (const Shape& s : shapes) {
      Tensor p = randn(s, DType::F32, gen);
      cpu.push_back(p.clone().set_requires_grad(true));
      gpu.push_back(p.cuda().set_requires_grad(true));
    }
    auto make = [&](std::vector<Tensor>& p) -> std::unique_ptr<optim::Optimizer> {
      if (which == 0)
        return std::make_unique<optim::SGD>(
            p,
            optim::SgdOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-2, .nesterov = true});
      if (which == 2)
        return std::make_unique<optim::RMSprop>(
            p, optim::RmspropOptions{
                   .lr = 1e-3, .weight_decay = 1e-2, .momentum = 0.9, .centered = true});
      return std::make_unique<optim::Adam>(
          p, optim::AdamOptions{.lr = 1e-2, .weight_decay = 1e-2, .amsgrad = true});
    };
    auto opt_cpu = make(cpu), opt_gpu = make(gpu);
    for (int step = 0; step < 5; ++step) {
      for (size_t i = 0; i < shapes.size(); ++i) {
        if (i == 4 && step < 2) continue;  // joins at step 2
        Tensor g = randn(shapes[i], DType::F32, gen);
        cpu[i].set_grad(g);
        gpu[i].set_grad(g.cuda());
      }
      opt_cpu->step();
      opt_gpu->step();
    }
    // The same element rule on both devices; the GPU may fuse multiply-adds: a few ulp per step.
    for (size_t i = 0; i < shapes.size(); ++i)
      EXPECT_ALLCLOSE(gpu[i].cpu(), cpu[i], testing::tolerance_for(DType::F32, 5)) << i;
  }
}

}  // namespace
}  // namespace afinar
