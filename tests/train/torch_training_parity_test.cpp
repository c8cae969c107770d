// A short CPU fine-tuning run equals PyTorch's, step for step (issue 6, item 8).
//
// PyTorch (tools/fixtures/torch_training_run.py, into the test's temporary folder) builds
// torchvision's resnet18 with its own seeded initialisation and pretrained-like BatchNorm
// statistics, a fixed sequence of random 64x64 batches, and fine-tunes it in train mode with label
// smoothing in two stages: SGD (momentum, dampening, weight decay) on the last block and the
// head, then AdamW with two parameter groups (body, head) after unfreezing the block before it,
// everything else staying frozen. afinar loads the same initial state_dict through its torch.save
// reader into nn::create_model, freezes with the same glob patterns, and runs the same steps
// through train::train_epoch (what `afinar train` runs) over a DataLoader of the same tensors in
// the same order. Every step's loss and every tensor of the state_dict after each stage (weights,
// BatchNorm running statistics and num_batches_tracked, frozen layers included) must agree within
// 1e-4 relative, the bound of issue 6; frozen parameters must not change at all. The worst
// figures are printed. Skipped when /usr/bin/python3 lacks torch or torchvision.
//
// Why the run looks as it does: a float32 training trajectory is only reproducible to 1e-4 where
// it is well-conditioned. Two correct implementations differ in rounding (~1e-6 relative here);
// where a ReLU input lies within that of zero, one passes the element's gradient and the other
// does not, and in a 2x2 or 4x4 feature map that one element changes a gradient by percent, which
// later steps amplify. Measured with PyTorch alone: training every layer with SGD at lr 0.01 from
// torchvision's initialisation, its float32 and float64 runs end up to 10% apart in some tensors
// (BatchNorm biases start at zero there, so after a few steps they are rounding-sized and any
// relative comparison of them measures noise). Hence: pretrained-like BatchNorm parameters, only
// the last two blocks training (backward then goes through no other ReLU), fine-tuning step
// sizes, and a float64 repeat of the run by the script: afinar must end within the bound of
// PyTorch's float32 run or of its float64 one, and the test prints how far those two are apart.
// Flips stay possible: on an AVX-512 CPU, over data seeds 1-12, afinar is within 2e-5 of PyTorch
// in 10; with seed 5 afinar ends 1.3e-3 from both PyTorch runs, and so does PyTorch's own float32
// run when its initial weights are perturbed by one ulp (one trial of three). On an AVX2 CPU
// (AMD EPYC), PyTorch's float32 run with seed 1 flips in the AdamW stage and ends 4e-3 from its
// float64 run, while afinar stays on the float64 trajectory. A change of rounding in afinar can
// move this test onto such a flip: a real error fails with every kDataSeed, a flip with few.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "afinar/data/loader.h"
#include "afinar/io/torch_file.h"
#include "afinar/nn/freeze.h"
#include "afinar/nn/models.h"
#include "afinar/optim/adam.h"
#include "afinar/optim/sgd.h"
#include "afinar/train/epoch.h"
#include "testing/compare.h"
#include "testing/fixtures.h"
#include "testing/python.h"
#include "testing/raw_file.h"
#include "testing/temp_dir.h"

namespace afinar {
namespace {

using Patterns = std::vector<std::string>;

// The run, stated once: the script receives every value from here on its command line.
constexpr int64_t kClasses = 10, kBatch = 4, kSize = 64, kDataSeed = 1;
constexpr double kSmoothing = 0.1;
// Stage 1: the last block and the head. Weight decays here and in the head group are larger than
// usual so that a wrong one shows beyond the bound within three steps (half of either does).
constexpr int64_t kSgdSteps = 3;
const Patterns kSgdTrain = {"layer4.1.*", "fc.*"};
const optim::SgdOptions kSgd{.lr = 0.01, .momentum = 0.9, .dampening = 0.1, .weight_decay = 1e-2};
// Stage 2: the block before unfrozen too; the head has its own lr, betas, eps and weight decay.
constexpr int64_t kAdamwSteps = 3;
const Patterns kAdamwTrain = {"layer4.0.*"}, kHead = {"fc.*"};
// eps well above float32 gradient noise (~1e-7 here): Adam divides by sqrt(v) + eps, so with the
// default 1e-8 a gradient at rounding level becomes a full lr-sized step of either sign, and two
// correct implementations differ by 2·lr in such elements, far beyond 1e-4 of the weights.
const optim::AdamOptions kBody{.lr = 1e-4, .eps = 1e-4, .weight_decay = 0.05};
const optim::AdamOptions kHeadOptions{
    .lr = 1e-3, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-3, .weight_decay = 0.1};

// Issue 6's bound on max |afinar - torch| / max |torch| of each tensor. It is not loose: the
// float32 sums of a step reach 4608 terms (the 3x3x512 convolutions), eps·sqrt(n)·8 ≈ 6e-5 for
// one of them by the rule of tests/testing/compare.h, and six steps compound them.
constexpr double kRelTol = 1e-4;

optim::Options sgd_options(const optim::SgdOptions& o) {
  return {{"lr", o.lr},
          {"momentum", o.momentum},
          {"dampening", o.dampening},
          {"weight_decay", o.weight_decay}};
}

optim::Options adam_options(const optim::AdamOptions& o) {
  return {{"lr", o.lr},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay}};
}

// "lr=0.01,momentum=0.9,...", every value with all its digits.
std::string script_arg(const optim::Options& options) {
  std::ostringstream s;
  s.precision(17);
  for (const auto& [key, value] : options) s << (s.tellp() > 0 ? "," : "") << key << "=" << value;
  return s.str();
}

// 'layer4.*,fc.*', quoted for the shell.
std::string script_arg(const Patterns& patterns) {
  std::string s;
  for (const std::string& p : patterns) s += (s.empty() ? "" : ",") + p;
  return "'" + s + "'";
}

std::string script_command(const testing::TempDir& dir) {
  const std::string script = testing::test_data_path("../../tools/fixtures/torch_training_run.py");
  std::ostringstream c;
  c << "/usr/bin/python3 " << script << " " << dir.path() << " --float64 --classes " << kClasses
    << " --batch " << kBatch << " --size " << kSize << " --seed " << kDataSeed << " --smoothing "
    << kSmoothing << " --sgd-steps " << kSgdSteps << " --sgd-train " << script_arg(kSgdTrain)
    << " --sgd " << script_arg(sgd_options(kSgd)) << " --adamw-steps " << kAdamwSteps
    << " --adamw-train " << script_arg(kAdamwTrain) << " --head " << script_arg(kHead)
    << " --adamw-body " << script_arg(adam_options(kBody)) << " --adamw-head "
    << script_arg(adam_options(kHeadOptions));
  return c.str();
}

// Runs `steps` optimizer steps through train_epoch on rows [first·kBatch, (first+steps)·kBatch)
// of the data, in order, and returns each step's mean loss. train_epoch reports the running mean
// after every step (log_interval 1); each step's own loss is the difference of running sums.
std::vector<double> train_steps(nn::Module& model, optim::Optimizer& opt, const Tensor& images,
                                const Tensor& labels, int64_t first, int64_t steps) {
  const int64_t offset = first * kBatch;
  const std::vector<int64_t> y = labels.to_vector<int64_t>();
  data::DataLoader loader(steps * kBatch,
                          [&](int64_t i, Generator&) {
                            const int64_t row = offset + i;
                            return data::Example{
                                images.slice(0, row, row + 1).reshape({3, kSize, kSize}),
                                y[size_t(row)]};
                          },
                          {.batch_size = kBatch});
  loader.start_epoch(0);
  std::vector<double> losses;
  double sum = 0;
  int64_t samples = 0;
  const auto record = [&](const train::Progress& p) {
    if (p.samples == samples) return;  // the end-of-epoch report repeats the last step
    const double new_sum = p.loss * double(p.samples);
    losses.push_back((new_sum - sum) / double(p.samples - samples));
    sum = new_sum;
    samples = p.samples;
  };
  int64_t global_step = first;
  train::train_epoch(model, loader, opt, kClasses,
                     {.label_smoothing = kSmoothing, .log_interval = 1}, global_step, nullptr,
                     record);
  return losses;
}

struct Worst {
  double error = 0;
  std::string key;
  void add(double e, const std::string& k) {
    if (e < error) return;
    error = e;
    key = k;
  }
};

// The worst relative error of `got` against each float tensor of `want`, among parameters and
// among buffers. Keys and shapes must agree, int64 counters exactly; dtypes too unless `want` is
// the float64 run.
struct StateErrors {
  Worst param, buffer;
  double worst() const { return std::max(param.error, buffer.error); }
  std::string str() const {
    return detail::concat(param.error, " in weights (", param.key, "), ", buffer.error,
                          " in buffers (", buffer.key, ")");
  }
};

StateErrors state_errors(const StateDict& got, const StateDict& want, const nn::Module& model,
                         const std::string& what) {
  EXPECT_EQ(got.keys(), want.keys()) << what;
  StateDict params;
  for (const auto& [key, t] : model.named_parameters()) params.insert(key, t);
  StateErrors errors;
  for (const auto& [key, w] : want) {
    if (!got.contains(key)) continue;  // reported by the key comparison
    const Tensor& g = got.at(key);
    EXPECT_EQ(g.shape(), w.shape()) << what << ": " << key;
    if (w.dtype() != DType::F64) {
      EXPECT_EQ(g.dtype(), w.dtype()) << what << ": " << key;
    }
    if (g.shape() != w.shape()) continue;
    if (w.dtype() == DType::I64) {
      EXPECT_EQ(g.to_vector<int64_t>(), w.to_vector<int64_t>()) << what << ": " << key;
      continue;
    }
    (params.contains(key) ? errors.param : errors.buffer)
        .add(testing::max_relative_error(g, w), key);
  }
  std::printf("[ parity   ] %s: worst relative error %s\n", what.c_str(), errors.str().c_str());
  return errors;
}

// After each stage: afinar's state within kRelTol of PyTorch's float32 run or of its float64 run
// (see the opening comment: a float32 run may take a ReLU flip that another float32 run does not,
// and then lies on neither of the others' trajectories; a wrong rule is far from both).
void expect_stage_matches(const nn::Module& model, const testing::TempDir& dir,
                          const std::string& file, const std::string& stage) {
  const StateDict torch32 = io::load_torch_file(dir / file);
  const StateDict torch64 = io::load_torch_file(dir / ("f64_" + file));
  state_errors(torch32, torch64, model, stage + ", PyTorch float32 vs float64");
  const StateDict state = model.state_dict();
  const StateErrors to32 = state_errors(state, torch32, model, stage + ", afinar vs PyTorch");
  const StateErrors to64 =
      state_errors(state, torch64, model, stage + ", afinar vs PyTorch float64");
  EXPECT_LE(std::min(to32.worst(), to64.worst()), kRelTol)
      << stage << ": afinar differs from both of PyTorch's runs (float32: " << to32.str()
      << "; float64: " << to64.str()
      << "). If only a few tensors do, by ~1e-3, try other kDataSeed values: see the opening "
         "comment on ReLU flips";
}

void expect_losses_match(const std::vector<double>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    const double e = std::abs(got[k] - double(want[k])) / std::abs(double(want[k]));
    EXPECT_LE(e, kRelTol) << "step " << k + 1 << ": loss " << got[k] << ", PyTorch's " << want[k];
    worst = std::max(worst, e);
  }
  std::printf("[ parity   ] %zu step losses: worst relative error %.3g\n", got.size(), worst);
}

std::vector<Tensor> params_where(const nn::Module& model, bool head) {
  std::vector<Tensor> out;
  for (const auto& [name, p] : model.named_parameters()) {
    const bool in_head = std::any_of(kHead.begin(), kHead.end(), [&](const std::string& pattern) {
      return nn::glob_match(pattern, name);
    });
    if (in_head == head) out.push_back(p);
  }
  return out;
}

// Copies of the parameters frozen now, to check after a stage that they did not move at all.
using Snapshot = std::vector<std::pair<std::string, Tensor>>;
Snapshot frozen_parameters(const nn::Module& model) {
  Snapshot s;
  for (const auto& [name, p] : model.named_parameters())
    if (!p.requires_grad()) s.emplace_back(name, p.clone());
  return s;
}

void expect_unchanged(const nn::Module& model, const Snapshot& before, const std::string& stage) {
  EXPECT_FALSE(before.empty()) << stage << ": nothing frozen, nothing checked";
  const StateDict now = model.state_dict();
  for (const auto& [name, t] : before)
    testing::expect_identical(now.at(name), t, stage + ": " + name);
}

TEST(TorchTrainingParity, ShortFineTuningRunMatchesPyTorchStepForStep) {
  SKIP_WITHOUT_TORCH();
  testing::TempDir dir;
  const testing::Result made = testing::run(script_command(dir));
  ASSERT_EQ(made.code, 0) << made.output;
  std::printf("[ parity   ] %s", made.output.c_str());

  const int64_t n = kBatch * (kSgdSteps + kAdamwSteps);
  const Tensor images = testing::read_raw<float>(dir / "images.f32", {n, 3, kSize, kSize});
  const Tensor labels = testing::read_raw<int64_t>(dir / "labels.i64", {n});
  const std::vector<float> torch_losses =
      testing::read_raw<float>(dir / "losses.f32", {kSgdSteps + kAdamwSteps}).to_vector<float>();

  nn::ModulePtr model = nn::create_model("resnet18", kClasses);
  model->load_state_dict(io::load_torch_file(dir / "initial.pth"), /*strict=*/true);

  nn::freeze(*model, {"*"});
  nn::unfreeze(*model, kSgdTrain);
  Snapshot frozen = frozen_parameters(*model);
  optim::SGD sgd(model->parameters(), kSgd);  // frozen ones included: SGD must skip them
  std::vector<double> losses = train_steps(*model, sgd, images, labels, 0, kSgdSteps);
  expect_stage_matches(*model, dir, "after_sgd.pth", "after SGD");
  expect_unchanged(*model, frozen, "SGD");

  nn::unfreeze(*model, kAdamwTrain);
  frozen = frozen_parameters(*model);
  optim::AdamW adamw(params_where(*model, false), kBody);  // frozen ones included
  adamw.add_param_group(params_where(*model, true), adam_options(kHeadOptions));
  const std::vector<double> adamw_losses =
      train_steps(*model, adamw, images, labels, kSgdSteps, kAdamwSteps);
  losses.insert(losses.end(), adamw_losses.begin(), adamw_losses.end());
  expect_stage_matches(*model, dir, "final.pth", "after AdamW");
  expect_unchanged(*model, frozen, "AdamW");
  expect_losses_match(losses, torch_losses);
}

}  // namespace
}  // namespace afinar
