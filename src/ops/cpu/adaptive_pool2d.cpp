// CPU reference of adaptive_avg_pool2d / adaptive_max_pool2d: the adaptive windows run through
// the window loops of src/ops/cpu/pool2d.cpp (an adaptive average is avg_pool2d's average over
// in-bounds elements, an adaptive max is max_pool2d's scan). Benchmark:
// <build>/bench/afinar_bench --benchmark_filter=AdaptiveAvgPool2d
#include "afinar/ops/adaptive_pool2d.h"
#include "pool2d.h"

namespace afinar::cpu {

namespace {

ops::PoolWindows rows_of(const Tensor& input, const Tensor& output) {
  return ops::adaptive_pool_windows(input.size(2), output.size(2));
}

ops::PoolWindows cols_of(const Tensor& input, const Tensor& output) {
  return ops::adaptive_pool_windows(input.size(3), output.size(3));
}

void adaptive_avg_pool2d_forward(const Tensor& y, const Tensor& x) {
  avg_pool2d_windows(y, x, rows_of(x, y), cols_of(x, y), /*count_include_pad=*/false,
                     /*divisor_override=*/0, "adaptive_avg_pool2d");
}

void adaptive_avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output) {
  avg_pool2d_windows_backward(grad_input, grad_output, rows_of(grad_input, grad_output),
                              cols_of(grad_input, grad_output), /*count_include_pad=*/false,
                              /*divisor_override=*/0, "adaptive_avg_pool2d_backward");
}

void adaptive_max_pool2d_forward(const Tensor& y, const Tensor& indices, const Tensor& x) {
  max_pool2d_windows(y, indices, x, rows_of(x, y), cols_of(x, y), "adaptive_max_pool2d");
}

void adaptive_max_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output,
                                  const Tensor& indices) {
  max_pool2d_scatter(grad_input, grad_output, indices, "adaptive_max_pool2d_backward");
}

}  // namespace

AFN_REGISTER_KERNEL(adaptive_avg_pool2d_forward, CPU, adaptive_avg_pool2d_forward);
AFN_REGISTER_KERNEL(adaptive_avg_pool2d_backward, CPU, adaptive_avg_pool2d_backward);
AFN_REGISTER_KERNEL(adaptive_max_pool2d_forward, CPU, adaptive_max_pool2d_forward);
AFN_REGISTER_KERNEL(adaptive_max_pool2d_backward, CPU, adaptive_max_pool2d_backward);

}  // namespace afinar::cpu
