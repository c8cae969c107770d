// Memory-bound CUDA kernels at large sizes: achieved GB/s (bytes read + written) and the fraction
// of the device-to-device copy rate measured in the same run. Target (issue 3): >= 80%.
//   ./build-gpu/bench/afinar_bench --benchmark_filter=Cuda
#include <benchmark/benchmark.h>

#include <functional>

#include "afinar/core/tensor.h"
#include "afinar/ops/activation.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/reduce.h"
#include "cuda_ceilings.h"

namespace afinar {
namespace {

const Device kGpu{DeviceType::CUDA, 0};

// `bytes_per_element` counts every array the op reads or writes once.
void run(benchmark::State& state, double bytes_per_element, const std::function<void()>& op) {
  bench::report_memory_bound(state, bytes_per_element * double(state.range(0)), op);
}

void BM_ReluForwardCuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  Tensor x = randn({state.range(0)}, DType::F32, kGpu);
  run(state, 8, [&] { ops::relu_forward(x); });
}

void BM_ReluBackwardCuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  Tensor g = randn({state.range(0)}, DType::F32, kGpu),
         y = randn({state.range(0)}, DType::F32, kGpu);
  run(state, 12, [&] { ops::relu_backward(g, y); });
}

void BM_AddCuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  Tensor a = randn({state.range(0)}, DType::F32, kGpu),
         b = randn({state.range(0)}, DType::F32, kGpu);
  run(state, 12, [&] { ops::add(a, b, 1.0); });
}

// Row sums of [N*C, H*W] (batch norm's per-plane sums: 256x64 planes of 56x56) and of a few
// long rows, for every teaching variant.
void BM_SumRowsCuda(benchmark::State& state, ReduceAlgo algo, int64_t inner) {
  if (!bench::gpu_available(state)) return;
  Tensor x = randn({state.range(0) / inner, inner}, DType::F32, kGpu);
  run(state, 4, [&] { ops::sum(x, {1}, false, algo); });
}

constexpr int64_t kLarge = int64_t(1) << 28;  // 1 GiB of float32 per operand
BENCHMARK(BM_ReluForwardCuda)->Arg(kLarge)->UseManualTime()->Iterations(1);
BENCHMARK(BM_ReluBackwardCuda)->Arg(kLarge)->UseManualTime()->Iterations(1);
BENCHMARK(BM_AddCuda)->Arg(kLarge)->UseManualTime()->Iterations(1);
constexpr int64_t kPlanes = 256 * 64 * 56 * 56;
BENCHMARK_CAPTURE(BM_SumRowsCuda, Naive_56x56, ReduceAlgo::Naive, 56 * 56)
    ->Arg(kPlanes)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_SumRowsCuda, WarpShuffle_56x56, ReduceAlgo::WarpShuffle, 56 * 56)
    ->Arg(kPlanes)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_SumRowsCuda, Cub_56x56, ReduceAlgo::Cub, 56 * 56)
    ->Arg(kPlanes)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_SumRowsCuda, Naive_long, ReduceAlgo::Naive, int64_t(1) << 22)
    ->Arg(kLarge)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_SumRowsCuda, WarpShuffle_long, ReduceAlgo::WarpShuffle, int64_t(1) << 22)
    ->Arg(kLarge)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_SumRowsCuda, Cub_long, ReduceAlgo::Cub, int64_t(1) << 22)
    ->Arg(kLarge)
    ->UseManualTime()
    ->Iterations(1);

}  // namespace
}  // namespace afinar
