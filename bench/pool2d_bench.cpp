// Pooling on the CPU at the shapes ResNet runs them (f32, batch 16), raw ops only:
//   MaxPool2dFwd/resnet_stem    [16,64,112,112], 3x3 stride 2 padding 1 -> [16,64,56,56]
//   MaxPool2dBwd/resnet_stem    its backward (scatter of g into the saved indices)
//   ..._cl                      the same, channels-last
// PyTorch twin of the max-pool rows: bench/torch/max_pool2d.py (tools/bench/compare.py --filter
// MaxPool2d).
//   AvgPool2dFwd/3x3_s1_p1      [16,256,28,28], 3x3 stride 1 padding 1 (Inception-style)
//   AdaptiveAvgPool2dFwd/head   [16,512,7,7] -> [16,512,1,1], ResNet18's avgpool
//   AdaptiveAvgPool2dBwd/head   its backward
// bytes_per_second counts the bytes each op must move once: the input read and the output written
// (plus the indices for max pooling). The loops run one OpenMP task per [H,W] plane.
//   build/bench/afinar_bench --benchmark_filter=Pool2d
#include <benchmark/benchmark.h>

#include <functional>

#include "afinar/core/device.h"
#include "afinar/ops/adaptive_pool2d.h"
#include "afinar/ops/pool2d.h"
#include "cuda_ceilings.h"

namespace afinar {
namespace {

void set_bytes(benchmark::State& state, double bytes) {
  state.SetBytesProcessed(int64_t(bytes) * state.iterations());
}

const MaxPool2dOptions kStem{.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}};

// The stem's input, NCHW or channels-last.
Tensor stem_input(MemoryFormat fmt) {
  Generator gen(1);
  return randn({16, 64, 112, 112}, DType::F32, gen).contiguous(fmt);
}

void max_pool2d_fwd(benchmark::State& state, MemoryFormat fmt) {
  Tensor x = stem_input(fmt);
  Tensor y;
  for (auto _ : state) {
    auto out = ops::max_pool2d_forward(x, kStem);
    y = out.first;
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_bytes(state, double(x.nbytes() + y.nbytes() + size_t(y.numel()) * 8));
}

void max_pool2d_bwd(benchmark::State& state, MemoryFormat fmt) {
  Tensor x = stem_input(fmt);
  auto [y, idx] = ops::max_pool2d_forward(x, kStem);
  Generator gen(2);
  Tensor g = randn(y.shape(), DType::F32, gen).contiguous(fmt);
  for (auto _ : state) {
    Tensor gx = ops::max_pool2d_backward(g, idx, x.shape(), kStem);
    benchmark::DoNotOptimize(gx.raw_data());
  }
  set_bytes(state, double(x.nbytes() + g.nbytes() + idx.nbytes()));
}

void avg_pool2d_fwd(benchmark::State& state) {
  Generator gen(1);
  Tensor x = randn({16, 256, 28, 28}, DType::F32, gen);
  const AvgPool2dOptions opt{.kernel_size = {3, 3}, .stride = {1, 1}, .padding = {1, 1}};
  for (auto _ : state) {
    Tensor y = ops::avg_pool2d_forward(x, opt);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_bytes(state, double(2 * x.nbytes()));
}

void adaptive_avg_pool2d_fwd(benchmark::State& state) {
  Generator gen(1);
  Tensor x = randn({16, 512, 7, 7}, DType::F32, gen);
  for (auto _ : state) {
    Tensor y = ops::adaptive_avg_pool2d_forward(x, {1, 1});
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_bytes(state, double(x.nbytes()) * (1 + 1.0 / 49));
}

void adaptive_avg_pool2d_bwd(benchmark::State& state) {
  Generator gen(1);
  Tensor g = randn({16, 512, 1, 1}, DType::F32, gen);
  const Shape in{16, 512, 7, 7};
  for (auto _ : state) {
    Tensor gx = ops::adaptive_avg_pool2d_backward(g, in);
    benchmark::DoNotOptimize(gx.raw_data());
  }
  set_bytes(state, double(g.nbytes()) * (1 + 49));
}

struct Case {
  const char* name;
  std::function<void(benchmark::State&)> fn;
};

const bool registered = [] {
  constexpr MemoryFormat kNchw = MemoryFormat::Contiguous, kCl = MemoryFormat::ChannelsLast;
  auto with = [](void (*fn)(benchmark::State&, MemoryFormat), MemoryFormat fmt) {
    return [fn, fmt](benchmark::State& state) { fn(state, fmt); };
  };
  for (const Case& c : {Case{"MaxPool2dFwd/resnet_stem", with(max_pool2d_fwd, kNchw)},
                        Case{"MaxPool2dFwd/resnet_stem_cl", with(max_pool2d_fwd, kCl)},
                        Case{"MaxPool2dBwd/resnet_stem", with(max_pool2d_bwd, kNchw)},
                        Case{"MaxPool2dBwd/resnet_stem_cl", with(max_pool2d_bwd, kCl)},
                        Case{"AvgPool2dFwd/3x3_s1_p1", avg_pool2d_fwd},
                        Case{"AdaptiveAvgPool2dFwd/head", adaptive_avg_pool2d_fwd},
                        Case{"AdaptiveAvgPool2dBwd/head", adaptive_avg_pool2d_bwd}}) {
    benchmark::RegisterBenchmark(c.name, c.fn)
        ->UseRealTime()  // OpenMP threads do the work: wall time is the cost
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
}  // namespace afinar

// ---- CUDA ----
// GB/s counts every array the op must move once (input read, output written, indices); frac_copy
// is that rate over the device-to-device copy rate measured in the same run.
//   MaxPool2dCuda/resnet_stem_fwd   [64,64,112,112] 3x3 s2 p1: x + y + indices (int64)
//   MaxPool2dCuda/resnet_stem_bwd   its backward: g + indices + grad_input. The op also reads the
//                                   indices once more to check them (not counted), and
//                                   synchronises once to read the check's result.
//   AdaptiveAvgPool2dCuda/head_fwd  [256,512,7,7] -> 1x1: x + y
//   AdaptiveAvgPool2dCuda/head_bwd  its backward: g + grad_input
//   ./build-gpu/bench/afinar_bench --benchmark_filter='Pool2dCuda'
// H100 (2026-11-22), PyTorch 2.11 on the same machine in brackets:
//   MaxPool2dCuda/resnet_stem_fwd    145 us, frac_copy 0.82  (torch 204 us)
//   MaxPool2dCuda/resnet_stem_bwd    256 us, frac_copy 0.47  (torch 633 us)
//   AdaptiveAvgPool2dCuda/head_fwd    12 us, frac_copy 0.73  (torch 32 us)
//   AdaptiveAvgPool2dCuda/head_bwd    32 us, frac_copy 0.28  (torch 104 us)
namespace afinar {
namespace {

const Device kGpu{DeviceType::CUDA, 0};

const Shape kStemIn{64, 64, 112, 112};

void max_pool2d_fwd_cuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  Generator gen(1);
  Tensor x = randn(kStemIn, DType::F32, kGpu, gen);
  auto [y, idx] = ops::max_pool2d_forward(x, kStem);
  bench::report_memory_bound(state, double(x.nbytes() + y.nbytes() + idx.nbytes()),
                             [&] { ops::max_pool2d_forward(x, kStem); });
}

void max_pool2d_bwd_cuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  Generator gen(1);
  Tensor x = randn(kStemIn, DType::F32, kGpu, gen);
  auto [y, idx] = ops::max_pool2d_forward(x, kStem);
  Tensor g = randn(y.shape(), DType::F32, kGpu, gen);
  bench::report_memory_bound(state, double(g.nbytes() + idx.nbytes() + x.nbytes()),
                             [&] { ops::max_pool2d_backward(g, idx, kStemIn, kStem); });
}

const Shape kHeadIn{256, 512, 7, 7};

void adaptive_avg_pool2d_fwd_cuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  Generator gen(1);
  Tensor x = randn(kHeadIn, DType::F32, kGpu, gen);
  bench::report_memory_bound(state, double(x.nbytes()) * (1 + 1.0 / 49), [&] {
    ops::adaptive_avg_pool2d_forward(x, {1, 1});
  });
}

void adaptive_avg_pool2d_bwd_cuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  Generator gen(1);
  Tensor g = randn({256, 512, 1, 1}, DType::F32, kGpu, gen);
  bench::report_memory_bound(state, double(g.nbytes()) * (1 + 49),
                             [&] { ops::adaptive_avg_pool2d_backward(g, kHeadIn); });
}

const bool registered_cuda = [] {
  for (const Case& c : {Case{"MaxPool2dCuda/resnet_stem_fwd", max_pool2d_fwd_cuda},
                        Case{"MaxPool2dCuda/resnet_stem_bwd", max_pool2d_bwd_cuda},
                        Case{"AdaptiveAvgPool2dCuda/head_fwd", adaptive_avg_pool2d_fwd_cuda},
                        Case{"AdaptiveAvgPool2dCuda/head_bwd", adaptive_avg_pool2d_bwd_cuda}}) {
    benchmark::RegisterBenchmark(c.name, c.fn)
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kMicrosecond);
  }
  return true;
}();

}  // namespace
}  // namespace afinar
