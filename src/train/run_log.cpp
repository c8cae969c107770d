// The files a training run writes as it goes (train/run_log.h).
#include "afinar/train/run_log.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <numeric>
#include <vector>

#include "afinar/core/check.h"
#include "afinar/io/json.h"
#include "afinar/train/schedule.h"
#include "afinar/train/trainer.h"

namespace afinar::train {

using io::json_number;
using io::json_string;

namespace {

// Opens `path` for appending (a resumed run appends); a new file starts with `header`.
std::FILE* open_for_append(const std::string& path, const char* header = nullptr) {
  const bool fresh = !std::filesystem::exists(path);
  std::FILE* f = std::fopen(path.c_str(), "a");
  AFN_CHECK(f != nullptr, "cannot write ", path, ": ", std::strerror(errno));
  if (fresh && header) std::fprintf(f, "%s\n", header);
  return f;
}

// A CSV field (RFC 4180): quoted, with its quotes doubled, when it holds a comma, a quote or a
// line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The tags hparams_end writes, all announced in the experiment at the start.
const std::vector<std::string>& hparam_metric_tags() {
  static const std::vector<std::string> tags = {"hparam/best_val_acc",      "hparam/best_val_loss",
                                                "hparam/best_val_f1_macro", "hparam/best_epoch",
                                                "hparam/test_acc",          "hparam/test_loss",
                                                "hparam/test_f1_macro"};
  return tags;
}

std::string joined(const std::vector<std::string>& patterns) {
  std::string out;
  for (const std::string& p : patterns) {
    if (!out.empty()) out += ' ';
    out += p;
  }
  return out;
}

// One stage's settings, each name after `prefix`.
void add_stage(HParams& h, const StageConfig& s, const std::string& prefix) {
  h.emplace_back(prefix + "optimizer", s.optimizer.name);
  for (const auto& [key, value] : s.optimizer.options) h.emplace_back(prefix + key, value);
  h.emplace_back(prefix + "scheduler", s.scheduler.name);
  for (const auto& [key, value] : s.scheduler.args)
    h.emplace_back(prefix + "scheduler/" + key, value);
  h.emplace_back(prefix + "scheduler/interval",
                 std::string(steps_per_update(s.scheduler) ? "step" : "epoch"));
  h.emplace_back(prefix + "warmup_epochs", double(s.scheduler.warmup_epochs));
  if (s.scheduler.warmup_epochs > 0) {
    h.emplace_back(prefix + "warmup_method", s.scheduler.warmup_method);
    h.emplace_back(prefix + "warmup_decay", s.scheduler.warmup_decay);
  }
  h.emplace_back(prefix + "freeze", joined(s.freeze));
  h.emplace_back(prefix + "unfreeze", joined(s.unfreeze));
  h.emplace_back(prefix + "param_groups", double(s.param_groups.size()));
  if (s.norm_weight_decay) h.emplace_back(prefix + "norm_weight_decay", *s.norm_weight_decay);
  if (s.bias_weight_decay) h.emplace_back(prefix + "bias_weight_decay", *s.bias_weight_decay);
}

}  // namespace

HParams hparams_of(const TrainConfig& c) {
  const int64_t epochs =
      std::accumulate(c.stages.begin(), c.stages.end(), int64_t(0),
                      [](int64_t n, const StageConfig& s) { return n + s.epochs; });
  HParams h = {{"model", c.model},
               {"weights", c.weights.empty() ? std::string("none") : c.weights},
               {"epochs", double(epochs)},
               {"stages", double(c.stages.size())},
               {"batch_size", double(c.batch_size)},
               {"image_size", double(c.image_size)},
               {"smoothing", c.smoothing},
               {"clip_grad", c.clip_grad},
               {"grad_accum_steps", double(c.grad_accum_steps)},
               {"mixup", c.mixup.mixup_alpha},
               {"model_ema", c.model_ema},
               {"model_ema_decay", c.model_ema_options.decay},
               {"cutmix", c.mixup.cutmix_alpha},
               {"augment", c.augment},
               {"amp", c.amp},
               {"amp_dtype", c.amp_dtype},
               {"channels_last", c.channels_last},
               {"seed", double(c.seed)},
               {"val_split", c.val_split},
               {"test_split", c.test_split},
               {"eval_metric", c.eval_metric},
               {"patience", double(c.patience)},
               {"max_steps", double(c.max_steps)}};
  for (size_t i = 0; i < c.stages.size(); ++i) {
    const std::string stage = detail::concat("stage", i + 1, "/");
    if (c.stages.size() > 1) h.emplace_back(stage + "epochs", double(c.stages[i].epochs));
    add_stage(h, c.stages[i], i == 0 ? "" : stage);
  }
  return h;
}

int64_t remove_run_files(const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) return 0;
  const auto is_run_file = [](const std::string& name) {
    for (const char* fixed :
         {"metrics.csv", "per_class.csv", "events.jsonl", "recipe.toml", "checkpoint.h5",
          "checkpoint.prev.h5", "checkpoint.damaged.h5", "last.h5", "best.h5", "report.html"})
      if (name == fixed) return true;
    return name.starts_with("events.out.tfevents.") ||
           (name.starts_with("confusion_") && name.ends_with(".csv"));
  };
  // The checkpoints go first (the one --resume falls back to before the one it reads): a run
  // killed in the middle of this leaves either the earlier run's checkpoint with every file it
  // needs (best.h5 for the test evaluation), or no checkpoint at all — never a checkpoint whose
  // best.h5 is already gone.
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && is_run_file(e.path().filename().string())) files.push_back(e.path());
  const auto rank = [](const fs::path& p) {
    const std::string name = p.filename().string();
    return name == "checkpoint.prev.h5" || name == "checkpoint.damaged.h5" ? 0
           : name == "checkpoint.h5"                                       ? 1
                                                                           : 2;
  };
  std::stable_sort(files.begin(), files.end(),
                   [&](const fs::path& a, const fs::path& b) { return rank(a) < rank(b); });
  int64_t removed = 0;
  for (const fs::path& f : files) removed += fs::remove(f) ? 1 : 0;
  return removed;
}

RunLog::RunLog(const std::string& output_dir, std::vector<std::string> class_names)
    : dir_((std::filesystem::create_directories(output_dir), output_dir)),
      class_names_(std::move(class_names)),
      tb_(output_dir),
      uncaught_exceptions_(std::uncaught_exceptions()) {
  csv_.reset(open_for_append(
      dir_ + "/metrics.csv",
      "epoch,split,loss,acc,top5,precision_macro,recall_macro,f1_macro,lr,seconds"));
  per_class_csv_.reset(
      open_for_append(dir_ + "/per_class.csv", "epoch,split,class,precision,recall,f1,support"));
  jsonl_.reset(open_for_append(dir_ + "/events.jsonl"));
}

RunLog::~RunLog() {
  if (session_open_ && std::uncaught_exceptions() > uncaught_exceptions_) {
    try {  // the run is unwinding from an error: its session failed
      tb_.add_session_end(SessionStatus::Failure);
      tb_.flush();
    } catch (...) {  // a destructor must not throw; the original error is the one to report
    }
  }
}

std::string RunLog::class_name(int64_t c) const {
  return c < int64_t(class_names_.size()) ? class_names_[size_t(c)] : std::to_string(c);
}

void RunLog::event(const std::string& name, const std::string& json_fields) {
  std::fprintf(jsonl_.get(), "{\"event\": %s%s%s}\n", json_string(name).c_str(),
               json_fields.empty() ? "" : ", ", json_fields.c_str());
  std::fflush(jsonl_.get());
}

// Rows of per_class.csv, and the JSON array of the same figures appended to `json`.
void RunLog::per_class(int64_t epoch, const std::string& split, const ConfusionMatrix& m,
                       std::string& json) {
  AFN_CHECK(class_names_.empty() || int64_t(class_names_.size()) == m.num_classes(),
            "RunLog: ", class_names_.size(), " class names for a confusion matrix of ",
            m.num_classes(), " classes");
  const std::vector<ClassScores> scores = m.per_class();
  json += "[";
  for (int64_t c = 0; c < int64_t(scores.size()); ++c) {
    const ClassScores& k = scores[size_t(c)];
    const std::string name = class_name(c);
    std::fprintf(per_class_csv_.get(), "%ld,%s,%s,%.6f,%.6f,%.6f,%ld\n", long(epoch),
                 csv_field(split).c_str(), csv_field(name).c_str(), k.precision, k.recall, k.f1,
                 long(k.support));
    json += c == 0 ? "{" : ", {";
    json += "\"class\": " + json_string(name);
    json += ", \"precision\": " + json_number(k.precision);
    json += ", \"recall\": " + json_number(k.recall);
    json += ", \"f1\": " + json_number(k.f1);
    json += ", \"support\": " + std::to_string(k.support) + "}";
  }
  json += "]";
  std::fflush(per_class_csv_.get());
}

void RunLog::epoch(int64_t epoch, const std::string& split, const EpochStats& s, double lr) {
  const ConfusionMatrix& m = s.confusion;
  std::fprintf(csv_.get(), "%ld,%s,%.6f,%.6f,%s,%.6f,%.6f,%.6f,%.6g,%.2f\n", long(epoch),
               split.c_str(), s.loss, s.accuracy,
               std::isnan(s.top5) ? "" : json_number(s.top5).c_str(), m.macro_precision(),
               m.macro_recall(), m.macro_f1(), lr, s.seconds);
  std::fflush(csv_.get());
  std::string fields =
      "\"epoch\": " + std::to_string(epoch) + ", \"split\": " + json_string(split) +
      ", \"loss\": " + json_number(s.loss) + ", \"acc\": " + json_number(s.accuracy) +
      ", \"top5\": " + json_number(s.top5) +
      ", \"precision_macro\": " + json_number(m.macro_precision()) +
      ", \"recall_macro\": " + json_number(m.macro_recall()) +
      ", \"f1_macro\": " + json_number(m.macro_f1()) + ", \"lr\": " + json_number(lr) +
      ", \"samples\": " + std::to_string(s.samples) + ", \"seconds\": " + json_number(s.seconds);
  fields += ", \"per_class\": ";
  per_class(epoch, split, m, fields);
  event("epoch", fields);
  if (split == "val") val_logged_ = true;
  tb_.add_scalar("Loss/" + split, s.loss, epoch);
  tb_.add_scalar("Acc/" + split, s.accuracy, epoch);
  if (split == "train") tb_.add_scalar("LR", lr, epoch);
  if (split == "val") {
    tb_.add_scalar("Val/Precision_macro", m.macro_precision(), epoch);
    tb_.add_scalar("Val/Recall_macro", m.macro_recall(), epoch);
    tb_.add_scalar("Val/F1_macro", m.macro_f1(), epoch);
  }
  tb_.flush();
}

void RunLog::confusion(const std::string& split, const ConfusionMatrix& m,
                       const std::vector<std::string>& class_names) {
  write_confusion_csv(dir_ + "/confusion_" + split + ".csv", m, class_names);
}

void write_confusion_csv(const std::string& path, const ConfusionMatrix& m,
                         const std::vector<std::string>& class_names) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  AFN_CHECK(f != nullptr, "cannot write ", path, ": ", std::strerror(errno));
  std::fprintf(f, "true\\predicted");
  for (const std::string& c : class_names) std::fprintf(f, ",%s", c.c_str());
  std::fprintf(f, "\n");
  for (int64_t t = 0; t < m.num_classes(); ++t) {
    std::fprintf(f, "%s", class_names[size_t(t)].c_str());
    for (int64_t p = 0; p < m.num_classes(); ++p) std::fprintf(f, ",%ld", long(m.at(t, p)));
    std::fprintf(f, "\n");
  }
  std::fclose(f);
}

void RunLog::hparams_start(const TrainConfig& c) {
  const HParams h = hparams_of(c);
  tb_.add_hparams_experiment(h, hparam_metric_tags());
  tb_.add_session_start(h);
  tb_.flush();
  session_open_ = true;
}

void RunLog::hparams_end(const TrainResult& r, bool finished) {
  auto scalar = [&](const char* name, double value) {
    tb_.add_scalar(std::string("hparam/") + name, value, r.steps);
  };
  if (val_logged_) {
    scalar("best_val_acc", r.best.accuracy);
    if (r.best.samples >
        0) {  // else the best epoch came before a resume: only its accuracy is kept
      scalar("best_val_loss", r.best.loss);
      scalar("best_val_f1_macro", r.best.confusion.macro_f1());
    }
  }
  scalar("best_epoch", double(r.best_epoch));
  if (r.has_test) {
    scalar("test_acc", r.test.accuracy);
    scalar("test_loss", r.test.loss);
    scalar("test_f1_macro", r.test.confusion.macro_f1());
  }
  if (finished && session_open_) {
    tb_.add_session_end(SessionStatus::Success);
    session_open_ = false;
  }
  tb_.flush();
}

}  // namespace afinar::train
