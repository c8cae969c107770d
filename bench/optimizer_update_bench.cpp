// One optimizer step over ResNet18's parameter shapes (62 tensors, 11.7M floats): SGD with
// momentum (reads p, g, buf; writes p, buf: 20 B/element) and Adam (p, g, m, v read; p, m, v
// written: 28 B/element). GPU: GB/s and the fraction of the copy rate (one multi-tensor launch).
//   ./build/bench/afinar_bench --benchmark_filter=OptimizerUpdate
//   tools/bench/compare.py --filter OptimizerUpdate      (CPU, against torch.optim)
#include <benchmark/benchmark.h>

#include <memory>

#include "afinar/optim/adam.h"
#include "afinar/optim/sgd.h"
#include "cuda_ceilings.h"

namespace afinar {
namespace {

// ResNet18's parameter shapes, generated: conv weights, BN weight+bias per conv, fc.
std::vector<Shape> resnet18_shapes() {
  std::vector<Shape> s = {{64, 3, 7, 7}, {64}, {64}};
  int64_t in = 64;
  for (int64_t out : {64, 128, 256, 512}) {
    for (int block = 0; block < 2; ++block) {
      const int64_t cin = block == 0 ? in : out;
      s.insert(s.end(), {{out, cin, 3, 3}, {out}, {out}, {out, out, 3, 3}, {out}, {out}});
      if (block == 0 && cin != out) s.insert(s.end(), {{out, cin, 1, 1}, {out}, {out}});
    }
    in = out;
  }
  s.insert(s.end(), {{1000, 512}, {1000}});
  return s;
}

template <typename Opt>
void run(benchmark::State& state, Device device, double bytes_per_element) {
  std::vector<Tensor> params;
  int64_t n = 0;
  for (const Shape& s : resnet18_shapes()) {
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
void BM_OptimizerUpdateSgdCuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  run<MomentumSgd>(state, Device(DeviceType::CUDA, 0), 20);
}
void BM_OptimizerUpdateAdamCuda(benchmark::State& state) {
  if (!bench::gpu_available(state)) return;
  run<optim::Adam>(state, Device(DeviceType::CUDA, 0), 28);
}
// Named as bench/torch/optimizer_update.py's cases (tools/bench/compare.py pairs them).
BENCHMARK(BM_OptimizerUpdateSgd)
    ->Name("OptimizerUpdate/sgd_momentum")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OptimizerUpdateAdam)->Name("OptimizerUpdate/adam")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OptimizerUpdateSgdCuda)->UseManualTime()->Iterations(1);
BENCHMARK(BM_OptimizerUpdateAdamCuda)->UseManualTime()->Iterations(1);

}  // namespace
}  // namespace afinar
