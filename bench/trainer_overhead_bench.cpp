// Trainer overhead (issue 6: under 5% of the raw step time on the GPU, data excluded). The same
// training steps are timed two ways, in alternating rounds of one benchmark, on one model and one
// batch:
//   raw      the loop a user writes: zero_grad, forward, cross_entropy, backward, step, on a
//            batch already on the device, nothing read back before the round ends
//   trainer  train_epoch (train/epoch.h) over a DataLoader serving that batch from host memory:
//            the metrics (argmax, top-5, confusion), the loss's finiteness check, progress
//            reports every log interval (20 steps), the host copy and device upload of the batch
// Counters: raw_ms and trainer_ms per step (medians over the rounds) and overhead_pct =
// 100 * (trainer / raw - 1). The loader's work (a 2-worker prefetch, pinned upload on the GPU) is
// data, but it is counted into `trainer` here, so the figure is an upper bound.
//   TrainerOverhead/resnet18_64px_b16             CPU
//   TrainerOverhead/resnet18_224px_b64_cuda       GPU (skipped without one)
//   ./build/bench/afinar_bench --benchmark_filter=TrainerOverhead
#include <benchmark/benchmark.h>

#include <chrono>
#include <vector>

#include "afinar/core/allocator.h"
#include "afinar/nn/models.h"
#include "afinar/ops/loss.h"
#include "afinar/optim/sgd.h"
#include "afinar/train/epoch.h"
#include "cuda_ceilings.h"
#include "training_fixture.h"

namespace afinar {
namespace {

constexpr int64_t kClasses = 10, kSteps = 20;  // steps per round: one log interval

void trainer_overhead(benchmark::State& state, Device device, int64_t batch, int64_t size) {
  if (device.is_cuda() && !bench::gpu_available(state)) return;
  nn::ModulePtr model = nn::create_model("resnet18", kClasses);
  model->to(device);
  model->train();
  optim::SGD opt(model->parameters(), {.lr = 1e-3, .momentum = 0.9});

  const bench::SyntheticBatch host = bench::synthetic_batch(batch, size, kClasses);
  const Tensor& images = host.images;
  const Tensor x = images.to(device), y = host.labels.to(device);

  // The loader serves the same images: sample i is row i % batch.
  data::DataLoader loader(batch * kSteps,
                          [&](int64_t i, Generator&) {
                            const int64_t row = i % batch;
                            return data::Example{
                                images.slice(0, row, row + 1).reshape({3, size, size}).clone(),
                                row % kClasses};
                          },
                          {.batch_size = batch, .num_workers = 2, .device = device});

  using Clock = std::chrono::steady_clock;
  const auto seconds_since = [](Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  const auto raw_round = [&] {
    const auto t0 = Clock::now();
    for (int64_t s = 0; s < kSteps; ++s) {
      opt.zero_grad();
      cross_entropy((*model)(x), y).backward();
      opt.step();
    }
    synchronize(device);
    return seconds_since(t0) / double(kSteps);
  };
  int64_t global_step = 0, epoch = 0;
  const auto trainer_round = [&] {
    loader.start_epoch(epoch++);
    const auto t0 = Clock::now();
    train::train_epoch(*model, loader, opt, kClasses, {.log_interval = kSteps}, global_step);
    synchronize(device);
    return seconds_since(t0) / double(kSteps);
  };
  raw_round();  // warm-up: allocator caches, cuDNN algorithm choice, first-touch pages
  trainer_round();

  std::vector<double> raw, trainer;
  for (auto _ : state) {
    raw.push_back(raw_round());
    trainer.push_back(trainer_round());
    state.SetIterationTime(raw.back() + trainer.back());
  }
  const double r = bench::median(raw), t = bench::median(trainer);
  state.counters["raw_ms"] = r * 1e3;
  state.counters["trainer_ms"] = t * 1e3;
  state.counters["overhead_pct"] = 100.0 * (t / r - 1.0);
}

const bool registered = [] {
  benchmark::RegisterBenchmark("TrainerOverhead/resnet18_64px_b16", trainer_overhead, kCPU, 16, 64)
      ->UseManualTime()
      ->Iterations(5)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("TrainerOverhead/resnet18_224px_b64_cuda", trainer_overhead,
                               Device(DeviceType::CUDA, 0), 64, 224)
      ->UseManualTime()
      ->Iterations(10)
      ->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
}  // namespace afinar
