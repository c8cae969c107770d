// GradScaler (optim/grad_scaler.h) against torch.cuda.amp.GradScaler's documented behaviour:
// the scaled backward unscaled back to the true gradients, skipped steps on inf/NaN with the
// scale backed off, growth after growth_interval clean steps, the misuse errors, state_dict, and
// a disabled scaler that changes nothing.
#include "afinar/optim/grad_scaler.h"

#include <gtest/gtest.h>

#include <limits>

#include "afinar/ops/elementwise.h"
#include "afinar/ops/reduce.h"
#include "afinar/optim/adam.h"
#include "afinar/optim/sgd.h"
#include "testing/compare.h"

namespace afinar::optim {
namespace {

// loss = Σ w ⊙ x: dL/dw = x.
Tensor loss_of(const Tensor& w, const Tensor& x) {
  return sum(mul(w, x));
}

TEST(GradScaler, UnscaledGradientsAreTheTrueOnesAndTheStepApplies) {
  Generator gen(1);
  Tensor w = randn({4, 3}, DType::F32, gen).set_requires_grad(true);
  const Tensor x = randn({4, 3}, DType::F32, gen);
  const Tensor w0 = w.detach().clone();
  SGD opt({w}, {.lr = 0.5});
  GradScaler scaler;
  EXPECT_EQ(scaler.get_scale(), 65536.0);
  const Tensor scaled = scaler.scale(loss_of(w, x));
  testing::expect_identical(scaled, ops::mul_scalar(loss_of(w, x), 65536.0), "scaled loss");
  scaled.backward();
  testing::expect_identical(w.grad(), ops::mul_scalar(x, 65536.0), "scaled gradient");
  scaler.unscale_(opt);
  testing::expect_identical(w.grad(), x, "unscaled gradient");  // 2^16: exact
  EXPECT_TRUE(scaler.step(opt));
  scaler.update();
  testing::expect_identical(w.detach(), ops::add(w0, x, -0.5), "SGD step");
  EXPECT_EQ(scaler.get_scale(), 65536.0);  // one clean step of 2000
}

TEST(GradScaler, AnInfGradientSkipsTheStepAndBacksOff) {
  Tensor w = ones({3}).set_requires_grad(true);
  Adam opt({w}, {.lr = 0.1});
  GradScaler scaler({.init_scale = 8.0, .growth_interval = 2});
  const Tensor big = from_vector<float>({1.0f, std::numeric_limits<float>::infinity(), 2.0f}, {3});
  scaler.scale(loss_of(w, big)).backward();
  EXPECT_FALSE(scaler.step(opt));
  scaler.update();
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{1, 1, 1}));  // untouched
  EXPECT_EQ(opt.state(w), nullptr);                                // no Adam state, no step
  EXPECT_EQ(scaler.get_scale(), 4.0);

  // Two clean steps grow it back (growth_interval 2), and Adam steps each time.
  const Tensor x = from_vector<float>({1.0f, -1.0f, 0.5f}, {3});
  for (int i = 0; i < 2; ++i) {
    opt.zero_grad();
    scaler.scale(loss_of(w, x)).backward();
    EXPECT_TRUE(scaler.step(opt));
    scaler.update();
  }
  EXPECT_EQ(opt.state(w)->step, 2);
  EXPECT_EQ(scaler.get_scale(), 8.0);
  // NaN skips too.
  opt.zero_grad();
  scaler.scale(loss_of(w, from_vector<float>({0.0f, NAN, 0.0f}, {3}))).backward();
  EXPECT_FALSE(scaler.step(opt));
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 4.0);
  EXPECT_EQ(opt.state(w)->step, 2);
}

TEST(GradScaler, MisuseIsAnError) {
  Tensor w = ones({2}).set_requires_grad(true);
  SGD opt({w}, {.lr = 0.1});
  GradScaler scaler;
  EXPECT_THROW(scaler.update(), Error);  // nothing scaled yet
  scaler.scale(sum(w)).backward();
  scaler.unscale_(opt);
  EXPECT_THROW(scaler.unscale_(opt), Error);  // twice before update()
  scaler.step(opt);
  EXPECT_THROW(scaler.step(opt), Error);  // twice before update()
  scaler.update();
  EXPECT_THROW(scaler.update(), Error);  // no step since the last update
  // float16 parameters cannot be unscaled (PyTorch: "Attempting to unscale FP16 gradients").
  Tensor h = ones({2}, DType::F16).set_requires_grad(true);
  SGD half({h}, {.lr = 0.1});
  scaler.scale(sum(h.to(DType::F32))).backward();
  EXPECT_THROW(scaler.unscale_(half), Error);
  EXPECT_THROW(GradScaler({.backoff_factor = 1.5}), Error);
  EXPECT_THROW(GradScaler({.growth_interval = 0}), Error);
}

TEST(GradScaler, StateDictRoundTrips) {
  Tensor w = ones({2}).set_requires_grad(true);
  SGD opt({w}, {.lr = 0.1});
  GradScaler a({.init_scale = 1024.0, .growth_interval = 5});
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    a.scale(sum(w)).backward();
    a.step(opt);
    a.update();
  }
  const StateDict sd = a.state_dict();
  EXPECT_EQ(sd.at("scale").item<double>(), 1024.0);
  EXPECT_EQ(sd.at("_growth_tracker").item<int64_t>(), 3);
  EXPECT_EQ(sd.at("growth_interval").item<int64_t>(), 5);
  GradScaler b;
  b.load_state_dict(sd);
  EXPECT_EQ(b.get_scale(), 1024.0);
  // Two more clean steps reach the interval of 5 in both and double the scale.
  for (GradScaler* s : {&a, &b})
    for (int i = 0; i < 2; ++i) {
      opt.zero_grad();
      s->scale(sum(w)).backward();
      s->step(opt);
      s->update();
    }
  EXPECT_EQ(a.get_scale(), 2048.0);
  EXPECT_EQ(b.get_scale(), 2048.0);
}

TEST(GradScaler, DisabledChangesNothing) {
  Tensor w = ones({2}).set_requires_grad(true);
  SGD opt({w}, {.lr = 0.5});
  GradScaler off({.enabled = false});
  const Tensor loss = sum(w);
  EXPECT_TRUE(off.scale(loss).is_same(loss));
  loss.backward();
  EXPECT_TRUE(off.step(opt));
  off.update();
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{0.5f, 0.5f}));
  EXPECT_EQ(off.get_scale(), 1.0);
  EXPECT_TRUE(off.state_dict().empty());
}

}  // namespace
}  // namespace afinar::optim
