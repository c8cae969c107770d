// train::ModelEma against timm's ModelEmaV3 update (goldens from tools/goldens/model_ema.py:
// torch's lerp_ over a Linear + BatchNorm2d state that moves each step), its decay schedule, and
// its errors; on the GPU against the same goldens.
#include "afinar/train/model_ema.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "afinar/autograd/grad_mode.h"
#include "afinar/nn/layers.h"
#include "testing/compare.h"
#include "testing/cuda.h"
#include "testing/errors.h"
#include "testing/fixtures.h"

namespace afinar::train {
namespace {

// The golden's model: nn.Sequential(nn.Linear(4, 3), nn.BatchNorm2d(3)).
nn::ModulePtr small_model() {
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(4, 3), std::make_shared<nn::BatchNorm2d>(3)});
}

// The golden's model state `prefix`<s>.<key> for every key of `model`.
StateDict golden_state(const testing::GoldenCase& c, const nn::Module& model,
                       const std::string& prefix) {
  StateDict sd;
  for (const auto& [key, t] : model.state_dict()) sd.insert(key, c.tensor(prefix + "." + key));
  return sd;
}

// Replays every golden case on `device`: the average after each update equals timm's, within the
// rounding of one lerp per step (a fused multiply-add or not) compounded over the steps; the
// counters exactly.
void expect_matches_goldens(const Device& device) {
  for (const testing::GoldenCase& c : testing::load_goldens("model_ema")) {
    const int64_t steps = c.attr_int("steps");
    nn::ModulePtr model = small_model();
    model->load_state_dict(golden_state(c, *model, "m0"));
    model->to(device);
    ModelEma ema(small_model(), *model,
                 {.decay = c.attr_double("decay"), .warmup = c.attr_int("warmup") != 0});
    for (int64_t s = 1; s <= steps; ++s) {
      model->load_state_dict(golden_state(c, *model, detail::concat("m", s)));
      ema.update(*model, s);
      const StateDict want = golden_state(c, *model, detail::concat("ema", s));
      for (const auto& [key, got] : ema.module().state_dict()) {
        const std::string what = detail::concat(c.name, " step ", s, " ", key);
        ASSERT_EQ(got.device(), device) << what;
        if (got.dtype() == DType::I64) {
          testing::expect_identical(got.cpu(), want.at(key), what);
        } else {
          EXPECT_ALLCLOSE(got.cpu(), want.at(key), testing::tolerance_for(DType::F32, s)) << what;
        }
      }
    }
  }
}

TEST(ModelEma, MatchesTimmGolden) {
  expect_matches_goldens(kCPU);
}

TEST(ModelEma, DecayFollowsTimm) {
  const ModelEma plain(small_model(), *small_model(), {.decay = 0.99});
  EXPECT_EQ(plain.decay_at(0), 0.0);
  EXPECT_EQ(plain.decay_at(1), 0.0);  // the first update copies the model
  EXPECT_EQ(plain.decay_at(2), 0.99);
  EXPECT_EQ(plain.decay_at(1000), 0.99);
  // Warmup: 1 - (1 + t)^(-2/3) for t = step - 1, capped at the decay.
  const ModelEma warm(small_model(), *small_model(), {.decay = 0.99, .warmup = true});
  EXPECT_EQ(warm.decay_at(1), 0.0);
  EXPECT_DOUBLE_EQ(warm.decay_at(2), 1.0 - std::pow(2.0, -2.0 / 3.0));
  EXPECT_DOUBLE_EQ(warm.decay_at(9), 1.0 - std::pow(9.0, -2.0 / 3.0));
  EXPECT_EQ(warm.decay_at(2000), 0.99);  // 1 - 2000^(-2/3) = 0.9937 > 0.99
}

TEST(ModelEma, StartsAsAnUntrainableCopyAndFirstUpdateCopiesExactly) {
  nn::ModulePtr model = small_model();
  ModelEma ema(small_model(), *model, {.decay = 0.9});
  for (const auto& [key, p] : ema.module().named_parameters())
    EXPECT_FALSE(p.requires_grad()) << key;
  EXPECT_FALSE(ema.module().is_training());
  for (const auto& [key, t] : model->state_dict())
    testing::expect_identical(ema.module().state_dict().at(key), t, "copy: " + key);
  Generator gen(3);
  NoGradGuard no_grad;
  for (auto& [key, p] : model->named_parameters()) p.copy_(randn(p.shape(), DType::F32, gen));
  ema.update(*model, 1);  // decay 0: torch.lerp with weight 1 gives the model's values exactly
  for (const auto& [key, t] : model->state_dict())
    testing::expect_identical(ema.module().state_dict().at(key), t, "first update: " + key);
}

TEST(ModelEma, RefusesBadDecayAndAnotherModel) {
  nn::ModulePtr model = small_model();
  for (double decay : {-0.1, 1.5, std::nan("")}) {
    EXPECT_NE(testing::error_of([&] {
                ModelEma(small_model(), *model, {.decay = decay});
              }).find("decay must be in [0, 1]"),
              std::string::npos)
        << decay;
  }
  ModelEma ema(small_model(), *model);
  const nn::Linear other(4, 3);
  EXPECT_NE(testing::error_of([&] { ema.update(other, 2); }).find("ModelEma"), std::string::npos);
  // A state of another architecture cannot start an average (load_state_dict's strict error).
  EXPECT_NE(testing::error_of([&] {
              ModelEma(std::make_shared<nn::Linear>(4, 3), *model);
            }).find("missing"),
            std::string::npos);
}

TEST(ModelEmaCuda, MatchesTimmGolden) {
  AFN_REQUIRE_CUDA();
  expect_matches_goldens(testing::kCuda0);
}

}  // namespace
}  // namespace afinar::train
