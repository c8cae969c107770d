// Optimizers against torch.optim trajectories (tests/data/goldens/optim.h5, made by
// tools/goldens/optim.py): 10 steps of SGD / Adam / AdamW / RMSprop with groups, weight decay,
// Nesterov, amsgrad, centering, momentum, maximize, frozen parameters and parameters whose first
// gradient comes late or that miss steps. Then state, checkpoints and bad input.
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "afinar/optim/adam.h"
#include "afinar/optim/rmsprop.h"
#include "afinar/optim/sgd.h"
#include "testing/compare.h"
#include "testing/fixtures.h"

namespace afinar::optim {
namespace {

using Factory = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>&)>;

// p0, p1 in one group and p2, p3 in another (the golden script's groups()).
void split_groups(Optimizer& opt, std::vector<Tensor>& p, const Options& first,
                  const Options& second) {
  opt.add_param_group({p[0], p[1]}, first);
  opt.add_param_group({p[2], p[3]}, second);
}

// The settings of each golden case, as tools/goldens/optim.py writes them.
const std::map<std::string, Factory>& cases() {
  static const std::map<std::string, Factory> kCases = {
      {"sgd", [](auto& p) { return std::make_unique<SGD>(p, SgdOptions{.lr = 0.1}); }},
      {"sgd_momentum",
       [](auto& p) {
         return std::make_unique<SGD>(
             p, SgdOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 1e-2});
       }},
      {"sgd_nesterov",
       [](auto& p) {
         return std::make_unique<SGD>(
             p, SgdOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
       }},
      {"sgd_maximize",
       [](auto& p) {
         return std::make_unique<SGD>(p, SgdOptions{.lr = 0.05, .momentum = 0.5, .maximize = true});
       }},
      {"sgd_groups",
       [](auto& p) {
         auto opt =
             std::make_unique<SGD>(std::vector<Tensor>{}, SgdOptions{.lr = 0.5, .momentum = 0.9});
         opt->param_groups().clear();
         split_groups(*opt, p, {{"lr", 0.1}}, {{"lr", 0.01}, {"weight_decay", 0.1}});
         return opt;
       }},
      {"adam", [](auto& p) { return std::make_unique<Adam>(p, AdamOptions{.lr = 1e-2}); }},
      {"adam_wd_amsgrad",
       [](auto& p) {
         return std::make_unique<Adam>(p, AdamOptions{.lr = 1e-2,
                                                      .beta1 = 0.8,
                                                      .beta2 = 0.99,
                                                      .eps = 1e-6,
                                                      .weight_decay = 1e-2,
                                                      .amsgrad = true});
       }},
      {"adamw",
       [](auto& p) {
         return std::make_unique<AdamW>(p, AdamOptions{.lr = 1e-2, .weight_decay = 0.1});
       }},
      {"adamw_amsgrad_groups",
       [](auto& p) {
         auto opt = std::make_unique<AdamW>(
             std::vector<Tensor>{}, AdamOptions{.lr = 1e-2, .weight_decay = 1e-2, .amsgrad = true});
         opt->param_groups().clear();
         split_groups(*opt, p, {{"lr", 3e-3}},
                      {{"weight_decay", 0.0}, {"beta1", 0.5}, {"beta2", 0.9}});
         return opt;
       }},
      {"rmsprop", [](auto& p) { return std::make_unique<RMSprop>(p); }},
      {"rmsprop_centered_momentum",
       [](auto& p) {
         return std::make_unique<RMSprop>(p, RmspropOptions{.lr = 1e-3,
                                                            .alpha = 0.9,
                                                            .eps = 1e-3,
                                                            .weight_decay = 1e-2,
                                                            .momentum = 0.9,
                                                            .centered = true});
       }},
      {"rmsprop_groups",
       [](auto& p) {
         auto opt = std::make_unique<RMSprop>(std::vector<Tensor>{}, RmspropOptions{.eps = 0.0316});
         opt->param_groups().clear();
         split_groups(*opt, p, {{"momentum", 0.5}, {"maximize", 1}},
                      {{"lr", 3e-3}, {"alpha", 0.5}, {"centered", 1}});
         return opt;
       }},
  };
  return kCases;
}

TEST(Optimizer, MatchesTorchTrajectories) {
  const auto goldens = testing::load_goldens("optim");
  ASSERT_EQ(goldens.size(), cases().size());
  for (const auto& c : goldens) {
    SCOPED_TRACE(c.name);
    const int64_t steps = c.attr_int("steps"), n = c.attr_int("params");
    std::vector<Tensor> params;
    for (int64_t i = 0; i < n; ++i) {
      Tensor p = c.tensor(detail::concat("p", i, "_init"));
      // A parameter that never gets a gradient in the golden is the frozen one.
      p.set_requires_grad(c.has(detail::concat("g", i, "_0")) ||
                          c.has(detail::concat("g", i, "_", steps - 1)));
      params.push_back(p);
    }
    std::unique_ptr<Optimizer> opt = cases().at(c.name)(params);
    for (int64_t s = 0; s < steps; ++s) {
      opt->zero_grad();
      for (int64_t i = 0; i < n; ++i) {
        const std::string g = detail::concat("g", i, "_", s);
        if (c.has(g)) params[size_t(i)].set_grad(c.tensor(g));
      }
      opt->step();
      for (int64_t i = 0; i < n; ++i) {
        const std::string key = detail::concat("p", i, "_after_", s);
        // Rounding differences (fused multiply-adds) carried through `steps` updates.
        EXPECT_ALLCLOSE(params[size_t(i)], c.tensor(key), testing::tolerance_for(DType::F64, steps))
            << key;
      }
    }
  }
}

TEST(Optimizer, FrozenAndUnusedParametersGetNoStateAndStayBitIdentical) {
  Generator gen(1);
  Tensor a = randn({4, 3}, DType::F32, gen).set_requires_grad(true);
  Tensor frozen = randn({5}, DType::F32, gen);  // requires_grad = false
  Tensor unused = randn({2}, DType::F32, gen).set_requires_grad(true);
  const auto frozen_before = frozen.to_vector<float>(), unused_before = unused.to_vector<float>();
  Adam opt({a, frozen, unused}, {.lr = 0.1, .weight_decay = 0.1});
  for (int s = 0; s < 3; ++s) {
    a.set_grad(ones({4, 3}));
    opt.step();
  }
  EXPECT_EQ(frozen.to_vector<float>(), frozen_before);
  EXPECT_EQ(unused.to_vector<float>(), unused_before);
  EXPECT_EQ(opt.state(frozen), nullptr);
  EXPECT_EQ(opt.state(unused), nullptr);
  ASSERT_NE(opt.state(a), nullptr);
  EXPECT_EQ(opt.state(a)->step, 3);
}

TEST(Optimizer, ZeroGradClearsOrZeroes) {
  Tensor a = ones({3}).set_requires_grad(true);
  SGD opt({a}, {.lr = 0.1});
  a.set_grad(ones({3}));
  opt.zero_grad(/*set_to_none=*/false);
  EXPECT_EQ(a.grad().to_vector<float>(), std::vector<float>(3, 0.0f));
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
}

// Stopping after 4 steps, saving, and going on in a fresh optimizer gives the uninterrupted run's
// values bit for bit (AdamW with amsgrad, and RMSprop with all three of its buffers).
TEST(Optimizer, StateDictResumesExactly) {
  auto run = [](int interrupt_at, bool rmsprop) {
    Generator gen(2);
    Tensor w = randn({6, 5}, DType::F32, gen).set_requires_grad(true);
    Tensor b = randn({5}, DType::F32, gen).set_requires_grad(true);
    auto make = [&]() -> std::unique_ptr<Optimizer> {
      std::unique_ptr<Optimizer> opt;
      if (rmsprop)
        opt = std::make_unique<RMSprop>(std::vector<Tensor>{w},
                                        RmspropOptions{.momentum = 0.9, .centered = true});
      else
        opt = std::make_unique<AdamW>(std::vector<Tensor>{w}, AdamOptions{.amsgrad = true});
      opt->add_param_group({b}, {{"lr", 0.1}});
      return opt;
    };
    auto opt = make();
    Generator grads(3);
    for (int s = 0; s < 8; ++s) {
      if (s == interrupt_at) {
        const StateDict sd = opt->state_dict();
        opt = make();
        opt->load_state_dict(sd);
      }
      w.set_grad(randn({6, 5}, DType::F32, grads));
      b.set_grad(randn({5}, DType::F32, grads));
      opt->step();
    }
    return std::make_pair(w.to_vector<float>(), b.to_vector<float>());
  };
  EXPECT_EQ(run(4, false), run(-1, false));
  EXPECT_EQ(run(4, true), run(-1, true));
}

TEST(Optimizer, BadSettingsAreClearErrors) {
  Tensor a = ones({3}).set_requires_grad(true);
  EXPECT_THROW(SGD({a}, {.lr = -1}), Error);
  EXPECT_THROW(SGD({a}, {.lr = 0.1, .nesterov = true}), Error);  // needs momentum
  EXPECT_THROW(Adam({a}, {.beta1 = 1.0}), Error);
  EXPECT_THROW(RMSprop({a}, {.alpha = -0.1}), Error);
  EXPECT_THROW(RMSprop({a}, {.momentum = -1}), Error);
  EXPECT_THROW(SGD({a, a}), Error);  // one parameter twice
  SGD opt({a});
  EXPECT_THROW(opt.add_param_group({a}), Error);  // already in group 0
  Tensor b = ones({2}).set_requires_grad(true);
  EXPECT_THROW(opt.add_param_group({b}, {{"betas", 0.9}}), Error);  // not an SGD option
  EXPECT_THROW(opt.param_groups()[0].set("lr_typo", 1), Error);
  EXPECT_THROW(SGD({ones({2}, DType::I64)}), Error);
}

}  // namespace
}  // namespace afinar::optim
