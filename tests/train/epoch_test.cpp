// The epoch loop on a tiny linear classifier over synthetic, separable data: it learns, its
// accumulated metrics equal a direct computation over the same data, max_steps stops it, a
// diverging loss is an error naming the step, and TTA scores the mean of the logits of each image
// and of its mirror image.
#include "afinar/train/epoch.h"

#include <gtest/gtest.h>

#include <cmath>

#include "afinar/autograd/autocast.h"
#include "afinar/autograd/grad_mode.h"
#include "afinar/nn/layers.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/loss.h"
#include "afinar/ops/topk.h"
#include "afinar/optim/sgd.h"
#include "testing/compare.h"

namespace afinar::train {
namespace {

constexpr int64_t kClasses = 7;

// Sample i: class i % 7, a 1x2x2 "image" whose pixels are noise plus a class-specific offset.
data::Example sample(int64_t i, Generator& gen) {
  const int64_t label = i % kClasses;
  Tensor x = randn({1, 2, 2}, DType::F32, gen);
  float* p = x.data<float>();
  p[label % 4] += 4.0f;
  p[(label / 4) + 2] -= 3.0f * float(label % 2);
  return {x, label};
}

std::shared_ptr<nn::Module> classifier() {
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(4, kClasses)});
}

TEST(Epoch, LearnsAndReportsWhatADirectComputationGives) {
  auto model = classifier();
  data::DataLoader train(140, sample, {.batch_size = 16, .shuffle = true, .seed = 1});
  data::DataLoader val(70, sample, {.batch_size = 32, .seed = 2});
  optim::SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
  int64_t global_step = 0;
  std::vector<Progress> seen;
  double first_loss = 0;
  for (int64_t epoch = 0; epoch < 8; ++epoch) {
    train.start_epoch(epoch);
    const EpochStats s = train_epoch(*model, train, opt, kClasses, {.log_interval = 3}, global_step,
                                     nullptr, [&](const Progress& p) { seen.push_back(p); });
    EXPECT_EQ(s.samples, 140);
    EXPECT_EQ(s.steps, 9);
    if (epoch == 0) first_loss = s.loss;
  }
  EXPECT_EQ(global_step, 72);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen[0].step, 3);  // every 3 steps, then at the end of the epoch
  EXPECT_EQ(seen[0].samples, 48);

  val.start_epoch(0);
  const EpochStats v = evaluate(*model, val, kClasses, {});
  EXPECT_TRUE(model->is_training());  // restored
  EXPECT_LT(v.loss, first_loss);
  EXPECT_GT(v.accuracy, 0.6);
  EXPECT_TRUE(std::isnan(v.top5) == false);  // 7 classes: top-5 is reported

  // The same numbers straight from the model over the whole validation set.
  NoGradGuard no_grad;
  model->eval();
  val.start_epoch(0);
  double loss_sum = 0;
  int64_t correct = 0, n = 0;
  while (auto b = val.next()) {
    const Tensor logits = (*model)(b->images);
    loss_sum += cross_entropy(logits, b->labels, {.reduction = Reduction::Sum}).item<double>();
    const auto pred = argmax(logits, 1).to_vector<int64_t>();
    const auto y = b->labels.to_vector<int64_t>();
    for (size_t i = 0; i < y.size(); ++i) correct += pred[i] == y[i] ? 1 : 0;
    n += int64_t(y.size());
  }
  EXPECT_NEAR(v.loss, loss_sum / double(n), 1e-5 * std::max(1.0, v.loss));
  EXPECT_DOUBLE_EQ(v.accuracy, double(correct) / double(n));
  EXPECT_EQ(v.confusion.total(), n);
}

// With amp the linear layer runs in bf16 under autocast: the model still learns, its weights and
// the optimizer stay float32, and evaluate() scores exactly what a direct autocast forward gives.
TEST(Epoch, AmpTrainsWithFloat32WeightsAndScoresTheBf16Logits) {
  auto model = classifier();
  data::DataLoader train(140, sample, {.batch_size = 16, .shuffle = true, .seed = 1});
  data::DataLoader val(70, sample, {.batch_size = 32, .seed = 2});
  optim::SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
  int64_t global_step = 0;
  for (int64_t epoch = 0; epoch < 8; ++epoch) {
    train.start_epoch(epoch);
    train_epoch(*model, train, opt, kClasses, {.amp = true}, global_step);
  }
  for (const Tensor& p : model->parameters()) EXPECT_EQ(p.dtype(), DType::F32);
  val.start_epoch(0);
  const EpochStats amp = evaluate(*model, val, kClasses, {.amp = true});
  val.start_epoch(0);
  const EpochStats fp32 = evaluate(*model, val, kClasses, {});
  EXPECT_GT(amp.accuracy, 0.6);
  EXPECT_NE(amp.loss, fp32.loss) << "amp changed nothing";

  NoGradGuard no_grad;
  model->eval();
  val.start_epoch(0);
  double loss_sum = 0;
  int64_t n = 0;
  while (auto b = val.next()) {
    AutocastGuard autocast(DeviceType::CPU);
    const Tensor logits = (*model)(b->images);
    ASSERT_EQ(logits.dtype(), DType::BF16);
    loss_sum += cross_entropy(logits, b->labels, {.reduction = Reduction::Sum}).item<double>();
    n += b->labels.numel();
  }
  EXPECT_NEAR(amp.loss, loss_sum / double(n), 1e-5 * std::max(1.0, amp.loss));
}

// float16 with dynamic loss scaling: a scale far too large for float16 (2^24 · 1/16 overflows
// 65504 in the f16 backward) makes the first steps overflow; the scaler skips them and backs
// off until the gradients fit, and the model then learns as with bf16.
TEST(Epoch, Float16AmpWithAScalerSkipsOverflowsAndLearns) {
  auto model = classifier();
  data::DataLoader train(140, sample, {.batch_size = 16, .shuffle = true, .seed = 1});
  data::DataLoader val(70, sample, {.batch_size = 32, .seed = 2});
  optim::SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
  optim::GradScaler scaler({.init_scale = 0x1p24});
  const EpochOptions o{.amp = true, .amp_dtype = DType::F16, .scaler = &scaler};
  int64_t global_step = 0;
  for (int64_t epoch = 0; epoch < 8; ++epoch) {
    train.start_epoch(epoch);
    train_epoch(*model, train, opt, kClasses, o, global_step);
  }
  EXPECT_LT(scaler.get_scale(), 0x1p24);  // backed off
  EXPECT_GE(scaler.get_scale(), 1.0);
  for (const Tensor& p : model->parameters()) {
    EXPECT_EQ(p.dtype(), DType::F32);
    for (float v : p.to_vector<float>()) EXPECT_TRUE(std::isfinite(v));
  }
  val.start_epoch(0);
  EXPECT_GT(evaluate(*model, val, kClasses, o).accuracy, 0.6);
}

// max_steps stops training between updates: after 3 updates from step 5; with groups of 2
// batches, after update 1 at batch 2.
TEST(Epoch, MaxStepsStopsTraining) {
  auto model = classifier();
  data::DataLoader train(140, sample, {.batch_size = 16});
  optim::SGD opt(model->parameters(), {.lr = 0.1});
  for (int64_t k : {1, 2}) {
    SCOPED_TRACE("accum_steps " + std::to_string(k));
    int64_t global_step = k == 1 ? 5 : 0;
    train.start_epoch(0);
    const EpochStats s = train_epoch(*model, train, opt, kClasses,
                                     {.max_steps = k == 1 ? 8 : 1, .accum_steps = k}, global_step);
    EXPECT_TRUE(s.stopped_early);
    EXPECT_EQ(global_step, k == 1 ? 8 : 1);
    EXPECT_EQ(s.steps, k == 1 ? 3 : 2);  // batches
    EXPECT_EQ(s.next_batch, k == 1 ? 3 : 2);
  }
  int64_t global_step = 0;
  EXPECT_THROW(train_epoch(*model, train, opt, kClasses, {.accum_steps = 0}, global_step), Error);
}

// With clip_grad, each plain SGD step (lr 1) moves the parameters by exactly the clipped
// gradient: a global L2 norm of at most clip_grad, here reached (the raw gradients are larger).
// In float16 with loss scaling the gradients are unscaled before they are clipped (clipping the
// scaled ones would move the parameters by clip_grad / 2^10).
TEST(Epoch, ClipGradBoundsEveryStep) {
  for (bool f16 : {false, true}) {
    SCOPED_TRACE(f16 ? "float16 + GradScaler" : "float32");
    auto model = classifier();
    data::DataLoader train(48, sample, {.batch_size = 16});
    optim::SGD opt(model->parameters(), {.lr = 1.0});
    optim::GradScaler scaler({.init_scale = 0x1p10, .enabled = f16});
    constexpr double kClip = 1e-3;
    for (int64_t step = 0; step < 3; ++step) {
      std::vector<Tensor> before;
      for (const Tensor& p : model->parameters()) before.push_back(p.detach().clone());
      train.start_epoch(step);
      int64_t global_step = step;
      train_epoch(*model, train, opt, kClasses,
                  {.max_steps = step + 1,
                   .amp = f16,
                   .amp_dtype = DType::F16,
                   .scaler = f16 ? &scaler : nullptr,
                   .clip_grad = kClip},
                  global_step);
      double moved = 0;
      const auto params = model->parameters();
      for (size_t i = 0; i < params.size(); ++i)
        for (double d : (params[i].detach() - before[i]).to_vector<double>()) moved += d * d;
      // 35 float32 parameters below 1 in magnitude: each update rounds to within ulp(1)/2 =
      // 6e-8, so the measured norm is off by less than sqrt(35)·6e-8 = 3.5e-7.
      EXPECT_NEAR(std::sqrt(moved), kClip, 3.5e-7) << "step " << step;
    }
  }
}

// Gradient accumulation: 6 batches of 8 in groups of 4 (the last group short: 2 batches) update
// as batches of 32 and 16 do without it — the same two updates, equal up to float32 rounding of
// the reordered sums (the model has no batch norm, whose statistics would stay per batch).
TEST(Epoch, AccumulatedBatchesUpdateAsOneLargeBatch) {
  auto accumulated = classifier(), large = classifier();
  large->load_state_dict(accumulated->state_dict());
  data::DataLoader small_batches(48, sample, {.batch_size = 8});
  data::DataLoader large_batches(48, sample, {.batch_size = 32});
  optim::SGD opt_a(accumulated->parameters(), {.lr = 0.5, .momentum = 0.9});
  optim::SGD opt_l(large->parameters(), {.lr = 0.5, .momentum = 0.9});
  int64_t steps_a = 0, steps_l = 0;
  small_batches.start_epoch(0);
  large_batches.start_epoch(0);
  const EpochStats a =
      train_epoch(*accumulated, small_batches, opt_a, kClasses, {.accum_steps = 4}, steps_a);
  const EpochStats l = train_epoch(*large, large_batches, opt_l, kClasses, {}, steps_l);
  EXPECT_EQ(steps_a, 2);
  EXPECT_EQ(steps_l, 2);
  EXPECT_EQ(a.steps, 6);  // batches
  EXPECT_NEAR(a.loss, l.loss, 1e-6);
  const auto pa = accumulated->parameters(), pl = large->parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_ALLCLOSE(pa[i], pl[i], testing::tolerance_for(DType::F32, 32));
}

// A batch whose samples all fail to load is skipped, so the resume point is the number of the
// first batch not trained, not first_batch + steps: after batches 0 and 2 (1 was all bad), 3.
TEST(Epoch, StoppedEpochResumesAfterTheLastTrainedBatchPastSkippedOnes) {
  auto model = classifier();
  const data::ExampleFn second_batch_bad = [](int64_t i, Generator& gen) {
    AFN_CHECK(i < 16 || i >= 32, "sample ", i, " is unreadable");
    return sample(i, gen);
  };
  data::DataLoader train(80, second_batch_bad, {.batch_size = 16, .max_bad_samples = 16});
  optim::SGD opt(model->parameters(), {.lr = 0.1});
  int64_t global_step = 0;
  train.start_epoch(0);
  const EpochStats s = train_epoch(*model, train, opt, kClasses, {.max_steps = 2}, global_step);
  EXPECT_TRUE(s.stopped_early);
  EXPECT_EQ(s.steps, 2);
  EXPECT_EQ(s.next_batch, 3);
  train.start_epoch(0, 3);
  const EpochStats rest = train_epoch(*model, train, opt, kClasses, {}, global_step);
  EXPECT_FALSE(rest.stopped_early);
  EXPECT_EQ(rest.steps, 2);  // batches 3 and 4
  EXPECT_EQ(rest.next_batch, 5);
}

TEST(Epoch, DivergingLossIsAnErrorNamingTheStep) {
  auto model = classifier();
  {
    NoGradGuard no_grad;
    model->parameters()[0].fill_(std::numeric_limits<double>::quiet_NaN());
  }
  data::DataLoader train(32, sample, {.batch_size = 16});
  optim::SGD opt(model->parameters(), {.lr = 0.1});
  int64_t global_step = 0;
  train.start_epoch(0);
  try {
    train_epoch(*model, train, opt, kClasses, {.log_interval = 1}, global_step);
    FAIL() << "a NaN loss must stop training";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not finite at step 1; the first non-finite gradient is "
                                         "1.weight's (nan)"),
              std::string::npos)
        << e.what();
  }
}

// Images 32.. hold an infinite pixel: the loss of step 3 (batches of 16) is the first that is not
// finite. Read once per 4 steps, the error still names step 3, and the first parameter that the
// bad step left non-finite; with detect_anomaly, backward stops at step 3 in the first function
// that returned a non-finite gradient.
data::Example poisoned(int64_t i, Generator& gen) {
  data::Example e = sample(i, gen);
  if (i >= 32) e.image.data<float>()[0] = std::numeric_limits<float>::infinity();
  return e;
}

TEST(Epoch, TheFirstNonFiniteStepIsNamedWhenReadLater) {
  for (bool anomaly : {false, true}) {
    SCOPED_TRACE(anomaly ? "detect_anomaly" : "plain");
    auto model = classifier();
    data::DataLoader train(64, poisoned, {.batch_size = 16});
    optim::SGD opt(model->parameters(), {.lr = 0.1});
    int64_t global_step = 0;
    train.start_epoch(0);
    try {
      train_epoch(*model, train, opt, kClasses, {.log_interval = 4, .detect_anomaly = anomaly},
                  global_step);
      FAIL() << "a non-finite loss must stop training";
    } catch (const Error& e) {
      const std::string what = e.what();
      if (anomaly) {
        EXPECT_EQ(global_step, 2);  // backward of step 3 threw before its optimizer step
        EXPECT_EQ(what.rfind("anomaly detected: CrossEntropyBackward returned nan", 0), 0u) << what;
      } else {
        EXPECT_EQ(global_step, 4);
        EXPECT_NE(what.find("not finite at step 3; the first non-finite gradient is 1.weight's"),
                  std::string::npos)
            << what;
      }
    }
  }
}

// images [N, C, H, W] mirrored left-right by index arithmetic (independent of the flip op).
Tensor mirrored(const Tensor& images) {
  const Shape& s = images.shape();
  const int64_t W = s[3], rows = images.numel() / W;
  const std::vector<float> v = images.to_vector<float>();
  std::vector<float> out(v.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t x = 0; x < W; ++x) out[size_t(r * W + x)] = v[size_t(r * W + W - 1 - x)];
  return from_vector(out, s);
}

// With TTA, evaluate() scores (model(x) + model(mirror(x))) / 2 (ttach's mean merge). The model
// is not flip-invariant (a linear layer on the 2x2 pixels), so the averaged logits differ from
// the plain ones and the test can tell whether the mirror image was used at all.
TEST(Epoch, TtaScoresTheMeanOfTheImageAndItsMirror) {
  auto model = classifier();
  data::DataLoader val(70, sample, {.batch_size = 32, .seed = 2});
  val.start_epoch(0);
  const EpochStats plain = evaluate(*model, val, kClasses, {});
  val.start_epoch(0);
  const EpochStats tta = evaluate(*model, val, kClasses, {.tta = true});
  EXPECT_TRUE(model->is_training());

  NoGradGuard no_grad;
  model->eval();
  val.start_epoch(0);
  double loss_sum = 0, plain_loss_sum = 0;
  int64_t correct = 0, top5 = 0, n = 0;
  ConfusionMatrix confusion(kClasses);
  while (auto b = val.next()) {
    const Tensor a = (*model)(b->images), m = (*model)(mirrored(b->images));
    const std::vector<float> av = a.to_vector<float>(), mv = m.to_vector<float>();
    std::vector<float> mean(av.size());
    for (size_t i = 0; i < av.size(); ++i) mean[i] = (av[i] + mv[i]) / 2;
    const Tensor logits = from_vector(mean, a.shape());
    loss_sum += cross_entropy(logits, b->labels, {.reduction = Reduction::Sum}).item<double>();
    plain_loss_sum += cross_entropy(a, b->labels, {.reduction = Reduction::Sum}).item<double>();
    const auto pred = argmax(logits, 1).to_vector<int64_t>();
    const auto top = topk(logits, 5, 1).indices.to_vector<int64_t>();
    const auto y = b->labels.to_vector<int64_t>();
    for (size_t i = 0; i < y.size(); ++i) {
      correct += pred[i] == y[i] ? 1 : 0;
      for (size_t k = 0; k < 5; ++k) top5 += top[i * 5 + k] == y[i] ? 1 : 0;
    }
    confusion.add(y, pred);
    n += int64_t(y.size());
  }
  ASSERT_EQ(tta.samples, n);
  // Mean of per-batch means weighted by size vs one sum: f32 rounding over n = 70 terms.
  EXPECT_NEAR(tta.loss, loss_sum / double(n), 1e-5 * std::max(1.0, tta.loss));
  EXPECT_NEAR(plain.loss, plain_loss_sum / double(n), 1e-5 * std::max(1.0, plain.loss));
  EXPECT_GT(std::abs(tta.loss - plain.loss), 1e-3) << "the mirror image changed nothing";
  EXPECT_DOUBLE_EQ(tta.accuracy, double(correct) / double(n));
  EXPECT_DOUBLE_EQ(tta.top5, double(top5) / double(n));
  for (int64_t t = 0; t < kClasses; ++t)
    for (int64_t p = 0; p < kClasses; ++p) EXPECT_EQ(tta.confusion.at(t, p), confusion.at(t, p));
}

TEST(Epoch, TtaNeedsImageBatches) {
  auto model = std::make_shared<nn::Linear>(4, kClasses);
  data::DataLoader flat(8,
                        [](int64_t i, Generator& gen) {
                          return data::Example{randn({4}, DType::F32, gen), i % kClasses};
                        },
                        {.batch_size = 4});
  flat.start_epoch(0);
  try {
    evaluate(*model, flat, kClasses, {.tta = true});
    FAIL() << "TTA on [N, 4] batches must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[N, C, H, W]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace afinar::train
