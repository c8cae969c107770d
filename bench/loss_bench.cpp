// cross_entropy on CUDA, float32, raw ops: the fused forward (logits read, log_probs written) and
// backward (log_probs read, grad_logits written), 16 bytes per element together, as GB/s and the
// fraction of the device-to-device copy rate measured in the same run. Each call also reads back
// the invalid-target flag (8 bytes + a stream synchronisation, kernels/loss/device_flag.h), which
// dominates at small sizes. Plain (mean, no weights) and with weights + label smoothing 0.1.
//   ./build-gpu/bench/afinar_bench --benchmark_filter='CrossEntropyCuda'
#include <benchmark/benchmark.h>

#include <functional>
#include <random>
#include <vector>

#include "afinar/core/tensor.h"
#include "afinar/ops/loss.h"
#include "cuda_ceilings.h"

namespace afinar {
namespace {

const Device kGpu{DeviceType::CUDA, 0};

// Which halves of the op to time.
enum class Pass { Forward, Backward, Both };

void CrossEntropyCuda(benchmark::State& state, int64_t N, int64_t C, bool weighted, Pass pass) {
  if (!bench::gpu_available(state)) return;
  Generator gen(1);
  const Tensor logits = randn({N, C}, DType::F32, kGpu, gen);
  std::mt19937_64 rng(2);
  std::vector<int64_t> t(static_cast<size_t>(N));
  for (auto& v : t) v = int64_t(rng() % uint64_t(C));
  const Tensor target = from_vector<int64_t>(t, {N}).to(kGpu);
  CrossEntropyOptions opt;
  if (weighted) {
    opt.weight = uniform({C}, 0.5, 1.5, DType::F32, kGpu, gen);
    opt.label_smoothing = 0.1;
  }
  const auto fwd = ops::cross_entropy_forward(logits, target, opt);
  const Tensor g = ones({}, DType::F32, kGpu);
  const double bytes = double(logits.nbytes());
  switch (pass) {
    case Pass::Forward:
      bench::report_memory_bound(state, 2 * bytes,
                                 [&] { ops::cross_entropy_forward(logits, target, opt); });
      break;
    case Pass::Backward:
      bench::report_memory_bound(state, 2 * bytes, [&] {
        ops::cross_entropy_backward(g, fwd.log_probs, target, fwd.total_weight, opt);
      });
      break;
    case Pass::Both:
      bench::report_memory_bound(state, 4 * bytes, [&] {
        const auto f = ops::cross_entropy_forward(logits, target, opt);
        ops::cross_entropy_backward(g, f.log_probs, target, f.total_weight, opt);
      });
      break;
  }
}

#define AFN_CE_BENCH(name, N, C, weighted, pass) \
  BENCHMARK_CAPTURE(CrossEntropyCuda, name, N, C, weighted, pass)->UseManualTime()->Iterations(1)

AFN_CE_BENCH(FwdBwd_256x1000, 256, 1000, false, Pass::Both);
AFN_CE_BENCH(FwdBwd_65536x1000, 65536, 1000, false, Pass::Both);
AFN_CE_BENCH(FwdBwd_65536x1000_weighted_smoothed, 65536, 1000, true, Pass::Both);
AFN_CE_BENCH(Fwd_65536x1000, 65536, 1000, false, Pass::Forward);
AFN_CE_BENCH(Bwd_65536x1000, 65536, 1000, false, Pass::Backward);
AFN_CE_BENCH(FwdBwd_8192x32768, 8192, 32768, false, Pass::Both);

}  // namespace
}  // namespace afinar
