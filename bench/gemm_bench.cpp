// GEMM variants on the GPU: TFLOP/s and the fraction of cuBLAS SGEMM (no TF32) measured in the
// same run. Target (issue 3): the best hand-written kernel >= 50% of cuBLAS at 4096³.
//   ./build-gpu/bench/afinar_bench --benchmark_filter=GemmCuda
#include <benchmark/benchmark.h>

#include "afinar/core/tensor.h"
#include "afinar/ops/matmul.h"
#include "cuda_ceilings.h"

namespace afinar {
namespace {

void BM_GemmCuda(benchmark::State& state, MatmulAlgo algo) {
  if (!bench::gpu_available(state)) return;
  const int64_t n = state.range(0);
  const Device gpu(DeviceType::CUDA, 0);
  Generator gen(2);
  Tensor a = randn({n, n}, DType::F32, gpu, gen), b = randn({n, n}, DType::F32, gpu, gen);
  double seconds = 0;
  for (auto _ : state) {
    seconds =
        bench::time_cuda([&] { ops::matmul(a, b, algo); }, algo == MatmulAlgo::Naive ? 2 : 10);
    state.SetIterationTime(seconds);
  }
  const double flops = 2.0 * double(n) * n * n / seconds;
  state.counters["TFLOP/s"] = flops / 1e12;
  state.counters["frac_cublas"] = flops / bench::cublas_sgemm_flops_per_s();
}

BENCHMARK_CAPTURE(BM_GemmCuda, Cublas, MatmulAlgo::Blas)
    ->Arg(1024)
    ->Arg(4096)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_GemmCuda, Naive, MatmulAlgo::Naive)
    ->Arg(1024)
    ->Arg(4096)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_GemmCuda, Tiled, MatmulAlgo::Tiled)
    ->Arg(1024)
    ->Arg(4096)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_GemmCuda, RegisterBlocked, MatmulAlgo::RegisterBlocked)
    ->Arg(1024)
    ->Arg(4096)
    ->UseManualTime()
    ->Iterations(1);

}  // namespace
}  // namespace afinar
