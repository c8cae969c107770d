// The fine-tuning strategies of the trainer (issue 6 item 3; seeds 000 and 003):
// - discriminative learning rates (lr_decay): the groups and their lrs for resnet18 and vgg16
//   against hand lists (lr / 2.6^distance, ULMFiT), explicit param_groups claiming first;
// - per-group weight decay through param_groups: one AdamW step against its closed form;
// - gradual unfreezing (unfreeze_schedule): parameters start training (and get optimizer state)
//   at their epoch, and a run stopped before and after the unfreeze epoch and resumed ends with
//   the same weights, bit for bit, as the run that never stopped;
// - settings refused before any training: a schedule pattern matching nothing, an epoch outside
//   the stage, lr_decay <= 0, a head / num_classes mismatch, an unknown head, a checkpoint of
//   another head, seed, batch size, eval metric or training split;
// - every shipped recipe runs a few steps on a tiny real dataset.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "afinar/autograd/grad_mode.h"
#include "afinar/core/check.h"
#include "afinar/data/fashion_mnist.h"
#include "afinar/io/sha256.h"
#include "afinar/io/weights.h"
#include "afinar/nn/init.h"
#include "afinar/nn/models.h"
#include "afinar/ops/elementwise.h"
#include "afinar/train/checkpoint.h"
#include "afinar/train/recipe.h"
#include "afinar/train/trainer.h"
#include "testing/cli.h"
#include "testing/compare.h"
#include "testing/fashion_mnist.h"
#include "testing/temp_dir.h"
#include "testing/text_file.h"

namespace afinar::train {
namespace {

using testing::lines_of;
using testing::read_text;

namespace fs = std::filesystem;

nn::ModulePtr model_of(const std::string& arch, int64_t classes = 10) {
  nn::init::SkipInitGuard no_draws;  // groups depend on names only
  return nn::create_model(arch, classes);
}

StageConfig adam_stage(double lr) {
  StageConfig s;
  s.optimizer = {"adam", {{"lr", lr}}};
  return s;
}

// (tensors, lr) of each group.
std::vector<std::pair<size_t, double>> groups_of(const optim::Optimizer& opt) {
  std::vector<std::pair<size_t, double>> out;
  for (const auto& g : opt.param_groups()) out.emplace_back(g.params.size(), g.get("lr"));
  return out;
}

void expect_groups(const std::vector<std::pair<size_t, double>>& got,
                   const std::vector<std::pair<size_t, double>>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first) << "group " << i;
    // The trainer computes lr / d^k in double; the literals are Python's 1e-3 / 2.6 ** k.
    EXPECT_NEAR(got[i].second, want[i].second, 1e-15 * want[i].second) << "group " << i;
  }
}

// resnet18's top-level children with parameters: conv1 (1 tensor), bn1 (2), layer1 (2 blocks x 6),
// layer2..layer4 (2 blocks x 6 + downsample 3), fc (2). Base lr 1e-3 on fc, then / 2.6 per step.
TEST(Strategies, LrDecayGroupsOfResnet18) {
  auto model = model_of("resnet18");
  StageConfig s = adam_stage(1e-3);
  s.lr_decay = 2.6;
  expect_groups(groups_of(*make_optimizer(s, *model)), {{1, 3.2371282973906774e-06},
                                                        {2, 8.41653357321576e-06},
                                                        {12, 2.1882987290360978e-05},
                                                        {15, 5.689576695493855e-05},
                                                        {15, 0.0001479289940828402},
                                                        {15, 0.0003846153846153846},
                                                        {2, 0.001}});
}

// vgg16's children with parameters: features (13 convs x 2 tensors) and classifier (3 Linears x
// 2); avgpool has none and does not count.
TEST(Strategies, LrDecayGroupsOfVgg16) {
  auto model = model_of("vgg16");
  StageConfig s = adam_stage(1e-4);
  s.lr_decay = 2.6;
  expect_groups(groups_of(*make_optimizer(s, *model)), {{26, 3.846153846153846e-05}, {6, 1e-4}});
}

// Explicit groups claim their parameters first and keep their own lr; a child they claim whole
// (fc) makes no depth group but still sets the distances (layer4 stays at lr / 2.6).
TEST(Strategies, ExplicitGroupsClaimFirstUnderLrDecay) {
  auto model = model_of("resnet18");
  StageConfig s = adam_stage(1e-3);
  s.lr_decay = 2.6;
  s.param_groups = {{{"fc.*"}, {{"lr", 0.05}}}, {{"layer4.1.*"}, {{"weight_decay", 0.1}}}};
  const auto opt = make_optimizer(s, *model);
  expect_groups(groups_of(*opt), {{1, 3.2371282973906774e-06},
                                  {2, 8.41653357321576e-06},
                                  {12, 2.1882987290360978e-05},
                                  {15, 5.689576695493855e-05},
                                  {15, 0.0001479289940828402},
                                  {9, 0.0003846153846153846},  // layer4 without layer4.1
                                  {2, 0.05},
                                  {6, 0.001}});  // the optimizer's lr, its own weight decay
  EXPECT_EQ(opt->param_groups()[7].get("weight_decay"), 0.1);
  EXPECT_EQ(opt->param_groups()[0].get("weight_decay"), 0.0);
  // Every parameter is in exactly one group (add_param_group refuses duplicates).
  size_t n = 0;
  for (const auto& g : opt->param_groups()) n += g.params.size();
  EXPECT_EQ(n, model->parameters().size());
}

// The names of each group's parameters, in order.
std::vector<std::vector<std::string>> group_names(const optim::Optimizer& opt,
                                                  const nn::Module& model) {
  std::map<const void*, std::string> name_of;
  for (const auto& [name, p] : model.named_parameters()) name_of[p.raw_data()] = name;
  std::vector<std::vector<std::string>> out;
  for (const auto& g : opt.param_groups()) {
    out.emplace_back();
    for (const Tensor& p : g.params) out.back().push_back(name_of.at(p.raw_data()));
  }
  return out;
}

bool all_of_names(const std::vector<std::string>& names, bool (*pred)(const std::string&)) {
  return std::all_of(names.begin(), names.end(), pred);
}
bool is_bias(const std::string& n) {
  return n.ends_with(".bias");
}
// resnet18's batch norms: bn1, layerN.M.bn1 / bn2 and layerN.0.downsample.1.
bool in_batch_norm(const std::string& n) {
  return n.find("bn") != std::string::npos || n.find("downsample.1.") != std::string::npos;
}

// torchvision's set_weight_decay (its reference scripts' --norm-weight-decay and
// --bias-weight-decay): resnet18's 62 tensors as 20 conv weights + fc.weight, 20 batch-norm
// weights and 20 batch-norm biases, fc.bias. "bias" wins over the norm layer, as its custom key
// does; each part keeps the optimizer's lr and takes its own weight decay.
TEST(Strategies, NormAndBiasWeightDecayAsTorchvisionsSetWeightDecay) {
  auto model = model_of("resnet18");
  StageConfig s;
  s.optimizer = {"sgd", {{"lr", 0.1}, {"momentum", 0.9}, {"weight_decay", 1e-4}}};
  s.norm_weight_decay = 0.0;
  s.bias_weight_decay = 2e-5;
  size_t lr_group = 99;
  auto opt = make_optimizer(s, *model, &lr_group);
  auto names = group_names(*opt, *model);
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(lr_group, 0u);
  EXPECT_EQ(names[0].size(), 21u);
  EXPECT_EQ(names[1].size(), 20u);
  EXPECT_EQ(names[2].size(), 21u);
  EXPECT_TRUE(all_of_names(names[0],
                           [](const std::string& n) { return !is_bias(n) && !in_batch_norm(n); }));
  EXPECT_TRUE(
      all_of_names(names[1], [](const std::string& n) { return in_batch_norm(n) && !is_bias(n); }));
  EXPECT_TRUE(all_of_names(names[2], is_bias));
  const std::vector<double> decays = {1e-4, 0.0, 2e-5};
  for (size_t g = 0; g < 3; ++g) {
    EXPECT_EQ(opt->param_groups()[g].get("weight_decay"), decays[g]) << g;
    EXPECT_EQ(opt->param_groups()[g].get("lr"), 0.1) << g;
    EXPECT_EQ(opt->param_groups()[g].get("momentum"), 0.9) << g;
  }

  // The norm setting alone keeps the batch norms' biases with their weights.
  s.bias_weight_decay.reset();
  names = group_names(*make_optimizer(s, *model), *model);
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0].size(), 22u);  // conv weights, fc.weight, fc.bias
  EXPECT_EQ(names[1].size(), 40u);
  EXPECT_TRUE(all_of_names(names[1], in_batch_norm));

  // With lr_decay each depth group splits the same way (bn1 has no other part), and the lr the
  // logs show is the head's weight group.
  s.bias_weight_decay = 0.0;
  s.lr_decay = 2.6;
  opt = make_optimizer(s, *model, &lr_group);
  names = group_names(*opt, *model);
  EXPECT_EQ(names.front(), (std::vector<std::string>{"conv1.weight"}));
  EXPECT_EQ(names[1], (std::vector<std::string>{"bn1.weight"}));
  EXPECT_EQ(names[2], (std::vector<std::string>{"bn1.bias"}));
  EXPECT_EQ(names.size(), 1 + 2 + 3 * 4 + 2u);
  EXPECT_EQ(names[lr_group], (std::vector<std::string>{"fc.weight"}));
  EXPECT_EQ(names.back(), (std::vector<std::string>{"fc.bias"}));
  EXPECT_EQ(opt->param_groups()[lr_group].get("lr"), 0.1);
  EXPECT_EQ(opt->param_groups().back().get("lr"), 0.1);
  EXPECT_EQ(opt->param_groups().back().get("weight_decay"), 0.0);
}

TEST(Strategies, LrDecayMustBePositive) {
  auto model = model_of("resnet18");
  for (double bad : {0.0, -2.6}) {
    StageConfig s = adam_stage(1e-3);
    s.lr_decay = bad;
    try {
      make_optimizer(s, *model);
      ADD_FAILURE() << "lr_decay " << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("lr_decay must be > 0"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(parse_recipe("[[stage]]\nlr_decay = 0\n"), Error);
}

// Seed 003 §6: weight decay per group. With a zero gradient AdamW's moments stay 0, so one step
// only decays: p <- p (1 - lr wd), with each group's own lr and weight decay.
TEST(Strategies, PerGroupWeightDecayFromParamGroups) {
  auto model = nn::create_model("resnet18", 3);
  StageConfig s;
  s.optimizer = {"adamw", {{"lr", 1e-2}, {"weight_decay", 1e-4}}};
  s.param_groups = {{{"fc.*"}, {{"lr", 1e-1}, {"weight_decay", 1e-2}}}};
  const auto opt = make_optimizer(s, *model);
  ASSERT_EQ(opt->param_groups().size(), 2u);
  EXPECT_EQ(opt->param_groups()[0].get("weight_decay"), 1e-4);
  EXPECT_EQ(opt->param_groups()[1].get("weight_decay"), 1e-2);
  Tensor fc = model->state_dict().at("fc.weight"), conv = model->state_dict().at("conv1.weight");
  const Tensor fc0 = fc.clone(), conv0 = conv.clone();
  for (Tensor& p : model->parameters()) p.set_grad(zeros_like(p));
  opt->step();
  // One multiply in float32 on each side: equal up to a rounding or two.
  const auto tol = testing::tolerance_for(DType::F32);
  EXPECT_TRUE(testing::allclose(fc, fc0 * (1 - 1e-1 * 1e-2), tol));
  EXPECT_TRUE(testing::allclose(conv, conv0 * (1 - 1e-2 * 1e-4), tol));
  EXPECT_GT(testing::max_relative_error(fc, fc0), 5e-4);  // the step did decay, by 1e-3
}

// ---- end to end with `afinar train` on Fashion-MNIST images ----

class StrategiesCli : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_FASHION_MNIST();
    // 10 classes x 4 images in train/; val_split 0.25 leaves 30 to train on: 4 batches of 8.
    data::export_mnist(data::kFashionMnistDir, data::fashion_mnist_classes(), dir_ / "data",
                       {.limit_per_class = 4, .test = false});
  }
  // A recipe for resnet18 on the tiny dataset with `stage` as its only stage.
  std::string recipe(const std::string& name, const std::string& model_extra,
                     const std::string& stage) {
    const std::string path = dir_ / name;
    std::ofstream(path) << "seed = 11\n[model]\nname = \"resnet18\"\n"
                        << model_extra << "\n[data]\ndir = \"" << dir_ / "data"
                        << "\"\nimage_size = 32\nbatch_size = 8\nval_split = 0.25\nworkers = 2\n"
                        << "[[stage]]\n"
                        << stage;
    return path;
  }
  testing::TempDir dir_;
};

// The optimizer state of a checkpoint: parameter index -> step count.
std::map<int64_t, int64_t> state_steps(const std::string& checkpoint) {
  std::map<int64_t, int64_t> out;
  for (const auto& [key, t] : load_checkpoint(checkpoint).optimizer) {
    int64_t index = 0;
    char rest[64] = {};
    if (std::sscanf(key.c_str(), "state.%ld.%63s", &index, rest) == 2 &&
        std::string(rest) == "step")
      out[index] = t.item<int64_t>();
  }
  return out;
}

// Gradual unfreezing with an mlp head and depth groups: the head trains from epoch 0, layer4 from
// epoch 1 (4 steps per epoch). Stopped at step 3 (before the unfreeze epoch) and at step 6 (2
// steps after it) and resumed each time, the run ends bit for bit where the uninterrupted one
// does.
TEST_F(StrategiesCli, GradualUnfreezingResumesBitForBitAcrossTheUnfreezeEpoch) {
  const std::string r = recipe("gradual.toml", "head = { kind = \"mlp\", hidden = 32 }",
                               "epochs = 2\nfreeze = [\"*\"]\nunfreeze = [\"fc.*\"]\n"
                               "unfreeze_schedule = [ { epoch = 1, unfreeze = [\"layer4.*\"] } ]\n"
                               "lr_decay = 2.6\n"
                               "optimizer = { name = \"adamw\", lr = 1e-3, weight_decay = 1e-2 }\n"
                               "scheduler = { name = \"cosine\" }\n");
  const std::string a = dir_ / "a", b = dir_ / "b";
  ASSERT_EQ(testing::run_cli("train --config " + r + " --output " + a, dir_ / "a.txt"), 0)
      << read_text(dir_ / "a.txt");
  ASSERT_EQ(
      testing::run_cli("train --config " + r + " --max-steps 3 --output " + b, dir_ / "b1.txt"), 0)
      << read_text(dir_ / "b1.txt");
  fs::copy_file(b + "/checkpoint.h5", dir_ / "step3.h5");
  ASSERT_EQ(testing::run_cli("train --config " + r + " --max-steps 6 --resume " +
                                 (dir_ / "step3.h5") + " --output " + b,
                             dir_ / "b2.txt"),
            0)
      << read_text(dir_ / "b2.txt");
  fs::copy_file(b + "/checkpoint.h5", dir_ / "step6.h5");
  ASSERT_EQ(testing::run_cli(
                "train --config " + r + " --resume " + (dir_ / "step6.h5") + " --output " + b,
                dir_ / "b3.txt"),
            0)
      << read_text(dir_ / "b3.txt");

  const io::Weights wa = io::load_weights(a + "/last.h5"), wb = io::load_weights(b + "/last.h5");
  EXPECT_EQ(wa.meta.head, (nn::HeadSpec{.kind = "mlp", .hidden = 32}));
  ASSERT_EQ(wa.state_dict.size(), wb.state_dict.size());
  for (const auto& [key, t] : wa.state_dict)
    testing::expect_identical(wb.state_dict.at(key), t, key);

  // Parameter indices in the optimizer (depth groups in model order): conv1 0, bn1 1-2, layer1
  // 3-14, layer2 15-29, layer3 30-44, layer4 45-59, fc 60-63. At step 3 only the head has state;
  // at step 6 layer4 has 2 steps (all of epoch 1's so far) and the head 6.
  std::map<int64_t, int64_t> head3, head6;
  for (int64_t i = 60; i < 64; ++i) head3[i] = 3, head6[i] = 6;
  EXPECT_EQ(state_steps(dir_ / "step3.h5"), head3);
  for (int64_t i = 45; i < 60; ++i) head6[i] = 2;
  EXPECT_EQ(state_steps(dir_ / "step6.h5"), head6);
  // Never unfrozen: layer3 is bit-identical to its value at step 3; layer4 has moved since.
  const Checkpoint step3 = load_checkpoint(dir_ / "step3.h5");
  testing::expect_identical(wa.state_dict.at("layer3.0.conv1.weight"),
                            step3.model.at("layer3.0.conv1.weight"), "layer3 stays frozen");
  EXPECT_GT(testing::max_relative_error(wa.state_dict.at("layer4.0.conv1.weight"),
                                        step3.model.at("layer4.0.conv1.weight")),
            0.0);
  // The unfreezing is logged once, at the start of epoch 1 (index 1 in events.jsonl).
  int unfreeze_events = 0;
  for (const auto& l : lines_of(a + "/events.jsonl"))
    if (l.find("\"event\": \"unfreeze\"") != std::string::npos) {
      ++unfreeze_events;
      EXPECT_NE(l.find("\"epoch\": 1, \"patterns\": [\"layer4.*\"]"), std::string::npos) << l;
    }
  EXPECT_EQ(unfreeze_events, 1);
}

TEST_F(StrategiesCli, BadStrategiesFailBeforeTraining) {
  struct Case {
    std::string args, message;
  };
  const std::string base = "train --image-size 32 --output " + (dir_ / "bad");
  const std::string head_only = "epochs = 2\nfreeze = [\"*\"]\nunfreeze = [\"fc.*\"]\n";
  // 4 epochs of OneCycle warming up over a quarter of its steps: over epochs, the warm-up is one
  // step, a phase of length 0 (0/0); over updates (4 batches an epoch) it is four.
  auto one_cycle = [](const std::string& interval) {
    return "epochs = 4\nscheduler = { name = \"onecycle\", pct_start = 0.25, interval = \"" +
           interval + "\" }\n";
  };
  const std::vector<Case> cases = {
      {"--config " + recipe("nomatch.toml", "",
                            head_only + "unfreeze_schedule = [ { epoch = 1, unfreeze = "
                                        "[\"layer9.*\"] } ]\n"),
       "unfreeze_schedule entry 1 (epoch 1): the pattern 'layer9.*' matches no parameter"},
      {"--config " + recipe("outside.toml", "",
                            head_only + "unfreeze_schedule = [ { epoch = 2, unfreeze = "
                                        "[\"layer4.*\"] } ]\n"),
       "has epoch 2, outside the stage: its epochs are 0..1"},
      {"--config " + recipe("decay.toml", "", head_only + "lr_decay = -1.0\n"),
       "'lr_decay' must be > 0"},
      {"--data-dir " + (dir_ / "data") + " --lr-decay 0", "lr_decay must be > 0"},
      {"--data-dir " + (dir_ / "data") + " --num-classes 5",
       "the head is set for 5 classes (--num-classes / [model] num_classes) but the dataset has "
       "10"},
      {"--data-dir " + (dir_ / "data") + " --head attention", "unknown head 'attention'"},
      {"--config " + recipe("hidden.toml", "head = { kind = \"linear\", hidden = 3 }", head_only),
       "'hidden' and 'dropout' are settings of the mlp head"},
      {"--config " + recipe("onecycle.toml", "", one_cycle("epoch")),
       "OneCycleLR: pct_start 0.25 of total_steps 4 leaves phase 1 of 2 no steps"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].args);
    const testing::Result r = testing::cli(base + " " + cases[i].args);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find(cases[i].message), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir_ / "bad/metrics.csv"));  // nothing was trained
  }
  // The check before training counts the stage's real updates, as the run does.
  EXPECT_EQ(testing::run_cli("train --max-steps 1 --output " + (dir_ / "onecycle") + " --config " +
                             recipe("onecycle_steps.toml", "", one_cycle("step"))),
            0);
  // A checkpoint of a default-head run does not resume a run with an mlp head.
  const std::string data = " --data-dir " + (dir_ / "data") + " --image-size 32 -b 8";
  ASSERT_EQ(testing::run_cli("train" + data + " --max-steps 1 --output " + (dir_ / "plain")), 0);
  const testing::Result r =
      testing::cli("train" + data + " --head mlp --resume " + (dir_ / "plain/checkpoint.h5") +
                   " --output " + (dir_ / "plain"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("has head 'default' but this run's head is 'mlp (hidden 256"),
            std::string::npos)
      << r.output;
  // Nor a run whose counters it would misread: another seed (split and order), batch size or
  // accumulation (data_position), eval metric or weight averaging (best_metric) or training
  // split. The checkpoint stays as it was.
  const std::string ck = dir_ / "plain/checkpoint.h5";
  const std::string ck_sha = io::sha256_file(ck);
  const std::string fix = "; resume with the run's own settings (--config " +
                          (dir_ / "plain/recipe.toml") +
                          ") or start a new run from its weights (--weights " + ck + ")";
  for (const Case& c : std::vector<Case>{
           {"-b 8 --seed 5", "was saved with seed 0, this run has 5 (--seed)" + fix},
           {"-b 4", "was saved with batch size 8, this run has 4 (-b)"},
           {"-b 8 --eval-metric loss", "was saved with eval_metric top1, this run has loss"},
           {"-b 8 --grad-accum-steps 2",
            "was saved with grad_accum_steps 1, this run has 2 (--grad-accum-steps)"},
           {"-b 8 --model-ema", "was saved with model_ema off, this run has on (--model-ema)"},
           {"-b 8 --val-split 0.5",
            "was saved with training images: 30, this run has 20 (--data-dir, --val-split"},
       }) {
    SCOPED_TRACE(c.args);
    const testing::Result m =
        testing::cli("train --data-dir " + (dir_ / "data") + " --image-size 32 --resume " + ck +
                     " " + c.args + " --output " + (dir_ / "plain"));
    EXPECT_EQ(m.code, 1) << m.output;
    EXPECT_NE(m.output.find(c.message), std::string::npos) << m.output;
  }
  EXPECT_EQ(io::sha256_file(ck), ck_sha);
  // A --weights-exclude pattern that matches no tensor of the file is a typo, not a no-op.
  const testing::Result x =
      testing::cli("train" + data + " --weights " + (dir_ / "plain/checkpoint.h5") +
                   " --weights-exclude 'head.*' --output " + (dir_ / "x"));
  EXPECT_EQ(x.code, 1) << x.output;
  EXPECT_NE(x.output.find("weights_exclude: pattern 'head.*' matches no tensor"), std::string::npos)
      << x.output;
  EXPECT_FALSE(fs::exists(dir_ / "x/metrics.csv"));
}

// ---- every shipped recipe, a few steps on the tiny dataset ----

std::vector<std::string> shipped_recipes() {
  std::vector<std::string> out;
  const fs::path dir = fs::path(AFINAR_TEST_DATA_DIR) / "../../recipes";
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".toml") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

class ShippedRecipe : public ::testing::TestWithParam<std::string> {};

// The recipe's model, head, freezing, groups and schedules on 32x32 images, from random weights
// (the recipes name ImageNet weights files that tests do not have): 2 steps, then the checkpoint
// carries the recipe's head and the optimizer's groups.
TEST_P(ShippedRecipe, RunsTwoStepsOnATinyDataset) {
  SKIP_WITHOUT_FASHION_MNIST();
  testing::TempDir dir;
  data::export_mnist(data::kFashionMnistDir, data::fashion_mnist_classes(), dir / "data",
                     {.limit_per_class = 2, .test = false});
  const TrainConfig c = load_recipe(GetParam());
  const std::string out = dir / "run";
  const testing::Result r =
      testing::cli("train --config " + GetParam() + " --data-dir " + (dir / "data") +
                   " --weights '' --num-classes 0" +
                   " --image-size 32 -b 4 --workers 1 --max-steps 2" + " --output " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  const Checkpoint ck = load_checkpoint(out + "/checkpoint.h5");
  EXPECT_EQ(ck.trainer.step, 2);
  EXPECT_EQ(ck.meta.arch, c.model);
  EXPECT_EQ(ck.meta.head, c.head);
  EXPECT_EQ(ck.optimizer_name, c.stages[0].optimizer.name);
}

std::string recipe_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = fs::path(info.param).stem().string();
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Recipes, ShippedRecipe, ::testing::ValuesIn(shipped_recipes()),
                         recipe_test_name);

}  // namespace
}  // namespace afinar::train
