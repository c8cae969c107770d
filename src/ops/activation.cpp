#include "afinar/ops/activation.h"

#include "afinar/ops/check_args.h"
#include "ops/float_compute.h"

namespace afinar::ops {

AFN_DEFINE_KERNEL(relu_forward, ReluForwardFn)
AFN_DEFINE_KERNEL(relu_backward, ReluBackwardFn)

Tensor relu_forward(const Tensor& x) {
  check_floating(x, "relu", "input");
  // bf16 / f16: the GPU's kernel takes them (relu is exact in any precision); the CPU goes
  // through float32.
  if (is_reduced(x) && !x.device().is_cuda()) return in_dtype_of(x, relu_forward(as_float32(x)));
  Tensor y = empty_like(x);  // x's memory format: the kernel runs over flat storage
  relu_forward_kernels().get(x.device())(y, x.contiguous(suggest_memory_format(x)));
  return y;
}

Tensor relu_backward(const Tensor& grad_output, const Tensor& y) {
  check_floating(grad_output, "relu_backward", "grad_output");
  check_same_dtype_device(y, grad_output, "relu_backward", "output", "grad_output");
  check_same_shape(y, grad_output, "relu_backward", "output", "grad_output");
  if (is_reduced(y) && !y.device().is_cuda())
    return in_dtype_of(y, relu_backward(as_float32(grad_output), as_float32(y)));
  const MemoryFormat fmt = suggest_memory_format(y);
  Tensor gi = empty_like(y);
  relu_backward_kernels().get(y.device())(gi, grad_output.contiguous(fmt), y.contiguous(fmt));
  return gi;
}

}  // namespace afinar::ops
