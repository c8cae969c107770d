// What a training run leaves in its output directory besides the weights:
//   metrics.csv      one row per epoch and split:
//                    epoch,split,loss,acc,top5,precision_macro,recall_macro,f1_macro,lr,seconds
//   per_class.csv    one row per epoch, split and class (ConfusionMatrix::per_class):
//                    epoch,split,class,precision,recall,f1,support
//   events.jsonl     one JSON object per line: run start, each epoch/split (its figures and
//                    "per_class": [{"class", "precision", "recall", "f1", "support"}, ...]),
//                    run end
//   events.out.tfevents.*   TensorBoard scalars as seed 000 writes them: Loss/<split>,
//                    Acc/<split>, LR, Val/Precision_macro, Val/Recall_macro, Val/F1_macro; and
//                    the run's hyper-parameters (hparams_of) for the HParams dashboard with the
//                    metrics hparam/best_val_acc, ... (hparams_end)
//   confusion_<split>.csv   the best epoch's confusion matrix of the split it was judged on,
//                    val (the weight average's, with model_ema) or train, and the test
//                    split's (rows: true class)
// (and recipe.toml, the resolved recipe, written by the trainer)
// A resumed run appends to the CSV and JSONL files and adds an event file; a new run into the
// same directory first removes the earlier run's files (remove_run_files).
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "afinar/train/epoch.h"
#include "afinar/train/tensorboard.h"

namespace afinar::train {

struct TrainConfig;  // train/trainer.h
struct TrainResult;

// The run's hyper-parameters as the HParams dashboard lists them: model, weights ("none" when
// training from scratch), epochs (all stages), stages, batch_size, image_size, smoothing,
// clip_grad, grad_accum_steps, mixup, cutmix, model_ema, model_ema_decay, augment, amp,
// amp_dtype, channels_last, seed, val_split, test_split, eval_metric, patience, max_steps; then
// the first stage's optimizer,
// its options by PyTorch's names (lr, momentum, weight_decay, beta1, ...), scheduler, its
// arguments as scheduler/<name> (scheduler/step_size, scheduler/gamma, ...), warmup_epochs (and
// warmup_method, warmup_decay when it is not 0), freeze and unfreeze (the patterns joined by
// spaces), param_groups (their count) and, when set, norm_weight_decay and bias_weight_decay; each
// later stage k the same under stage<k>/ (stage2/lr, ...) with its epochs (stage<k>/epochs,
// stage1/epochs too then). The first stage goes unprefixed so that one-stage and two-stage runs
// share their lr, optimizer, ... columns.
HParams hparams_of(const TrainConfig& c);

// Writes `m` as confusion_<split>.csv is written: a header row "true\predicted,<names>", then one
// row per true class, its name followed by its counts (train::read_confusion reads it back).
void write_confusion_csv(const std::string& path, const ConfusionMatrix& m,
                         const std::vector<std::string>& class_names);

// Removes what a run wrote into `dir` (the files above, recipe.toml, checkpoint.h5,
// checkpoint.prev.h5, checkpoint.damaged.h5, last.h5, best.h5, report.html) and nothing else, so
// that a new run there does not append to an old one; returns how many files went. The
// checkpoints go first, so that a kill -9 in the middle never leaves a checkpoint without its
// best.h5.
int64_t remove_run_files(const std::string& dir);

class RunLog {
 public:
  // `class_names` name the classes in per_class.csv and events.jsonl (their indices when empty).
  explicit RunLog(const std::string& output_dir, std::vector<std::string> class_names = {});
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  // A free-form event: {"event": name, <json_fields>} (json_fields: `"k": v, ...` or empty).
  void event(const std::string& name, const std::string& json_fields);
  // An epoch's figures for one split ("train", "val", "test"), per class included.
  void epoch(int64_t epoch, const std::string& split, const EpochStats& s, double lr);
  void confusion(const std::string& split, const ConfusionMatrix& m,
                 const std::vector<std::string>& class_names);

  // At the run's start: TensorBoard's experiment (hparams_of(c) and the metric tags hparams_end
  // writes) and the session's start with those values.
  void hparams_start(const TrainConfig& c);
  // At its end: the metrics as scalars at step r.steps (the last value is the dashboard's, so a
  // resumed run's replace those of its first part): hparam/best_val_acc, best_val_loss and
  // best_val_f1_macro (when a "val" epoch was logged; the loss and F1 only when the best epoch
  // came after the resume), hparam/best_epoch (counted from 0, as the epoch scalars' steps),
  // hparam/test_acc, test_loss and test_f1_macro (when r.has_test). Then, when `finished`
  // (false: stopped to be resumed, the session stays open for the resumed run to end), the
  // session's end as a success. A run that throws after hparams_start ends as a failure (the
  // destructor writes it while the exception unwinds).
  void hparams_end(const TrainResult& r, bool finished);

 private:
  std::string class_name(int64_t c) const;
  void per_class(int64_t epoch, const std::string& split, const ConfusionMatrix& m,
                 std::string& json);

  struct Close {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  using File = std::unique_ptr<std::FILE, Close>;  // closed even when the constructor throws

  std::string dir_;
  std::vector<std::string> class_names_;
  File csv_, per_class_csv_, jsonl_;
  TensorBoardWriter tb_;
  bool val_logged_ = false;
  bool session_open_ = false;    // hparams_start was called and no session end written yet
  int uncaught_exceptions_ = 0;  // at construction: more at destruction means a throw unwinds
};

}  // namespace afinar::train
