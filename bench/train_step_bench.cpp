// End-to-end training and inference steps of whole models, the configurations of shared/PERF.md
// (issue 8): synthetic data already on the device, 10 classes, Adam, cuDNN's measured algorithm
// choice (cudnn.benchmark). One step is zero_grad, forward, cross_entropy, backward, Adam step
// (inference: an eval-mode forward without gradients), timed with a device synchronisation after
// it: the median of 30 steps after 8 warm-up steps (CPU: 5 after 2). Counters:
//   ms_step   the median step time          img_s   batch / ms_step
//   peak_GiB  the most memory afinar tensors held during the timed steps (weights, optimizer
//             state and activations)
// Modes: full (everything trains), frozen (the backbone frozen, the fc head trains), seed000
// (seed 000's VGG16: block 5 and a 512 -> 10 Linear head after a global average pool train,
// recipes/000_vgg16_block5.toml), inference, folded (inference with the batch norms folded into
// the convolutions, nn::fuse_conv_bn; PyTorch's twin folds with torch.fx's fuse()).
//   TrainStep/<model>_<mode>_b<batch>[_bf16]_cuda      224x224, skipped without a GPU
//   TrainStep/<model>_<mode>_b<batch>[_bf16]_64px_cpu  small CPU cases that keep the harness
//                                                      tested
// _bf16: the forward and the loss under autocast (autograd/autocast.h, the trainer's --amp), as
// PyTorch's autocast(dtype=torch.bfloat16); the parameters and Adam stay float32. _cl / _bf16cl:
// the model and the batch channels-last (the trainer's --channels-last), PERF.md's "bf16+cl".
// A fourth counter, layout_copies, is the number of layout conversions (contiguous_copy_count)
// per step: 0 when every op took its operands as they came.
// _loader: the batches come from a DataLoader instead (issue 8: within 10% of the synthetic
// step for resnet18 bf16): the decoded cache of photo_fixture.h's 16 JPEGs, RandomResizedCrop +
// flip + Normalize on all cores but one, pinned asynchronous uploads; what the trainer feeds.
// PyTorch twin: bench/torch/train_step.py. One table with both and the ratios:
//   tools/gpu/train_bench.py            (on the GPU machine)
//   tools/gpu/train_bench.py --device cpu
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "afinar/autograd/autocast.h"
#include "afinar/autograd/grad_mode.h"
#include "afinar/core/allocator.h"
#include "afinar/data/decoded_cache.h"
#include "afinar/data/loader.h"
#include "afinar/nn/freeze.h"
#include "afinar/nn/fuse.h"
#include "afinar/nn/models.h"
#include "afinar/ops/conv2d.h"
#include "afinar/ops/loss.h"
#include "afinar/optim/adam.h"
#include "cuda_ceilings.h"
#include "photo_fixture.h"
#include "training_fixture.h"

namespace afinar {
namespace {

constexpr int64_t kClasses = 10;

struct Config {
  std::string model, mode;
  int64_t batch, size;
  Device device;
  bool bf16 = false;           // autocast
  bool channels_last = false;  // weights and batch NHWC
  bool loader = false;         // batches from a DataLoader over the decoded cache
};

// The DataLoader of a _loader row: enough shuffled batches for every step of the run (one epoch,
// so no worker restarts in the timed steps), images of c.size pixels delivered on c.device.
std::unique_ptr<data::DataLoader> photo_loader(const Config& c, int64_t steps) {
  const data::ExampleFn cached =
      data::cached_source(bench::photo_cache(), bench::photo_augmentation(c.size));
  const int workers = int(std::max(1u, std::thread::hardware_concurrency() - 1));
  auto loader = std::make_unique<data::DataLoader>(
      c.batch * steps,
      [cached](int64_t i, Generator& gen) { return cached(i % bench::kPhotoFiles, gen); },
      data::LoaderOptions{.batch_size = c.batch,
                          .shuffle = true,
                          .drop_last = true,
                          .num_workers = workers,
                          .device = c.device});
  loader->start_epoch(0);
  return loader;
}

// The parameters that train in `mode`, the rest frozen (requires_grad false).
std::vector<Tensor> trainable(nn::Module& model, const Config& c) {
  if (c.mode == "frozen") {
    nn::freeze(model, {"*"});
    nn::unfreeze(model, {"fc.*"});
  } else if (c.mode == "seed000") {
    nn::freeze(model, {"*"});
    nn::unfreeze(model, {"features.24.*", "features.26.*", "features.28.*", "classifier.*"});
  }
  std::vector<Tensor> params;
  for (const Tensor& p : model.parameters())
    if (p.requires_grad()) params.push_back(p);
  return params;
}

void train_step(benchmark::State& state, const Config& c) {
  if (c.device.is_cuda() && !bench::gpu_available(state)) return;
  set_cudnn_benchmark(true);
  const nn::HeadSpec head{.kind = c.mode == "seed000" ? "linear" : "default"};
  nn::ModulePtr model = nn::create_model(c.model, kClasses, head);
  model->to(c.device);
  const MemoryFormat fmt = c.channels_last ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous;
  model->to(fmt);
  const bench::SyntheticBatch host = bench::synthetic_batch(c.batch, c.size, kClasses);
  Tensor x = host.images.to(c.device).to(fmt), y = host.labels.to(c.device);
  const bool gpu = c.device.is_cuda();
  const int64_t warmup = gpu ? 8 : 2;
  std::unique_ptr<data::DataLoader> loader;
  if (c.loader) loader = photo_loader(c, warmup + state.max_iterations + 1);
  // The step's batch: the synthetic one, or the loader's next (a new epoch if it ran out).
  const auto next_batch = [&] {
    if (!loader) return;
    std::optional<data::Batch> b = loader->next();
    if (!b) {
      loader->start_epoch(1);
      b = loader->next();
    }
    x = b->images.to(fmt);
    y = b->labels;
  };

  std::function<void()> step;
  std::unique_ptr<optim::Adam> opt;
  if (c.mode == "inference" || c.mode == "folded") {
    model->eval();
    if (c.mode == "folded") nn::fuse_conv_bn(*model);
    step = [&] {
      next_batch();
      NoGradGuard no_grad;
      const AutocastGuard amp(c.device.type, c.bf16);
      benchmark::DoNotOptimize((*model)(x).raw_data_ptr());
    };
  } else {
    model->train();
    opt = std::make_unique<optim::Adam>(trainable(*model, c));
    step = [&] {
      next_batch();
      opt->zero_grad();
      Tensor loss;
      {
        const AutocastGuard amp(c.device.type, c.bf16);  // the forward and the loss, as torch's
        loss = cross_entropy((*model)(x), y);
      }
      loss.backward();
      opt->step();
    };
  }

  for (int64_t i = 0; i < warmup; ++i) step();
  synchronize(c.device);
  reset_peak_memory_stats(c.device);
  const int64_t copies = contiguous_copy_count();
  std::vector<double> seconds;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    synchronize(c.device);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    state.SetIterationTime(seconds.back());
  }
  const double median = bench::median(seconds);
  state.counters["ms_step"] = median * 1e3;
  state.counters["img_s"] = double(c.batch) / median;
  state.counters["peak_GiB"] = double(memory_stats(c.device).peak_allocated) / double(1 << 30);
  state.counters["layout_copies"] =
      double(contiguous_copy_count() - copies) / double(seconds.size());
}

const bool registered = [] {
  const Device cuda(DeviceType::CUDA, 0);
  std::vector<Config> configs = {
      {"resnet18", "full", 64, 224, cuda},
      {"resnet18", "full", 256, 224, cuda},
      {"resnet18", "frozen", 64, 224, cuda},
      {"resnet18", "inference", 256, 224, cuda},
      {"vgg16", "full", 64, 224, cuda},
      {"vgg16", "seed000", 64, 224, cuda},
      {"vgg16", "inference", 128, 224, cuda},
      {"resnet50", "full", 64, 224, cuda},
      {"resnet18", "full", 16, 64, kCPU},
      {"resnet18", "frozen", 16, 64, kCPU},
      {"resnet18", "inference", 16, 64, kCPU},
      {"vgg16", "seed000", 4, 64, kCPU},
      {"resnet18", "folded", 256, 224, cuda},
      {"resnet18", "folded", 16, 64, kCPU},
      // PERF.md's bf16 rows.
      {"resnet18", "full", 256, 224, cuda, true},
      {"resnet18", "frozen", 256, 224, cuda, true},
      {"resnet18", "inference", 256, 224, cuda, true},
      {"vgg16", "full", 64, 224, cuda, true},
      {"vgg16", "seed000", 64, 224, cuda, true},
      {"resnet50", "full", 128, 224, cuda, true},
      {"resnet18", "folded", 256, 224, cuda, true},
      {"resnet18", "full", 16, 64, kCPU, true},
      {"resnet18", "full", 16, 64, kCPU, false, true},
      // Fed by the loader: the resnet18 bf16 rows, and a small CPU one.
      {"resnet18", "full", 256, 224, cuda, true, true, true},
      {"resnet18", "full", 256, 224, cuda, true, false, true},
      {"resnet18", "full", 16, 64, kCPU, false, false, true},
  };
  // PERF.md's bf16+cl rows: each CUDA bf16 row again with channels-last.
  for (size_t i = 0, n = configs.size(); i < n; ++i)
    if (configs[i].bf16 && configs[i].device.is_cuda() && !configs[i].loader) {
      configs.push_back(configs[i]);
      configs.back().channels_last = true;
    }
  for (const Config& c : configs) {
    const bool gpu = c.device.is_cuda();
    // detail::concat: GCC 12 warns falsely (-Wrestrict) on a chain of std::string +.
    const std::string precision =
        detail::concat(c.bf16 || c.channels_last ? "_" : "", c.bf16 ? "bf16" : "",
                       c.channels_last ? "cl" : "", c.loader ? "_loader" : "");
    const std::string name =
        gpu ? detail::concat("TrainStep/", c.model, "_", c.mode, "_b", c.batch, precision, "_cuda")
            : detail::concat("TrainStep/", c.model, "_", c.mode, "_b", c.batch, precision, "_",
                             c.size, "px_cpu");
    benchmark::RegisterBenchmark(name.c_str(), train_step, c)
        ->UseManualTime()
        ->Iterations(gpu ? 30 : 5)
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
}  // namespace afinar
