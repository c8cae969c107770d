// The trainer's schedules (train/schedule.h): PyTorch's schedulers wired to a stage. Stepped per
// update they meet the per-epoch schedule at every epoch boundary; onecycle spans the stage's
// updates from each group's own lr; plateau watches the eval metric in its direction; the state
// a checkpoint keeps puts a fresh schedule back at the same lrs.
#include "afinar/train/schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "afinar/optim/adam.h"
#include "afinar/optim/sgd.h"
#include "testing/compare.h"
#include "testing/errors.h"

namespace afinar::train {
namespace {

// Two groups, lr 0.1 and 0.01.
std::unique_ptr<optim::Optimizer> two_groups() {
  auto opt = std::make_unique<optim::SGD>(std::vector<Tensor>{},
                                          optim::SgdOptions{.lr = 0.1, .momentum = 0.9});
  opt->param_groups().clear();
  opt->add_param_group({zeros({1}).set_requires_grad(true)}, {{"lr", 0.1}});
  opt->add_param_group({zeros({1}).set_requires_grad(true)}, {{"lr", 0.01}});
  return opt;
}

StageConfig stage_with(SchedulerConfig sc, int64_t epochs = 6) {
  StageConfig s;
  s.epochs = epochs;
  s.scheduler = std::move(sc);
  return s;
}

std::vector<double> lrs(const optim::Optimizer& opt) {
  return {opt.param_groups()[0].get("lr"), opt.param_groups()[1].get("lr")};
}

// Relative agreement of closed forms evaluated at t = k·U steps and at t = k epochs: rounding
// of a few dozen double operations.
void expect_same_lrs(const std::vector<double>& got, const std::vector<double>& want,
                     const std::string& what) {
  const testing::Tolerance tol = testing::tolerance_for(DType::F64, 64);
  for (size_t g = 0; g < want.size(); ++g)
    EXPECT_NEAR(got[g], want[g], tol.atol + tol.rtol * std::abs(want[g])) << what << " group " << g;
}

TEST(StageSchedule, PerUpdateMeetsThePerEpochScheduleAtEveryEpoch) {
  constexpr int64_t U = 4, kEpochs = 6;
  const std::vector<SchedulerConfig> configs = {
      {.name = "step", .args = {{"step_size", 2}, {"gamma", 0.5}}},
      {.name = "multistep", .args = {{"gamma", 0.3}}, .milestones = {1, 4}},
      {.name = "exponential", .args = {{"gamma", 0.8}}},
      {.name = "cosine", .args = {{"eta_min", 1e-4}}},
      {.name = "cosine", .warmup_epochs = 2},
      {.name = "cosine", .warmup_epochs = 2, .warmup_method = "constant", .warmup_decay = 0.1},
      {.name = "cosine_restarts", .args = {{"T_0", 2}, {"T_mult", 2}, {"eta_min", 1e-3}}},
      {.name = "poly", .args = {{"power", 2}}},
      {.name = "poly", .warmup_epochs = 2},
  };
  for (SchedulerConfig sc : configs) {
    SCOPED_TRACE(sc.name + (sc.warmup_epochs ? " after warm-up" : ""));
    auto by_epoch = two_groups(), by_step = two_groups();
    sc.interval = "epoch";
    StageSchedule e(stage_with(sc, kEpochs), *by_epoch, U, EvalMetric("top1"));
    sc.interval = "step";
    StageSchedule s(stage_with(sc, kEpochs), *by_step, U, EvalMetric("top1"));
    ASSERT_EQ(e.per_step(), nullptr);
    ASSERT_NE(s.per_step(), nullptr);
    bool moved_within_an_epoch = false;
    for (int64_t epoch = 0; epoch < kEpochs; ++epoch) {
      expect_same_lrs(lrs(*by_step), lrs(*by_epoch), "epoch " + std::to_string(epoch));
      const double start = lrs(*by_step)[0];
      for (int64_t k = 0; k < U; ++k) {
        s.per_step()->step();
        if (k + 1 < U) moved_within_an_epoch |= lrs(*by_step)[0] != start;
      }
      s.end_epoch(0.5);  // nothing for a schedule stepped per update
      e.end_epoch(0.5);
    }
    if (sc.name != "step" && sc.name != "multistep") {
      EXPECT_TRUE(moved_within_an_epoch);
    }
  }
}

// poly without total_iters decays over the stage (after its warm-up): lr·(1 - t/E)^power, reaching
// 0 at the stage's end, not PyTorch's default 5 epochs.
TEST(StageSchedule, PolyDecaysOverTheWholeStage) {
  constexpr int64_t kEpochs = 8;
  auto opt = two_groups();
  StageSchedule s(stage_with({.name = "poly", .args = {{"power", 0.5}}}, kEpochs), *opt, 3,
                  EvalMetric("top1"));
  for (int64_t t = 0; t < kEpochs; ++t) {
    const double factor = std::sqrt(1 - double(t) / double(kEpochs));
    expect_same_lrs(lrs(*opt), {0.1 * factor, 0.01 * factor}, "epoch " + std::to_string(t));
    s.end_epoch(0.5);
  }
  expect_same_lrs(lrs(*opt), {0.0, 0.0}, "after the stage");
}

// torchvision's reference scripts' warm-up in front of the schedule: LinearLR(decay, 1, W), the lr
// climbing from lr·decay, or ConstantLR(decay, W), lr·decay throughout; then the schedule from its
// own epoch 0 (StepLR(2, 0.5) here).
TEST(StageSchedule, WarmUpIsLinearOrConstantFromTheDecayFactor) {
  constexpr int64_t W = 3, kEpochs = 8;
  for (const std::string method : {"linear", "constant"}) {
    SCOPED_TRACE(method);
    auto opt = two_groups();
    StageSchedule s(stage_with({.name = "step",
                                .args = {{"step_size", 2}, {"gamma", 0.5}},
                                .warmup_epochs = W,
                                .warmup_method = method,
                                .warmup_decay = 0.2},
                               kEpochs),
                    *opt, 7, EvalMetric("top1"));
    for (int64_t t = 0; t < kEpochs; ++t) {
      const double factor = t >= W               ? std::pow(0.5, double((t - W) / 2))
                            : method == "linear" ? 0.2 + 0.8 * double(t) / double(W)
                                                 : 0.2;
      expect_same_lrs(lrs(*opt), {0.1 * factor, 0.01 * factor}, "epoch " + std::to_string(t));
      s.end_epoch(0.5);
    }
  }
}

TEST(StageSchedule, OneCycleSpansTheStageFromEachGroupsLr) {
  constexpr int64_t U = 5, kEpochs = 3;
  auto opt = two_groups(), ref = two_groups();
  StageSchedule s(stage_with({.name = "onecycle", .args = {{"pct_start", 0.25}}}, kEpochs), *opt, U,
                  EvalMetric("top1"));
  ASSERT_NE(s.per_step(), nullptr);  // per update unless told otherwise
  optim::OneCycleLR want(*ref,
                         {.max_lr = {0.1, 0.01}, .total_steps = U * kEpochs, .pct_start = 0.25});
  for (int64_t t = 0; t < U * kEpochs; ++t) {
    EXPECT_EQ(lrs(*opt), lrs(*ref)) << "step " << t;
    EXPECT_EQ(opt->param_groups()[0].get("momentum"), ref->param_groups()[0].get("momentum"));
    s.per_step()->step();
    want.step();
  }
  // The first lr is max_lr / 25 (to the rounding of cos(0)'s anneal), the peak each group's own
  // lr.
  auto fresh = two_groups();
  StageSchedule f(stage_with({.name = "onecycle"}, kEpochs), *fresh, U, EvalMetric("top1"));
  expect_same_lrs(lrs(*fresh), {0.1 / 25, 0.01 / 25}, "first step");
  // A given max_lr is every group's peak.
  auto given = two_groups();
  StageSchedule m(stage_with({.name = "onecycle", .args = {{"max_lr", 2.0}}}, kEpochs), *given, U,
                  EvalMetric("top1"));
  expect_same_lrs(lrs(*given), {2.0 / 25, 2.0 / 25}, "first step, max_lr 2");
}

TEST(StageSchedule, PlateauWatchesTheMetricInItsDirection) {
  const SchedulerConfig sc{.name = "plateau", .args = {{"patience", 1}, {"factor", 0.5}}};
  // The loss goes down then stalls: min mode cuts the lr after two epochs without a lower one.
  auto a = two_groups();
  StageSchedule loss(stage_with(sc), *a, 7, EvalMetric("loss"));
  EXPECT_EQ(loss.per_step(), nullptr);
  for (double v : {1.0, 0.8, 0.9, 0.85}) loss.end_epoch(v);
  EXPECT_EQ(lrs(*a), (std::vector<double>{0.05, 0.005}));
  // The same numbers as an accuracy: 0.8, 0.9 and 0.85 never beat 1.0 in max mode; the lr is
  // cut after the second bad epoch and again, patience later, after the fourth.
  auto b = two_groups();
  StageSchedule acc(stage_with(sc), *b, 7, EvalMetric("top1"));
  for (double v : {1.0, 0.8, 0.9, 0.85, 0.7}) acc.end_epoch(v);
  EXPECT_EQ(lrs(*b), (std::vector<double>{0.025, 0.0025}));
}

TEST(StageSchedule, StateRestoresTheSameLrs) {
  auto a = two_groups(), b = two_groups();
  const StageConfig stage = stage_with({.name = "cosine", .interval = "step"}, 4);
  StageSchedule s(stage, *a, 3, EvalMetric("top1"));
  for (int i = 0; i < 7; ++i) s.per_step()->step();
  StageSchedule r(stage, *b, 3, EvalMetric("top1"));
  r.restore(s.state());
  EXPECT_EQ(lrs(*b), lrs(*a));

  const StageConfig plateau = stage_with({.name = "plateau", .args = {{"patience", 0}}});
  auto c = two_groups(), d = two_groups();
  StageSchedule p(plateau, *c, 3, EvalMetric("top1"));
  p.end_epoch(0.6);  // best 0.6
  StageSchedule q(plateau, *d, 3, EvalMetric("top1"));
  q.restore(p.state());
  q.end_epoch(0.5);  // not better than the restored best: the lr drops at once
  EXPECT_EQ(lrs(*d), (std::vector<double>{0.1 * 0.1, 0.01 * 0.1}));
}

TEST(StageSchedule, PlateauHasNoPerUpdateInterval) {
  auto opt = two_groups();
  const std::string e = testing::error_of([&] {
    StageSchedule(stage_with({.name = "plateau", .interval = "step"}), *opt, 3, EvalMetric());
  });
  EXPECT_NE(e.find("steps once per epoch"), std::string::npos) << e;
  const std::string m = testing::error_of([] { EvalMetric("acc"); });
  EXPECT_NE(m.find("unknown eval_metric 'acc'"), std::string::npos) << m;
}

TEST(EvalMetric, PicksTheFigureAndItsDirection) {
  EpochStats s;
  s.loss = 0.7;
  s.accuracy = 0.6;
  s.top5 = 0.9;
  EXPECT_EQ(EvalMetric("top1").of(s), 0.6);
  EXPECT_EQ(EvalMetric("top5").of(s), 0.9);
  EXPECT_EQ(EvalMetric("loss").of(s), 0.7);
  EXPECT_EQ(EvalMetric("f1_macro").of(s), s.confusion.macro_f1());
  const double none = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(EvalMetric("loss").improves(0.5, 0.7));
  EXPECT_FALSE(EvalMetric("loss").improves(0.7, 0.7));
  EXPECT_FALSE(EvalMetric("top1").improves(0.5, 0.7));
  EXPECT_TRUE(EvalMetric("top1").improves(0.0, none));
  EXPECT_TRUE(EvalMetric("loss").improves(9.0, none));
}

}  // namespace
}  // namespace afinar::train
