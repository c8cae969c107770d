#include "afinar/train/trainer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <optional>
#include <set>

#include "afinar/core/rng.h"
#include "afinar/data/dataset.h"
#include "afinar/data/image_source.h"
#include "afinar/io/atomic_file.h"
#include "afinar/io/json.h"
#include "afinar/io/weights.h"
#include "afinar/nn/freeze.h"
#include "afinar/nn/layers.h"
#include "afinar/nn/models.h"
#include "afinar/optim/adam.h"
#include "afinar/optim/grad_scaler.h"
#include "afinar/optim/rmsprop.h"
#include "afinar/optim/sgd.h"
#include "afinar/train/checkpoint.h"
#include "afinar/train/progress.h"
#include "afinar/train/recipe.h"
#include "afinar/train/run_log.h"
#include "afinar/train/schedule.h"

namespace afinar::train {

namespace {

namespace fs = std::filesystem;

std::unique_ptr<optim::Optimizer> new_optimizer(const std::string& name) {
  if (name == "sgd") return std::make_unique<optim::SGD>(std::vector<Tensor>{});
  if (name == "adam") return std::make_unique<optim::Adam>(std::vector<Tensor>{});
  if (name == "adamw") return std::make_unique<optim::AdamW>(std::vector<Tensor>{});
  if (name == "rmsprop") return std::make_unique<optim::RMSprop>(std::vector<Tensor>{});
  AFN_FAIL("unknown optimizer '", name, "': expected sgd, adam, adamw or rmsprop");
}

// The model's parameters (with their names) split by the stage's param_groups: claimed[g] holds
// those of entry g, `rest` those no entry claims, both in the model's order.
struct Claims {
  std::vector<nn::NamedTensors> claimed;
  nn::NamedTensors rest;
};
Claims claim_parameters(const StageConfig& stage, const nn::Module& model) {
  Claims c;
  c.claimed.resize(stage.param_groups.size());
  for (const auto& [name, p] : model.named_parameters()) {
    int owner = -1;
    for (size_t g = 0; g < stage.param_groups.size(); ++g) {
      const auto& patterns = stage.param_groups[g].params;
      if (std::none_of(patterns.begin(), patterns.end(), [&, &name = name](const std::string& pat) {
            return nn::glob_match(pat, name);
          }))
        continue;
      AFN_CHECK(owner < 0, "param_groups: parameter '", name, "' is claimed by group ", owner + 1,
                " and group ", g + 1, "; a parameter belongs to one group");
      owner = int(g);
    }
    if (owner < 0)
      c.rest.emplace_back(name, p);
    else
      c.claimed[size_t(owner)].emplace_back(name, p);
  }
  for (size_t g = 0; g < c.claimed.size(); ++g)
    AFN_CHECK(!c.claimed[g].empty(), "param_groups: group ", g + 1, " (",
              stage.param_groups[g].params[0], "...) matches no parameter");
  return c;
}

// The names of the parameters that belong to normalisation layers (torchvision's norm_classes;
// afinar's models have BatchNorm2d only).
std::set<std::string> norm_parameter_names(nn::Module& model) {
  std::set<std::string> names;
  for (const auto& [path, module] : model.named_modules()) {
    if (module->type_name() != "BatchNorm2d") continue;
    for (const auto& [name, p] : module->named_parameters(/*recurse=*/false))
      names.insert(path.empty() ? name : path + "." + name);
  }
  return names;
}

// Adds `params` to `opt` as one group with `options`, or split as torchvision's set_weight_decay
// splits them when the stage sets norm_weight_decay or bias_weight_decay (StageConfig): the
// others with `options`, then the normalisation layers' with weight_decay = norm_weight_decay,
// then those named "bias" with weight_decay = bias_weight_decay, empty parts left out (an empty
// `params` still makes its group). Returns the index of the first group added.
size_t add_group(optim::Optimizer& opt, const nn::NamedTensors& params,
                 const optim::Options& options, const StageConfig& stage,
                 const std::set<std::string>& norm_names) {
  std::vector<Tensor> other, norm, bias;
  for (const auto& [name, p] : params) {
    // torchvision matches the key "bias" against the parameter's own name, in any module.
    if (stage.bias_weight_decay && (name == "bias" || name.ends_with(".bias")))
      bias.push_back(p);
    else if (stage.norm_weight_decay && norm_names.count(name))
      norm.push_back(p);
    else
      other.push_back(p);
  }
  const size_t first = opt.param_groups().size();
  if (!other.empty() || params.empty()) opt.add_param_group(std::move(other), options);
  for (auto [part, decay] :
       {std::pair{&norm, stage.norm_weight_decay}, std::pair{&bias, stage.bias_weight_decay}}) {
    if (part->empty()) continue;
    optim::Options o = options;
    o["weight_decay"] = *decay;
    opt.add_param_group(std::move(*part), o);
  }
  return first;
}

// Discriminative learning rates (ULMFiT; seed 003 §4): one group per top-level child of the
// model that holds parameters, lr / decay^(distance from the last child), with the parameters of
// `rest` under that child (each split by add_group). Children with parameters all claimed
// elsewhere keep their place in the distances but make no group. Returns the index of the last
// child's first group (the head's, at the optimizer's own lr).
size_t add_depth_groups(optim::Optimizer& opt, const nn::Module& model,
                        const nn::NamedTensors& rest, const optim::Options& options, double decay,
                        const StageConfig& stage, const std::set<std::string>& norm_names) {
  AFN_CHECK(decay > 0,
            "lr_decay must be > 0 (each layer's lr is the next one's divided by it; "
            "ULMFiT uses 2.6), got ",
            decay);
  std::map<std::string, nn::NamedTensors> by_child;  // "layer1" -> its unclaimed parameters
  for (const auto& [name, p] : rest) {
    const size_t dot = name.find('.');
    AFN_CHECK(dot != std::string::npos, "lr_decay: the parameter '", name, "' of the ",
              model.type_name(),
              " is in none of its children; depth groups need every parameter "
              "in a child");
    by_child[name.substr(0, dot)].emplace_back(name, p);
  }
  std::vector<std::string> children;  // those that hold parameters, in order
  for (const auto& [name, child] : model.named_children())
    if (!child->parameters().empty()) children.push_back(name);
  const double lr = options.count("lr") ? options.at("lr") : opt.defaults().at("lr");
  size_t last = 0;
  for (size_t i = 0; i < children.size(); ++i) {
    auto it = by_child.find(children[i]);
    if (it == by_child.end()) continue;  // every parameter claimed by an explicit group
    optim::Options o = options;
    o["lr"] = lr / std::pow(decay, double(children.size() - 1 - i));
    last = add_group(opt, it->second, o, stage, norm_names);
  }
  return last;
}

}  // namespace

optim::Options optimizer_defaults(const std::string& name) {
  return new_optimizer(name)->defaults();
}

std::unique_ptr<optim::Optimizer> make_optimizer(const StageConfig& stage, nn::Module& model,
                                                 size_t* lr_group) {
  const OptimizerConfig& oc = stage.optimizer;
  std::unique_ptr<optim::Optimizer> opt = new_optimizer(oc.name);
  opt->param_groups().clear();
  const Claims c = claim_parameters(stage, model);
  const std::set<std::string> norm_names = norm_parameter_names(model);
  const size_t own = stage.lr_decay ? add_depth_groups(*opt, model, c.rest, oc.options,
                                                       *stage.lr_decay, stage, norm_names)
                                    : add_group(*opt, c.rest, oc.options, stage, norm_names);
  if (lr_group) *lr_group = own;
  for (size_t g = 0; g < c.claimed.size(); ++g) {
    optim::Options options = oc.options;
    for (const auto& [key, value] : stage.param_groups[g].options) options[key] = value;
    add_group(*opt, c.claimed[g], options, stage, norm_names);
  }
  return opt;
}

namespace {

void apply_freezing(const StageConfig& stage, nn::Module& model) {
  if (!stage.freeze.empty()) nn::freeze(model, stage.freeze);
  if (!stage.unfreeze.empty()) nn::unfreeze(model, stage.unfreeze);
}

// Every unfreeze_schedule entry's epoch lies in the stage and each of its patterns names a
// parameter (checked before anything changes, so the error names the entry).
void check_schedule(const StageConfig& stage, size_t index, const nn::Module& model) {
  const nn::NamedTensors params = model.named_parameters();
  for (size_t k = 0; k < stage.unfreeze_schedule.size(); ++k) {
    const UnfreezeStep& u = stage.unfreeze_schedule[k];
    AFN_CHECK(u.epoch >= 0 && u.epoch < stage.epochs, "stage ", index + 1,
              ": unfreeze_schedule entry ", k + 1, " has epoch ", u.epoch,
              ", outside the stage: its epochs are 0..", stage.epochs - 1,
              ", counted from the stage's start (a stage shortened with --epochs needs a shorter "
              "schedule)");
    AFN_CHECK(!u.unfreeze.empty(), "stage ", index + 1, ": unfreeze_schedule entry ", k + 1,
              " unfreezes nothing; give it patterns such as unfreeze = [\"layer4.*\"]");
    for (const std::string& pattern : u.unfreeze)
      AFN_CHECK(std::any_of(params.begin(), params.end(),
                            [&](const auto& np) { return nn::glob_match(pattern, np.first); }),
                "stage ", index + 1, ": unfreeze_schedule entry ", k + 1, " (epoch ", u.epoch,
                "): the pattern '", pattern, "' matches no parameter (names look like '",
                params.empty() ? std::string("(none)") : params.front().first, "')");
  }
}

// Unfreezes what the stage's schedule unfreezes at its epochs first..last (stage-relative); the
// entries applied, in order.
std::vector<const UnfreezeStep*> apply_schedule(const StageConfig& stage, nn::Module& model,
                                                int64_t first, int64_t last) {
  std::vector<const UnfreezeStep*> applied;
  for (const UnfreezeStep& u : stage.unfreeze_schedule) {
    if (u.epoch < first || u.epoch > last) continue;
    nn::unfreeze(model, u.unfreeze);
    applied.push_back(&u);
  }
  return applied;
}

// Applies the stage's freezing and its unfreeze_schedule up to `first_epoch` (stage-relative: 0,
// or the epoch a resumed run continues) and makes its optimizer and lr schedule (for
// `steps_per_epoch` optimizer steps per epoch, judging epochs by `metric`; train/schedule.h).
struct Stage {
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<StageSchedule> sched;
  size_t lr_group = 0;  // the group whose lr the logs show (make_optimizer)
};
Stage prepare_stage(const StageConfig& stage, size_t index, nn::Module& model, int64_t first_epoch,
                    int64_t steps_per_epoch, const EvalMetric& metric) {
  AFN_CHECK(stage.epochs >= 1, "stage ", index + 1, ": epochs must be >= 1, got ", stage.epochs);
  check_schedule(stage, index, model);
  apply_freezing(stage, model);
  apply_schedule(stage, model, 0, first_epoch);
  AFN_CHECK(nn::count_params(model).trainable > 0, "stage ", index + 1,
            ": every parameter is frozen at the stage's start; unfreeze some (--unfreeze / "
            "unfreeze = [...], or an unfreeze_schedule entry at epoch 0)");
  Stage s;
  s.opt = make_optimizer(stage, model, &s.lr_group);
  s.sched = std::make_unique<StageSchedule>(stage, *s.opt, steps_per_epoch, metric);
  return s;
}

// Every stage's settings, checked in order on the model's parameters before any training (each
// stage starting from the freezing the previous ones leave); the model's requires_grad flags are
// restored afterwards.
void check_stages(const TrainConfig& c, nn::Module& model, int64_t steps_per_epoch) {
  AFN_CHECK(!c.stages.empty(), "train: no stage to run");
  std::vector<bool> flags;
  for (const Tensor& p : model.parameters()) flags.push_back(p.requires_grad());
  for (size_t i = 0; i < c.stages.size(); ++i) {
    prepare_stage(c.stages[i], i, model, 0, steps_per_epoch, EvalMetric(c.eval_metric));
    apply_schedule(c.stages[i], model, 0, c.stages[i].epochs - 1);
  }
  auto params = model.parameters();
  for (size_t i = 0; i < params.size(); ++i) params[i].set_requires_grad(flags[i]);
}

// `sd` without the tensors whose names match one of `patterns`; a pattern that matches none is
// an error (it is surely a typo).
StateDict without_excluded(const StateDict& sd, const std::vector<std::string>& patterns) {
  std::vector<size_t> matches(patterns.size(), 0);
  StateDict out;
  for (const auto& [key, t] : sd) {
    bool excluded = false;
    for (size_t i = 0; i < patterns.size(); ++i)
      if (nn::glob_match(patterns[i], key)) excluded = true, ++matches[i];
    if (!excluded) out.insert(key, t);
  }
  for (size_t i = 0; i < patterns.size(); ++i)
    AFN_CHECK(matches[i] > 0, "weights_exclude: pattern '", patterns[i],
              "' matches no tensor of the weights file");
  return out;
}

// bn.momentum = momentum for every BatchNorm2d; returns their count.
size_t set_batch_norm_momentum(nn::Module& model, double momentum) {
  size_t n = 0;
  for (const auto& [name, m] : model.named_modules()) {
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m.get())) {
      bn->set_momentum(momentum);
      ++n;
    }
  }
  return n;
}

// The model a weight average lives in: the run's architecture and head, built without drawing
// from the default generator (its initial values are overwritten by the model's).
nn::ModulePtr average_model(const TrainConfig& c, int64_t classes) {
  Generator& g = default_generator();
  const uint64_t seed = g.seed(), offset = g.offset();
  nn::ModulePtr average = nn::create_model(c.model, classes, c.head);
  g.set_state(seed, offset);
  return average;
}

// The model's tensors on the cpu, as a weights file stores them.
StateDict host_state_dict(const nn::Module& model) {
  StateDict out;
  for (const auto& [key, t] : model.state_dict()) out.insert(key, t.cpu());
  return out;
}

// After --resume fell back to the previous checkpoint because `resume` is damaged: when `resume` is
// this run's own output/checkpoint.h5 it becomes checkpoint.damaged.h5 (returned), or the next
// save would keep it as checkpoint.prev.h5 in place of the good one the run resumed from. "" when
// it is another run's file (left as it is) or gone.
std::string set_aside_damaged_checkpoint(const std::string& resume, const std::string& output) {
  namespace fs = std::filesystem;
  const fs::path own = fs::path(output) / "checkpoint.h5";
  std::error_code ec;
  if (!fs::exists(resume, ec) || !fs::exists(own, ec) || !fs::equivalent(resume, own, ec))
    return "";
  const fs::path aside = fs::path(output) / "checkpoint.damaged.h5";
  fs::rename(own, aside, ec);
  AFN_CHECK(!ec, "train: cannot move the damaged ", own.string(), " aside to ", aside.string(),
            ": ", ec.message());
  return aside.string();
}

// Gradual unfreezing at the start of the stage's epoch `stage_epoch` (global `epoch`), logged.
void unfreeze_for_epoch(const StageConfig& stage, int64_t stage_epoch, nn::Module& model,
                        std::ostream& log, RunLog& run_log, int64_t epoch) {
  for (const UnfreezeStep* u : apply_schedule(stage, model, stage_epoch, stage_epoch)) {
    const nn::ParamCounts counts = nn::count_params(model);
    std::string patterns, json;
    for (const std::string& p : u->unfreeze) {
      patterns += (patterns.empty() ? "" : ", ") + p;
      json += (json.empty() ? "" : ", ") + io::json_string(p);
    }
    log << "epoch " << epoch + 1 << ": unfreezing " << patterns << ": " << counts.trainable
        << " trainable parameters, " << counts.frozen << " frozen\n";
    run_log.event("unfreeze", "\"epoch\": " + std::to_string(epoch) + ", \"patterns\": [" + json +
                                  "], \"trainable\": " + std::to_string(counts.trainable) +
                                  ", \"frozen\": " + std::to_string(counts.frozen));
  }
}

// A checkpoint continues the run that wrote it: the same model and head, a stage the recipe has,
// and the settings its counters are counted in (TrainerState) — another seed draws another split
// and order, another batch size moves data_position, another eval metric compares best_metric in
// other units. Each mismatch is an error that names the setting and both values.
void check_resumes_this_run(const Checkpoint& ck, const std::string& from, const TrainConfig& c,
                            int64_t classes, int64_t train_samples) {
  AFN_CHECK(ck.meta.arch == c.model && ck.meta.num_classes == classes, "train: ", from,
            " is a checkpoint of ", ck.meta.arch, " with ", ck.meta.num_classes,
            " classes, not of this run's ", c.model, " with ", classes);
  AFN_CHECK(ck.meta.head == c.head, "train: ", from, " has head '", nn::head_str(ck.meta.head),
            "' but this run's head is '", nn::head_str(c.head),
            "'; resume with the head it was trained with (--head / [model] head)");
  const TrainerState& t = ck.trainer;
  AFN_CHECK(t.stage < int64_t(c.stages.size()), "train: ", from, " was saved in stage ",
            t.stage + 1, " but the run has ", c.stages.size());
  auto same = [&](bool equal, const char* setting, const auto& saved, const auto& now,
                  const char* flags) {
    AFN_CHECK(equal, "train: ", from, " was saved with ", setting, " ", saved, ", this run has ",
              now, " (", flags, "); resume with the run's own settings (--config ",
              (fs::path(from).parent_path() / "recipe.toml").string(),
              ") or start a new run from its weights (--weights ", from, ")");
  };
  same(t.seed == c.seed, "seed", t.seed, c.seed, "--seed");
  same(t.batch_size == c.batch_size, "batch size", t.batch_size, c.batch_size, "-b");
  same(t.grad_accum_steps == c.grad_accum_steps, "grad_accum_steps", t.grad_accum_steps,
       c.grad_accum_steps, "--grad-accum-steps");
  same(t.eval_metric == c.eval_metric, "eval_metric", t.eval_metric, c.eval_metric,
       "--eval-metric");
  // With a weight average, best_metric is the average's figure and best.h5 holds the average.
  const bool saved_ema = !ck.ema.empty();
  same(saved_ema == c.model_ema, "model_ema", saved_ema ? "on" : "off", c.model_ema ? "on" : "off",
       "--model-ema");
  same(t.train_samples == train_samples, "training images:", t.train_samples, train_samples,
       "--data-dir, --val-split, --test-split");
}

// The weights' own preprocessing (a file afinar wrote, or torchvision's for imported weights)
// against the run's: a network trained on pixels / 255, or on squashed images, fine-tuned on
// ImageNet-normalised center crops starts from features of other inputs. Sizes may differ on
// purpose (a new resolution); the normalisation and the crop mode seldom do, so those warn.
void warn_if_normalised_otherwise(const data::Preprocessing& weights,
                                  const data::Preprocessing& run, std::ostream& log) {
  if (weights.mean == run.mean && weights.std == run.std && weights.crop_mode == run.crop_mode)
    return;
  log << "warning: the weights were evaluated with " << data::preprocessing_str(weights)
      << "; this run uses " << data::preprocessing_str(run)
      << ". Give --mean, --std and --crop-mode ([data] mean, std, crop_mode) to keep the weights' "
         "own normalisation and crop mode\n";
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

data::TrainTransformOptions augmentation_of(const TrainConfig& c) {
  data::TrainTransformOptions a = c.augmentation;
  if (a.crop == 0) a.crop = c.image_size;
  a.interpolation = data::interpolation_of(c.interpolation);
  a.mean = c.mean;
  a.std = c.std;
  return a;
}

data::Preprocessing preprocessing_of(const TrainConfig& c) {
  return {.resize = c.resize != 0 ? c.resize : std::lround(double(c.image_size) * 256.0 / 224.0),
          .crop = c.image_size,
          .crop_mode = data::crop_mode_of(c.crop_mode),
          .interpolation = data::interpolation_of(c.interpolation),
          .mean = c.mean,
          .std = c.std};
}

TrainResult run_training(const TrainConfig& c, std::ostream& log,
                         const std::atomic<bool>* interrupt) {
  // ---- everything that can be wrong is checked before the first step ----
  check_config(c);  // every value in its range (train/recipe.h), before anything is opened
  const Device device(c.device);
  check_device_available(device);
  AFN_CHECK(c.batch_size >= 1, "train: batch size must be >= 1, got ", c.batch_size);
  AFN_CHECK(nn::is_model_name(c.model), "train: unknown model '", c.model, "'");
  const data::DatasetSplits splits = data::open_splits(c.data_dir, split_options(c));
  const int64_t classes = int64_t(splits.classes.size());
  AFN_CHECK(c.num_classes == 0 || c.num_classes == classes, "train: the head is set for ",
            c.num_classes, " classes (--num-classes / [model] num_classes) but the dataset has ",
            classes, "; leave num_classes out to take the dataset's");
  const EvalMetric metric(c.eval_metric);
  AFN_CHECK(metric.name() != "top5" || classes > 5,
            "train: eval_metric top5 (--eval-metric) needs more than 5 classes (with ", classes,
            " every image is in its top 5); use top1");
  log << splits.describe();

  // The seed drives the model's initialisation and dropout too (torch.manual_seed's role); a
  // resumed run restores the generator's later state from its checkpoint.
  default_generator().set_state(c.seed, 0);
  nn::ModulePtr model = nn::create_model(c.model, classes, c.head);
  if (c.bn_momentum) {
    log << "batch norm: momentum " << *c.bn_momentum << " in "
        << set_batch_norm_momentum(*model, *c.bn_momentum) << " layers\n";
  }
  if (!c.weights.empty()) {
    const io::Weights weights = io::load_weights(c.weights);
    const StateDict loaded = without_excluded(weights.state_dict, c.weights_exclude);
    const nn::LoadStateDictResult r = model->load_state_dict(loaded, /*strict=*/false);
    log << "weights " << c.weights << ": loaded every tensor"
        << (r.ok() ? "" : " but " + r.str() + " (those keep their initialisation)") << "\n";
    warn_if_normalised_otherwise(weights.meta.preprocessing, preprocessing_of(c), log);
  }
  std::optional<Checkpoint> resumed;
  ResumePoint resume_point;  // the file --resume read, and why it is not c.resume when it is not
  if (!c.resume.empty()) {
    resume_point = load_resume_point(c.resume);
    resumed = std::move(resume_point.checkpoint);
    check_resumes_this_run(*resumed, resume_point.path, c, classes, int64_t(splits.train.size()));
    model->load_state_dict(resumed->model);
  }
  const nn::ParamCounts counts = nn::count_params(*model);
  log << c.model << (c.head.is_default() ? "" : ", head " + nn::head_str(c.head)) << ": "
      << counts.total << " parameters\n";
  model->to(device);
  if (c.channels_last) model->to(MemoryFormat::ChannelsLast);
  std::optional<ModelEma> ema;
  if (c.model_ema) {
    ema.emplace(average_model(c, classes), *model, c.model_ema_options);
    if (resumed) ema->module().load_state_dict(resumed->ema);
  }
  // The weights the run validates, keeps and tests: the average when there is one.
  nn::Module& judged_model = ema ? ema->module() : *model;

  const data::Preprocessing preprocessing = preprocessing_of(c);
  const data::Compose eval_tf = data::eval_transform(preprocessing);
  const data::TrainTransformOptions augmentation = augmentation_of(c);
  const data::Compose train_tf = c.augment ? data::train_transform(augmentation) : eval_tf;
  log << "evaluation transform: " << data::preprocessing_str(preprocessing) << "\n";
  log << "training transform: "
      << (c.augment ? data::train_transform_str(augmentation) : "the evaluation transform") << "\n";
  if (c.mixup.enabled()) log << "batch mixing: " << mixup_str(c.mixup) << "\n";
  auto loader = [&](const std::vector<data::Sample>& s, const data::Compose& tf, bool shuffle,
                    uint64_t seed, int64_t batch_size) {
    return std::make_unique<data::DataLoader>(int64_t(s.size()), data::image_source(s, tf),
                                              data::LoaderOptions{.batch_size = batch_size,
                                                                  .shuffle = shuffle,
                                                                  .num_workers = c.workers,
                                                                  .seed = seed,
                                                                  .device = device});
  };
  const int64_t eval_batch = c.validation_batch_size > 0 ? c.validation_batch_size : c.batch_size;
  auto train = loader(splits.train, train_tf, c.shuffle, c.seed, c.batch_size);
  auto val =
      splits.val.empty() ? nullptr : loader(splits.val, eval_tf, false, c.seed + 1, eval_batch);
  auto test =
      splits.test.empty() ? nullptr : loader(splits.test, eval_tf, false, c.seed + 2, eval_batch);
  // Every stage's freezing, optimizer and schedule, built once on the side (a OneCycle schedule
  // counts the real steps per epoch).
  // Optimizer updates per epoch, what per-update schedules count: one per group of
  // grad_accum_steps batches, the last group possibly short.
  const int64_t updates_per_epoch =
      (train->batches_per_epoch() + c.grad_accum_steps - 1) / c.grad_accum_steps;
  check_stages(c, *model, updates_per_epoch);

  io::WeightsMeta meta;
  meta.arch = c.model;
  meta.num_classes = classes;
  meta.source = "afinar train " + c.data_dir;
  meta.preprocessing = preprocessing;
  meta.class_names = splits.classes;
  meta.head = c.head;

  // ---- the run ----
  if (!resumed && remove_run_files(c.output) > 0)
    log << "output: replaced the files of an earlier run in " << c.output << "\n";
  if (!resume_point.unusable.empty()) {
    const std::string aside = set_aside_damaged_checkpoint(c.resume, c.output);
    log << "warning: " << resume_point.unusable << "; resuming from " << resume_point.path
        << " instead" << (aside.empty() ? "" : " (the damaged file is now " + aside + ")") << "\n";
  }
  // A run killed while writing leaves <file>.tmp-* (tens of MB each) behind. save_checkpoint
  // clears its own too, but a run resumed after its last epoch saves no checkpoint.
  for (const char* name : {"/checkpoint.h5", "/last.h5", "/best.h5"})
    io::remove_stale_temporaries(c.output + name);
  RunLog run_log(c.output, splits.classes);
  {
    std::ofstream recipe(c.output + "/recipe.toml");  // the resolved recipe: reruns this run
    recipe << to_toml(c);
  }
  run_log.hparams_start(c);
  run_log.event("start", "\"model\": " + io::json_string(c.model) +
                             ", \"data\": " + io::json_string(c.data_dir) +
                             ", \"classes\": " + std::to_string(classes) +
                             ", \"device\": " + io::json_string(device.str()));
  TrainResult result;
  EpochOptions eo{
      .label_smoothing = c.smoothing, .log_interval = c.log_interval, .max_steps = c.max_steps};
  eo.interrupt = interrupt;
  eo.detect_anomaly = c.detect_anomaly;
  eo.amp = c.amp;
  eo.amp_dtype = c.amp_dtype == "float16" ? DType::F16 : DType::BF16;
  // float16 gradients underflow without loss scaling: a GradScaler with PyTorch's defaults,
  // saved in the checkpoint with the optimizer.
  optim::GradScaler scaler({.enabled = c.amp && eo.amp_dtype == DType::F16});
  if (scaler.is_enabled()) eo.scaler = &scaler;
  eo.channels_last = c.channels_last;
  eo.clip_grad = c.clip_grad;
  eo.accum_steps = c.grad_accum_steps;
  eo.mixup_seed = c.seed;
  if (ema) eo.ema = &*ema;
  const int64_t total_epochs =
      std::accumulate(c.stages.begin(), c.stages.end(), int64_t(0),
                      [](int64_t n, const StageConfig& s) { return n + s.epochs; });
  if (resumed) {
    result.steps = resumed->trainer.step;
    result.best_epoch = resumed->trainer.best_epoch;
    result.best_metric = resumed->trainer.best_metric;
    if (metric.name() == "top1") result.best.accuracy = result.best_metric;
    default_generator().set_state(resumed->trainer.rng_seed, resumed->trainer.rng_offset);
    log << "resuming " << resume_point.path << " at epoch " << resumed->trainer.epoch + 1
        << ", batch " << resumed->trainer.data_position << " (step " << result.steps << ")\n";
  }
  const int64_t resume_epoch = resumed ? resumed->trainer.epoch : 0;
  int64_t epoch = 0;  // counted across stages
  double lr = 0;      // of the optimizer's own group (Stage::lr_group), at the start of the epoch
  bool stopped = false, early_stop = false;
  for (size_t si = 0; si < c.stages.size() && !stopped; ++si) {
    const StageConfig& sc = c.stages[si];
    const int64_t stage_start = epoch, stage_end = epoch + sc.epochs;
    if (stage_end <= resume_epoch) {  // done before the checkpoint: only its freezing carries over
      apply_freezing(sc, *model);
      apply_schedule(sc, *model, 0, sc.epochs - 1);
      epoch = stage_end;
      continue;
    }
    // The checkpoint's optimizer is this stage's: continue at its epoch, with the schedule's
    // unfreezing up to that epoch re-applied.
    const bool resuming = resumed && resumed->trainer.stage == int64_t(si);
    if (resuming) epoch = resume_epoch;
    Stage stage = prepare_stage(sc, si, *model, epoch - stage_start, updates_per_epoch, metric);
    int64_t first_batch = 0;
    if (resuming) {
      restore_optimizer(*resumed, *stage.opt);
      stage.sched->restore(resumed->scheduler);
      if (scaler.is_enabled() && !resumed->scaler.empty()) scaler.load_state_dict(resumed->scaler);
      first_batch = resumed->trainer.data_position;
    }
    const nn::ParamCounts counts = nn::count_params(*model);
    log << "stage " << si + 1 << "/" << c.stages.size() << ": " << sc.epochs << " epochs, "
        << sc.optimizer.name << " (" << stage.opt->param_groups().size() << " parameter groups), "
        << counts.trainable << " trainable parameters, " << counts.frozen << " frozen\n";
    run_log.event("stage", "\"stage\": " + std::to_string(si + 1) +
                               ", \"trainable\": " + std::to_string(counts.trainable) +
                               ", \"frozen\": " + std::to_string(counts.frozen));
    // The checkpoint after `batches` of `next_epoch` (0: at its start) with this stage's state.
    auto save = [&](int64_t next_epoch, int64_t batches) {
      TrainerState ts{int64_t(si),
                      next_epoch,
                      result.steps,
                      c.seed,
                      result.best_metric,
                      result.best_epoch,
                      batches,
                      default_generator().seed(),
                      default_generator().offset(),
                      c.batch_size,
                      int64_t(splits.train.size()),
                      c.grad_accum_steps,
                      c.eval_metric};
      save_checkpoint(c.output + "/checkpoint.h5",
                      {host_state_dict(*model), meta, stage.opt->state_dict(), stage.opt->name(),
                       stage.sched->state(), ts, scaler.state_dict(),
                       ema ? host_state_dict(ema->module()) : StateDict{}});
    };
    for (; epoch < stage_end && !stopped; ++epoch, first_batch = 0) {
      if (c.max_steps >= 0 && result.steps >= c.max_steps) {
        stopped = true;
        break;
      }
      // Gradual unfreezing before the epoch's first step. A run resumed mid-epoch had it
      // re-applied by prepare_stage, and logged before it stopped.
      if (first_batch == 0)
        unfreeze_for_epoch(sc, epoch - stage_start, *model, log, run_log, epoch);
      lr = stage.opt->param_groups()[stage.lr_group].get("lr");
      eo.mixup = c.mixup.enabled_in(epoch) ? c.mixup : MixupOptions{};
      train->start_epoch(epoch, first_batch);
      const EpochStats t =
          train_epoch(*model, *train, *stage.opt, classes, eo, result.steps,
                      stage.sched->per_step(), progress_printer(log, epoch, total_epochs, "train"));
      if (t.stopped_early) {  // mid-epoch: keep the position, skip validation
        save(epoch, t.next_batch);
        run_log.event("stopped", "\"epoch\": " + std::to_string(epoch) +
                                     ", \"batches\": " + std::to_string(t.next_batch) +
                                     ", \"step\": " + std::to_string(result.steps));
        stopped = true;
        break;
      }
      run_log.epoch(epoch, "train", t, lr);
      EpochStats judged = t;
      // The trained weights, then their average (timm validates both; the last one judges).
      auto validate = [&](nn::Module& m, const char* split) {
        val->start_epoch(0);
        judged = evaluate(m, *val, classes, eo, progress_printer(log, epoch, total_epochs, split));
        run_log.epoch(epoch, split, judged, lr);
      };
      if (val) validate(*model, "val");
      if (val && ema) validate(ema->module(), "val_ema");
      io::save_weights(c.output + "/last.h5", host_state_dict(judged_model), meta);
      if (result.best_epoch < 0 || metric.improves(metric.of(judged), result.best_metric)) {
        result.best_epoch = epoch;
        result.best = judged;
        result.best_metric = metric.of(judged);
        io::save_weights(c.output + "/best.h5", host_state_dict(judged_model), meta);
      }
      stage.sched->end_epoch(metric.of(judged));
      save(epoch + 1, 0);
      // Early stopping: epochs since the best one, which the checkpoint keeps across a resume.
      if (c.patience > 0 && epoch - result.best_epoch >= c.patience) {
        log << "no better validation " << metric.name() << " for " << c.patience
            << " epochs: stopping\n";
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
  // The best epoch's confusion matrix (unknown when it came before a resume): of the weight
  // average, when there is one.
  if (result.best.confusion.num_classes() == classes)
    run_log.confusion(val ? "val" : "train", result.best.confusion, splits.classes);
  // The test split once the run is over: not when it stopped to be resumed (the resumed run
  // evaluates it at its end, and may write its best.h5 elsewhere), nor before any best.h5.
  const bool finished = !stopped || early_stop;
  if (test && finished && result.best_epoch >= 0) {
    // A run resumed into another folder whose best epoch came before the checkpoint: its best.h5
    // is the one beside the checkpoint.
    std::string best = c.output + "/best.h5";
    if (resumed && !fs::exists(best))
      best = (fs::path(c.resume).parent_path() / "best.h5").string();
    model->load_state_dict(io::load_weights(best).state_dict);
    test->start_epoch(0);
    EpochOptions test_options = eo;
    test_options.tta = c.tta;
    result.test = evaluate(*model, *test, classes, test_options,
                           progress_printer(log, result.best_epoch, total_epochs, "test"));
    result.has_test = true;
    run_log.epoch(result.best_epoch, "test", result.test, lr);
    run_log.confusion("test", result.test.confusion, splits.classes);
  }
  run_log.hparams_end(result, finished);
  run_log.event("end", "\"best_epoch\": " + std::to_string(result.best_epoch) +
                           ", \"best_acc\": " + io::json_number(result.best.accuracy) +
                           ", \"eval_metric\": " + io::json_string(metric.name()) +
                           ", \"best_metric\": " + io::json_number(result.best_metric) +
                           ", \"steps\": " + std::to_string(result.steps));
  return result;
}

}  // namespace afinar::train
