// The loss scaler's unscale over one step's gradients: ResNet18's 62 float32 gradients (11.7M
// values), each read and written once (8 B/element), one call (the CPU: OpenMP inside each
// tensor; the GPU: one multi-tensor launch). GPU: GB/s and the fraction of the copy rate. The
// scale is 1, so the values do not drift towards subnormals over the iterations (the kernel
// multiplies either way).
//   ./build/bench/afinar_bench --benchmark_filter=AmpScale
#include <benchmark/benchmark.h>

#include "afinar/ops/amp_scale.h"
#include "cuda_ceilings.h"
#include "training_fixture.h"

namespace afinar {
namespace {

void run(benchmark::State& state, Device device) {
  std::vector<Tensor> grads;
  int64_t n = 0;
  for (const Shape& s : bench::resnet18_parameter_shapes()) {
    grads.push_back(randn(s, DType::F32, device));
    n += grads.back().numel();
  }
  const Tensor found_inf = zeros({}, DType::F32, device);
  const Tensor scale = ones({}, DType::F32, device);
  const auto unscale = [&] { ops::amp_unscale_(grads, found_inf, scale); };
  if (device.is_cuda()) {
    bench::report_memory_bound(state, 8.0 * double(n), unscale);
    return;
  }
  for (auto _ : state) unscale();
  state.SetBytesProcessed(int64_t(state.iterations()) * 8 * n);
}

void BM_AmpUnscale(benchmark::State& state) {
  run(state, kCPU);
}
void BM_AmpUnscaleCuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  run(state, Device(DeviceType::CUDA, 0));
}
BENCHMARK(BM_AmpUnscale)->Name("AmpScale/unscale_resnet18")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AmpUnscaleCuda)
    ->Name("AmpScale/unscale_resnet18_cuda")
    ->UseManualTime()
    ->Iterations(1);

}  // namespace
}  // namespace afinar
