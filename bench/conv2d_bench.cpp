// conv2d on the CPU (f32, the Default algorithm: im2col + OpenBLAS) at the 3x3 layer shapes of
// ResNet18, batch 16, stride 1, padding 1, no bias (as torchvision's convolutions):
//   Conv2dFwdBwd/c64_56     C = K = 64 at 56x56       layer1
//   Conv2dFwdBwd/c128_28    C = K = 128 at 28x28      layer2
//   Conv2dFwdBwd/c256_14    C = K = 256 at 14x14      layer3
//   Conv2dFwdBwd/c512_7     C = K = 512 at 7x7        layer4
// Conv2dFwdBwd runs the three ops a trained layer runs (forward, dL/dx, dL/dw; the raw ops, so
// the time is the ops' own); Conv2dFwd, Conv2dBwdInput and Conv2dBwdWeight time each alone.
// GFLOP/s counts 2·N·K·C·R·S·Ho·Wo per op (3 ops for FwdBwd). PyTorch on the same shapes:
// bench/torch/conv2d.py; side by side: tools/bench/compare.py --filter Conv2d.
//   build/bench/afinar_bench --benchmark_filter=Conv2d
#include <benchmark/benchmark.h>

#include <string>

#include "afinar/ops/conv2d.h"

namespace afinar {
namespace {

constexpr int64_t kBatch = 16;

struct Layer {
  const char* name;
  int64_t channels, size;
};

enum class Pass { Fwd, BwdInput, BwdWeight, FwdBwd };

void conv2d_bench(benchmark::State& state, Layer layer, Pass pass) {
  const int64_t C = layer.channels, H = layer.size;
  Generator gen(1);
  const Tensor x = randn({kBatch, C, H, H}, DType::F32, gen);
  const Tensor w = randn({C, C, 3, 3}, DType::F32, gen);
  const Tensor gy = randn({kBatch, C, H, H}, DType::F32, gen);
  const Conv2dOptions opt{.padding = 1};
  const bool fwd = pass == Pass::Fwd || pass == Pass::FwdBwd;
  const bool bwd_input = pass == Pass::BwdInput || pass == Pass::FwdBwd;
  const bool bwd_weight = pass == Pass::BwdWeight || pass == Pass::FwdBwd;
  for (auto _ : state) {
    if (fwd) benchmark::DoNotOptimize(ops::conv2d_forward(x, w, Tensor(), opt).raw_data());
    if (bwd_input)
      benchmark::DoNotOptimize(ops::conv2d_backward_input(gy, w, x.shape(), opt).raw_data());
    if (bwd_weight)
      benchmark::DoNotOptimize(ops::conv2d_backward_weight(gy, x, w.shape(), opt).raw_data());
  }
  const double flops_per_op = 2.0 * double(kBatch * C * C * 9 * H * H);
  const int ops = int(fwd) + int(bwd_input) + int(bwd_weight);
  state.counters["GFLOP/s"] =
      benchmark::Counter(ops * flops_per_op * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
  const Layer layers[] = {
      {"c64_56", 64, 56}, {"c128_28", 128, 28}, {"c256_14", 256, 14}, {"c512_7", 512, 7}};
  const std::pair<const char*, Pass> passes[] = {{"Conv2dFwdBwd/", Pass::FwdBwd},
                                                 {"Conv2dFwd/", Pass::Fwd},
                                                 {"Conv2dBwdInput/", Pass::BwdInput},
                                                 {"Conv2dBwdWeight/", Pass::BwdWeight}};
  for (const auto& [prefix, pass] : passes) {
    for (const Layer& layer : layers) {
      benchmark::RegisterBenchmark((std::string(prefix) + layer.name).c_str(), conv2d_bench, layer,
                                   pass)
          ->UseRealTime()  // the work runs on OpenMP threads: wall time is the cost
          ->Unit(benchmark::kMillisecond);
    }
  }
  return true;
}();

}  // namespace
}  // namespace afinar
