// Front ends of the elementwise ops: argument checks, then the device's kernel.
#include "afinar/ops/elementwise.h"

#include "afinar/ops/check_args.h"
#include "ops/float_compute.h"

namespace afinar::ops {

AFN_DEFINE_KERNEL(add, AxpbyFn)
AFN_DEFINE_KERNEL(mul, MulFn)
AFN_DEFINE_KERNEL(affine, AffineFn)

// bf16 / f16: the GPU's kernels take them (float arithmetic, one rounding); the CPU computes on
// float32 copies (float_compute.h).
//
// Layout: the kernels run over flat storage, so every operand goes in a's memory format (NCHW or
// channels-last) and the result comes out in it, as PyTorch's elementwise ops keep their input's.
namespace {
void check_binary(const Tensor& a, const Tensor& b, const char* op) {
  AFN_CHECK(a.defined() && b.defined(), op, ": an operand is undefined");
  check_same_dtype_device(b, a, op, "b", "a");
  check_same_shape(b, a, op, "b", "a");
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  check_binary(a, b, "add");
  if (is_reduced(a) && !a.device().is_cuda())
    return in_dtype_of(a, ops::add(as_float32(a), as_float32(b), alpha));
  const MemoryFormat fmt = suggest_memory_format(a);
  Tensor out = empty_like(a);
  add_kernels().get(a.device())(out, a.contiguous(fmt), b.contiguous(fmt), alpha);
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "mul");
  if (is_reduced(a) && !a.device().is_cuda())
    return in_dtype_of(a, ops::mul(as_float32(a), as_float32(b)));
  const MemoryFormat fmt = suggest_memory_format(a);
  Tensor out = empty_like(a);
  mul_kernels().get(a.device())(out, a.contiguous(fmt), b.contiguous(fmt));
  return out;
}

Tensor add_scalar(const Tensor& a, double s) {
  AFN_CHECK(a.defined(), "add: operand is undefined");
  if (is_reduced(a) && !a.device().is_cuda()) return in_dtype_of(a, add_scalar(as_float32(a), s));
  Tensor out = empty_like(a);
  affine_kernels().get(a.device())(out, a.contiguous(suggest_memory_format(a)), 1.0, s);
  return out;
}

Tensor mul_scalar(const Tensor& a, double s) {
  AFN_CHECK(a.defined(), "mul: operand is undefined");
  if (is_reduced(a) && !a.device().is_cuda()) return in_dtype_of(a, mul_scalar(as_float32(a), s));
  Tensor out = empty_like(a);
  affine_kernels().get(a.device())(out, a.contiguous(suggest_memory_format(a)), s, 0.0);
  return out;
}

void add_(const Tensor& a, const Tensor& b, double alpha) {
  check_binary(a, b, "add_");
  const MemoryFormat fmt = suggest_memory_format(a);
  AFN_CHECK(a.is_contiguous(fmt),
            "add_: the destination must be dense (contiguous or channels-last; shape ", a.shape(),
            ", strides ", a.strides(), ")");
  if (is_reduced(a) && !a.device().is_cuda()) {
    a.detach().copy_(ops::add(a, b, alpha));  // the sum rounded once, as add
    return;
  }
  add_kernels().get(a.device())(a, a, b.contiguous(fmt), alpha);
}

}  // namespace afinar::ops
