// flip on an image batch, float32, the raw op (memory-bound: every element read once, written
// once, so GB/s counts 2 x the tensor's bytes):
//   Flip/w_64x3x224x224    dims {3}: the horizontal flip of test-time augmentation
//   Flip/hw_64x3x224x224   dims {2, 3}: rows and columns reversed (a 180-degree rotation)
//   Flip/c_64x3x224x224    dims {1}: RGB <-> BGR, whole planes moved
// CPU against PyTorch: bench/torch/flip.py (tools/bench/compare.py --filter Flip).
// GPU: FlipCuda/<same cases> at batch 256, GB/s and the fraction of the copy rate measured in
// the same run (bench/cuda_ceilings.h).
//   ./build/bench/afinar_bench --benchmark_filter=Flip
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "afinar/ops/flip.h"
#include "cuda_ceilings.h"

namespace afinar {
namespace {

struct FlipCase {
  const char* name;
  std::vector<int64_t> dims;
};
const std::vector<FlipCase> kCases = {{"w", {3}}, {"hw", {2, 3}}, {"c", {1}}};

void flip_cpu(benchmark::State& state, Shape shape, std::vector<int64_t> dims) {
  const Tensor x = randn(shape);
  for (auto _ : state) benchmark::DoNotOptimize(ops::flip(x, dims).raw_data());
  state.counters["GB/s"] = benchmark::Counter(2.0 * double(x.nbytes()) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void flip_cuda(benchmark::State& state, Shape shape, std::vector<int64_t> dims) {
  if (!bench::gpu_available(state)) return;
  const Tensor x = randn(shape, DType::F32, Device(DeviceType::CUDA, 0));
  bench::report_memory_bound(state, 2.0 * double(x.nbytes()), [&] { ops::flip(x, dims); });
}

const bool registered = [] {
  for (const FlipCase& c : kCases) {
    benchmark::RegisterBenchmark((std::string("Flip/") + c.name + "_64x3x224x224").c_str(),
                                 flip_cpu, Shape{64, 3, 224, 224}, c.dims)
        ->UseRealTime()  // OpenMP threads do the work
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("FlipCuda/") + c.name + "_256x3x224x224").c_str(),
                                 flip_cuda, Shape{256, 3, 224, 224}, c.dims)
        ->UseManualTime()
        ->Iterations(1);
  }
  return true;
}();

}  // namespace
}  // namespace afinar
