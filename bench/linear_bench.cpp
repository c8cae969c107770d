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
#include "cuda_ceilings.h"

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

// ---- CUDA ------------------------------------------------------------------------------------
// The same heads on the GPU at batch 64 (f32; TF32 off, PyTorch's default for matmul):
//   LinearCudaFwdBwd/512x1000, /25088x4096, /4096x4096
// One iteration: forward, dL/dx, dL/dW, dL/db (cuBLAS GEMMs + the bias kernels); TFLOP/s counts
// the three GEMMs, 6·N·in·out, and frac_cublas compares with cuBLAS SGEMM at 4096³ measured in
// the same run. Timing: bench::time_cuda (median of synchronised batches after a warm-up).
//   build/bench/afinar_bench --benchmark_filter=LinearCuda

void linear_cuda_fwd_bwd(benchmark::State& state, int64_t batch, int64_t in, int64_t out) {
  if (!bench::gpu_available(state)) return;
  const Device gpu(DeviceType::CUDA, 0);
  Generator gen(1);
  Tensor x = randn({batch, in}, DType::F32, gpu, gen), w = randn({out, in}, DType::F32, gpu, gen),
         b = randn({out}, DType::F32, gpu, gen), g = randn({batch, out}, DType::F32, gpu, gen);
  auto step = [&] {
    ops::linear_forward(x, w, b);
    ops::linear_backward_input(g, w);
    ops::linear_backward_weight(g, x);
    ops::linear_backward_bias(g);
  };
  double seconds = 0;
  for (auto _ : state) {
    seconds = bench::time_cuda(step);
    state.SetIterationTime(seconds);
  }
  const double flops = 6.0 * double(batch * in * out) / seconds;
  state.counters["TFLOP/s"] = flops * 1e-12;
  state.counters["frac_cublas"] = flops / bench::cublas_sgemm_flops_per_s();
}

const bool registered_cuda = [] {
  constexpr int64_t kBatch = 64;
  for (const HeadShape& s : {HeadShape{"LinearCudaFwdBwd/512x1000", 512, 1000},
                             HeadShape{"LinearCudaFwdBwd/25088x4096", 25088, 4096},
                             HeadShape{"LinearCudaFwdBwd/4096x4096", 4096, 4096}}) {
    benchmark::RegisterBenchmark(s.name, linear_cuda_fwd_bwd, kBatch, s.in, s.out)
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
}  // namespace afinar
