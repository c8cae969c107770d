#include "afinar/train/epoch.h"

#include <chrono>
#include <optional>
#include <string>

#include "afinar/autograd/anomaly_mode.h"
#include "afinar/autograd/autocast.h"
#include "afinar/autograd/grad_mode.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/flip.h"
#include "afinar/ops/loss.h"
#include "afinar/ops/topk.h"
#include "afinar/ops/topk_correct.h"
#include "afinar/optim/clip_grad.h"

namespace afinar::train {

MetricAccumulator::MetricAccumulator(int64_t num_classes) : confusion_(num_classes) {}

void MetricAccumulator::add(const Tensor& logits, const Tensor& targets, const Tensor& loss,
                            int64_t step) {
  NoGradGuard no_grad;
  Pending p{loss.detach(), argmax(logits.detach(), 1), targets, Tensor(), targets.size(0), step};
  if (confusion_.num_classes() > 5) p.top5_correct = topk_correct(logits.detach(), targets, 5);
  pending_.push_back(std::move(p));
}

void MetricAccumulator::read() {
  for (const Pending& p : pending_) {
    const double loss = p.loss.item<double>();
    if (!std::isfinite(loss) && first_non_finite_step_ < 0) first_non_finite_step_ = p.step;
    loss_sum_ += loss * double(p.batch);  // the batch mean, weighted by size
    samples_ += p.batch;
    confusion_.add(p.targets.to_vector<int64_t>(), p.predictions.to_vector<int64_t>());
    if (p.top5_correct.defined()) top5_correct_ += p.top5_correct.item<int64_t>();
  }
  pending_.clear();
}

double MetricAccumulator::top5() const {
  if (confusion_.num_classes() <= 5 || samples_ == 0)
    return std::numeric_limits<double>::quiet_NaN();
  return double(top5_correct_) / double(samples_);
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

EpochStats finish(MetricAccumulator& m, int64_t steps, double seconds) {
  m.read();
  EpochStats s;
  s.loss = m.mean_loss();
  s.accuracy = m.accuracy();
  s.top5 = m.top5();
  s.confusion = m.confusion();
  s.samples = m.samples();
  s.steps = steps;
  s.seconds = seconds;
  return s;
}

// The logits evaluate() scores: the model's, or with TTA the mean over the batch and its mirror
// image, as ttach's ClassificationTTAWrapper(HorizontalFlip(), merge_mode="mean") sums the views'
// outputs and divides by their count.
Tensor eval_logits(nn::Module& model, const Tensor& images, bool tta) {
  if (!tta) return model(images).to(DType::F32);
  AFN_CHECK(images.dim() == 4,
            "evaluate: TTA flips images [N, C, H, W] horizontally, got a batch "
            "of shape ",
            images.shape());
  return (model(images).to(DType::F32) + model(flip(images, {3})).to(DType::F32)) * 0.5;
}

// The error for a run whose loss stopped being finite at `step`: the first parameter (in
// registration order) whose gradient, else whose value, is no longer finite now — read on this
// failure path only.
[[noreturn]] void diverged(const nn::Module& model, int64_t step) {
  const auto params = model.named_parameters();
  auto first_bad = [&](bool gradients) -> std::string {
    for (const auto& [name, p] : params) {
      const std::string bad = first_non_finite(gradients ? p.grad() : p);
      if (!bad.empty())
        return detail::concat("the first non-finite ", gradients ? "gradient" : "value", " is ",
                              name, "'s (", bad, ")");
    }
    return "";
  };
  std::string where = first_bad(true);
  if (where.empty()) where = first_bad(false);
  if (where.empty())
    where = "every parameter and gradient is still finite (the forward overflowed)";
  AFN_FAIL("training diverged: the loss is not finite at step ", step, "; ", where,
           ". Lower the learning rate, or rerun with --detect-anomaly to name the op");
}

// Reads the accumulated values and reports them (every log_interval steps and at the end).
// The batch as the model takes it: NHWC for a channels-last run.
Tensor model_input(const Tensor& images, const EpochOptions& o) {
  return o.channels_last ? images.to(MemoryFormat::ChannelsLast) : images;
}

void report(MetricAccumulator& m, int64_t step, int64_t steps, double seconds,
            const ProgressFn& progress) {
  m.read();
  if (progress) progress({step, steps, m.samples(), m.mean_loss(), m.accuracy(), seconds});
}

}  // namespace

EpochStats train_epoch(nn::Module& model, data::DataLoader& loader, optim::Optimizer& opt,
                       int64_t num_classes, const EpochOptions& o, int64_t& global_step,
                       optim::LRScheduler* step_scheduler, const ProgressFn& progress) {
  AFN_CHECK(o.accum_steps >= 1, "train_epoch: accum_steps must be >= 1, got ", o.accum_steps);
  const auto start = std::chrono::steady_clock::now();
  model.train();
  MetricAccumulator m(num_classes);
  const int64_t batches = loader.batches_per_epoch(), k = o.accum_steps;
  int64_t trained = 0;   // batches trained by this call
  int64_t group = -1;    // the update the pending gradients belong to: batches
  bool pending = false;  // [group·k, group·k + k) of the epoch
  bool stopped = false;
  int64_t next_batch = batches;  // unless stopped: the epoch ran to its end
  // One optimizer update from the gradients accumulated over the group's batches.
  auto update = [&] {
    if (o.clip_grad > 0) {
      if (o.scaler) o.scaler->unscale_(opt);  // clip the true gradients, as PyTorch's recipe
      optim::clip_grad_norm_(optim::params_with_grad(opt), o.clip_grad);
    }
    if (o.scaler) {
      o.scaler->step(opt);  // skipped when a gradient overflowed; the scale then backs off
      o.scaler->update();
    } else {
      opt.step();
    }
    if (step_scheduler) step_scheduler->step();
    ++global_step;
    if (o.ema) o.ema->update(model, global_step);
    pending = false;
  };
  while (auto batch = loader.next()) {
    const int64_t n = batch->number;
    // A group whose last batches were all bad samples (skipped) is complete when a later group's
    // batch arrives.
    if (pending && n / k != group) update();
    if (!pending) {  // stopping, like checkpoints, happens between updates only
      if ((o.max_steps >= 0 && global_step >= o.max_steps) || (o.interrupt && *o.interrupt)) {
        stopped = true;
        next_batch = n;  // fetched, not trained: the resume starts here
        break;
      }
      opt.zero_grad();
      group = n / k;
    }
    // The group's mean loss: each batch's mean over its size in the group (the epoch's last
    // group may be short), as timm divides by its accumulation steps.
    const int64_t in_group = std::min(k, batches - group * k);
    const MixDraw mix = o.mixup.enabled()
                            ? draw_mix(o.mixup, batch->images.size(2), batch->images.size(3),
                                       o.mixup_seed, global_step, n % k)
                            : MixDraw{};
    Tensor logits, loss;
    {
      std::optional<AutocastGuard> amp;
      if (o.amp) amp.emplace(batch->images.device().type, true, o.amp_dtype);
      logits = model(model_input(mix_images(batch->images, mix), o)).to(DType::F32);
      loss = mixed_cross_entropy(logits, batch->labels, mix, o.label_smoothing);
    }
    {
      std::optional<DetectAnomalyGuard> anomaly;
      if (o.detect_anomaly) anomaly.emplace();
      const Tensor share = in_group > 1 ? loss * (1.0 / double(in_group)) : loss;
      (o.scaler ? o.scaler->scale(share) : share).backward();
    }
    pending = true;
    m.add(logits, batch->labels, loss, global_step + 1);
    if ((n + 1) % k == 0 || n + 1 == batches) update();
    ++trained;
    if (trained % o.log_interval == 0) {
      report(m, trained, batches, seconds_since(start), progress);
      // Checked when the values are on the host anyway: no extra synchronisation.
      if (m.first_non_finite_step() >= 0) diverged(model, m.first_non_finite_step());
    }
  }
  if (pending) update();  // the epoch's last batches were skipped
  EpochStats s = finish(m, trained, seconds_since(start));
  if (m.first_non_finite_step() >= 0) diverged(model, m.first_non_finite_step());
  if (progress) progress({trained, batches, s.samples, s.loss, s.accuracy, s.seconds});
  s.stopped_early = stopped;
  s.next_batch = next_batch;
  return s;
}

EpochStats evaluate(nn::Module& model, data::DataLoader& loader, int64_t num_classes,
                    const EpochOptions& o, const ProgressFn& progress) {
  const auto start = std::chrono::steady_clock::now();
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  MetricAccumulator m(num_classes);
  const int64_t steps = loader.batches_per_epoch();
  int64_t step = 0;
  while (auto batch = loader.next()) {
    std::optional<AutocastGuard> amp;
    if (o.amp) amp.emplace(batch->images.device().type, true, o.amp_dtype);
    const Tensor logits = eval_logits(model, model_input(batch->images, o), o.tta);
    m.add(logits, batch->labels,
          cross_entropy(logits, batch->labels, {.label_smoothing = o.label_smoothing}));
    if (++step % o.log_interval == 0) report(m, step, steps, seconds_since(start), progress);
  }
  model.train(was_training);
  EpochStats s = finish(m, step, seconds_since(start));
  if (progress) progress({step, steps, s.samples, s.loss, s.accuracy, s.seconds});
  return s;
}

}  // namespace afinar::train
