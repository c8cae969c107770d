// One epoch of training or evaluation of a classifier over a DataLoader: forward, cross-entropy,
// backward and optimizer step per batch, with loss, accuracy, top-5 and the confusion matrix.
//
// On the GPU nothing here waits for the device between steps: the loss, the top-5 count and the
// predicted classes stay in device tensors (MetricAccumulator) and are read back once per log
// interval and at the end of the epoch, so the host queues step k+1 while the GPU runs step k.
//
//   EpochStats s = train_epoch(*model, loader, opt, classes, {.label_smoothing = 0.1});
//   EpochStats v = evaluate(*model, val_loader, classes, {});
//   EpochStats t = evaluate(*model, test_loader, classes, {.tta = true});   // + flipped images
//   std::printf("val acc %.3f  macro F1 %.3f\n", v.accuracy, v.confusion.macro_f1());
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "afinar/data/loader.h"
#include "afinar/nn/module.h"
#include "afinar/optim/grad_scaler.h"
#include "afinar/optim/optimizer.h"
#include "afinar/optim/scheduler.h"
#include "afinar/train/metrics.h"
#include "afinar/train/mixup.h"
#include "afinar/train/model_ema.h"

namespace afinar::train {

// Loss, accuracy and top-5 accumulated over batches. add() queues device work only; read()
// copies the pending values to the host (the one synchronisation) and folds them in.
class MetricAccumulator {
 public:
  explicit MetricAccumulator(int64_t num_classes);
  // logits [B, C], targets [B] int64, loss: the batch's mean loss (0-D), all on one device;
  // `step`: the batch's global optimizer step (names the first non-finite loss).
  void add(const Tensor& logits, const Tensor& targets, const Tensor& loss, int64_t step = -1);
  void read();
  // The step of the first batch whose loss was NaN or infinite (-1: none), once read.
  int64_t first_non_finite_step() const { return first_non_finite_step_; }

  int64_t samples() const { return samples_; }
  double mean_loss() const { return samples_ ? loss_sum_ / double(samples_) : 0.0; }
  double accuracy() const { return confusion_.accuracy(); }
  // Top-5 accuracy, NaN when there are 5 classes or fewer (it would always be 1).
  double top5() const;
  const ConfusionMatrix& confusion() const { return confusion_; }

 private:
  struct Pending {
    Tensor loss, predictions, targets, top5_correct;
    int64_t batch, step;
  };
  std::vector<Pending> pending_;
  ConfusionMatrix confusion_;
  double loss_sum_ = 0;
  int64_t samples_ = 0, top5_correct_ = 0, first_non_finite_step_ = -1;
};

struct EpochOptions {
  double label_smoothing = 0;
  int64_t log_interval = 20;  // steps between progress reports (and host reads)
  int64_t max_steps = -1;     // stop the epoch once the global step count reaches this (-1: never)
  // Set (from a signal handler, say) to stop training after the current step.
  const std::atomic<bool>* interrupt = nullptr;
  // Backward under DetectAnomalyGuard (autograd/anomaly_mode.h): the first non-finite gradient
  // names the op that produced it. Slow (every gradient is read back); for debugging.
  bool detect_anomaly = false;
  // evaluate() only: test-time augmentation as ttach's ClassificationTTAWrapper with
  // HorizontalFlip and merge_mode="mean": logits = (model(x) + model(flip(x, {3}))) / 2 for
  // images x [N, C, H, W]; loss and metrics come from these averaged logits.
  bool tta = false;
  // Mixed precision: the forward and the loss under AutocastGuard(batch's device, amp_dtype)
  // (autograd/autocast.h: convs and linears in bf16 or f16, float32 parameters, optimizer and
  // loss); the logits are cast to float32 once, for the loss and the metrics.
  bool amp = false;
  DType amp_dtype = DType::BF16;
  // train_epoch only: dynamic loss scaling (float16 runs): backward from scaler->scale(loss),
  // then scaler->step(opt) (skipped on inf / NaN gradients) and scaler->update().
  optim::GradScaler* scaler = nullptr;
  // train_epoch only: gradient accumulation (timm's --grad-accum-steps). The epoch's batches go
  // in groups of accum_steps ([0, k), [k, 2k), ... by Batch::number; the last may be short), each
  // batch's loss divided by its group's size, and one optimizer update per group: a group of k
  // batches of B images updates as one batch of k·B would, but for batch norm's statistics, which
  // stay per batch. global_step, max_steps and per-update schedules count updates; a stopped
  // epoch stops between updates.
  int64_t accum_steps = 1;
  // train_epoch only: clip the gradients' global L2 norm to this before each optimizer step
  // (optim/clip_grad.h; after GradScaler's unscale_ in float16 runs); 0 leaves them.
  double clip_grad = 0;
  // train_epoch only: Mixup / CutMix (train/mixup.h), drawn per optimizer step from
  // (mixup_seed, global step). Accuracy and the confusion matrix count each image's own label.
  MixupOptions mixup = {};
  uint64_t mixup_seed = 0;
  // train_epoch only: after each optimizer update, ema->update(model, global_step) (global_step
  // counted after the update: 1 for the run's first).
  ModelEma* ema = nullptr;
  // Channels-last: each batch goes into the model as NHWC (Tensor::to(MemoryFormat)), for a
  // model whose weights are channels-last too (nn::Module::to(MemoryFormat)), so every
  // convolution, batch norm and pool runs NHWC with no other layout conversion.
  bool channels_last = false;
};

struct Progress {
  int64_t step = 0, steps = 0;  // within the epoch
  int64_t samples = 0;
  double loss = 0, accuracy = 0;
  double seconds = 0;  // since the epoch started
};
using ProgressFn = std::function<void(const Progress&)>;

struct EpochStats {
  double loss = 0, accuracy = 0;
  double top5 = std::numeric_limits<double>::quiet_NaN();
  ConfusionMatrix confusion{1};
  int64_t samples = 0, steps = 0;  // steps: batches (with accum_steps > 1, not updates)
  double seconds = 0;
  bool stopped_early = false;  // max_steps was reached or the interrupt flag was set
  // train_epoch: where the epoch resumes, the number (Batch::number) of the first batch not
  // trained; the epoch's batch count when it ran to the end.
  int64_t next_batch = 0;
};

// Trains `model` for one epoch of `loader` (already started for the epoch). `step_scheduler`,
// when given, steps after every optimizer step (OneCycleLR); `global_step` counts optimizer
// steps across epochs. A loss that is NaN or infinite (seen when the losses are read, once per
// log interval) is an error naming the first such step and the first parameter whose gradient
// or value is no longer finite.
EpochStats train_epoch(nn::Module& model, data::DataLoader& loader, optim::Optimizer& opt,
                       int64_t num_classes, const EpochOptions& options, int64_t& global_step,
                       optim::LRScheduler* step_scheduler = nullptr,
                       const ProgressFn& progress = {});

// Evaluates in eval mode without gradients (the mode is restored after); options.tta averages
// each batch's logits with those of its horizontal flip.
EpochStats evaluate(nn::Module& model, data::DataLoader& loader, int64_t num_classes,
                    const EpochOptions& options, const ProgressFn& progress = {});

}  // namespace afinar::train
