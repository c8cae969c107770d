// CUDA registrations of adaptive_avg_pool2d / adaptive_max_pool2d: the pooling kernels of
// kernels/pool2d with the adaptive window rule, as the CPU reference runs its window loops (an
// adaptive average divides by the number of elements summed; an adaptive max is max_pool2d's
// scan, tie and NaN rules, and its backward).
#include "afinar/ops/adaptive_pool2d.h"
#include "pool2d/pool2d_ops.h"

namespace afinar::cuda {

namespace {

PoolGeometry adaptive_geometry(const Tensor& input, const Tensor& output) {
  PoolGeometry g = pool_geometry(input, output);
  g.rows.adaptive = g.cols.adaptive = true;
  return g;
}

// An adaptive window's divisor is the number of elements it sums.
constexpr AvgDivisor kAdaptiveDivisor{/*count_include_pad=*/false, /*divisor_override=*/0};

void adaptive_avg_pool2d_forward(const Tensor& y, const Tensor& x) {
  avg_pool2d_forward_cuda(y, x, adaptive_geometry(x, y), kAdaptiveDivisor, "adaptive_avg_pool2d");
}

void adaptive_avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output) {
  avg_pool2d_backward_cuda(grad_input, grad_output, adaptive_geometry(grad_input, grad_output),
                           kAdaptiveDivisor, "adaptive_avg_pool2d_backward");
}

void adaptive_max_pool2d_forward(const Tensor& y, const Tensor& indices, const Tensor& x) {
  max_pool2d_forward_cuda(y, indices, x, adaptive_geometry(x, y), "adaptive_max_pool2d");
}

void adaptive_max_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output,
                                  const Tensor& indices) {
  max_pool2d_backward_cuda(grad_input, grad_output, indices,
                           adaptive_geometry(grad_input, grad_output),
                           "adaptive_max_pool2d_backward");
}

}  // namespace

AFN_REGISTER_KERNEL(adaptive_avg_pool2d_forward, CUDA, adaptive_avg_pool2d_forward);
AFN_REGISTER_KERNEL(adaptive_avg_pool2d_backward, CUDA, adaptive_avg_pool2d_backward);
AFN_REGISTER_KERNEL(adaptive_max_pool2d_forward, CUDA, adaptive_max_pool2d_forward);
AFN_REGISTER_KERNEL(adaptive_max_pool2d_backward, CUDA, adaptive_max_pool2d_backward);

}  // namespace afinar::cuda
