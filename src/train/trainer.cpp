#include "afinar/train/trainer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <optional>

#include "afinar/core/rng.h"
#include "afinar/data/dataset.h"
#include "afinar/data/image_source.h"
#include "afinar/io/json.h"
#include "afinar/io/weights.h"
#include "afinar/nn/freeze.h"
#include "afinar/nn/models.h"
#include "afinar/optim/adam.h"
#include "afinar/optim/sgd.h"
#include "afinar/train/checkpoint.h"
#include "afinar/train/recipe.h"
#include "afinar/train/run_log.h"

namespace afinar::train {

namespace {

namespace fs = std::filesystem;

// The stage's optimizer over every parameter of `model`: the parameters no GroupConfig claims
// first, with the optimizer's options, then each group with its own options on top.
std::unique_ptr<optim::Optimizer> make_optimizer(const StageConfig& stage, nn::Module& model) {
  const OptimizerConfig& oc = stage.optimizer;
  std::unique_ptr<optim::Optimizer> opt;
  if (oc.name == "sgd")
    opt = std::make_unique<optim::SGD>(std::vector<Tensor>{});
  else if (oc.name == "adam")
    opt = std::make_unique<optim::Adam>(std::vector<Tensor>{});
  else if (oc.name == "adamw")
    opt = std::make_unique<optim::AdamW>(std::vector<Tensor>{});
  else
    AFN_FAIL("unknown optimizer '", oc.name, "': expected sgd, adam or adamw");
  opt->param_groups().clear();
  std::vector<Tensor> rest;
  std::vector<std::vector<Tensor>> claimed(stage.param_groups.size());
  std::vector<size_t> matches(stage.param_groups.size(), 0);
  for (const auto& [name, p] : model.named_parameters()) {
    int owner = -1;
    for (size_t g = 0; g < stage.param_groups.size(); ++g) {
      const auto& patterns = stage.param_groups[g].params;
      if (std::none_of(patterns.begin(), patterns.end(),
                       [&](const std::string& pat) { return nn::glob_match(pat, name); }))
        continue;
      AFN_CHECK(owner < 0, "param_groups: parameter '", name, "' is claimed by group ", owner + 1,
                " and group ", g + 1, "; a parameter belongs to one group");
      owner = int(g);
    }
    (owner < 0 ? rest : claimed[size_t(owner)]).push_back(p);
    if (owner >= 0) ++matches[size_t(owner)];
  }
  opt->add_param_group(rest, oc.options);
  for (size_t g = 0; g < claimed.size(); ++g) {
    AFN_CHECK(matches[g] > 0, "param_groups: group ", g + 1, " (", stage.param_groups[g].params[0],
              "...) matches no parameter");
    optim::Options options = oc.options;
    for (const auto& [key, value] : stage.param_groups[g].options) options[key] = value;
    opt->add_param_group(claimed[g], options);
  }
  return opt;
}

// The stage's per-epoch schedule, behind an optional linear warm-up (from lr/100).
std::unique_ptr<optim::LRScheduler> make_scheduler(const StageConfig& stage,
                                                   optim::Optimizer& opt) {
  const SchedulerConfig& sc = stage.scheduler;
  auto arg = [&](const char* key, double fallback) {
    auto it = sc.args.find(key);
    return it == sc.args.end() ? fallback : it->second;
  };
  const int64_t after_warmup = std::max<int64_t>(stage.epochs - sc.warmup_epochs, 1);
  std::unique_ptr<optim::LRScheduler> main;
  if (sc.name == "none")
    main = std::make_unique<optim::StepLR>(opt, 1, 1.0);  // a constant lr
  else if (sc.name == "step")
    main = std::make_unique<optim::StepLR>(opt, int64_t(arg("step_size", 7)), arg("gamma", 0.1));
  else if (sc.name == "multistep")
    main = std::make_unique<optim::MultiStepLR>(opt, sc.milestones, arg("gamma", 0.1));
  else if (sc.name == "exponential")
    main = std::make_unique<optim::ExponentialLR>(opt, arg("gamma", 0.9));
  else if (sc.name == "cosine")
    main = std::make_unique<optim::CosineAnnealingLR>(
        opt, int64_t(arg("T_max", double(after_warmup))), arg("eta_min", 0));
  else if (sc.name == "cosine_restarts")
    main = std::make_unique<optim::CosineAnnealingWarmRestarts>(
        opt, int64_t(arg("T_0", 10)), int64_t(arg("T_mult", 1)), arg("eta_min", 0));
  else
    AFN_FAIL("unknown schedule '", sc.name,
             "': expected none, step, multistep, exponential, cosine or cosine_restarts");
  if (sc.warmup_epochs <= 0) return main;
  std::vector<std::unique_ptr<optim::LRScheduler>> parts;
  parts.push_back(std::make_unique<optim::LinearLR>(opt, 0.01, 1.0, sc.warmup_epochs));
  parts.push_back(std::move(main));
  return std::make_unique<optim::SequentialLR>(opt, std::move(parts),
                                               std::vector<int64_t>{sc.warmup_epochs});
}

void apply_freezing(const StageConfig& stage, nn::Module& model) {
  if (!stage.freeze.empty()) nn::freeze(model, stage.freeze);
  if (!stage.unfreeze.empty()) nn::unfreeze(model, stage.unfreeze);
}

// Applies the stage's freezing and makes its optimizer and schedule.
struct Stage {
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<optim::LRScheduler> sched;
};
Stage prepare_stage(const StageConfig& stage, size_t index, nn::Module& model) {
  AFN_CHECK(stage.epochs >= 1, "stage ", index + 1, ": epochs must be >= 1, got ", stage.epochs);
  apply_freezing(stage, model);
  AFN_CHECK(nn::count_params(model).trainable > 0, "stage ", index + 1,
            ": every parameter is frozen; unfreeze some (--unfreeze / unfreeze = [...])");
  Stage s;
  s.opt = make_optimizer(stage, model);
  s.sched = make_scheduler(stage, *s.opt);
  return s;
}

// Every stage's settings, checked in order on the model's parameters before any training; the
// model's requires_grad flags are restored afterwards.
void check_stages(const TrainConfig& c, nn::Module& model) {
  AFN_CHECK(!c.stages.empty(), "train: no stage to run");
  std::vector<bool> flags;
  for (const Tensor& p : model.parameters()) flags.push_back(p.requires_grad());
  for (size_t i = 0; i < c.stages.size(); ++i) prepare_stage(c.stages[i], i, model);
  auto params = model.parameters();
  for (size_t i = 0; i < params.size(); ++i) params[i].set_requires_grad(flags[i]);
}

// The model's tensors on the cpu, as a weights file stores them.
StateDict host_state_dict(const nn::Module& model) {
  StateDict out;
  for (const auto& [key, t] : model.state_dict()) out.insert(key, t.cpu());
  return out;
}

ProgressFn progress_printer(std::ostream& log, int64_t epoch, int64_t epochs,
                            const std::string& split) {
  return [&log, epoch, epochs, split](const Progress& p) {
    char line[200];
    std::snprintf(line, sizeof line,
                  "epoch %ld/%ld %-5s %5ld/%-5ld loss %.4f acc %.4f %7.1f img/s %6.1f s",
                  long(epoch + 1), long(epochs), split.c_str(), long(p.step), long(p.steps), p.loss,
                  p.accuracy, p.seconds > 0 ? double(p.samples) / p.seconds : 0.0, p.seconds);
    log << line << "\n" << std::flush;
  };
}

}  // namespace

data::SplitOptions split_options(const TrainConfig& c) {
  const fs::path root(data::expand_user(c.data_dir));
  const bool has_train = fs::is_directory(root / "train");
  const bool has_val =
      has_train && (fs::is_directory(root / "val") || fs::is_directory(root / "valid"));
  const bool has_test = has_train && fs::is_directory(root / "test");
  return {has_val ? 0.0 : c.val_split, has_test ? 0.0 : c.test_split, c.seed};
}

TrainResult run_training(const TrainConfig& c, std::ostream& log,
                         const std::atomic<bool>* interrupt) {
  // ---- everything that can be wrong is checked before the first step ----
  const Device device(c.device);
  check_device_available(device);
  AFN_CHECK(c.batch_size >= 1, "train: batch size must be >= 1, got ", c.batch_size);
  AFN_CHECK(nn::is_model_name(c.model), "train: unknown model '", c.model, "'");
  const data::DatasetSplits splits = data::open_splits(c.data_dir, split_options(c));
  const int64_t classes = int64_t(splits.classes.size());
  AFN_CHECK(c.num_classes == 0 || c.num_classes == classes, "train: --num-classes ", c.num_classes,
            " but the dataset has ", classes, " classes");
  log << splits.describe();

  // The seed drives the model's initialisation and dropout too (torch.manual_seed's role); a
  // resumed run restores the generator's later state from its checkpoint.
  default_generator().set_state(c.seed, 0);
  nn::ModulePtr model = nn::create_model(c.model, classes);
  if (!c.weights.empty()) {
    const io::Weights w = io::load_weights(c.weights);
    const nn::LoadStateDictResult r = model->load_state_dict(w.state_dict, /*strict=*/false);
    log << "weights " << c.weights << ": loaded every tensor"
        << (r.ok() ? "" : " but " + r.str() + " (those keep their initialisation)") << "\n";
  }
  check_stages(c, *model);
  std::optional<Checkpoint> resumed;
  if (!c.resume.empty()) {
    resumed = load_checkpoint(c.resume);
    AFN_CHECK(resumed->meta.arch == c.model && resumed->meta.num_classes == classes,
              "train: ", c.resume, " is a checkpoint of ", resumed->meta.arch, " with ",
              resumed->meta.num_classes, " classes, not of this run's ", c.model, " with ",
              classes);
    AFN_CHECK(resumed->trainer.stage < int64_t(c.stages.size()), "train: ", c.resume,
              " was saved in stage ", resumed->trainer.stage + 1, " but the run has ",
              c.stages.size());
    model->load_state_dict(resumed->model);
  }
  const nn::ParamCounts counts = nn::count_params(*model);
  log << c.model << ": " << counts.total << " parameters\n";
  model->to(device);

  const int64_t resize = std::lround(double(c.image_size) * 256.0 / 224.0);
  const data::Compose eval_tf = data::eval_transform(resize, c.image_size);
  const data::Compose train_tf =
      c.augment ? data::train_transform({.crop = c.image_size}) : eval_tf;
  auto loader = [&](const std::vector<data::Sample>& s, const data::Compose& tf, bool shuffle,
                    uint64_t seed) {
    return std::make_unique<data::DataLoader>(int64_t(s.size()), data::image_source(s, tf),
                                              data::LoaderOptions{.batch_size = c.batch_size,
                                                                  .shuffle = shuffle,
                                                                  .num_workers = c.workers,
                                                                  .seed = seed,
                                                                  .device = device});
  };
  auto train = loader(splits.train, train_tf, c.shuffle, c.seed);
  auto val = splits.val.empty() ? nullptr : loader(splits.val, eval_tf, false, c.seed + 1);
  auto test = splits.test.empty() ? nullptr : loader(splits.test, eval_tf, false, c.seed + 2);

  io::WeightsMeta meta;
  meta.arch = c.model;
  meta.num_classes = classes;
  meta.source = "afinar train " + c.data_dir;
  meta.preprocessing.resize = resize;
  meta.preprocessing.crop = c.image_size;
  meta.class_names = splits.classes;

  // ---- the run ----
  RunLog run_log(c.output);
  {
    std::ofstream recipe(c.output + "/recipe.toml");  // the resolved recipe: reruns this run
    recipe << to_toml(c);
  }
  run_log.event("start", "\"model\": " + io::json_string(c.model) +
                             ", \"data\": " + io::json_string(c.data_dir) +
                             ", \"classes\": " + std::to_string(classes) +
                             ", \"device\": " + io::json_string(device.str()));
  TrainResult result;
  EpochOptions eo{
      .label_smoothing = c.smoothing, .log_interval = c.log_interval, .max_steps = c.max_steps};
  eo.interrupt = interrupt;
  const int64_t total_epochs =
      std::accumulate(c.stages.begin(), c.stages.end(), int64_t(0),
                      [](int64_t n, const StageConfig& s) { return n + s.epochs; });
  if (resumed) {
    result.steps = resumed->trainer.step;
    result.best_epoch = resumed->trainer.best_epoch;
    result.best.accuracy = resumed->trainer.best_metric;
    default_generator().set_state(resumed->trainer.rng_seed, resumed->trainer.rng_offset);
    log << "resuming " << c.resume << " at epoch " << resumed->trainer.epoch + 1 << ", batch "
        << resumed->trainer.data_position << " (step " << result.steps << ")\n";
  }
  const int64_t resume_epoch = resumed ? resumed->trainer.epoch : 0;
  int64_t epoch = 0;  // counted across stages
  double lr = 0;      // of the first group, at the start of the epoch
  bool stopped = false, early_stop = false;
  for (size_t si = 0; si < c.stages.size() && !stopped; ++si) {
    const int64_t stage_end = epoch + c.stages[si].epochs;
    if (stage_end <= resume_epoch) {  // done before the checkpoint: only its freezing carries over
      apply_freezing(c.stages[si], *model);
      epoch = stage_end;
      continue;
    }
    Stage stage = prepare_stage(c.stages[si], si, *model);
    int64_t first_batch = 0;
    if (resumed && resumed->trainer.stage == int64_t(si)) {  // the checkpoint's optimizer is ours
      restore_optimizer(*resumed, *stage.opt);
      resumed->scheduler.restore(*stage.sched);
      first_batch = resumed->trainer.data_position;
      epoch = resume_epoch;
    }
    const nn::ParamCounts counts = nn::count_params(*model);
    log << "stage " << si + 1 << "/" << c.stages.size() << ": " << c.stages[si].epochs
        << " epochs, " << c.stages[si].optimizer.name << ", " << counts.trainable
        << " trainable parameters, " << counts.frozen << " frozen\n";
    run_log.event("stage", "\"stage\": " + std::to_string(si + 1) +
                               ", \"trainable\": " + std::to_string(counts.trainable) +
                               ", \"frozen\": " + std::to_string(counts.frozen));
    // The checkpoint after `batches` of `next_epoch` (0: at its start) with this stage's state.
    auto save = [&](int64_t next_epoch, int64_t batches) {
      TrainerState ts{int64_t(si),
                      next_epoch,
                      result.steps,
                      c.seed,
                      result.best.accuracy,
                      result.best_epoch,
                      batches,
                      default_generator().seed(),
                      default_generator().offset()};
      save_checkpoint(c.output + "/checkpoint.h5",
                      {host_state_dict(*model), meta, stage.opt->state_dict(), stage.opt->name(),
                       SchedulerState::of(c.stages[si].scheduler.name, *stage.sched), ts});
    };
    for (; epoch < stage_end && !stopped; ++epoch, first_batch = 0) {
      if (c.max_steps >= 0 && result.steps >= c.max_steps) {
        stopped = true;
        break;
      }
      lr = stage.opt->param_groups()[0].get("lr");
      train->start_epoch(epoch, first_batch);
      const EpochStats t =
          train_epoch(*model, *train, *stage.opt, classes, eo, result.steps, nullptr,
                      progress_printer(log, epoch, total_epochs, "train"));
      if (t.stopped_early) {  // mid-epoch: keep the position, skip validation
        save(epoch, first_batch + t.steps);
        run_log.event("stopped", "\"epoch\": " + std::to_string(epoch) +
                                     ", \"batches\": " + std::to_string(first_batch + t.steps) +
                                     ", \"step\": " + std::to_string(result.steps));
        stopped = true;
        break;
      }
      run_log.epoch(epoch, "train", t, lr);
      EpochStats judged = t;
      if (val) {
        val->start_epoch(0);
        judged =
            evaluate(*model, *val, classes, eo, progress_printer(log, epoch, total_epochs, "val"));
        run_log.epoch(epoch, "val", judged, lr);
      }
      io::save_weights(c.output + "/last.h5", host_state_dict(*model), meta);
      if (result.best_epoch < 0 || judged.accuracy > result.best.accuracy) {
        result.best_epoch = epoch;
        result.best = judged;
        io::save_weights(c.output + "/best.h5", host_state_dict(*model), meta);
      }
      stage.sched->step();
      save(epoch + 1, 0);
      // Early stopping: epochs since the best one, which the checkpoint keeps across a resume.
      if (c.patience > 0 && epoch - result.best_epoch >= c.patience) {
        log << "no better validation accuracy for " << c.patience << " epochs: stopping\n";
        early_stop = true;
        run_log.event("early_stop", "\"epoch\": " + std::to_string(epoch) +
                                        ", \"best_epoch\": " + std::to_string(result.best_epoch));
        stopped = true;
      }
    }
  }
  if (stopped && !early_stop) {
    log << "stopped at step " << result.steps << "; continue with --resume " << c.output
        << "/checkpoint.h5\n";
  }
  // The best epoch's confusion matrix (unknown when it came before a resume).
  if (result.best.confusion.num_classes() == classes)
    run_log.confusion(val ? "val" : "train", result.best.confusion, splits.classes);
  if (test && result.best_epoch >= 0) {  // no best.h5 when the run stopped in its first epoch
    model->load_state_dict(io::load_weights(c.output + "/best.h5").state_dict);
    test->start_epoch(0);
    result.test = evaluate(*model, *test, classes, eo,
                           progress_printer(log, result.best_epoch, total_epochs, "test"));
    result.has_test = true;
    run_log.epoch(result.best_epoch, "test", result.test, lr);
    run_log.confusion("test", result.test.confusion, splits.classes);
  }
  run_log.event("end", "\"best_epoch\": " + std::to_string(result.best_epoch) +
                           ", \"best_acc\": " + io::json_number(result.best.accuracy) +
                           ", \"steps\": " + std::to_string(result.steps));
  return result;
}

}  // namespace afinar::train
