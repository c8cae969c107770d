// `afinar train` end to end on a small real dataset (Fashion-MNIST from Debian's
// dataset-fashion-mnist, exported to an ImageFolder): the run's files, weights that `afinar
// predict` reads, and settings that are refused before any training.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "afinar/data/fashion_mnist.h"
#include "afinar/io/weights.h"
#include "afinar/train/checkpoint.h"
#include "afinar/train/run_files.h"
#include "testing/cli.h"
#include "testing/compare.h"
#include "testing/fashion_mnist.h"
#include "testing/temp_dir.h"
#include "testing/text_file.h"

namespace afinar {
namespace {

using testing::lines_of;
using testing::read_text;

namespace fs = std::filesystem;

using testing::run_cli;

class TrainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_FASHION_MNIST();
    // 10 classes x 6 images in train/ and in test/.
    data::export_mnist(data::kFashionMnistDir, data::fashion_mnist_classes(), dir_ / "data",
                       {.limit_per_class = 6});
  }
  testing::TempDir dir_;
};

TEST_F(TrainCli, RunWritesMetricsLogsAndWeights) {
  const std::string out = dir_ / "run";
  ASSERT_EQ(run_cli("train --data-dir " + (dir_ / "data") +
                        " --model resnet18 --epochs 2 -b 8 --image-size 32 --val-split 0.25"
                        " --lr 0.05 --sched cosine --workers 2 --log-interval 2 --seed 3"
                        " --rotation 10 --reprob 0.25 --output " +
                        out,
                    dir_ / "log.txt"),
            0)
      << "the log ends: " << lines_of(dir_ / "log.txt").back();
  // The augmentation flags reach the training transform, which the log spells out.
  EXPECT_NE(read_text(dir_ / "log.txt")
                .find("training transform: RandomResizedCrop(32, scale=(0.08, 1), ratio=(0.75, "
                      "1.33333)) -> RandomHorizontalFlip(p=0.5) -> RandomRotation(10) -> "
                      "ToTensor -> Normalize -> RandomErasing(p=0.25)"),
            std::string::npos)
      << read_text(dir_ / "log.txt");
  // Validation at torchvision's 256/224 ratio: Resize(round(32 × 256/224) = 37).
  EXPECT_NE(read_text(dir_ / "log.txt")
                .find("evaluation transform: Resize(37) -> CenterCrop(32) -> ToTensor -> "
                      "Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])"),
            std::string::npos);
  const auto csv = lines_of(out + "/metrics.csv");
  ASSERT_EQ(csv.size(), 6u);  // header, 2 x (train, val), test
  EXPECT_EQ(csv[0], "epoch,split,loss,acc,top5,precision_macro,recall_macro,f1_macro,lr,seconds");
  EXPECT_EQ(csv[1].rfind("0,train,", 0), 0u);
  EXPECT_EQ(csv[2].rfind("0,val,", 0), 0u);
  EXPECT_EQ(csv[5].find(",test,") != std::string::npos, true);
  const auto events = lines_of(out + "/events.jsonl");
  ASSERT_GE(events.size(), 2u);
  EXPECT_NE(events.front().find("\"event\": \"start\""), std::string::npos);
  EXPECT_NE(events.back().find("\"event\": \"end\""), std::string::npos);
  bool tensorboard = false;
  for (const auto& e : fs::directory_iterator(out))
    tensorboard |= e.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_TRUE(tensorboard);
  EXPECT_TRUE(fs::exists(out + "/confusion_val.csv"));
  EXPECT_TRUE(fs::exists(out + "/confusion_test.csv"));
  EXPECT_TRUE(fs::exists(out + "/report.html"));  // afinar train writes the report too

  const io::Weights best = io::load_weights(out + "/best.h5");
  EXPECT_EQ(best.meta.arch, "resnet18");
  EXPECT_EQ(best.meta.num_classes, 10);
  EXPECT_EQ(best.meta.preprocessing.crop, 32);
  EXPECT_EQ(best.meta.class_names.size(), 10u);
  // The weights drive `afinar predict` with the run's preprocessing.
  std::string image;
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "data/test"))
    if (e.is_regular_file()) image = e.path().string();
  EXPECT_EQ(run_cli("predict --weights " + out + "/best.h5 --json " + image, dir_ / "p.txt"), 0);
  EXPECT_NE(lines_of(dir_ / "p.txt").at(0).find("\"label\""), std::string::npos);
}

// One epoch of resnet18 on the fixture's data into dir/run with `flags`, which must succeed;
// returns the run folder.
std::string one_epoch_run(const testing::TempDir& dir_, const std::string& flags) {
  const std::string out = dir_ / "run";
  EXPECT_EQ(run_cli("train --data-dir " + (dir_ / "data") +
                        " --model resnet18 --epochs 1 -b 8 --image-size 32 --val-split 0.25"
                        " --seed 3 --output " +
                        out + flags,
                    dir_ / "log.txt"),
            0)
      << "the log ends: " << lines_of(dir_ / "log.txt").back();
  return out;
}

// Seeds 001/002's preprocessing: Resize((32, 32)) whatever the aspect ratio and pixels / 255 (mean
// 0, std 1), here resampled nearest, for training (--no-augment) and validation; the weights carry
// it to predict and eval, and the resolved recipe to a rerun.
TEST_F(TrainCli, SquashResizeAndPixelScaleReachTheWeights) {
  const std::string out = one_epoch_run(
      dir_,
      " --no-augment --crop-mode squash --resize 32 --mean 0,0,0 --std 1,1,1 --interpolation "
      "nearest");
  EXPECT_NE(read_text(dir_ / "log.txt")
                .find("evaluation transform: Resize((32, 32), interpolation=nearest) -> "
                      "CenterCrop(32) -> ToTensor -> Normalize(mean=[0, 0, 0], std=[1, 1, 1])\n"
                      "training transform: the evaluation transform"),
            std::string::npos)
      << read_text(dir_ / "log.txt");
  for (const char* file : {"/best.h5", "/last.h5", "/checkpoint.h5"}) {
    const io::Preprocessing p = io::load_preprocessing(out + file);
    EXPECT_EQ(p.resize, 32) << file;
    EXPECT_EQ(p.crop, 32) << file;
    EXPECT_EQ(p.crop_mode, data::CropMode::Squash) << file;
    EXPECT_EQ(p.interpolation, data::Interpolation::Nearest) << file;
    EXPECT_EQ(p.mean, (std::vector<double>{0, 0, 0})) << file;
    EXPECT_EQ(p.std, (std::vector<double>{1, 1, 1})) << file;
  }
  const std::string recipe = read_text(out + "/recipe.toml");
  EXPECT_NE(recipe.find("crop_mode = 'squash'"), std::string::npos) << recipe;
  EXPECT_NE(recipe.find("resize = 32"), std::string::npos) << recipe;
  EXPECT_NE(recipe.find("interpolation = 'nearest'"), std::string::npos) << recipe;

  // Fine-tuning these weights with the default (ImageNet) normalisation warns, naming both; with
  // the weights' own settings it does not.
  fs::copy_file(out + "/best.h5", dir_ / "squashed.h5");
  one_epoch_run(dir_, " --no-augment --max-steps 1 --weights " + (dir_ / "squashed.h5"));
  EXPECT_NE(read_text(dir_ / "log.txt")
                .find("warning: the weights were evaluated with Resize((32, 32), "
                      "interpolation=nearest) -> CenterCrop(32) -> ToTensor -> Normalize(mean=[0, "
                      "0, 0], std=[1, 1, 1]); this run uses Resize(37) -> CenterCrop(32) -> "
                      "ToTensor -> Normalize(mean=[0.485, 0.456, "
                      "0.406], std=[0.229, 0.224, 0.225]). Give --mean, --std and --crop-mode"),
            std::string::npos)
      << read_text(dir_ / "log.txt");
  one_epoch_run(dir_, " --no-augment --max-steps 1 --weights " + (dir_ / "squashed.h5") +
                          " --crop-mode squash --mean 0,0,0 --std 1,1,1");
  EXPECT_EQ(read_text(dir_ / "log.txt").find("warning: the weights"), std::string::npos)
      << read_text(dir_ / "log.txt");
}

// --bn-momentum 0: training leaves every running statistic as it was (here: the initial 0 and 1),
// while the default momentum moves them.
TEST_F(TrainCli, BnMomentumZeroKeepsTheRunningStatistics) {
  one_epoch_run(dir_, " --bn-momentum 0 --max-steps 2");
  EXPECT_NE(read_text(dir_ / "log.txt").find("batch norm: momentum 0 in 20 layers"),
            std::string::npos)
      << read_text(dir_ / "log.txt");
  EXPECT_NE(read_text(dir_ / "run/recipe.toml").find("bn_momentum = 0.0"), std::string::npos)
      << read_text(dir_ / "run/recipe.toml");
  const train::Checkpoint kept = train::load_checkpoint(dir_ / "run/checkpoint.h5");
  EXPECT_EQ(kept.model.at("layer1.0.bn1.running_mean").to_vector<float>(),
            std::vector<float>(64, 0.0f));
  EXPECT_EQ(kept.model.at("bn1.running_var").to_vector<float>(), std::vector<float>(64, 1.0f));
  EXPECT_EQ(kept.model.at("bn1.num_batches_tracked").item<int64_t>(), 2);  // counted still
  one_epoch_run(dir_, " --max-steps 2");
  const train::Checkpoint moved = train::load_checkpoint(dir_ / "run/checkpoint.h5");
  EXPECT_NE(moved.model.at("bn1.running_var").to_vector<float>(), std::vector<float>(64, 1.0f));
}

// --auto-augment: the training transform runs torchvision's policy after the flip, resampling as
// the reference scripts do (bilinear unless --interpolation says otherwise). --interpolation also
// resamples the RandomResizedCrop and the evaluation Resize, and the checkpoint records it (as do
// best.h5 and last.h5: SquashResizeAndPixelScaleReachTheWeights).
TEST_F(TrainCli, AutoAugmentAndInterpolationReachTheTransforms) {
  one_epoch_run(dir_, " --auto-augment ra --ra-magnitude 5 --max-steps 2");
  EXPECT_NE(read_text(dir_ / "log.txt")
                .find("RandomHorizontalFlip(p=0.5) -> RandAugment(num_ops=2, magnitude=5, "
                      "interpolation=bilinear) -> ToTensor"),
            std::string::npos)
      << read_text(dir_ / "log.txt");
  EXPECT_NE(read_text(dir_ / "run/recipe.toml").find("auto_augment = 'ra'"), std::string::npos)
      << read_text(dir_ / "run/recipe.toml");
  EXPECT_EQ(io::load_preprocessing(dir_ / "run/checkpoint.h5").interpolation,
            data::Interpolation::Bilinear);

  one_epoch_run(dir_, " --auto-augment svhn --interpolation bicubic --max-steps 2");
  const std::string log = read_text(dir_ / "log.txt");
  EXPECT_NE(log.find("evaluation transform: Resize(37, interpolation=bicubic) -> CenterCrop(32)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(", interpolation=bicubic) -> RandomHorizontalFlip(p=0.5) -> "
                     "AutoAugment(policy=svhn, interpolation=bicubic) -> ToTensor"),
            std::string::npos)
      << log;
  EXPECT_NE(read_text(dir_ / "run/recipe.toml").find("interpolation = 'bicubic'"),
            std::string::npos)
      << read_text(dir_ / "run/recipe.toml");
  EXPECT_EQ(io::load_preprocessing(dir_ / "run/checkpoint.h5").interpolation,
            data::Interpolation::Bicubic);

  // AugMix, with its severity, resampling nearest on torchvision's tensor path.
  one_epoch_run(dir_,
                " --auto-augment augmix --augmix-severity 2 --interpolation nearest --max-steps 2");
  EXPECT_NE(read_text(dir_ / "log.txt")
                .find("RandomHorizontalFlip(p=0.5) -> AugMix(severity=2, interpolation=nearest) "
                      "-> ToTensor"),
            std::string::npos)
      << read_text(dir_ / "log.txt");
  EXPECT_NE(read_text(dir_ / "run/recipe.toml").find("augmix_severity = 2"), std::string::npos)
      << read_text(dir_ / "run/recipe.toml");
}

// --amp: resnet18 trains in bf16 mixed precision; the weights it writes are float32 and the
// resolved recipe records the setting.
TEST_F(TrainCli, AmpRunWritesFloat32Weights) {
  const std::string out = one_epoch_run(dir_, " --amp");
  const io::Weights w = io::load_weights(out + "/last.h5");
  for (const auto& [name, t] : w.state_dict) {
    EXPECT_TRUE(t.dtype() == DType::F32 || t.dtype() == DType::I64) << name << ": " << t.dtype();
  }
  EXPECT_NE(read_text(out + "/recipe.toml").find("amp = true"), std::string::npos);
}

// --channels-last: the run trains NHWC; the weights it writes are in PyTorch's logical order
// (evaluating them NCHW and NHWC gives the same figures) and the recipe records the setting.
TEST_F(TrainCli, ChannelsLastRunWritesWeightsInLogicalOrder) {
  const std::string out = one_epoch_run(dir_, " --channels-last");
  EXPECT_NE(read_text(out + "/recipe.toml").find("channels_last = true"), std::string::npos);
  double loss[2];
  for (int cl = 0; cl < 2; ++cl) {
    const testing::Result r =
        testing::cli("eval --weights " + out + "/last.h5 --data-dir " + (dir_ / "data") +
                     (cl ? " --channels-last" : "") + " --json");
    ASSERT_EQ(r.code, 0) << r.output;
    const std::optional<train::JsonFields> f = train::parse_json_object(r.output);
    ASSERT_TRUE(f.has_value()) << r.output;
    loss[cl] = train::json_field_number(*f, "loss");
  }
  // float32 sums in two orders through 20 layers (tests/nn/models_test.cpp's bound).
  EXPECT_NEAR(loss[1], loss[0], 1e-4 * std::max(1.0, loss[0]));
}

TEST_F(TrainCli, BadSettingsFailBeforeTraining) {
  const std::string base =
      "train --data-dir " + (dir_ / "data") + " --image-size 32 --output " + (dir_ / "bad");
  EXPECT_EQ(run_cli(base + " --freeze '*'", dir_ / "l1"), 1);  // nothing left to train
  const auto log = lines_of(dir_ / "l1");
  EXPECT_TRUE(std::any_of(log.begin(), log.end(), [](const std::string& l) {
    return l.find("every parameter is frozen") != std::string::npos;
  }));
  EXPECT_EQ(run_cli(base + " --freeze 'no_such_layer.*'", dir_ / "l2"), 1);
  EXPECT_EQ(run_cli(base + " --opt lamb", dir_ / "l3"), 1);       // not an optimizer of afinar
  EXPECT_EQ(run_cli(base + " --num-classes 5", dir_ / "l4"), 1);  // the data has 10
  EXPECT_EQ(run_cli(base + " --model resnet7", dir_ / "l5"), 1);
  EXPECT_FALSE(fs::exists(dir_ / "bad/metrics.csv"));  // nothing was written
}

// Two stages from a recipe: the head alone, then everything with a lower lr for the backbone;
// --epochs on the command line overrides both stages' epochs.
TEST_F(TrainCli, RecipeStagesFreezeAndGroups) {
  const std::string out = dir_ / "staged";
  std::ofstream(dir_ / "r.toml")
      << "[model]\nname = \"resnet18\"\n"
      << "[data]\ndir = \"" << dir_ / "data"
      << "\"\n"
      << "image_size = 32\nbatch_size = 8\n"
      << "[[stage]]\nepochs = 3\nfreeze = [\"*\"]\nunfreeze = [\"fc.*\"]\n"
      << "optimizer = { name = \"adam\", lr = 1e-3 }\n"
      << "[[stage]]\nepochs = 3\nunfreeze = [\"*\"]\n"
      << "optimizer = { name = \"sgd\", lr = 1e-2, momentum = 0.9 }\n"
      << "param_groups = [ { params = [\"layer*\", \"conv1.*\"], lr = 1e-3 } ]\n";
  ASSERT_EQ(run_cli("train --config " + (dir_ / "r.toml") + " --epochs 1 --output " + out,
                    dir_ / "log.txt"),
            0)
      << lines_of(dir_ / "log.txt").back();
  std::vector<std::string> stages;
  for (const auto& l : lines_of(out + "/events.jsonl"))
    if (l.find("\"event\": \"stage\"") != std::string::npos) stages.push_back(l);
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_NE(stages[0].find("\"trainable\": 5130"), std::string::npos)
      << stages[0];  // fc: 512x10+10
  EXPECT_NE(stages[1].find("\"frozen\": 0"), std::string::npos) << stages[1];
  EXPECT_EQ(lines_of(out + "/metrics.csv").size(),
            1u + 2 * 2 + 1);  // 2 epochs x (train, val), test
  EXPECT_TRUE(fs::exists(out + "/recipe.toml"));
}

// Optimizer options the command line does not give are the optimizer's own PyTorch defaults, as
// in a recipe: AdamW's weight decay 1e-2, lr 1e-3, torch.optim.SGD's momentum 0, RMSprop's lr
// 1e-2 and alpha 0.99 (--momentum sets its momentum as SGD's). --opt replacing a recipe's
// optimizer keeps the options both have and drops the others.
TEST_F(TrainCli, OptionsNotGivenAreTheOptimizersOwn) {
  const std::string base = "train --data-dir " + (dir_ / "data") +
                           " --model resnet18 -b 8 --image-size 32 --max-steps 1";
  auto group_option = [&](const std::string& run, int group, const std::string& key) {
    const train::Checkpoint ck = train::load_checkpoint(dir_ / (run + "/checkpoint.h5"));
    return ck.optimizer.at("param_groups." + std::to_string(group) + "." + key).item<double>();
  };
  ASSERT_EQ(run_cli(base + " --opt adamw --output " + (dir_ / "adamw")), 0);
  EXPECT_EQ(group_option("adamw", 0, "weight_decay"), 1e-2);
  EXPECT_EQ(group_option("adamw", 0, "lr"), 1e-3);
  ASSERT_EQ(run_cli(base + " --output " + (dir_ / "sgd")), 0);
  EXPECT_EQ(group_option("sgd", 0, "momentum"), 0.0);
  EXPECT_EQ(group_option("sgd", 0, "lr"), 1e-3);
  ASSERT_EQ(run_cli(base + " --opt rmsprop --momentum 0.9 --output " + (dir_ / "rmsprop")), 0);
  EXPECT_EQ(group_option("rmsprop", 0, "lr"), 1e-2);
  EXPECT_EQ(group_option("rmsprop", 0, "alpha"), 0.99);
  EXPECT_EQ(group_option("rmsprop", 0, "momentum"), 0.9);
  const train::Checkpoint rms = train::load_checkpoint(dir_ / "rmsprop/checkpoint.h5");
  EXPECT_EQ(rms.optimizer_name, "rmsprop");
  EXPECT_TRUE(rms.optimizer.contains("state.0.square_avg"));
  EXPECT_TRUE(rms.optimizer.contains("state.0.momentum_buffer"));
  EXPECT_FALSE(rms.optimizer.contains("state.0.grad_avg"));  // not centered

  std::ofstream(dir_ / "sgd.toml")
      << "[model]\nname = \"resnet18\"\n[[stage]]\n"
      << "optimizer = { name = \"sgd\", lr = 1e-2, momentum = 0.9, weight_decay = 1e-4 }\n"
      << "param_groups = [ { params = [\"fc.*\"], lr = 5e-2, nesterov = 1 } ]\n";
  const testing::Result r = testing::cli(base + " --config " + (dir_ / "sgd.toml") +
                                         " --opt adam --output " + (dir_ / "replaced"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("--opt adam replaces the recipe's sgd: its options momentum, nesterov "
                          "do not apply"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(group_option("replaced", 0, "lr"), 1e-2);
  EXPECT_EQ(group_option("replaced", 0, "weight_decay"), 1e-4);
  EXPECT_EQ(group_option("replaced", 0, "beta1"), 0.9);
  EXPECT_EQ(group_option("replaced", 1, "lr"), 5e-2);
}

// The column `name` of metrics.csv's rows of `split`, in order.
std::vector<double> metrics_column(const std::string& csv, const std::string& split,
                                   const std::string& name) {
  auto fields = [](const std::string& row) {
    std::vector<std::string> out;
    std::istringstream in(row);
    for (std::string f; std::getline(in, f, ',');) out.push_back(f);
    return out;
  };
  const auto rows = lines_of(csv);
  const std::vector<std::string> header = fields(rows.at(0));
  const auto column = std::find(header.begin(), header.end(), name) - header.begin();
  std::vector<double> out;
  for (size_t r = 1; r < rows.size(); ++r) {
    const std::vector<std::string> f = fields(rows[r]);
    if (f.at(1) == split) out.push_back(std::stod(f.at(size_t(column))));
  }
  return out;
}

// A run stopped mid-epoch (--max-steps) and resumed from its checkpoint ends with the same
// weights and BN buffers, bit for bit, as the run that never stopped (CPU).
// `sched` is the schedule's flags.
void expect_resume_bit_exact(const testing::TempDir& dir_, const std::string& flags,
                             const std::string& sched = " --sched cosine") {
  const std::string common = "train --data-dir " + (dir_ / "data") +
                             " --model resnet18 --epochs 2 -b 8 --image-size 32 --val-split 0.25"
                             " --opt adamw --lr 1e-3 --workers 2 --seed 5" +
                             sched + flags;
  ASSERT_EQ(run_cli(common + " --output " + (dir_ / "a"), dir_ / "a.txt"), 0)
      << lines_of(dir_ / "a.txt").back();
  // 45 training images in batches of 8: 6 steps per epoch; stop in the middle of the second.
  ASSERT_EQ(run_cli(common + " --max-steps 9 --output " + (dir_ / "b"), dir_ / "b1.txt"), 0)
      << lines_of(dir_ / "b1.txt").back();
  ASSERT_TRUE(fs::exists(dir_ / "b/checkpoint.h5"));
  ASSERT_EQ(
      run_cli(common + " --resume " + (dir_ / "b/checkpoint.h5") + " --output " + (dir_ / "b"),
              dir_ / "b2.txt"),
      0)
      << lines_of(dir_ / "b2.txt").back();
  const io::Weights a = io::load_weights(dir_ / "a/last.h5");
  const io::Weights b = io::load_weights(dir_ / "b/last.h5");
  ASSERT_EQ(a.state_dict.size(), b.state_dict.size());
  for (const auto& [key, t] : a.state_dict) testing::expect_identical(b.state_dict.at(key), t, key);
}

TEST_F(TrainCli, ResumedRunEqualsTheUninterruptedOneBitForBit) {
  expect_resume_bit_exact(dir_, "");
}

// Schedules stepped after every update: the checkpoint keeps their position mid-epoch (step 9
// of 12), and a resume that lost it would restart onecycle's warm-up.
TEST_F(TrainCli, PerUpdateSchedulesResumeBitExact) {
  expect_resume_bit_exact(dir_, "", " --sched onecycle");
  const train::Checkpoint ck = train::load_checkpoint(dir_ / "b/checkpoint.h5");
  EXPECT_EQ(ck.scheduler.name, "onecycle");
  EXPECT_EQ(ck.scheduler.last_epoch, 12);  // 2 epochs of 6 updates
  testing::TempDir other;
  data::export_mnist(data::kFashionMnistDir, data::fashion_mnist_classes(), other / "data",
                     {.limit_per_class = 6});
  expect_resume_bit_exact(other, "", " --sched cosine --warmup-epochs 1 --sched-on-updates");
}

// ReduceLROnPlateau on the validation accuracy, with a threshold no epoch can meet: every epoch
// after the first is bad, so with patience 0 the lr halves after epochs 2 and 3. A run stopped
// in epoch 2 and resumed must carry the best accuracy and the counters in its checkpoint: a
// fresh plateau would take epoch 2 for an improvement and keep the lr.
TEST_F(TrainCli, PlateauCutsTheLrOnTheEvalMetricAndResumesBitExact) {
  {
    std::ofstream recipe(dir_ / "plateau.toml");
    recipe << "[[stage]]\nepochs = 4\noptimizer = { name = \"sgd\", lr = 0.02, momentum = 0.9 }\n"
              "scheduler = { name = \"plateau\", factor = 0.5, patience = 0, threshold = 10.0 }\n";
  }
  const std::string common = "train --config " + (dir_ / "plateau.toml") + " --data-dir " +
                             (dir_ / "data") +
                             " --model resnet18 -b 8 --image-size 32 --val-split 0.25 --workers 2"
                             " --seed 5";
  ASSERT_EQ(run_cli(common + " --output " + (dir_ / "a"), dir_ / "a.txt"), 0)
      << lines_of(dir_ / "a.txt").back();
  ASSERT_EQ(run_cli(common + " --max-steps 9 --output " + (dir_ / "b"), dir_ / "b1.txt"), 0);
  ASSERT_EQ(
      run_cli(common + " --resume " + (dir_ / "b/checkpoint.h5") + " --output " + (dir_ / "b"),
              dir_ / "b2.txt"),
      0)
      << lines_of(dir_ / "b2.txt").back();
  EXPECT_EQ(metrics_column(dir_ / "a/metrics.csv", "train", "lr"),
            (std::vector<double>{0.02, 0.02, 0.01, 0.005}));
  const io::Weights a = io::load_weights(dir_ / "a/last.h5");
  const io::Weights b = io::load_weights(dir_ / "b/last.h5");
  for (const auto& [key, t] : a.state_dict) testing::expect_identical(b.state_dict.at(key), t, key);
}

// torchvision's reference scripts' warm-up flags: a constant warm-up at lr × 0.25 for one epoch,
// then StepLR from its own first epoch; the resolved recipe keeps the method and the factor.
TEST_F(TrainCli, ConstantWarmUpUnderTorchvisionsFlagNames) {
  ASSERT_EQ(run_cli("train --data-dir " + (dir_ / "data") +
                        " --model resnet18 -b 8 --image-size 32 --val-split 0.25 --epochs 3"
                        " --lr 0.04 --sched step --decay-epochs 1 --decay-rate 0.5"
                        " --lr-warmup-epochs 1 --lr-warmup-method constant --lr-warmup-decay 0.25"
                        " --output " +
                        (dir_ / "run"),
                    dir_ / "log.txt"),
            0)
      << lines_of(dir_ / "log.txt").back();
  EXPECT_EQ(metrics_column(dir_ / "run/metrics.csv", "train", "lr"),
            (std::vector<double>{0.01, 0.04, 0.02}));
  const std::string recipe = read_text(dir_ / "run/recipe.toml");
  EXPECT_NE(recipe.find("warmup_method = 'constant'"), std::string::npos) << recipe;
  EXPECT_NE(recipe.find("warmup_decay = 0.25"), std::string::npos) << recipe;
}

// torchvision's reference script's names for the settings afinar has under timm's (or its own)
// names resolve to the same recipe.
TEST_F(TrainCli, TorchvisionFlagNamesResolveToTheSameRecipe) {
  const auto recipe_of = [&](const std::string& name, const std::string& flags) {
    const std::string out = dir_ / name;
    EXPECT_EQ(run_cli("train --model resnet18 -b 8 --epochs 2 --val-split 0.25 --max-steps 0 " +
                          flags + " --output " + out,
                      dir_ / (name + ".txt")),
              0)
        << lines_of(dir_ / (name + ".txt")).back();
    std::string recipe = read_text(out + "/recipe.toml");
    const size_t at = recipe.find(out);
    EXPECT_NE(at, std::string::npos) << recipe;
    return recipe.erase(at, out.size());  // the output directories differ
  };
  for (const auto& [schedule, torchvision_schedule] :
       {std::pair{"--sched step", "--lr-scheduler steplr"},
        std::pair{"--sched cosine", "--lr-scheduler cosineannealinglr"},
        std::pair{"--sched exponential", "--lr-scheduler exponentiallr"}}) {
    const std::string ours = recipe_of(
        "ours",
        detail::concat("--data-dir ", dir_ / "data", " ", schedule,
                       " --image-size 32 --resize 36 --train-crop 28 --smoothing 0.1 --mixup 0.2 "
                       "--cutmix 1.0 --clip-grad 5 --weight-decay 1e-4 --decay-epochs 3 "
                       "--decay-rate 0.5 --min-lr 1e-5 --reprob 0.1 --log-interval 1"));
    const std::string theirs = recipe_of(
        "theirs",
        detail::concat("--data-path ", dir_ / "data", " ", torchvision_schedule,
                       " --val-crop-size 32 --val-resize-size 36 --train-crop-size 28 "
                       "--label-smoothing 0.1 --mixup-alpha 0.2 --cutmix-alpha 1.0 "
                       "--clip-grad-norm 5 --wd 1e-4 --lr-step-size 3 --lr-gamma 0.5 --lr-min "
                       "1e-5 --random-erase 0.1 --print-freq 1"));
    EXPECT_EQ(theirs, ours) << torchvision_schedule;
    EXPECT_NE(ours.find("smoothing = 0.1"), std::string::npos) << ours;
  }
}

// --eval-metric loss: best.h5 is the epoch of the lowest validation loss, whatever its accuracy.
TEST_F(TrainCli, EvalMetricLossPicksTheLowestValidationLoss) {
  const std::string out = dir_ / "run";
  ASSERT_EQ(run_cli("train --data-dir " + (dir_ / "data") +
                        " --epochs 3 -b 8 --image-size 32 --val-split 0.25 --lr 0.05 --seed 2"
                        " --eval-metric loss --output " +
                        out,
                    dir_ / "log.txt"),
            0)
      << lines_of(dir_ / "log.txt").back();
  const std::vector<double> val_loss = metrics_column(out + "/metrics.csv", "val", "loss");
  ASSERT_EQ(val_loss.size(), 3u);
  const int64_t lowest = std::min_element(val_loss.begin(), val_loss.end()) - val_loss.begin();
  std::string end;
  for (const auto& l : lines_of(out + "/events.jsonl"))
    if (l.find("\"event\": \"end\"") != std::string::npos) end = l;
  EXPECT_NE(end.find("\"best_epoch\": " + std::to_string(lowest)), std::string::npos) << end;
  EXPECT_NE(end.find("\"eval_metric\": \"loss\""), std::string::npos) << end;
}

// The same with channels-last: the checkpoint holds NCHW weights and optimizer state, which the
// resumed run puts back into NHWC parameters.
TEST_F(TrainCli, ChannelsLastResumeIsBitExact) {
  expect_resume_bit_exact(dir_, " --channels-last");
}

// Mixup and CutMix draw from (seed, step): the resumed run mixes its batches as the
// uninterrupted one did.
TEST_F(TrainCli, MixupAndCutmixResumeBitExact) {
  expect_resume_bit_exact(dir_, " --mixup 0.4 --cutmix 1.0 --smoothing 0.1");
  EXPECT_NE(read_text(dir_ / "a.txt")
                .find("batch mixing: Mixup(mixup_alpha=0.4, cutmix_alpha=1, prob=1, "
                      "switch_prob=0.5, mode=batch)"),
            std::string::npos)
      << read_text(dir_ / "a.txt");
  EXPECT_NE(read_text(dir_ / "a/recipe.toml").find("cutmix = 1.0"), std::string::npos)
      << read_text(dir_ / "a/recipe.toml");
}

// --validation-batch-size: validation and test run in batches of their own size; the figures are
// the same (eval mode: each image's logits do not depend on its batch).
TEST_F(TrainCli, ValidationBatchSizeLeavesTheFiguresAlone) {
  one_epoch_run(dir_, " --test-split 0 --lr 0");
  const std::vector<double> loss = metrics_column(dir_ / "run/metrics.csv", "val", "loss");
  const std::vector<double> acc = metrics_column(dir_ / "run/metrics.csv", "val", "acc");
  one_epoch_run(dir_, " --test-split 0 --lr 0 --validation-batch-size 5");
  EXPECT_NE(read_text(dir_ / "run/recipe.toml").find("validation_batch_size = 5"),
            std::string::npos);
  const std::vector<double> loss5 = metrics_column(dir_ / "run/metrics.csv", "val", "loss");
  ASSERT_EQ(loss5.size(), 1u);
  EXPECT_NEAR(loss5[0], loss.at(0), 1e-5 * loss.at(0));  // float32 sums in another grouping
  EXPECT_EQ(metrics_column(dir_ / "run/metrics.csv", "val", "acc"), acc);
}

// --mixup-off-epoch 1: the second epoch trains unmixed, as a run of one mixed epoch resumed
// without --mixup does (bit for bit); mixing both epochs ends elsewhere.
TEST_F(TrainCli, MixupOffEpochTrainsTheLaterEpochsUnmixed) {
  const std::string common = "train --data-dir " + (dir_ / "data") +
                             " --model resnet18 --epochs 2 -b 8 --image-size 32 --val-split 0.25"
                             " --opt adamw --lr 1e-3 --workers 2 --seed 5 --smoothing 0.1";
  auto run = [&](const std::string& flags, const std::string& out) {
    ASSERT_EQ(run_cli(common + flags + " --output " + (dir_ / out), dir_ / "log.txt"), 0)
        << lines_of(dir_ / "log.txt").back();
  };
  run(" --mixup 1.0 --mixup-off-epoch 1", "off");
  EXPECT_NE(read_text(dir_ / "log.txt").find("mode=batch) until epoch 1"), std::string::npos)
      << read_text(dir_ / "log.txt");
  run(" --mixup 1.0 --max-steps 6", "resumed");  // 6 updates: the first epoch
  run(" --resume " + (dir_ / "resumed/checkpoint.h5"), "resumed");
  run(" --mixup 1.0", "mixed");
  const io::Weights off = io::load_weights(dir_ / "off/last.h5");
  const io::Weights resumed = io::load_weights(dir_ / "resumed/last.h5");
  const io::Weights mixed = io::load_weights(dir_ / "mixed/last.h5");
  for (const auto& [key, t] : off.state_dict)
    testing::expect_identical(resumed.state_dict.at(key), t, key);
  EXPECT_GT(
      testing::max_relative_error(mixed.state_dict.at("fc.weight"), off.state_dict.at("fc.weight")),
      0);
}

// --model-ema: each epoch validates the trained weights (val) and their average (val_ema), the
// average fills last.h5 and best.h5 and the checkpoint keeps both; a resume continues the average
// where it stopped (a restart from the trained weights would end elsewhere).
TEST_F(TrainCli, ModelEmaValidatesTheAverageAndResumesBitExact) {
  expect_resume_bit_exact(dir_, " --model-ema --model-ema-decay 0.9 --model-ema-warmup");
  EXPECT_EQ(metrics_column(dir_ / "a/metrics.csv", "val", "acc").size(), 2u);
  EXPECT_EQ(metrics_column(dir_ / "a/metrics.csv", "val_ema", "acc").size(), 2u);
  const train::Checkpoint ck = train::load_checkpoint(dir_ / "a/checkpoint.h5");
  ASSERT_EQ(ck.ema.keys(), ck.model.keys());
  const io::Weights last = io::load_weights(dir_ / "a/last.h5");
  bool averaged = false;  // the average is not the trained weights
  for (const auto& [key, t] : ck.ema) {
    testing::expect_identical(last.state_dict.at(key), t, "last.h5 " + key);
    if (key.ends_with("num_batches_tracked")) {
      testing::expect_identical(t, ck.model.at(key), "counter " + key);
    } else {
      averaged |= testing::max_relative_error(t, ck.model.at(key)) > 0;
    }
  }
  EXPECT_TRUE(averaged);
  EXPECT_NE(read_text(dir_ / "a/recipe.toml").find("model_ema_warmup = true"), std::string::npos)
      << read_text(dir_ / "a/recipe.toml");
}

// The average follows the update count: decay 1 keeps what the first update (decay 0) copied,
// the weights after one step, while its counters follow the model; decay 0 copies every update.
TEST_F(TrainCli, ModelEmaDecaysCountOptimizerUpdates) {
  const std::string common = "train --data-dir " + (dir_ / "data") +
                             " --model resnet18 -b 8 --image-size 32 --val-split 0.25"
                             " --opt sgd --lr 0.05 --workers 2 --seed 5";
  ASSERT_EQ(run_cli(common + " --max-steps 1 --output " + (dir_ / "one"), dir_ / "one.txt"), 0)
      << lines_of(dir_ / "one.txt").back();
  const train::Checkpoint one = train::load_checkpoint(dir_ / "one/checkpoint.h5");
  for (const char* decay : {"1", "0"}) {
    SCOPED_TRACE(decay);
    const std::string out = dir_ / (std::string("ema") + decay);
    ASSERT_EQ(
        run_cli(common + " --epochs 2 --model-ema --model-ema-decay " + decay + " --output " + out,
                dir_ / "ema.txt"),
        0)
        << lines_of(dir_ / "ema.txt").back();
    const train::Checkpoint ck = train::load_checkpoint(out + "/checkpoint.h5");
    ASSERT_EQ(ck.trainer.step, 12);
    for (const auto& [key, t] : ck.ema) {
      const bool counter = key.ends_with("num_batches_tracked");
      const Tensor& want =
          std::string(decay) == "0" || counter ? ck.model.at(key) : one.model.at(key);
      testing::expect_identical(t, want, key);
    }
  }
}

// Gradient accumulation: 45 images in batches of 8 are 6 batches, 3 updates of 2 batches per
// epoch; --max-steps 4 stops after the first update of epoch 2, at its batch 2, and the resume
// goes on from there. Per-update schedules count updates (onecycle over 6).
TEST_F(TrainCli, GradientAccumulationResumesBitExact) {
  const std::string common = "train --data-dir " + (dir_ / "data") +
                             " --model resnet18 --epochs 2 -b 8 --image-size 32 --val-split 0.25"
                             " --opt adamw --lr 1e-3 --workers 2 --seed 5 --sched onecycle"
                             " --grad-accum-steps 2";
  ASSERT_EQ(run_cli(common + " --output " + (dir_ / "a"), dir_ / "a.txt"), 0)
      << lines_of(dir_ / "a.txt").back();
  ASSERT_EQ(run_cli(common + " --max-steps 4 --output " + (dir_ / "b"), dir_ / "b1.txt"), 0)
      << lines_of(dir_ / "b1.txt").back();
  const train::Checkpoint stopped = train::load_checkpoint(dir_ / "b/checkpoint.h5");
  EXPECT_EQ(stopped.trainer.step, 4);
  EXPECT_EQ(stopped.trainer.data_position, 2);
  ASSERT_EQ(
      run_cli(common + " --resume " + (dir_ / "b/checkpoint.h5") + " --output " + (dir_ / "b"),
              dir_ / "b2.txt"),
      0)
      << lines_of(dir_ / "b2.txt").back();
  const train::Checkpoint done = train::load_checkpoint(dir_ / "b/checkpoint.h5");
  EXPECT_EQ(done.trainer.step, 6);
  EXPECT_EQ(done.scheduler.last_epoch, 6);
  const io::Weights a = io::load_weights(dir_ / "a/last.h5");
  const io::Weights b = io::load_weights(dir_ / "b/last.h5");
  for (const auto& [key, t] : a.state_dict) testing::expect_identical(b.state_dict.at(key), t, key);
}

// And in float16 with loss scaling: the checkpoint carries the GradScaler's scale and growth
// count (/scaler).
TEST_F(TrainCli, Float16AmpResumeIsBitExact) {
  expect_resume_bit_exact(dir_, " --amp --amp-dtype float16");
  EXPECT_NE(read_text(dir_ / "a/recipe.toml").find("amp_dtype = 'float16'"), std::string::npos)
      << read_text(dir_ / "a/recipe.toml");
  const train::Checkpoint ck = train::load_checkpoint(dir_ / "b/checkpoint.h5");
  ASSERT_FALSE(ck.scaler.empty());
  // Early steps overflowed float16 at 2^16 and backed the scale off: a resume that lost the
  // scaler's state would restart at 2^16, overflow again and end elsewhere.
  EXPECT_LT(ck.scaler.at("scale").item<double>(), 65536.0);
}

// --patience 1: the run stops after the first epoch whose validation accuracy is not better than
// the best so far (lr 0 keeps the weights; only BN statistics move), says so in events.jsonl and
// writes no row after it. The run is seeded, so where it stops is fixed for this data.
TEST_F(TrainCli, EarlyStoppingAfterPatienceEpochs) {
  const std::string out = dir_ / "early";
  ASSERT_EQ(run_cli("train --data-dir " + (dir_ / "data") +
                        " --epochs 6 -b 16 --image-size 32 --lr 0 --patience 1 --output " + out,
                    dir_ / "log.txt"),
            0);
  int64_t epoch = -1, best = -1;
  for (const auto& l : lines_of(out + "/events.jsonl"))
    if (std::sscanf(l.c_str(), "{\"event\": \"early_stop\", \"epoch\": %ld, \"best_epoch\": %ld",
                    &epoch, &best) == 2)
      break;
  ASSERT_GE(epoch, 1) << "no early_stop event";
  EXPECT_EQ(epoch - best, 1);
  EXPECT_LT(epoch, 5);
  // Header, train and val rows up to `epoch`, and the test row.
  EXPECT_EQ(lines_of(out + "/metrics.csv").size(), size_t(1 + 2 * (epoch + 1) + 1));
}

}  // namespace
}  // namespace afinar
