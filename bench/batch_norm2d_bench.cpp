// batch_norm2d on CUDA in training mode (f32, affine, running statistics), raw ops:
//   BatchNorm2dCuda/train_fwd/<shape>  batch statistics, running-stat update, y
//   BatchNorm2dCuda/train_bwd/<shape>  grad_input, grad_weight, grad_bias
// at ResNet's layer1 shapes [64,64,56,56] (51 MB) and [256,64,56,56] (206 MB).
// The end of a ResNet block, relu(bn(x) + r), fused and as the three ops, forward only (the
// fused backward is the unfused one, see ops/batch_norm2d.h):
//   BatchNorm2dCuda/add_relu_fwd/<shape>          batch_norm2d_add_relu: 4·|x| moved
//   BatchNorm2dCuda/unfused_add_relu_fwd/<shape>  bn, add, relu: 3 + 3 + 2 = 8·|x|
//   (frac_copy_min for both over the 3·|x| any algorithm must move: x, r, y)
//   BatchNorm2dCpu/{add_relu_fwd,unfused_add_relu_fwd}/16x64x56x56: the same pair on the CPU.
// Counters (rates over the device-to-device copy rate measured in the same run):
//   GB/s, frac_copy   bytes the algorithm moves, each pass counted: forward reads x twice
//                     (statistics, then normalise) and writes y: 3·|x|; backward reads g and x
//                     twice (sums, then grad_input) and writes grad_input: 5·|x|
//   frac_copy_min     the same time over the bytes any algorithm must move (forward 2·|x|,
//                     backward 3·|x|): the fraction of the ideal single-pass time
// The second pass walks the rows in reverse, so at [64,64,56,56] part of it hits L2 (50 MB on an
// H100) and frac_copy can exceed what DRAM alone allows.
// H100 (2026-11-22, copy rate 3.0 TB/s), PyTorch 2.11 on the same machine in brackets:
//   train_fwd  64x64x56x56   65 us, frac_copy 0.79  (torch 130 us)
//   train_bwd  64x64x56x56   94 us, frac_copy 0.91  (torch 428 us)
//   train_fwd 256x64x56x56  238 us, frac_copy 0.86  (torch 487 us)
//   train_bwd 256x64x56x56  363 us, frac_copy 0.94  (torch 1678 us)
//   ./build-gpu/bench/afinar_bench --benchmark_filter=BatchNorm2dCuda
#include <benchmark/benchmark.h>

#include <functional>

#include "afinar/core/device.h"
#include "afinar/ops/activation.h"
#include "afinar/ops/batch_norm2d.h"
#include "afinar/ops/elementwise.h"
#include "cuda_ceilings.h"

namespace afinar {
namespace {

const Device kGpu{DeviceType::CUDA, 0};

// frac_copy from the bytes this algorithm moves, frac_copy_min from the bytes any must move.
void run_cuda(benchmark::State& state, double bytes, double min_bytes,
              const std::function<void()>& op) {
  const double seconds = bench::report_memory_bound(state, bytes, op);
  state.counters["frac_copy_min"] = min_bytes / seconds / bench::copy_bandwidth_bytes_per_s();
}

void train_fwd(benchmark::State& state, Shape shape) {
  if (!bench::gpu_available(state)) return;
  Generator gen(1);
  const int64_t c = shape[1];
  Tensor x = randn(shape, DType::F32, kGpu, gen);
  Tensor w = ones({c}, DType::F32, kGpu), b = zeros({c}, DType::F32, kGpu);
  Tensor rm = zeros({c}, DType::F32, kGpu), rv = ones({c}, DType::F32, kGpu);
  const double bytes = double(x.nbytes());
  run_cuda(state, 3 * bytes, 2 * bytes,
           [&] { ops::batch_norm2d_forward(x, w, b, rm, rv, true, 0.1, 1e-5); });
}

void train_bwd(benchmark::State& state, Shape shape) {
  if (!bench::gpu_available(state)) return;
  Generator gen(1);
  const int64_t c = shape[1];
  Tensor x = randn(shape, DType::F32, kGpu, gen), g = randn(shape, DType::F32, kGpu, gen);
  Tensor w = ones({c}, DType::F32, kGpu), b = zeros({c}, DType::F32, kGpu);
  auto fwd = ops::batch_norm2d_forward(x, w, b, {}, {}, true, 0.1, 1e-5);
  const double bytes = double(x.nbytes());
  run_cuda(state, 5 * bytes, 3 * bytes, [&] {
    ops::batch_norm2d_backward(g, x, w, fwd.mean, fwd.invstd, true, {true, true, true});
  });
}

// The operands of relu(bn(x) + r) in training mode on `device`.
struct AddReluCase {
  Tensor x, r, w, b, rm, rv;
  AddReluCase(const Shape& shape, const Device& device) {
    Generator gen(1);
    const int64_t c = shape[1];
    x = randn(shape, DType::F32, device, gen);
    r = randn(shape, DType::F32, device, gen);
    w = ones({c}, DType::F32, device);
    b = zeros({c}, DType::F32, device);
    rm = zeros({c}, DType::F32, device);
    rv = ones({c}, DType::F32, device);
  }
  Tensor operator()(bool fused) const {
    if (fused) return batch_norm2d_add_relu(x, w, b, rm, rv, r, true);
    return relu(batch_norm2d(x, w, b, rm, rv, true) + r);
  }
};

void add_relu_fwd_cuda(benchmark::State& state, Shape shape, bool fused) {
  if (!bench::gpu_available(state)) return;
  const AddReluCase c(shape, kGpu);
  const double bytes = double(c.x.nbytes());
  run_cuda(state, (fused ? 4 : 8) * bytes, 3 * bytes, [&] { c(fused); });
}

void add_relu_fwd_cpu(benchmark::State& state, Shape shape, bool fused) {
  const AddReluCase c(shape, kCPU);
  for (auto _ : state) benchmark::DoNotOptimize(c(fused).raw_data());
}

const bool registered = [] {
  for (bool fused : {true, false}) {
    const std::string name = fused ? "add_relu_fwd" : "unfused_add_relu_fwd";
    benchmark::RegisterBenchmark(("BatchNorm2dCpu/" + name + "/16x64x56x56").c_str(),
                                 add_relu_fwd_cpu, Shape{16, 64, 56, 56}, fused)
        ->UseRealTime()  // OpenMP threads do the work
        ->Unit(benchmark::kMillisecond);
    for (const Shape& s : {Shape{64, 64, 56, 56}, Shape{256, 64, 56, 56}})
      benchmark::RegisterBenchmark(
          ("BatchNorm2dCuda/" + name + "/" + std::to_string(s[0]) + "x64x56x56").c_str(),
          add_relu_fwd_cuda, s, fused)
          ->UseManualTime()
          ->Iterations(1)
          ->Unit(benchmark::kMicrosecond);
  }
  for (const Shape& s : {Shape{64, 64, 56, 56}, Shape{256, 64, 56, 56}}) {
    const std::string name = std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x56x56";
    benchmark::RegisterBenchmark(("BatchNorm2dCuda/train_fwd/" + name).c_str(), train_fwd, s)
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("BatchNorm2dCuda/train_bwd/" + name).c_str(), train_bwd, s)
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kMicrosecond);
  }
  return true;
}();

}  // namespace
}  // namespace afinar
