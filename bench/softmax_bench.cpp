// softmax / log_softmax on CUDA, float32, raw ops: achieved GB/s (every array read or written
// once: forward x + y, backward g + y + grad_input) and the fraction of the device-to-device copy
// rate measured in the same run. Layouts (kernels/softmax/softmax.cu):
//   SoftmaxCuda/Fwd_4096x1000, Fwd_65536x1000, LogFwd_65536x1000   warp per row, row in registers
//   SoftmaxCuda/Fwd_8192x32768            block per row (online max/sum pass, then the write pass)
//   SoftmaxCuda/Fwd_128x512x1024_dim1     a middle dim (columns kernel)
//   SoftmaxCuda/Bwd_..., LogBwd_65536x1000  the same layouts backward
//   ./build-gpu/bench/afinar_bench --benchmark_filter='SoftmaxCuda'
#include <benchmark/benchmark.h>

#include <functional>

#include "afinar/core/tensor.h"
#include "afinar/ops/softmax.h"
#include "cuda_ceilings.h"

namespace afinar {
namespace {

const Device kGpu{DeviceType::CUDA, 0};

// Forward (x read, y written) or backward (g and y read, grad_input written) of softmax or
// log_softmax along `dim`.
void SoftmaxCuda(benchmark::State& state, Shape shape, int64_t dim, bool log, bool backward) {
  if (!bench::gpu_available(state)) return;
  Generator gen(1);
  const Tensor x = randn(shape, DType::F32, kGpu, gen);
  if (!backward) {
    bench::report_memory_bound(state, 2.0 * double(x.nbytes()), [&] {
      if (log)
        ops::log_softmax_forward(x, dim);
      else
        ops::softmax_forward(x, dim);
    });
    return;
  }
  const Tensor g = randn(shape, DType::F32, kGpu, gen);
  const Tensor y = log ? ops::log_softmax_forward(x, dim) : ops::softmax_forward(x, dim);
  bench::report_memory_bound(state, 3.0 * double(x.nbytes()), [&] {
    if (log)
      ops::log_softmax_backward(g, y, dim);
    else
      ops::softmax_backward(g, y, dim);
  });
}

#define AFN_SOFTMAX_BENCH(name, shape, dim, log, backward)              \
  BENCHMARK_CAPTURE(SoftmaxCuda, name, Shape shape, dim, log, backward) \
      ->UseManualTime()                                                 \
      ->Iterations(1)

AFN_SOFTMAX_BENCH(Fwd_4096x1000, ({4096, 1000}), 1, false, false);
AFN_SOFTMAX_BENCH(Fwd_65536x1000, ({65536, 1000}), 1, false, false);
AFN_SOFTMAX_BENCH(LogFwd_65536x1000, ({65536, 1000}), 1, true, false);
AFN_SOFTMAX_BENCH(Fwd_8192x32768, ({8192, 32768}), 1, false, false);
AFN_SOFTMAX_BENCH(Fwd_128x512x1024_dim1, ({128, 512, 1024}), 1, false, false);
AFN_SOFTMAX_BENCH(Bwd_4096x1000, ({4096, 1000}), 1, false, true);
AFN_SOFTMAX_BENCH(Bwd_65536x1000, ({65536, 1000}), 1, false, true);
AFN_SOFTMAX_BENCH(LogBwd_65536x1000, ({65536, 1000}), 1, true, true);
AFN_SOFTMAX_BENCH(Bwd_8192x32768, ({8192, 32768}), 1, false, true);
AFN_SOFTMAX_BENCH(Bwd_128x512x1024_dim1, ({128, 512, 1024}), 1, false, true);

}  // namespace
}  // namespace afinar
