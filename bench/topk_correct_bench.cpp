// topk_correct (the accuracy numerator) on ImageNet-sized logits: [N, 1000] read once.
// GPU: GB/s and the fraction of the copy rate measured in the same run (memory-bound target 80%).
//   ./build/bench/afinar_bench --benchmark_filter=TopkCorrect
#include <benchmark/benchmark.h>

#include "afinar/core/tensor.h"
#include "afinar/ops/topk_correct.h"
#include "cuda_ceilings.h"

namespace afinar {
namespace {

constexpr int64_t kClasses = 1000;

void BM_TopkCorrect(benchmark::State& state) {
  const int64_t N = state.range(0);
  Tensor logits = randn({N, kClasses});
  Tensor target = zeros({N}, DType::I64);  // a valid class: every row is ranked
  for (auto _ : state) benchmark::DoNotOptimize(topk_correct(logits, target, 5));
  state.SetBytesProcessed(state.iterations() * N * kClasses * 4);
}
BENCHMARK(BM_TopkCorrect)->Arg(256)->Unit(benchmark::kMicrosecond);

void BM_TopkCorrectCuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  const Device gpu{DeviceType::CUDA, 0};
  const int64_t N = state.range(0);
  Tensor logits = randn({N, kClasses}, DType::F32, gpu);
  Tensor target = zeros({N}, DType::I64, gpu);
  bench::report_memory_bound(state, double(N * kClasses) * 4,
                             [&] { topk_correct(logits, target, 5); });
}
BENCHMARK(BM_TopkCorrectCuda)->Arg(65536)->UseManualTime()->Iterations(1);

}  // namespace
}  // namespace afinar
