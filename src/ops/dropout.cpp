// Front end of dropout: checks, the Philox counter reservation, allocation, dispatch.
#include "afinar/ops/dropout.h"

#include "afinar/ops/check_args.h"
#include "ops/float_compute.h"

namespace afinar::ops {

AFN_DEFINE_KERNEL(dropout_forward, DropoutForwardFn)
AFN_DEFINE_KERNEL(dropout_backward, DropoutBackwardFn)

void check_dropout_probability(double p, const char* op) {
  AFN_CHECK(p >= 0.0 && p <= 1.0, op, ": dropout probability p must be between 0 and 1, got ", p);
}

uint64_t dropout_blocks(int64_t numel) {
  return uint64_t((numel + 3) / 4);
}

DropoutForward dropout_forward(const Tensor& x, double p, Generator& gen) {
  check_floating(x, "dropout", "input");
  check_dropout_probability(p, "dropout");
  if (is_reduced(x)) {
    DropoutForward out = dropout_forward(as_float32(x), p, gen);
    out.output = in_dtype_of(x, out.output);
    return out;
  }
  DropoutForward out{empty(x.shape(), x.dtype(), x.device()),
                     empty(x.shape(), DType::U8, x.device())};
  // Reserve this mask's counters now: the next random op starts after them.
  const uint64_t offset = gen.draw_offset(dropout_blocks(x.numel()));
  dropout_forward_kernels().get(x.device())(out.output, out.mask, x.detach().contiguous(), p,
                                            gen.seed(), offset);
  return out;
}

Tensor dropout_backward(const Tensor& grad_output, const Tensor& mask, double p) {
  check_floating(grad_output, "dropout_backward", "grad_output");
  check_dropout_probability(p, "dropout_backward");
  AFN_CHECK(mask.defined(), "dropout_backward: mask is undefined");
  AFN_CHECK(mask.dtype() == DType::U8, "dropout_backward: mask must be uint8, got ", mask.dtype());
  AFN_CHECK(mask.device() == grad_output.device(), "dropout_backward: mask is on ", mask.device(),
            " but grad_output is on ", grad_output.device());
  check_same_shape(mask, grad_output, "dropout_backward", "mask", "grad_output");
  if (is_reduced(grad_output))
    return in_dtype_of(grad_output, dropout_backward(as_float32(grad_output), mask, p));
  Tensor gi = empty(grad_output.shape(), grad_output.dtype(), grad_output.device());
  dropout_backward_kernels().get(gi.device())(gi, grad_output.contiguous(), mask.contiguous(), p);
  return gi;
}

}  // namespace afinar::ops
