// Linear forward + backward (f32, CPU) at the classifier-head shapes of ResNet18 and VGG16:
//   LinearFwdBwd/512x1000     ResNet18 fc            (batch 16)
//   LinearFwdBwd/25088x4096   VGG16 classifier.0     (batch 16)
//   LinearFwdBwd/4096x4096    VGG16 classifier.3     (batch 16)
// One iteration is the four ops a trained layer runs: forward, dL/dx, dL/dW, dL/db (the raw ops,
// so the timing is the op's own, not the autograd bookkeeping around it). GFLOP/s counts the
// three GEMMs, 6·N·in·out. PyTorch on the same shapes: bench/torch/linear.py.
//   build/bench/afinar_bench --benchmark_filter=Linear
#include <benchmark/benchmark.h>

#include <chrono>

#include "afinar/ops/linear.h"

namespace afinar {
namespace {

void linear_fwd_bwd(benchmark::State& state, int64_t batch, int64_t in, int64_t out) {
  Generator gen(1);
  Tensor x = randn({batch, in}, DType::F32, gen), w = randn({out, in}, DType::F32, gen),
         b = randn({out}, DType::F32, gen), g = randn({batch, out}, DType::F32, gen);
  // GFLOP/s from our own wall clock: the work runs on OpenBLAS threads, so the benchmark
  // thread's CPU time undercounts it, and UseRealTime() would rename the benchmark
  // ("/real_time" suffix) away from the names bench/torch/linear.py prints.
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    {
      Tensor y = ops::linear_forward(x, w, b);
      Tensor gx = ops::linear_backward_input(g, w);
      Tensor gw = ops::linear_backward_weight(g, x);
      Tensor gb = ops::linear_backward_bias(g);
      benchmark::DoNotOptimize(y.raw_data());
      benchmark::DoNotOptimize(gx.raw_data());
      benchmark::DoNotOptimize(gw.raw_data());
      benchmark::DoNotOptimize(gb.raw_data());
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  state.counters["GFLOP/s"] =
      6.0 * double(batch * in * out) * double(state.iterations()) / seconds * 1e-9;
}

struct HeadShape {
  const char* name;
  int64_t in, out;
};

const bool registered = [] {
  constexpr int64_t kBatch = 16;
  for (const HeadShape& s : {HeadShape{"LinearFwdBwd/512x1000", 512, 1000},
                             HeadShape{"LinearFwdBwd/25088x4096", 25088, 4096},
                             HeadShape{"LinearFwdBwd/4096x4096", 4096, 4096}}) {
    benchmark::RegisterBenchmark(s.name, linear_fwd_bwd, kBatch, s.in, s.out)
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
}  // namespace afinar
