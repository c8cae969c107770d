// Checkpoints: every field round-trips (tensors bit-exact, 64-bit integers exact, unsigned ones
// above INT64_MAX included); a real AdamW (two groups, amsgrad) with a cosine schedule and the
// default generator driving the gradients resumes from the file bit for bit; a checkpoint reads as
// a plain weights file (io::load_weights, `afinar export`, `afinar predict`); truncated, foreign
// and malformed files are errors that say what is wrong; a failed save leaves no file; a flipped
// bit is caught by the SHA-256 and --resume's load_resume_point then reads the previous checkpoint,
// which every save keeps;
// a full disk (RLIMIT_FSIZE) and an unwritable folder fail the save and keep the last checkpoint.
#include "afinar/train/checkpoint.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <type_traits>

#include "afinar/autograd/grad_mode.h"
#include "afinar/core/rng.h"
#include "afinar/io/hdf5.h"
#include "afinar/io/torch_file.h"
#include "afinar/nn/models.h"
#include "afinar/ops/elementwise.h"
#include "afinar/optim/adam.h"
#include "testing/cli.h"
#include "testing/compare.h"
#include "testing/errors.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace afinar::train {
namespace {

using testing::expect_identical;
namespace fs = std::filesystem;

using testing::error_of;

#define EXPECT_ERROR_HAS(statement, fragment)                                     \
  do {                                                                            \
    const std::string message_ = error_of([&] { statement; });                    \
    EXPECT_NE(message_.find(fragment), std::string::npos) << "got: " << message_; \
  } while (0)

size_t files_in(const std::string& dir) {
  return size_t(std::distance(fs::directory_iterator(dir), {}));
}

void expect_same_state(const StateDict& got, const StateDict& want) {
  ASSERT_EQ(got.keys(), want.keys());
  for (const auto& [k, t] : want) expect_identical(got.at(k), t, k);
}

// A checkpoint with every field away from its default.
Checkpoint full_checkpoint() {
  Generator gen(11);
  Checkpoint ck;
  ck.model.insert("features.0.weight", randn({4, 3, 3, 3}, DType::F32, gen));
  ck.model.insert("bn.running_var", full({4}, -0.0));  // the sign of zero survives
  ck.model.insert("bn.num_batches_tracked", full({}, double(int64_t(1) << 40), DType::I64));
  ck.model.insert("fc.weight", randn({2, 4}, DType::F32, gen));
  ck.meta.arch = "vgg11";
  ck.meta.num_classes = 2;
  ck.meta.source = "vgg11-8a719046.pth";
  ck.meta.source_sha256 = std::string(64, 'e');
  ck.meta.preprocessing = {232,
                           200,
                           data::CropMode::Squash,
                           data::Interpolation::Bicubic,
                           {0.5, 0.25, 0.125},
                           {1.5, 2.5, 3.5}};
  ck.meta.class_names = {"chat", "perro"};
  const int64_t big_step = (int64_t(1) << 53) + 1;  // not representable as a double
  ck.optimizer.insert("param_groups.0.num_params", full({}, 2, DType::I64));
  ck.optimizer.insert("param_groups.0.lr", scalar_tensor(1.0 / 3, DType::F64));
  ck.optimizer.insert("param_groups.0.amsgrad", scalar_tensor(1, DType::F64));
  ck.optimizer.insert("state.0.step", full({}, 0, DType::I64));
  ck.optimizer.insert("state.0.exp_avg", randn({4, 3, 3, 3}, DType::F32, gen));
  ck.optimizer.insert("state.1.step", from_vector<int64_t>({big_step}, {}));
  ck.optimizer.insert("state.1.momentum_buffer", randn({2, 4}, DType::F64, gen));
  ck.optimizer_name = "adamw";
  ck.scheduler = {"plateau", 7,
                  SchedulerState::Plateau{3, 2, -std::numeric_limits<double>::infinity()}};
  ck.trainer.stage = 2;
  ck.trainer.epoch = 9;
  ck.trainer.step = big_step;
  ck.trainer.seed = 0xFFFFFFFFFFFFFFF1ull;  // above INT64_MAX: stored bit for bit
  ck.trainer.best_metric = 0.1 + 0.2;
  ck.trainer.best_epoch = 6;
  ck.trainer.data_position = 17;
  ck.trainer.rng_seed = 0x8000000000000000ull;
  ck.trainer.rng_offset = 0x123456789ABCDEF0ull;
  ck.trainer.batch_size = 48;
  ck.trainer.train_samples = 1001;
  ck.trainer.grad_accum_steps = 3;
  ck.trainer.eval_metric = "f1_macro";
  for (const auto& [key, t] : ck.model)  // a weight average: the model's keys, other values
    ck.ema.insert(key, t.dtype() == DType::I64 ? t.clone() : randn(t.shape(), t.dtype(), gen));
  ck.scaler.insert("scale", scalar_tensor(0x1p-3, DType::F64));
  ck.scaler.insert("growth_factor", scalar_tensor(2.0, DType::F64));
  ck.scaler.insert("backoff_factor", scalar_tensor(0.5, DType::F64));
  ck.scaler.insert("growth_interval", full({}, 2000, DType::I64));
  ck.scaler.insert("_growth_tracker", full({}, 1999, DType::I64));
  return ck;
}

// A checkpoint written by hand through the weights writer, bypassing save_checkpoint's checks:
// the attribute `skip` ("group@name") left out, the integer attribute `set` given `value`, and
// `optimizer` written as is.
struct HandMade {
  std::string skip{}, set{};
  int64_t value = 0;
  StateDict optimizer{};
};

void write_by_hand(const std::string& path, const HandMade& h = {}) {
  io::WeightsWriter w(path);
  w.add("fc.bias", zeros({2}));
  hdf5::File& f = w.file();
  auto attr = [&](const std::string& group, const std::string& name, auto value) {
    f.create_group(group);
    const std::string id = group + "@" + name;
    if (id == h.skip) return;
    if constexpr (std::is_same_v<decltype(value), int64_t>) {
      if (id == h.set) value = h.value;
    }
    f.write_attr(group, name, value);
  };
  attr("/optimizer", "name", std::string("sgd"));
  for (const auto& [key, t] : h.optimizer) f.write_tensor("/optimizer/" + key, t);
  attr("/scheduler", "name", std::string("none"));
  attr("/scheduler", "last_epoch", int64_t(0));
  attr("/trainer", "checkpoint_version", kCheckpointVersion);
  for (const char* a : {"stage", "epoch", "step", "seed", "best_epoch", "data_position", "rng_seed",
                        "rng_offset", "batch_size", "train_samples"})
    attr("/trainer", a, int64_t(0));
  attr("/trainer", "grad_accum_steps", int64_t(1));
  attr("/trainer", "best_metric", 0.0);
  attr("/trainer", "eval_metric", std::string("top1"));
  io::WeightsMeta meta;
  meta.arch = "resnet18";
  meta.num_classes = 2;
  // The checksum of the same content as a Checkpoint (all-zero trainer, "none" schedule).
  Checkpoint same;
  same.model.insert("fc.bias", zeros({2}));
  same.meta = meta;
  same.optimizer_name = "sgd";
  same.optimizer = h.optimizer;
  same.trainer.best_metric = 0.0;
  same.trainer.best_epoch = 0;
  attr("/trainer", "sha256", checkpoint_sha256(same));
  w.commit(meta);
}

TEST(Checkpoint, EveryFieldRoundTripsExactly) {
  testing::TempDir dir;
  const Checkpoint ck = full_checkpoint();
  save_checkpoint(dir / "ck.h5", ck);
  EXPECT_EQ(files_in(dir.path()), 1u) << "no temporary left";
  const Checkpoint back = load_checkpoint(dir / "ck.h5");
  expect_same_state(back.model, ck.model);
  expect_same_state(back.optimizer, ck.optimizer);
  EXPECT_EQ(back.optimizer.at("state.1.step").item<int64_t>(), (int64_t(1) << 53) + 1);
  expect_same_state(back.scaler, ck.scaler);
  EXPECT_EQ(back.meta.arch, ck.meta.arch);
  EXPECT_EQ(back.meta.num_classes, ck.meta.num_classes);
  EXPECT_EQ(back.meta.source, ck.meta.source);
  EXPECT_EQ(back.meta.source_sha256, ck.meta.source_sha256);
  EXPECT_EQ(back.meta.preprocessing.resize, 232);
  EXPECT_EQ(back.meta.preprocessing.crop, 200);
  EXPECT_EQ(back.meta.preprocessing.crop_mode, data::CropMode::Squash);
  EXPECT_EQ(back.meta.preprocessing.interpolation, data::Interpolation::Bicubic);
  EXPECT_EQ(back.meta.preprocessing.mean, ck.meta.preprocessing.mean);
  EXPECT_EQ(back.meta.preprocessing.std, ck.meta.preprocessing.std);
  EXPECT_EQ(back.meta.class_names, ck.meta.class_names);
  EXPECT_EQ(back.optimizer_name, "adamw");
  EXPECT_EQ(back.scheduler.name, "plateau");
  EXPECT_EQ(back.scheduler.last_epoch, 7);
  ASSERT_TRUE(back.scheduler.plateau.has_value());
  EXPECT_EQ(back.scheduler.plateau->num_bad_epochs, 3);
  EXPECT_EQ(back.scheduler.plateau->cooldown_counter, 2);
  EXPECT_EQ(back.scheduler.plateau->best, -std::numeric_limits<double>::infinity());
  const TrainerState& t = back.trainer;
  EXPECT_EQ(t.stage, 2);
  EXPECT_EQ(t.epoch, 9);
  EXPECT_EQ(t.step, (int64_t(1) << 53) + 1);
  EXPECT_EQ(t.seed, 0xFFFFFFFFFFFFFFF1ull);
  EXPECT_EQ(std::bit_cast<uint64_t>(t.best_metric), std::bit_cast<uint64_t>(0.1 + 0.2));
  EXPECT_EQ(t.best_epoch, 6);
  EXPECT_EQ(t.data_position, 17);
  EXPECT_EQ(t.rng_seed, 0x8000000000000000ull);
  EXPECT_EQ(t.rng_offset, 0x123456789ABCDEF0ull);
  EXPECT_EQ(t.batch_size, 48);
  EXPECT_EQ(t.train_samples, 1001);
  EXPECT_EQ(t.grad_accum_steps, 3);
  EXPECT_EQ(t.eval_metric, "f1_macro");
  expect_same_state(back.ema, ck.ema);
  EXPECT_TRUE(is_checkpoint(dir / "ck.h5"));

  // The defaults: no plateau counters, no best metric yet (NaN).
  Checkpoint plain;
  plain.model.insert("fc.bias", zeros({2}));
  plain.optimizer_name = "sgd";
  plain.scheduler.name = "step";
  save_checkpoint(dir / "plain.h5", plain);
  const Checkpoint p = load_checkpoint(dir / "plain.h5");
  EXPECT_FALSE(p.scheduler.plateau.has_value());
  EXPECT_TRUE(std::isnan(p.trainer.best_metric));
  EXPECT_EQ(p.trainer.best_epoch, -1);
  EXPECT_TRUE(p.optimizer.empty());
}

// The figures of one run of `steps` steps: parameters, optimizer state and lrs.
struct RunState {
  std::vector<float> w, b;
  StateDict optimizer;
  std::vector<double> lrs;
};

// A training loop in miniature: AdamW with two groups and amsgrad, CosineAnnealingLR stepped
// after every step, gradients drawn from the default generator (so resuming must restore it).
// With `interrupt_at` >= 0 the run stops there, saves a checkpoint, and a fresh "process" (new
// parameters with other values, new optimizer and scheduler, a reseeded default generator) loads
// it and goes on.
constexpr int kSteps = 8;

RunState train(const std::string& checkpoint_path, int interrupt_at) {
  struct Process {
    Tensor w, b;
    std::unique_ptr<optim::AdamW> opt;
    std::unique_ptr<optim::CosineAnnealingLR> sched;
    explicit Process(uint64_t init_seed) {
      Generator gen(init_seed);
      w = randn({6, 5}, DType::F32, gen).set_requires_grad(true);
      b = randn({5}, DType::F32, gen).set_requires_grad(true);
      opt = std::make_unique<optim::AdamW>(
          std::vector<Tensor>{w},
          optim::AdamOptions{.lr = 0.05, .weight_decay = 0.01, .amsgrad = true});
      opt->add_param_group({b}, {{"lr", 0.2}, {"beta1", 0.5}, {"weight_decay", 0.0}});
      sched = std::make_unique<optim::CosineAnnealingLR>(*opt, kSteps, 1e-3);
    }
  };
  manual_seed(5);
  auto p = std::make_unique<Process>(1);
  for (int s = 0; s < kSteps; ++s) {
    if (s == interrupt_at) {
      Checkpoint ck;
      ck.model.insert("w", p->w.detach());
      ck.model.insert("b", p->b.detach());
      ck.optimizer = p->opt->state_dict();
      ck.optimizer_name = p->opt->name();
      ck.scheduler = SchedulerState::of("cosine", *p->sched);
      ck.trainer.step = s;
      ck.trainer.rng_seed = default_generator().seed();
      ck.trainer.rng_offset = default_generator().offset();
      save_checkpoint(checkpoint_path, ck);

      p = std::make_unique<Process>(99);  // other initial values: all must come from the file
      manual_seed(123);                   // another stream: the file's state must win
      const Checkpoint back = load_checkpoint(checkpoint_path);
      {
        NoGradGuard no_grad;
        p->w.copy_(back.model.at("w"));
        p->b.copy_(back.model.at("b"));
      }
      restore_optimizer(back, *p->opt);
      back.scheduler.restore(*p->sched);
      default_generator().set_state(back.trainer.rng_seed, back.trainer.rng_offset);
      EXPECT_EQ(back.trainer.step, s);
    }
    p->w.set_grad(randn({6, 5}, DType::F32, default_generator()) + p->w.detach() * 0.5);
    p->b.set_grad(randn({5}, DType::F32, default_generator()));
    p->opt->step();
    p->sched->step();
  }
  return {p->w.to_vector<float>(), p->b.to_vector<float>(), p->opt->state_dict(),
          p->sched->last_lr()};
}

TEST(Checkpoint, AdamWResumesFromTheFileBitForBit) {
  testing::TempDir dir;
  const RunState whole = train(dir / "unused.h5", -1);
  for (int at : {1, 4, 7}) {
    const RunState resumed = train(dir / "ck.h5", at);
    EXPECT_EQ(resumed.w, whole.w) << "interrupted at " << at;
    EXPECT_EQ(resumed.b, whole.b) << "interrupted at " << at;
    EXPECT_EQ(resumed.lrs, whole.lrs) << "interrupted at " << at;
    expect_same_state(resumed.optimizer, whole.optimizer);
  }
  // The state really holds the amsgrad buffer of both groups, and 8 steps.
  EXPECT_TRUE(whole.optimizer.contains("state.0.max_exp_avg_sq"));
  EXPECT_TRUE(whole.optimizer.contains("state.1.max_exp_avg_sq"));
  EXPECT_EQ(whole.optimizer.at("state.1.step").item<int64_t>(), 8);
}

TEST(Checkpoint, RestoringChecksTheKinds) {
  Tensor w = ones({3}).set_requires_grad(true);
  optim::AdamW adamw({w});
  Checkpoint ck;
  ck.optimizer = adamw.state_dict();
  ck.optimizer_name = "sgd";
  EXPECT_ERROR_HAS(restore_optimizer(ck, adamw),
                   "the saved optimizer is 'sgd' but this run's is 'adamw'");
  optim::StepLR step(adamw, 2);
  optim::ReduceLROnPlateau plateau(adamw);
  const SchedulerState epoch_based = SchedulerState::of("step", step);
  const SchedulerState on_plateau = SchedulerState::of("plateau", plateau);
  EXPECT_ERROR_HAS(epoch_based.restore(plateau), "is not a ReduceLROnPlateau");
  EXPECT_ERROR_HAS(on_plateau.restore(step), "is a ReduceLROnPlateau");
  SchedulerState s = on_plateau;
  s.last_epoch = 4;
  s.plateau->num_bad_epochs = 2;
  s.plateau->best = 0.5;
  s.restore(plateau);
  EXPECT_EQ(plateau.state().last_epoch, 4);
  EXPECT_EQ(plateau.state().num_bad_epochs, 2);
  EXPECT_EQ(plateau.state().best, 0.5);
}

TEST(Checkpoint, LoadsAsAPlainWeightsFile) {
  testing::TempDir dir;
  nn::ModulePtr model = nn::create_model("resnet18", 2);
  io::WeightsMeta meta;
  meta.arch = "resnet18";
  meta.num_classes = 2;
  meta.preprocessing.resize = 40;
  meta.preprocessing.crop = 32;
  meta.class_names = {"cat", "dog"};
  Checkpoint ck;
  ck.model = model->state_dict();
  ck.meta = meta;
  ck.optimizer_name = "sgd";
  save_checkpoint(dir / "ck.h5", ck);
  io::save_weights(dir / "w.h5", ck.model, meta);

  const io::Weights w = io::load_weights(dir / "ck.h5");
  expect_same_state(w.state_dict, ck.model);
  EXPECT_EQ(w.meta.class_names, meta.class_names);
  EXPECT_FALSE(is_checkpoint(dir / "w.h5"));

  // predict gives the same lines from the checkpoint as from the weights file.
  const std::string image = testing::test_data_path("fixtures/decode/jpeg_420.jpg");
  ASSERT_EQ(testing::run_cli("predict --weights " + (dir / "ck.h5") + " --json --logits " + image,
                             dir / "from_ck.txt"),
            0);
  ASSERT_EQ(testing::run_cli("predict --weights " + (dir / "w.h5") + " --json --logits " + image,
                             dir / "from_w.txt"),
            0);
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_FALSE(read(dir / "from_ck.txt").empty());
  EXPECT_EQ(read(dir / "from_ck.txt"), read(dir / "from_w.txt"));

  // export writes the model alone.
  ASSERT_EQ(testing::run_cli("export " + (dir / "ck.h5") + " -o " + (dir / "ck.pth")), 0);
  expect_same_state(io::load_torch_file(dir / "ck.pth"), ck.model);
}

TEST(Checkpoint, TruncatedForeignAndMalformedFilesAreClearErrors) {
  testing::TempDir dir;
  save_checkpoint(dir / "good.h5", full_checkpoint());
  std::string bytes;
  {
    std::ifstream in(dir / "good.h5", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (size_t keep : {bytes.size() / 2, bytes.size() - 1, size_t(100)}) {
    std::ofstream(dir / "truncated.h5", std::ios::binary) << bytes.substr(0, keep);
    EXPECT_ERROR_HAS(load_checkpoint(dir / "truncated.h5"),
                     "cannot read '" + (dir / "truncated.h5") + "': it is truncated");
    EXPECT_FALSE(is_checkpoint(dir / "truncated.h5")) << keep;
  }
  std::ofstream(dir / "text.h5") << "not a checkpoint";
  EXPECT_ERROR_HAS(load_checkpoint(dir / "text.h5"), "not an HDF5 file");
  EXPECT_ERROR_HAS(load_checkpoint(dir / "missing.h5"), "cannot open");
  {
    auto f = hdf5::File::create(dir / "plain.h5");
    f.write_tensor("/x", zeros({2}));
  }
  EXPECT_ERROR_HAS(load_checkpoint(dir / "plain.h5"), "is not an afinar weights file");
  StateDict sd;
  sd.insert("fc.bias", zeros({2}));
  io::WeightsMeta meta;
  meta.arch = "resnet18";
  meta.num_classes = 2;
  io::save_weights(dir / "weights.h5", sd, meta);
  EXPECT_ERROR_HAS(load_checkpoint(dir / "weights.h5"),
                   "is an afinar weights file but not a checkpoint: it has no /optimizer, "
                   "/scheduler, /trainer");

  write_by_hand(dir / "complete.h5");
  EXPECT_NO_THROW(load_checkpoint(dir / "complete.h5"));  // the hand-made layout is complete
  write_by_hand(dir / "no_step.h5", {.skip = "/trainer@step"});
  EXPECT_ERROR_HAS(load_checkpoint(dir / "no_step.h5"), "/trainer group lacks attribute 'step'");
  write_by_hand(dir / "no_name.h5", {.skip = "/optimizer@name"});
  EXPECT_ERROR_HAS(load_checkpoint(dir / "no_name.h5"), "/optimizer group lacks attribute 'name'");
  write_by_hand(dir / "v2.h5", {.set = "/trainer@checkpoint_version", .value = 2});
  EXPECT_ERROR_HAS(load_checkpoint(dir / "v2.h5"), "is a checkpoint of version 2");
  write_by_hand(dir / "negative.h5", {.set = "/trainer@data_position", .value = -3});
  EXPECT_ERROR_HAS(load_checkpoint(dir / "negative.h5"),
                   "/trainer@data_position is -3; it must be >= 0");
  write_by_hand(dir / "no_sha.h5", {.skip = "/trainer@sha256"});
  EXPECT_ERROR_HAS(load_checkpoint(dir / "no_sha.h5"), "/trainer group lacks attribute 'sha256'");
  write_by_hand(dir / "other_epoch.h5", {.set = "/trainer@epoch", .value = 1});  // sha of epoch 0
  EXPECT_ERROR_HAS(load_checkpoint(dir / "other_epoch.h5"), "other_epoch.h5 is damaged");
  for (const char* name : {"complete.h5", "no_step.h5", "v2.h5"})
    EXPECT_TRUE(is_checkpoint(dir / name)) << name;  // the groups are there: it claims to be one
  for (const char* name : {"text.h5", "plain.h5", "weights.h5", "missing.h5"})
    EXPECT_FALSE(is_checkpoint(dir / name)) << name;
}

TEST(Checkpoint, MalformedOptimizerStateIsRefusedOnSaveAndLoad) {
  testing::TempDir dir;
  const std::vector<std::pair<std::string, Tensor>> bad = {
      {"momentum", zeros({2})},                                 // no prefix
      {"state.x.step", full({}, 1, DType::I64)},                // index not a number
      {"state.0", zeros({2})},                                  // no field
      {"state.0.step", full({}, 1, DType::F64)},                // step must be int64
      {"param_groups.0.lr", scalar_tensor(0.1, DType::F32)},    // options are float64
      {"param_groups.0.num_params", full({2}, 1, DType::I64)},  // a 0-D counter
      {"state.0.exp_avg", zeros({2}, DType::I64)},              // buffers are floating
      {"state.0.a/b", zeros({2})}};                             // '/' would nest groups
  for (const auto& [key, t] : bad) {
    Checkpoint ck;
    ck.model.insert("fc.bias", zeros({2}));
    ck.optimizer_name = "sgd";
    ck.optimizer.insert(key, t);
    EXPECT_ERROR_HAS(save_checkpoint(dir / "ck.h5", ck), "optimizer state entry '" + key + "'");
    EXPECT_EQ(files_in(dir.path()), 0u) << key;
  }
  // The same check on load: a file whose /optimizer holds a float64 step.
  StateDict f64_step;
  f64_step.insert("state.0.step", scalar_tensor(3, DType::F64));
  write_by_hand(dir / "f64_step.h5", {.optimizer = f64_step});
  EXPECT_ERROR_HAS(load_checkpoint(dir / "f64_step.h5"),
                   "optimizer state entry 'state.0.step' must be a 0-D int64 scalar");
  // The GradScaler's group takes its five keys with PyTorch's dtypes only.
  for (const auto& [key, t] : std::vector<std::pair<std::string, Tensor>>{
           {"scale", scalar_tensor(2, DType::F32)},      // float64
           {"_growth_tracker", zeros({1}, DType::I64)},  // 0-D
           {"loss_scale", scalar_tensor(2, DType::F64)}}) {
    Checkpoint ck;
    ck.model.insert("fc.bias", zeros({2}));
    ck.optimizer_name = "sgd";
    ck.scaler.insert(key, t);
    EXPECT_ERROR_HAS(save_checkpoint(dir / "ck.h5", ck), "GradScaler state entry '" + key + "'");
  }
  // A weight average is the model's keys, shapes and dtypes.
  const Tensor bias = zeros({2});
  for (const auto& [key, t] : std::vector<std::pair<std::string, Tensor>>{
           {"fc.weight", bias}, {"fc.bias", zeros({3})}, {"fc.bias", zeros({2}, DType::F64)}}) {
    Checkpoint ck;
    ck.model.insert("fc.bias", bias);
    ck.optimizer_name = "sgd";
    ck.ema.insert(key, t);
    EXPECT_ERROR_HAS(save_checkpoint(dir / "ck.h5", ck), "the weight average");
  }
}

TEST(Checkpoint, AFailedSaveLeavesNoFileAndKeepsThePreviousOne) {
  testing::TempDir dir;
  const std::string path = dir / "ck.h5";
  const Checkpoint good = full_checkpoint();
  save_checkpoint(path, good);

  Checkpoint bad = good;
  bad.optimizer = StateDict();
  bad.optimizer.insert("state.0.exp_avg", empty({2}, DType::BF16));  // not storable
  EXPECT_THROW(save_checkpoint(path, bad), Error);
  Checkpoint bad_model = good;
  bad_model.model.insert("fc.bias", zeros({2}, DType::F64));  // a weights file holds float32
  EXPECT_THROW(save_checkpoint(path, bad_model), Error);
  Checkpoint no_name = good;
  no_name.optimizer_name.clear();
  EXPECT_ERROR_HAS(save_checkpoint(path, no_name), "optimizer's name is empty");
  Checkpoint bad_meta = good;
  bad_meta.meta.class_names = {"one"};  // 1 name for 2 classes: fails at the very end
  EXPECT_THROW(save_checkpoint(path, bad_meta), Error);

  EXPECT_EQ(files_in(dir.path()), 1u) << "a temporary was left behind";
  expect_same_state(load_checkpoint(path).optimizer, good.optimizer);  // the previous one, intact
  EXPECT_THROW(save_checkpoint(dir / "no/such/folder/ck.h5", good), Error);
  EXPECT_EQ(files_in(dir.path()), 1u);
}

// The file's bytes.
std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Flips one bit of `t`'s bytes in the checkpoint file `path`, where the tensor lies: HDF5 reads
// the file as before, only the checksum sees it.
void flip_a_bit_of(const std::string& path, const Tensor& t) {
  const std::string raw(static_cast<const char*>(t.raw_data()), t.nbytes());
  std::string bytes = bytes_of(path);
  const size_t at = bytes.find(raw);
  ASSERT_NE(at, std::string::npos) << "the tensor is stored contiguously, uncompressed";
  bytes[at + raw.size() / 2] ^= 0x04;
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(Checkpoint, ASaveKeepsThePreviousOneAndResumeFallsBackToIt) {
  testing::TempDir dir;
  const std::string path = dir / "checkpoint.h5", previous = dir / "checkpoint.prev.h5";
  EXPECT_EQ(previous_checkpoint_path(path), previous);
  Checkpoint first = full_checkpoint(), second = full_checkpoint();
  second.trainer.epoch = first.trainer.epoch + 1;
  save_checkpoint(path, first);
  EXPECT_FALSE(fs::exists(previous));  // nothing to keep yet
  save_checkpoint(path, second);
  EXPECT_EQ(files_in(dir.path()), 2u) << "no temporary left";
  EXPECT_EQ(load_checkpoint(previous).trainer.epoch, first.trainer.epoch);
  EXPECT_EQ(load_checkpoint(path).trainer.epoch, second.trainer.epoch);

  const ResumePoint intact = load_resume_point(path);
  EXPECT_EQ(intact.path, path);
  EXPECT_EQ(intact.unusable, "");
  EXPECT_EQ(intact.checkpoint.trainer.epoch, second.trainer.epoch);

  flip_a_bit_of(path, second.model.at("features.0.weight"));
  const std::string message = error_of([&] { load_checkpoint(path); });
  EXPECT_NE(message.find(path + " is damaged: the SHA-256 of its content is"), std::string::npos)
      << message;
  const ResumePoint fallback = load_resume_point(path);
  EXPECT_EQ(fallback.path, previous);
  EXPECT_EQ(fallback.unusable, message.substr(0, message.find('\n')));
  expect_same_state(fallback.checkpoint.model, first.model);

  // Both damaged: one error naming both.
  flip_a_bit_of(previous, first.model.at("features.0.weight"));
  const std::string both = error_of([&] { load_resume_point(path); });
  EXPECT_NE(both.find("cannot resume: " + path + " is damaged"), std::string::npos) << both;
  EXPECT_NE(
      both.find("; and the previous checkpoint cannot be used either: " + previous + " is damaged"),
      std::string::npos)
      << both;
}

// A file system without hard links has a moment, between keep_previous's two renames, with only
// the previous checkpoint on disk; without one, the error is load_checkpoint's own.
TEST(Checkpoint, ResumeTakesThePreviousCheckpointWhenTheNewestIsMissing) {
  testing::TempDir dir;
  const std::string path = dir / "checkpoint.h5";
  EXPECT_NE(error_of([&] { load_resume_point(path); }).find(path), std::string::npos);
  save_checkpoint(path, full_checkpoint());
  save_checkpoint(path, full_checkpoint());
  fs::remove(path);
  const ResumePoint r = load_resume_point(path);
  EXPECT_EQ(r.path, previous_checkpoint_path(path));
  EXPECT_NE(r.unusable.find(path), std::string::npos) << r.unusable;
}

// Runs `save` in a child process whose files may not grow past `limit_bytes` (RLIMIT_FSIZE with
// SIGXFSZ ignored: write() fails with EFBIG, as on a full disk); the error message, "" if none.
std::string error_with_file_size_limit(rlim_t limit_bytes, const std::function<void()>& save,
                                       const std::string& message_file) {
  const pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{limit_bytes, limit_bytes};
    setrlimit(RLIMIT_FSIZE, &limit);
    std::string message;
    try {
      save();
    } catch (const std::exception& e) {
      message = e.what();
    }
    const rlimit none{RLIM_INFINITY, RLIM_INFINITY};
    setrlimit(RLIMIT_FSIZE, &none);  // a hard limit can be lowered only; the file is small
    std::ofstream(message_file) << message;
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  return bytes_of(message_file);
}

TEST(Checkpoint, AFullDiskFailsTheSaveAndKeepsTheCheckpoint) {
  testing::TempDir dir;
  const std::string path = dir / "checkpoint.h5";
  const Checkpoint good = full_checkpoint();
  save_checkpoint(path, good);
  const size_t size = bytes_of(path).size();
  Checkpoint bigger = good;
  bigger.trainer.epoch += 1;
  bigger.model.insert("extra.weight", ones({64, 1024}));  // 256 KiB more than `good`
  // Limits that cut the new file short in its data and near its end (HDF5's metadata at close).
  for (rlim_t limit : {rlim_t(size / 2), rlim_t(size + 200 * 1024), rlim_t(size + 262100)}) {
    const std::string message = error_with_file_size_limit(
        limit, [&] { save_checkpoint(path, bigger); }, dir.path() + "_message.txt");
    EXPECT_FALSE(message.empty()) << "the save did not fail at " << limit << " bytes";
    EXPECT_EQ(files_in(dir.path()), 1u) << "a temporary or a previous copy was left at " << limit;
    EXPECT_EQ(load_checkpoint(path).trainer.epoch, good.trainer.epoch) << limit;
  }
  std::remove((dir.path() + "_message.txt").c_str());
}

}  // namespace
}  // namespace afinar::train
