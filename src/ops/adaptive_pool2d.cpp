// Front end of adaptive_avg_pool2d / adaptive_max_pool2d: argument checks (shared with pool2d),
// allocation, dispatch; and the adaptive window rule.
#include "afinar/ops/adaptive_pool2d.h"

#include "ops/float_compute.h"
namespace afinar::ops {

AFN_DEFINE_KERNEL(adaptive_avg_pool2d_forward, AdaptiveAvgPool2dForwardFn)
AFN_DEFINE_KERNEL(adaptive_avg_pool2d_backward, AdaptiveAvgPool2dBackwardFn)
AFN_DEFINE_KERNEL(adaptive_max_pool2d_forward, AdaptiveMaxPool2dForwardFn)
AFN_DEFINE_KERNEL(adaptive_max_pool2d_backward, AdaptiveMaxPool2dBackwardFn)

namespace {

// The output shape [N, C, P, Q] for input x, checking both.
Shape output_shape(const Tensor& x, const IntPair& output_size, const char* op) {
  check_pool2d_input(x, op);
  AFN_CHECK(output_size[0] >= 1 && output_size[1] >= 1, op,
            ": output_size must be at least 1x1, got ", output_size[0], "x", output_size[1]);
  return {x.size(0), x.size(1), output_size[0], output_size[1]};
}

}  // namespace

PoolWindows adaptive_pool_windows(int64_t input, int64_t output) {
  PoolWindows w;
  for (int64_t o = 0; o < output; ++o) {
    w.begin.push_back(o * input / output);                     // ⌊o·L/n⌋
    w.end.push_back(((o + 1) * input + output - 1) / output);  // ⌈(o+1)·L/n⌉
    w.padded.push_back(w.end.back() - w.begin.back());
  }
  return w;
}

Tensor adaptive_avg_pool2d_forward(const Tensor& x, IntPair output_size) {
  const Shape shape = output_shape(x, output_size, "adaptive_avg_pool2d");
  if (is_reduced(x) && !x.device().is_cuda())
    return in_dtype_of(x, adaptive_avg_pool2d_forward(as_float32(x), output_size));
  const MemoryFormat fmt = suggest_memory_format(x);  // the kernels take NCHW and NHWC
  Tensor y = empty(shape, x.dtype(), x.device(), fmt);
  adaptive_avg_pool2d_forward_kernels().get(x.device())(y, x.detach().contiguous(fmt));
  return y;
}

Tensor adaptive_avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape,
                                    std::optional<MemoryFormat> input_format) {
  check_pool2d_grad(grad_output, input_shape, "adaptive_avg_pool2d_backward");
  if (is_reduced(grad_output) && !grad_output.device().is_cuda())
    return in_dtype_of(grad_output, adaptive_avg_pool2d_backward(as_float32(grad_output),
                                                                 input_shape, input_format));
  const MemoryFormat fmt = input_format.value_or(suggest_memory_format(grad_output));
  Tensor gi = empty(input_shape, grad_output.dtype(), grad_output.device(), fmt);
  adaptive_avg_pool2d_backward_kernels().get(grad_output.device())(
      gi, grad_output.detach().contiguous(fmt));
  return gi;
}

std::pair<Tensor, Tensor> adaptive_max_pool2d_forward(const Tensor& x, IntPair output_size) {
  const Shape shape = output_shape(x, output_size, "adaptive_max_pool2d");
  if (is_reduced(x) && !x.device().is_cuda()) {
    auto [y, indices] = adaptive_max_pool2d_forward(as_float32(x), output_size);
    return {in_dtype_of(x, y), indices};
  }
  const MemoryFormat fmt = suggest_memory_format(x);  // the kernels take NCHW and NHWC
  Tensor y = empty(shape, x.dtype(), x.device(), fmt);
  Tensor indices = empty(shape, DType::I64, x.device(), fmt);
  adaptive_max_pool2d_forward_kernels().get(x.device())(y, indices, x.detach().contiguous(fmt));
  return {y, indices};
}

Tensor adaptive_max_pool2d_backward(const Tensor& grad_output, const Tensor& indices,
                                    const Shape& input_shape,
                                    std::optional<MemoryFormat> input_format) {
  const char* op = "adaptive_max_pool2d_backward";
  check_pool2d_grad(grad_output, input_shape, op);
  check_pool2d_indices(indices, grad_output, op);
  if (is_reduced(grad_output) && !grad_output.device().is_cuda())
    return in_dtype_of(grad_output, adaptive_max_pool2d_backward(as_float32(grad_output), indices,
                                                                 input_shape, input_format));
  const MemoryFormat fmt = input_format.value_or(suggest_memory_format(grad_output));
  Tensor gi = empty(input_shape, grad_output.dtype(), grad_output.device(), fmt);
  adaptive_max_pool2d_backward_kernels().get(grad_output.device())(
      gi, grad_output.detach().contiguous(fmt), indices.detach().contiguous(fmt));
  return gi;
}

}  // namespace afinar::ops
