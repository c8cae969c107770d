#include "afinar/train/epoch.h"

#include <chrono>

#include "afinar/autograd/grad_mode.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/flip.h"
#include "afinar/ops/loss.h"
#include "afinar/ops/topk.h"
#include "afinar/ops/topk_correct.h"

namespace afinar::train {

MetricAccumulator::MetricAccumulator(int64_t num_classes) : confusion_(num_classes) {}

void MetricAccumulator::add(const Tensor& logits, const Tensor& targets, const Tensor& loss) {
  NoGradGuard no_grad;
  Pending p{loss.detach(), argmax(logits.detach(), 1), targets, Tensor(), targets.size(0)};
  if (confusion_.num_classes() > 5) p.top5_correct = topk_correct(logits.detach(), targets, 5);
  pending_.push_back(std::move(p));
}

void MetricAccumulator::read() {
  for (const Pending& p : pending_) {
    loss_sum_ += p.loss.item<double>() * double(p.batch);  // the batch mean, weighted by size
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
  if (!tta) return model(images);
  AFN_CHECK(images.dim() == 4,
            "evaluate: TTA flips images [N, C, H, W] horizontally, got a batch "
            "of shape ",
            images.shape());
  return (model(images) + model(flip(images, {3}))) * 0.5;
}

// Reads the accumulated values and reports them (every log_interval steps and at the end).
void report(MetricAccumulator& m, int64_t step, int64_t steps, double seconds,
            const ProgressFn& progress) {
  m.read();
  if (progress) progress({step, steps, m.samples(), m.mean_loss(), m.accuracy(), seconds});
}

}  // namespace

EpochStats train_epoch(nn::Module& model, data::DataLoader& loader, optim::Optimizer& opt,
                       int64_t num_classes, const EpochOptions& o, int64_t& global_step,
                       optim::LRScheduler* step_scheduler, const ProgressFn& progress) {
  const auto start = std::chrono::steady_clock::now();
  model.train();
  MetricAccumulator m(num_classes);
  const int64_t steps = loader.batches_per_epoch();
  int64_t step = 0;
  bool stopped = false;
  while (auto batch = loader.next()) {
    if ((o.max_steps >= 0 && global_step >= o.max_steps) || (o.interrupt && *o.interrupt)) {
      stopped = true;
      break;
    }
    opt.zero_grad();
    const Tensor logits = model(batch->images);
    const Tensor loss =
        cross_entropy(logits, batch->labels, {.label_smoothing = o.label_smoothing});
    loss.backward();
    opt.step();
    if (step_scheduler) step_scheduler->step();
    m.add(logits, batch->labels, loss);
    ++step;
    ++global_step;
    if (step % o.log_interval == 0) {
      report(m, step, steps, seconds_since(start), progress);
      // Checked when the values are on the host anyway: no extra synchronisation.
      AFN_CHECK(std::isfinite(m.mean_loss()), "training diverged: the loss is ", m.mean_loss(),
                " at step ", global_step, "; lower the learning rate");
    }
  }
  EpochStats s = finish(m, step, seconds_since(start));
  AFN_CHECK(std::isfinite(s.loss) || s.samples == 0, "training diverged: the loss is ", s.loss,
            " in the epoch ending at step ", global_step, "; lower the learning rate");
  if (progress) progress({step, steps, s.samples, s.loss, s.accuracy, s.seconds});
  s.stopped_early = stopped;
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
    const Tensor logits = eval_logits(model, batch->images, o.tta);
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
