// One optimizer step over ResNet18's parameter shapes (62 tensors, 11.7M floats): SGD with
// momentum (reads p, g, buf; writes p, buf: 20 B/element), Adam (p, g, m, v read; p, m, v
// written: 28 B/element) and RMSprop with PyTorch's defaults (p, g, square_avg read; p,
// square_avg written: 20 B/element). GPU: GB/s and the fraction of the copy rate (one multi-tensor
// launch).
//   ./build/bench/afinar_bench --benchmark_filter=OptimizerUpdate
//   tools/bench/compare.py --filter OptimizerUpdate      (CPU, against torch.optim)
#include <benchmark/benchmark.h>

#include <memory>

#include "afinar/optim/adam.h"
#include "afinar/optim/rmsprop.h"
#include "afinar/optim/sgd.h"
#include "cuda_ceilings.h"
#include "training_fixture.h"

namespace afinar {
namespace {

template <typename Opt>
void run(benchmark::State& state, Device device, double bytes_per_element) {
  std::vector<Tensor> params;
  int64_t n = 0;
  for (const Shape& s : bench::resnet18_parameter_shapes()) {
    params.push_back(randn(s, DType::F32, device).set_requires_grad(true));
    params.back().set_grad(randn(s, DType::F32, device));
    n += params.back().numel();
  }
  Opt opt(params);
  opt.step();  // creates the state
  if (device.is_cuda()) {
    bench::report_memory_bound(state, bytes_per_element * double(n), [&] { opt.step(); });
    return;
  }
  for (auto _ : state) opt.step();
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes_per_element) * n);
}

struct MomentumSgd : optim::SGD {
  explicit MomentumSgd(std::vector<Tensor> p) : SGD(std::move(p), {.lr = 0.01, .momentum = 0.9}) {}
};

void BM_OptimizerUpdateSgd(benchmark::State& state) {
  run<MomentumSgd>(state, kCPU, 20);
}
void BM_OptimizerUpdateAdam(benchmark::State& state) {
  run<optim::Adam>(state, kCPU, 28);
}
void BM_OptimizerUpdateRmsprop(benchmark::State& state) {
  run<optim::RMSprop>(state, kCPU, 20);
}
void BM_OptimizerUpdateSgdCuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  run<MomentumSgd>(state, Device(DeviceType::CUDA, 0), 20);
}
void BM_OptimizerUpdateAdamCuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  run<optim::Adam>(state, Device(DeviceType::CUDA, 0), 28);
}
void BM_OptimizerUpdateRmspropCuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  run<optim::RMSprop>(state, Device(DeviceType::CUDA, 0), 20);
}
// Named as bench/torch/optimizer_update.py's cases (tools/bench/compare.py pairs them).
BENCHMARK(BM_OptimizerUpdateSgd)
    ->Name("OptimizerUpdate/sgd_momentum")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OptimizerUpdateAdam)->Name("OptimizerUpdate/adam")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OptimizerUpdateRmsprop)
    ->Name("OptimizerUpdate/rmsprop")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OptimizerUpdateSgdCuda)->UseManualTime()->Iterations(1);
BENCHMARK(BM_OptimizerUpdateAdamCuda)->UseManualTime()->Iterations(1);
BENCHMARK(BM_OptimizerUpdateRmspropCuda)->UseManualTime()->Iterations(1);

}  // namespace
}  // namespace afinar
