// Recipes: the schema of the README (issue 6's example), unknown keys and wrong types refused by
// name, syntax errors located, and to_toml read back to the same configuration.
#include "afinar/train/recipe.h"

#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <map>

#include "afinar/core/check.h"

namespace afinar::train {
namespace {

const char* kExample = R"(
output = "runs/flowers"
seed = 7
smoothing = 0.1
clip_grad = 1.5
grad_accum_steps = 3
mixup = 0.2
cutmix = 1.0
mixup_prob = 0.8
mixup_switch_prob = 0.4
mixup_off_epoch = 4
model_ema = true
model_ema_decay = 0.999
model_ema_warmup = true

[model]
name = "resnet18"
weights = "weights/resnet18.h5"
weights_exclude = ["fc.*"]
num_classes = 5

[data]
dir = "data/flowers"
val_split = 0.2
test_split = 0.0
image_size = 224
batch_size = 64

[[stage]]
epochs = 5
freeze = ["*"]
unfreeze = ["fc.*"]
optimizer = { name = "sgd", lr = 1e-2, momentum = 0.9, weight_decay = 1e-4, nesterov = true }
scheduler = { name = "step", step_size = 7, gamma = 0.1 }

[[stage]]
epochs = 5
unfreeze = ["*"]
optimizer = { name = "adam", lr = 1e-4, betas = [0.8, 0.99] }
scheduler = { name = "multistep", milestones = [2, 4], warmup_epochs = 1, warmup_method = "constant", warmup_decay = 0.1 }
param_groups = [ { params = ["fc.*", "layer4.*"], lr = 1e-3 } ]
)";

TEST(Recipe, ReadsTheDocumentedSchema) {
  const TrainConfig c = parse_recipe(kExample);
  EXPECT_EQ(c.output, "runs/flowers");
  EXPECT_EQ(c.seed, 7u);
  EXPECT_DOUBLE_EQ(c.smoothing, 0.1);
  EXPECT_DOUBLE_EQ(c.clip_grad, 1.5);
  EXPECT_EQ(c.grad_accum_steps, 3);
  EXPECT_DOUBLE_EQ(c.mixup.mixup_alpha, 0.2);
  EXPECT_DOUBLE_EQ(c.mixup.cutmix_alpha, 1.0);
  EXPECT_DOUBLE_EQ(c.mixup.prob, 0.8);
  EXPECT_DOUBLE_EQ(c.mixup.switch_prob, 0.4);
  EXPECT_EQ(c.mixup.off_epoch, 4);
  EXPECT_TRUE(c.model_ema);
  EXPECT_DOUBLE_EQ(c.model_ema_options.decay, 0.999);
  EXPECT_TRUE(c.model_ema_options.warmup);
  EXPECT_EQ(c.model, "resnet18");
  EXPECT_EQ(c.weights, "weights/resnet18.h5");
  EXPECT_EQ(c.weights_exclude, std::vector<std::string>{"fc.*"});
  EXPECT_EQ(c.num_classes, 5);
  EXPECT_EQ(c.data_dir, "data/flowers");
  EXPECT_EQ(c.batch_size, 64);
  ASSERT_EQ(c.stages.size(), 2u);
  const StageConfig& s0 = c.stages[0];
  EXPECT_EQ(s0.epochs, 5);
  EXPECT_EQ(s0.freeze, std::vector<std::string>{"*"});
  EXPECT_EQ(s0.unfreeze, std::vector<std::string>{"fc.*"});
  EXPECT_EQ(s0.optimizer.name, "sgd");
  EXPECT_EQ(
      s0.optimizer.options,
      (optim::Options{{"lr", 1e-2}, {"momentum", 0.9}, {"weight_decay", 1e-4}, {"nesterov", 1.0}}));
  EXPECT_EQ(s0.scheduler.name, "step");
  EXPECT_EQ(s0.scheduler.args, (std::map<std::string, double>{{"step_size", 7}, {"gamma", 0.1}}));
  const StageConfig& s1 = c.stages[1];
  EXPECT_EQ(s1.optimizer.options, (optim::Options{{"lr", 1e-4}, {"beta1", 0.8}, {"beta2", 0.99}}));
  EXPECT_EQ(s1.scheduler.milestones, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(s1.scheduler.warmup_epochs, 1);
  EXPECT_EQ(s1.scheduler.warmup_method, "constant");
  EXPECT_EQ(s1.scheduler.warmup_decay, 0.1);
  EXPECT_EQ(s1.scheduler.args, (std::map<std::string, double>{}));  // neither is an argument
  EXPECT_EQ(s0.scheduler.warmup_method, "linear");                  // torchvision's defaults
  EXPECT_EQ(s0.scheduler.warmup_decay, 0.01);
  ASSERT_EQ(s1.param_groups.size(), 1u);
  EXPECT_EQ(s1.param_groups[0].params, (std::vector<std::string>{"fc.*", "layer4.*"}));
  EXPECT_EQ(s1.param_groups[0].options, (optim::Options{{"lr", 1e-3}}));
}

std::string error_of(const std::string& text) {
  try {
    parse_recipe(text, "r.toml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Recipe, UnknownKeysAndWrongTypesAreNamed) {
  EXPECT_NE(error_of("[data]\nbach_size = 3\n").find("[data]: unknown key 'bach_size'"),
            std::string::npos);
  EXPECT_NE(error_of("outptu = \"x\"\n").find("unknown key 'outptu'"), std::string::npos);
  EXPECT_NE(error_of("[[stage]]\nepoch = 3\n").find("[[stage]] 1: unknown key 'epoch'"),
            std::string::npos);
  EXPECT_NE(error_of("[data]\nbatch_size = \"64\"\n").find("'batch_size' must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of("[[stage]]\nfreeze = \"*\"\n").find("'freeze' must be an array"),
            std::string::npos);
  EXPECT_NE(error_of("[[stage]]\noptimizer = { name = \"sgd\", lr = \"high\" }\n")
                .find("'lr' must be a number"),
            std::string::npos);
  EXPECT_NE(error_of("[[stage]]\nparam_groups = [ { lr = 1.0 } ]\n").find("'params'"),
            std::string::npos);
  EXPECT_NE(error_of("[model\nname = 1\n").find("r.toml:1:"), std::string::npos);
}

TEST(Recipe, ToTomlReadsBackTheSameConfiguration) {
  const TrainConfig c = parse_recipe(kExample);
  const TrainConfig back = parse_recipe(to_toml(c));
  EXPECT_EQ(to_toml(back), to_toml(c));
  EXPECT_EQ(back.stages[1].param_groups[0].params, c.stages[1].param_groups[0].params);
  EXPECT_EQ(back.stages[0].optimizer.options, c.stages[0].optimizer.options);
  EXPECT_EQ(back.stages[1].scheduler.milestones, c.stages[1].scheduler.milestones);
  EXPECT_EQ(back.data_dir, c.data_dir);
  EXPECT_EQ(back.weights_exclude, c.weights_exclude);
  EXPECT_EQ(back.seed, c.seed);
}

const char* kStrategies = R"(
[model]
name = "resnet50"
head = { kind = "mlp", hidden = 512, dropout = [0.4, 0.2] }

[[stage]]
epochs = 8
freeze = ["*"]
unfreeze = ["fc.*"]
unfreeze_schedule = [ { epoch = 2, unfreeze = ["layer4.*"] },
                      { epoch = 4, unfreeze = ["layer3.*", "layer2.1.*"] } ]
lr_decay = 2.6
optimizer = { name = "adamw", lr = 1e-3 }
)";

TEST(Recipe, ReadsHeadsUnfreezeSchedulesAndLrDecay) {
  const TrainConfig c = parse_recipe(kStrategies);
  EXPECT_EQ(c.head, (nn::HeadSpec{.kind = "mlp", .hidden = 512, .dropout = {0.4, 0.2}}));
  ASSERT_EQ(c.stages.size(), 1u);
  const StageConfig& s = c.stages[0];
  ASSERT_EQ(s.unfreeze_schedule.size(), 2u);
  EXPECT_EQ(s.unfreeze_schedule[0].epoch, 2);
  EXPECT_EQ(s.unfreeze_schedule[0].unfreeze, std::vector<std::string>{"layer4.*"});
  EXPECT_EQ(s.unfreeze_schedule[1].epoch, 4);
  EXPECT_EQ(s.unfreeze_schedule[1].unfreeze, (std::vector<std::string>{"layer3.*", "layer2.1.*"}));
  ASSERT_TRUE(s.lr_decay.has_value());
  EXPECT_EQ(*s.lr_decay, 2.6);
  // A kind alone takes the head's defaults; no lr_decay key means no depth groups.
  const TrainConfig d = parse_recipe("[model]\nhead = \"mlp\"\n[[stage]]\nepochs = 1\n");
  EXPECT_EQ(d.head, (nn::HeadSpec{.kind = "mlp", .hidden = 256, .dropout = {0.5, 0.3}}));
  EXPECT_FALSE(d.stages[0].lr_decay.has_value());
  EXPECT_TRUE(parse_recipe("").head.is_default());

  const TrainConfig back = parse_recipe(to_toml(c));
  EXPECT_EQ(to_toml(back), to_toml(c));
  EXPECT_EQ(back.head, c.head);
  EXPECT_EQ(back.stages[0].unfreeze_schedule[1].unfreeze, s.unfreeze_schedule[1].unfreeze);
  EXPECT_EQ(back.stages[0].lr_decay, s.lr_decay);
  EXPECT_FALSE(parse_recipe(to_toml(d)).stages[0].lr_decay.has_value());

  // torchvision's set_weight_decay settings: absent means the optimizer's weight decay.
  EXPECT_FALSE(d.stages[0].norm_weight_decay.has_value());
  EXPECT_FALSE(d.stages[0].bias_weight_decay.has_value());
  const TrainConfig w =
      parse_recipe("[[stage]]\nnorm_weight_decay = 0\nbias_weight_decay = 1e-5\n");
  EXPECT_EQ(w.stages[0].norm_weight_decay, 0.0);
  EXPECT_EQ(w.stages[0].bias_weight_decay, 1e-5);
  EXPECT_EQ(to_toml(parse_recipe(to_toml(w))), to_toml(w));
  EXPECT_EQ(parse_recipe(to_toml(w)).stages[0].bias_weight_decay, 1e-5);
}

const char* kSchedules = R"(
eval_metric = "loss"

[[stage]]
epochs = 4
scheduler = { name = "onecycle", pct_start = 0.2, anneal_strategy = "linear", three_phase = true }

[[stage]]
epochs = 6
scheduler = { name = "plateau", factor = 0.5, patience = 2, threshold_mode = "abs", min_lr = 1e-6 }

[[stage]]
epochs = 6
scheduler = { name = "cosine", warmup_epochs = 1, interval = "step" }
)";

TEST(Recipe, ReadsPlateauOneCycleIntervalsAndTheEvalMetric) {
  const TrainConfig c = parse_recipe(kSchedules);
  EXPECT_EQ(c.eval_metric, "loss");
  ASSERT_EQ(c.stages.size(), 3u);
  const SchedulerConfig& one = c.stages[0].scheduler;
  EXPECT_EQ(one.name, "onecycle");
  EXPECT_EQ(one.anneal_strategy, "linear");
  EXPECT_EQ(one.args, (std::map<std::string, double>{{"pct_start", 0.2}, {"three_phase", 1.0}}));
  EXPECT_EQ(one.interval, "");  // the schedule's own: per update
  const SchedulerConfig& plateau = c.stages[1].scheduler;
  EXPECT_EQ(plateau.threshold_mode, "abs");
  EXPECT_EQ(plateau.args.at("patience"), 2.0);
  EXPECT_EQ(c.stages[2].scheduler.interval, "step");
  const TrainConfig back = parse_recipe(to_toml(c));
  EXPECT_EQ(to_toml(back), to_toml(c));
  EXPECT_EQ(back.eval_metric, "loss");
  EXPECT_EQ(back.stages[0].scheduler.anneal_strategy, "linear");
  EXPECT_EQ(back.stages[1].scheduler.threshold_mode, "abs");
  EXPECT_EQ(back.stages[2].scheduler.interval, "step");
}

// [data] augment: true / false, or the training transform's settings (unset ones keep
// torchvision's defaults); to_toml writes them all back.
TEST(Recipe, ReadsTheAugmentationTable) {
  const TrainConfig c = parse_recipe(
      "[data]\naugment = { crop = 256, scale = [0.7, 1.0], rotation = 15, color_jitter = 0.4,"
      " affine_translate = [0.1, 0.2], erasing = 0.25, auto_augment = \"ra\", ra_magnitude = 12, "
      "vflip = 0.25, augmix_severity = 7 "
      "}\n");
  EXPECT_TRUE(c.augment);
  const data::TrainTransformOptions& a = c.augmentation;
  EXPECT_EQ(a.crop, 256);
  EXPECT_EQ(a.scale, (std::array<double, 2>{0.7, 1.0}));
  EXPECT_EQ(a.ratio, data::TrainTransformOptions{}.ratio);
  EXPECT_EQ(a.hflip, 0.5);
  EXPECT_EQ(a.rotation, 15);
  EXPECT_EQ(a.color_jitter, (std::array<double, 4>{0.4, 0.4, 0.4, 0}));  // timm's one value
  EXPECT_EQ(a.affine_translate, (std::array<double, 2>{0.1, 0.2}));
  EXPECT_EQ(a.affine_shear, 0);
  EXPECT_EQ(a.erasing, 0.25);
  EXPECT_EQ(a.auto_augment, "ra");
  EXPECT_EQ(a.ra_magnitude, 12);
  EXPECT_EQ(a.augmix_severity, 7);
  EXPECT_EQ(a.vflip, 0.25);
  const TrainConfig back = parse_recipe(to_toml(c));
  EXPECT_EQ(to_toml(back), to_toml(c));
  EXPECT_EQ(data::train_transform_str(back.augmentation), data::train_transform_str(a));
  EXPECT_EQ(back.augmentation.affine_translate, a.affine_translate);

  EXPECT_FALSE(parse_recipe("[data]\naugment = false\n").augment);
  const TrainConfig plain = parse_recipe("[data]\naugment = true\n");
  EXPECT_EQ(plain.augmentation.crop, 0);  // the image size
  EXPECT_FALSE(parse_recipe(to_toml(plain)).augmentation.affine_translate.has_value());
  EXPECT_EQ(color_jitter_from({0.1, 0.2, 0.3}, "x"), (std::array<double, 4>{0.1, 0.2, 0.3, 0}));
  EXPECT_EQ(color_jitter_from({0.1, 0.2, 0.3, 0.05}, "x"),
            (std::array<double, 4>{0.1, 0.2, 0.3, 0.05}));
}

// [data] resize, crop_mode, interpolation, mean and std: the evaluation preprocessing (seeds
// 001/002's Resize((224, 224)) and pixels / 255 here, resampled bicubic); integers are numbers in
// mean and std. The interpolation also resamples the training transform.
TEST(Recipe, ReadsThePreprocessing) {
  const TrainConfig c = parse_recipe(
      "[data]\nimage_size = 224\nresize = 224\ncrop_mode = \"squash\"\n"
      "interpolation = \"bicubic\"\nmean = [0, 0, 0]\nstd = [1, 1.0, 1]\n");
  EXPECT_EQ(c.resize, 224);
  EXPECT_EQ(c.crop_mode, "squash");
  EXPECT_EQ(c.interpolation, "bicubic");
  EXPECT_EQ(c.mean, (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(c.std, (std::vector<double>{1, 1, 1}));
  const data::Preprocessing p = preprocessing_of(c);
  EXPECT_EQ(data::preprocessing_str(p),
            "Resize((224, 224), interpolation=bicubic) -> CenterCrop(224) -> ToTensor -> "
            "Normalize(mean=[0, 0, 0], std=[1, 1, 1])");
  EXPECT_EQ(p.interpolation, data::Interpolation::Bicubic);
  EXPECT_EQ(augmentation_of(c).interpolation, data::Interpolation::Bicubic);
  EXPECT_EQ(augmentation_of(parse_recipe("")).interpolation, data::Interpolation::Bilinear);
  EXPECT_EQ(to_toml(parse_recipe(to_toml(c))), to_toml(c));
  // The defaults: torchvision's Resize(256) -> CenterCrop(224) with ImageNet's statistics, and
  // the same 256/224 ratio at other sizes (round(64 × 256/224) = 73).
  EXPECT_EQ(data::preprocessing_str(preprocessing_of(parse_recipe(""))),
            data::preprocessing_str(data::Preprocessing{}));
  EXPECT_EQ(preprocessing_of(parse_recipe("[data]\nimage_size = 64\n")).resize, 73);
  // The augmentation normalises with the run's statistics.
  EXPECT_EQ(augmentation_of(c).std, c.std);

  for (const auto& [text, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"[data]\nmean = [0, 0]\n", "mean and std need 3 values each (R, G, B), got 2"},
           {"[data]\nstd = \"1\"\n", "'std' must be an array of numbers"},
           {"[data]\nstd = [1, 0, 1]\n", "std non-zero"},
           {"[data]\ncrop_mode = \"crop\"\n", "must be center (Resize of the shorter side)"},
           {"[data]\ninterpolation = \"area\"\n",
            "interpolation (--interpolation, [data] interpolation) must be nearest, bilinear or "
            "bicubic, got 'area'"},
           {"[data]\ninterpolation = 2\n", "'interpolation' must be a string"},
           {"[data]\nresize = -2\n", "[data] resize) must be 0"},
       }) {
    const std::string e = error_of(text);
    EXPECT_NE(e.find(fragment), std::string::npos) << "recipe:\n" << text << "error: " << e;
  }
}

TEST(Recipe, BadHeadsSchedulesAndLrDecayAreNamed) {
  auto expect_error = [](const std::string& text, const std::string& fragment) {
    const std::string e = error_of(text);
    EXPECT_NE(e.find(fragment), std::string::npos) << "recipe:\n" << text << "error: " << e;
  };
  expect_error("[model]\nhead = \"big\"\n", "[model]: unknown head 'big'");
  expect_error("[model]\nhead = 3\n", "'head' must be a kind");
  expect_error("[model]\nhead = { kind = \"mlp\", width = 3 }\n", "unknown key 'width'");
  expect_error("[model]\nhead = { kind = \"mlp\", dropout = [0.5] }\n",
               "'dropout' must be two numbers");
  expect_error("[model]\nhead = { kind = \"mlp\", hidden = 0 }\n", "hidden must be >= 1");
  expect_error("[model]\nhead = { kind = \"default\", hidden = 8 }\n",
               "settings of the mlp head, not of 'default'");
  expect_error("[[stage]]\nunfreeze_schedule = [ { unfreeze = [\"fc.*\"] } ]\n",
               "[[stage]] 1.unfreeze_schedule[0]: needs 'epoch'");
  expect_error("[[stage]]\nunfreeze_schedule = [ { epoch = 1, unfreeze = [] } ]\n",
               "'unfreeze' must list at least one pattern");
  expect_error("[[stage]]\nunfreeze_schedule = [ { epoch = 1, unfreeze = [\"a\"], lr = 1 } ]\n",
               "unknown key 'lr'");
  expect_error("[[stage]]\nunfreeze_schedule = { epoch = 1 }\n",
               "'unfreeze_schedule' must be an array of tables");
  expect_error("[[stage]]\nlr_decay = 0\n", "[[stage]] 1: 'lr_decay' must be > 0");
  expect_error("[[stage]]\nlr_decay = \"2.6\"\n", "'lr_decay' must be a number");
  expect_error("[[stage]]\nnorm_weight_decay = -1\n",
               "norm_weight_decay (--norm-weight-decay) must be >= 0 and finite, got -1");
  expect_error("[[stage]]\nbias_weight_decay = nan\n",
               "bias_weight_decay (--bias-weight-decay) must be >= 0 and finite, got nan");
  expect_error("[[stage]]\nbias_weight_decay = true\n", "'bias_weight_decay' must be a number");
}

// Every recipe shipped in recipes/ parses and names a known model and optimizer.
TEST(Recipe, ShippedRecipesParse) {
  const std::filesystem::path dir = std::filesystem::path(AFINAR_TEST_DATA_DIR) / "../../recipes";
  int count = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".toml") continue;
    SCOPED_TRACE(e.path().string());
    const TrainConfig c = load_recipe(e.path().string());
    EXPECT_FALSE(c.stages.empty());
    for (const StageConfig& s : c.stages)
      EXPECT_TRUE(s.optimizer.name == "sgd" || s.optimizer.name == "adam" ||
                  s.optimizer.name == "adamw");
    ++count;
  }
  EXPECT_GE(count, 8);
}

// The seed recipes say what the seeds do (SEEDS.md 000, 001, 003 and 004).
TEST(Recipe, SeedRecipesCarryTheSeedsSettings) {
  const std::string dir = std::string(AFINAR_TEST_DATA_DIR) + "/../../recipes/";
  const TrainConfig vgg = load_recipe(dir + "000_vgg16_block5.toml");
  EXPECT_EQ(vgg.model, "vgg16");
  EXPECT_EQ(vgg.head.kind, "linear");
  EXPECT_EQ(vgg.batch_size, 64);
  ASSERT_EQ(vgg.stages.size(), 1u);
  EXPECT_EQ(vgg.stages[0].epochs, 20);
  EXPECT_EQ(vgg.stages[0].freeze, std::vector<std::string>{"*"});
  EXPECT_EQ(vgg.stages[0].unfreeze, (std::vector<std::string>{"features.24.*", "features.26.*",
                                                              "features.28.*", "classifier.*"}));
  EXPECT_EQ(vgg.stages[0].optimizer.name, "adam");
  EXPECT_EQ(vgg.stages[0].optimizer.options, (optim::Options{{"lr", 1e-4}}));

  // Seed 001: A.Resize(224, 224) and img / 255., batches of 64, no augmentation, plain SGD
  // (fit()'s torch.optim.SGD(model.parameters(), lr=lr)), 15 epochs from scratch, 5 otherwise.
  for (const char* name :
       {"001_resnet18_scratch.toml", "001_resnet18_frozen.toml", "001_resnet18_finetune.toml",
        "001_resnet18_two_stage.toml", "001_resnet18_differential.toml"}) {
    SCOPED_TRACE(name);
    const TrainConfig r = load_recipe(dir + name);
    EXPECT_EQ(data::preprocessing_str(preprocessing_of(r)),
              "Resize((224, 224)) -> CenterCrop(224) -> ToTensor -> Normalize(mean=[0, 0, 0], "
              "std=[1, 1, 1])");
    EXPECT_FALSE(r.augment);
    EXPECT_EQ(r.batch_size, 64);
    EXPECT_EQ(r.val_split, 0.2);
  }
  const TrainConfig scratch = load_recipe(dir + "001_resnet18_scratch.toml");
  EXPECT_TRUE(scratch.weights.empty());
  EXPECT_EQ(scratch.stages.at(0).epochs, 15);
  EXPECT_EQ(scratch.stages.at(0).optimizer.options, (optim::Options{{"lr", 1e-2}}));
  const TrainConfig two = load_recipe(dir + "001_resnet18_two_stage.toml");
  ASSERT_EQ(two.stages.size(), 2u);
  EXPECT_EQ(two.stages[0].unfreeze, std::vector<std::string>{"fc.*"});
  EXPECT_EQ(two.stages[1].optimizer.name, "sgd");
  EXPECT_EQ(two.stages[1].optimizer.options, (optim::Options{{"lr", 1e-4}}));

  const TrainConfig full = load_recipe(dir + "003_resnet50_full.toml");
  EXPECT_EQ(full.head, (nn::HeadSpec{.kind = "mlp", .hidden = 512, .dropout = {0.5, 0.3}}));
  EXPECT_DOUBLE_EQ(full.smoothing, 0.1);
  const StageConfig& s = full.stages.at(0);
  EXPECT_EQ(s.optimizer.name, "adamw");
  EXPECT_EQ(s.scheduler.name, "cosine_restarts");
  EXPECT_EQ(s.scheduler.args, (std::map<std::string, double>{{"T_0", 5}, {"T_mult", 2}}));
  ASSERT_EQ(s.unfreeze_schedule.size(), 2u);
  ASSERT_EQ(s.param_groups.size(), 3u);
  EXPECT_EQ(s.param_groups[2].options, (optim::Options{{"lr", 1e-3}, {"weight_decay", 1e-2}}));
  // Section 5's transforms, which data::heavy_augmentation() spells out.
  data::TrainTransformOptions heavy = data::heavy_augmentation();
  heavy.crop = 0;  // the image size (224)
  EXPECT_TRUE(full.augment);
  EXPECT_EQ(data::train_transform_str(full.augmentation), data::train_transform_str(heavy));
  EXPECT_EQ(full.augmentation.affine_translate, heavy.affine_translate);

  const TrainConfig tutorial = load_recipe(dir + "004_resnet34_sgd_steplr.toml");
  EXPECT_EQ(tutorial.image_size, 224);  // Resize(256) + CenterCrop(224) for validation
  EXPECT_EQ(tutorial.augmentation.crop, 256);
  EXPECT_EQ(tutorial.augmentation.rotation, 15);
  EXPECT_EQ(tutorial.augmentation.hflip, 0.5);

  const TrainConfig ulmfit = load_recipe(dir + "003_resnet18_ulmfit.toml");
  EXPECT_EQ(ulmfit.stages.at(0).lr_decay, std::optional<double>(2.6));
  EXPECT_EQ(ulmfit.stages.at(0).unfreeze_schedule.size(), 3u);
}

}  // namespace
}  // namespace afinar::train
