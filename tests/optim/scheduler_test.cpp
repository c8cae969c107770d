// Schedulers against torch.optim.lr_scheduler (tests/data/goldens/scheduler.h5, made by
// tools/goldens/scheduler.py): the lr of two groups (base 0.1 and 0.01) after construction and
// after each of 40 steps, and the momentum / beta1 OneCycleLR cycles.
#include "afinar/optim/scheduler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "afinar/optim/adam.h"
#include "afinar/optim/sgd.h"
#include "testing/compare.h"
#include "testing/errors.h"
#include "testing/fixtures.h"

namespace afinar::optim {
namespace {

// Two groups, lr 0.1 and 0.01, as the golden script's opt_for().
std::unique_ptr<Optimizer> two_groups(bool adam) {
  std::unique_ptr<Optimizer> opt;
  if (adam)
    opt = std::make_unique<Adam>(std::vector<Tensor>{}, AdamOptions{.lr = 0.1});
  else
    opt = std::make_unique<SGD>(std::vector<Tensor>{}, SgdOptions{.lr = 0.1, .momentum = 0.9});
  opt->param_groups().clear();
  opt->add_param_group({zeros({1}).set_requires_grad(true)}, {{"lr", 0.1}});
  opt->add_param_group({zeros({1}).set_requires_grad(true)}, {{"lr", 0.01}});
  return opt;
}

using Make = std::function<std::unique_ptr<LRScheduler>(Optimizer&)>;
struct Case {
  bool adam;
  Make make;
};

// The settings of each golden case, as tools/goldens/scheduler.py writes them.
const std::map<std::string, Case>& cases() {
  static const std::map<std::string, Case> kCases = {
      {"step", {false, [](Optimizer& o) { return std::make_unique<StepLR>(o, 7, 0.1); }}},
      {"multistep",
       {false,
        [](Optimizer& o) {
          return std::make_unique<MultiStepLR>(o, std::vector<int64_t>{5, 12, 30}, 0.5);
        }}},
      {"exponential",
       {false, [](Optimizer& o) { return std::make_unique<ExponentialLR>(o, 0.9); }}},
      {"cosine",
       {false, [](Optimizer& o) { return std::make_unique<CosineAnnealingLR>(o, 15, 1e-4); }}},
      {"cosine_restarts",
       {false,
        [](Optimizer& o) { return std::make_unique<CosineAnnealingWarmRestarts>(o, 5, 2, 1e-3); }}},
      {"linear_warmup",
       {false, [](Optimizer& o) { return std::make_unique<LinearLR>(o, 0.1, 1.0, 6); }}},
      {"constant_warmup",
       {false, [](Optimizer& o) { return std::make_unique<ConstantLR>(o, 0.5, 6); }}},
      {"constant_warmup_then_step",
       {false,
        [](Optimizer& o) {
          std::vector<std::unique_ptr<LRScheduler>> parts;
          parts.push_back(std::make_unique<ConstantLR>(o, 0.1, 3));
          parts.push_back(std::make_unique<StepLR>(o, 7, 0.5));
          return std::make_unique<SequentialLR>(o, std::move(parts), std::vector<int64_t>{3});
        }}},
      {"warmup_then_cosine",
       {false,
        [](Optimizer& o) {
          std::vector<std::unique_ptr<LRScheduler>> parts;
          parts.push_back(std::make_unique<LinearLR>(o, 0.01, 1.0, 5));
          parts.push_back(std::make_unique<CosineAnnealingLR>(o, 35));
          return std::make_unique<SequentialLR>(o, std::move(parts), std::vector<int64_t>{5});
        }}},
      {"polynomial", {false, [](Optimizer& o) { return std::make_unique<PolynomialLR>(o); }}},
      {"polynomial_squared",
       {false, [](Optimizer& o) { return std::make_unique<PolynomialLR>(o, 30, 2.0); }}},
      {"warmup_then_polynomial",
       {false,
        [](Optimizer& o) {
          std::vector<std::unique_ptr<LRScheduler>> parts;
          parts.push_back(std::make_unique<LinearLR>(o, 0.1, 1.0, 4));
          parts.push_back(std::make_unique<PolynomialLR>(o, 20, 0.9));
          return std::make_unique<SequentialLR>(o, std::move(parts), std::vector<int64_t>{4});
        }}},
      {"onecycle",
       {false,
        [](Optimizer& o) {
          return std::make_unique<OneCycleLR>(
              o, OneCycleOptions{.max_lr = {1.0, 0.1}, .total_steps = 41});
        }}},
      {"onecycle_adam_linear",
       {true,
        [](Optimizer& o) {
          return std::make_unique<OneCycleLR>(o, OneCycleOptions{.max_lr = {0.5},
                                                                 .total_steps = 41,
                                                                 .pct_start = 0.25,
                                                                 .anneal_strategy = "linear",
                                                                 .div_factor = 10,
                                                                 .final_div_factor = 100});
        }}},
      {"onecycle_three_phase",
       {false,
        [](Optimizer& o) {
          return std::make_unique<OneCycleLR>(
              o,
              OneCycleOptions{
                  .max_lr = {1.0, 0.1}, .total_steps = 41, .pct_start = 0.2, .three_phase = true});
        }}},
  };
  return kCases;
}

// The ReduceLROnPlateau cases, stepped with the golden's metrics.
const std::map<std::string, PlateauOptions>& plateau_cases() {
  static const std::map<std::string, PlateauOptions> kCases = {
      {"plateau",
       {.mode = "min",
        .factor = 0.5,
        .patience = 3,
        .threshold = 1e-3,
        .cooldown = 2,
        .min_lr = {1e-3, 1e-4}}},
      {"plateau_max_abs",
       {.mode = "max",
        .factor = 0.3,
        .patience = 2,
        .threshold = 0.01,
        .threshold_mode = "abs",
        .cooldown = 1,
        .min_lr = {1e-4}}},
  };
  return kCases;
}

std::vector<double> row(const std::vector<double>& table, int64_t s) {
  return {table[size_t(2 * s)], table[size_t(2 * s + 1)]};
}

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want,
                     const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  // Closed forms vs PyTorch's step-by-step products: rounding over <= 40 steps.
  const testing::Tolerance tol = testing::tolerance_for(DType::F64, 40);
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol.atol + tol.rtol * std::abs(want[i])) << what << " group " << i;
}

TEST(Scheduler, MatchesTorchSequences) {
  const auto goldens = testing::load_goldens("scheduler");
  ASSERT_EQ(goldens.size(), cases().size() + plateau_cases().size());
  for (const auto& c : goldens) {
    if (plateau_cases().count(c.name)) continue;  // below
    SCOPED_TRACE(c.name);
    const Case& k = cases().at(c.name);
    auto opt = two_groups(k.adam);
    auto sched = k.make(*opt);
    const auto lr = c.tensor("lr").to_vector<double>();
    const auto mom = c.tensor("momentum").to_vector<double>();
    const std::string mkey = k.adam ? "beta1" : "momentum";
    for (int64_t s = 0; s <= c.attr_int("steps"); ++s) {
      if (s > 0) sched->step();
      expect_near_all(sched->last_lr(), row(lr, s), "lr at step " + std::to_string(s));
      expect_near_all({opt->param_groups()[0].get(mkey), opt->param_groups()[1].get(mkey)},
                      row(mom, s), mkey + " at step " + std::to_string(s));
    }
  }
}

TEST(Scheduler, ReduceLROnPlateauMatchesTorch) {
  size_t seen = 0;
  for (const auto& c : testing::load_goldens("scheduler")) {
    if (!plateau_cases().count(c.name)) continue;
    SCOPED_TRACE(c.name);
    ++seen;
    auto opt = two_groups(false);
    ReduceLROnPlateau sched(*opt, plateau_cases().at(c.name));
    const auto lr = c.tensor("lr").to_vector<double>();
    const auto metrics = c.tensor("metrics").to_vector<double>();
    for (int64_t s = 0; s <= c.attr_int("steps"); ++s) {
      if (s > 0) sched.step(metrics[size_t(s - 1)]);
      expect_near_all({opt->param_groups()[0].get("lr"), opt->param_groups()[1].get("lr")},
                      row(lr, s), "lr at step " + std::to_string(s));
    }
  }
  EXPECT_EQ(seen, plateau_cases().size());
}

TEST(Scheduler, ResumingAtAnEpochGivesTheSameLr) {
  auto a = two_groups(false), b = two_groups(false);
  CosineAnnealingWarmRestarts sa(*a, 3, 2), sb(*b, 3, 2);
  for (int i = 0; i < 11; ++i) sa.step();
  sb.load_last_epoch(11);
  EXPECT_EQ(sa.last_lr(), sb.last_lr());
}

// The optimizer's state keeps each group's initial_lr, as PyTorch's param_groups do: a scheduler
// made after loading it starts from the first base lr, not from the decayed lr it finds.
TEST(Scheduler, ResumingAfterLoadingTheOptimizerKeepsTheBaseLr) {
  auto a = two_groups(false), b = two_groups(false);
  StepLR sa(*a, 1, 0.5);
  sa.step();
  sa.step();
  b->load_state_dict(a->state_dict());
  StepLR sb(*b, 1, 0.5);
  sb.load_last_epoch(2);
  EXPECT_EQ(sb.last_lr(), (std::vector<double>{0.1 * 0.25, 0.01 * 0.25}));
  EXPECT_EQ(sa.last_lr(), sb.last_lr());
}

TEST(Scheduler, BadSettingsAreClearErrors) {
  auto opt = two_groups(false);
  EXPECT_THROW(StepLR(*opt, 0), Error);
  EXPECT_THROW(CosineAnnealingLR(*opt, 0), Error);
  EXPECT_THROW(LinearLR(*opt, 0.0), Error);
  EXPECT_THROW(ConstantLR(*opt, 1.5), Error);
  EXPECT_THROW(ConstantLR(*opt, -0.1), Error);
  EXPECT_THROW(ConstantLR(*opt, 0.5, 0), Error);
  EXPECT_THROW(PolynomialLR(*opt, 0), Error);
  EXPECT_THROW(PolynomialLR(*opt, 5, -1.0), Error);
  EXPECT_THROW(CosineAnnealingWarmRestarts(*opt, 5, 0), Error);
  EXPECT_THROW(OneCycleLR(*opt, {.max_lr = {1, 2, 3}, .total_steps = 10}), Error);
  EXPECT_THROW(ReduceLROnPlateau(*opt, {.factor = 1.0}), Error);
  OneCycleLR one(*opt, {.max_lr = {1.0}, .total_steps = 2});
  one.step();
  one.step();
  EXPECT_THROW(one.step(), Error);  // past total_steps
}

// A OneCycle phase with no steps would anneal by 0/0 and set NaN lrs (PyTorch raises
// ZeroDivisionError): pct_start·T = 1 empties the warm-up, pct_start = 1 the annealing, and
// three_phase's last phase is empty when it starts at step T - 1.
TEST(Scheduler, OneCycleRefusesAnEmptyPhase) {
  auto opt = two_groups(false);
  struct Row {
    int64_t total_steps;
    double pct_start;
    bool three_phase;
    const char* phase;
  };
  for (const Row& r : {Row{4, 0.25, false, "phase 1 of 2"}, Row{10, 0.1, false, "phase 1 of 2"},
                       Row{10, 0.1, true, "phase 1 of 3"}, Row{8, 1.0, false, "phase 2 of 2"},
                       Row{4, 0.625, true, "phase 3 of 3"}}) {
    const std::string msg = testing::error_of([&] {
      OneCycleLR(*opt, {.max_lr = {1.0},
                        .total_steps = r.total_steps,
                        .pct_start = r.pct_start,
                        .three_phase = r.three_phase});
    });
    EXPECT_NE(msg.find(std::string("leaves ") + r.phase + " no steps"), std::string::npos)
        << r.total_steps << " " << r.pct_start << ": " << msg;
  }
  // Next to those, a warm-up shorter than one step is fine, as in PyTorch.
  OneCycleLR short_warmup(*opt, {.max_lr = {1.0}, .total_steps = 5, .pct_start = 0.1});
  for (double lr : short_warmup.last_lr()) EXPECT_TRUE(std::isfinite(lr));
}

}  // namespace
}  // namespace afinar::optim
