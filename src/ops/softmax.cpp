// Front end of softmax / log_softmax: checks, then views input and output as contiguous
// [outer, C, inner] blocks for the backends (see include/afinar/ops/softmax.h).
#include "afinar/ops/softmax.h"

#include <algorithm>

#include "afinar/ops/check_args.h"
#include "ops/float_compute.h"

namespace afinar::ops {

AFN_DEFINE_KERNEL(softmax_forward, SoftmaxForwardFn)
AFN_DEFINE_KERNEL(softmax_backward, SoftmaxBackwardFn)
AFN_DEFINE_KERNEL(log_softmax_forward, SoftmaxForwardFn)
AFN_DEFINE_KERNEL(log_softmax_backward, SoftmaxBackwardFn)

namespace {

Tensor forward(const KernelTable<SoftmaxForwardFn>& kernels, const Tensor& x, int64_t dim,
               const char* op) {
  check_floating(x, op, "input");
  const DimSplit s = split_at_dim(x.shape(), dim, op);
  if (is_reduced(x)) return in_dtype_of(x, forward(kernels, as_float32(x), dim, op));
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  kernels.get(x.device())(as_dim_blocks(y, s), as_dim_blocks(x, s));
  return y;
}

Tensor backward(const KernelTable<SoftmaxBackwardFn>& kernels, const Tensor& grad_output,
                const Tensor& y, int64_t dim, const char* op) {
  check_floating(grad_output, op, "grad_output");
  check_same_dtype_device(y, grad_output, op, "output", "grad_output");
  check_same_shape(y, grad_output, op, "output", "grad_output");
  const DimSplit s = split_at_dim(y.shape(), dim, op);
  if (is_reduced(y))
    return in_dtype_of(y, backward(kernels, as_float32(grad_output), as_float32(y), dim, op));
  Tensor gi = empty(y.shape(), y.dtype(), y.device());
  kernels.get(y.device())(as_dim_blocks(gi, s), as_dim_blocks(grad_output, s), as_dim_blocks(y, s));
  return gi;
}

}  // namespace

Tensor softmax_forward(const Tensor& x, int64_t dim) {
  return forward(softmax_forward_kernels(), x, dim, "softmax");
}

Tensor log_softmax_forward(const Tensor& x, int64_t dim) {
  return forward(log_softmax_forward_kernels(), x, dim, "log_softmax");
}

Tensor softmax_backward(const Tensor& grad_output, const Tensor& y, int64_t dim) {
  return backward(softmax_backward_kernels(), grad_output, y, dim, "softmax_backward");
}

Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& y, int64_t dim) {
  return backward(log_softmax_backward_kernels(), grad_output, y, dim, "log_softmax_backward");
}

}  // namespace afinar::ops
