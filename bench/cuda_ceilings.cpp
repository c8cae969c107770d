#include "cuda_ceilings.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "afinar/core/tensor.h"
#include "afinar/ops/matmul.h"

namespace afinar::bench {

namespace {
const Device kGpu{DeviceType::CUDA, 0};
}

double time_cuda(const std::function<void()>& fn, int reps) {
  fn();
  synchronize(kGpu);
  std::vector<double> samples;
  for (int batch = 0; batch < 5; ++batch) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) fn();
    synchronize(kGpu);
    const auto t1 = std::chrono::steady_clock::now();
    samples.push_back(std::chrono::duration<double>(t1 - t0).count() / reps);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

bool gpu_available(benchmark::State& state) {
  if (cuda_device_count() > 0) return true;
  state.SkipWithError("no CUDA GPU visible");
  return false;
}

double report_memory_bound(benchmark::State& state, double bytes, const std::function<void()>& op) {
  double seconds = 0;
  for (auto _ : state) {
    seconds = time_cuda(op);
    state.SetIterationTime(seconds);
  }
  state.counters["GB/s"] = bytes / seconds / 1e9;
  state.counters["frac_copy"] = bytes / seconds / copy_bandwidth_bytes_per_s();
  return seconds;
}

double copy_bandwidth_bytes_per_s() {
  static const double rate = [] {
    const int64_t n = int64_t(1) << 28;  // 1 GiB of float32
    Tensor src = zeros({n}, DType::F32, kGpu), dst = empty({n}, DType::F32, kGpu);
    const double s = time_cuda([&] { dst.copy_(src); }, 10);
    return 2.0 * double(n) * 4 / s;
  }();
  return rate;
}

double cublas_sgemm_flops_per_s() {
  static const double rate = [] {
    const int64_t n = 4096;
    Generator gen(1);
    Tensor a = randn({n, n}, DType::F32, kGpu, gen), b = randn({n, n}, DType::F32, kGpu, gen);
    const double s = time_cuda([&] { ops::matmul(a, b, MatmulAlgo::Blas); }, 10);
    return 2.0 * double(n) * n * n / s;
  }();
  return rate;
}

}  // namespace afinar::bench
