// Front end of linear: argument checks, then every backend sees contiguous 2-D matrices — the
// leading dims of x [..., in] (and of g [..., out]) are flattened into M rows and restored after.
#include "afinar/ops/linear.h"

#include "afinar/ops/check_args.h"
#include "ops/float_compute.h"

namespace afinar::ops {

AFN_DEFINE_KERNEL(linear_forward, LinearForwardFn)
AFN_DEFINE_KERNEL(linear_backward_input, LinearBackwardInputFn)
AFN_DEFINE_KERNEL(linear_backward_weight, LinearBackwardWeightFn)
AFN_DEFINE_KERNEL(linear_backward_bias, LinearBackwardBiasFn)

namespace {

// `t` is a floating tensor with at least one dim (the feature dim, last).
void check_features(const Tensor& t, const char* op, const char* arg) {
  check_floating(t, op, arg);
  AFN_CHECK(t.dim() >= 1, op, ": ", arg, " must have at least 1 dim [..., features], got a 0-D ",
            "tensor");
}

void check_weight(const Tensor& weight, const Tensor& ref, const char* op, const char* ref_arg) {
  check_floating(weight, op, "weight", 2);
  check_same_dtype_device(weight, ref, op, "weight", ref_arg);
}

// t [..., k] as a contiguous [M, k] matrix, M the product of the leading dims (no autograd).
Tensor as_rows(const Tensor& t) {
  const int64_t k = t.size(-1);
  const int64_t rows = numel_of(Shape(t.shape().begin(), t.shape().end() - 1));
  return t.detach().contiguous().reshape({rows, k});
}

// A new tensor shaped like `t` with its last dim replaced by `last`.
Tensor empty_with_last(const Tensor& t, int64_t last) {
  Shape s = t.shape();
  s.back() = last;
  return empty(s, t.dtype(), t.device());
}

}  // namespace

Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_features(x, "linear", "input");
  check_weight(weight, x, "linear", "input");
  const int64_t out = weight.size(0), in = weight.size(1);
  AFN_CHECK(x.size(-1) == in, "linear: input has ", x.size(-1), " features (shape ", x.shape(),
            ") but weight expects ", in, " (weight shape ", weight.shape(), ")");
  if (bias.defined()) {
    check_floating(bias, "linear", "bias", 1);
    check_same_dtype_device(bias, x, "linear", "bias", "input");
    AFN_CHECK(bias.size(0) == out, "linear: bias has ", bias.size(0), " elements but weight has ",
              out, " output features (weight shape ", weight.shape(), ")");
  }
  // bf16 / f16: cuBLAS takes them natively (float accumulation); the CPU computes in float32.
  if (is_reduced(x) && !x.device().is_cuda())
    return in_dtype_of(x, linear_forward(as_float32(x), as_float32(weight), as_float32(bias)));
  Tensor rows = as_rows(x);
  Tensor y = empty_with_last(x, out);
  linear_forward_kernels().get(x.device())(y.reshape({rows.size(0), out}), rows,
                                           weight.detach().contiguous(),
                                           bias.defined() ? bias.detach().contiguous() : Tensor());
  return y;
}

Tensor linear_backward_input(const Tensor& grad_output, const Tensor& weight) {
  check_features(grad_output, "linear_backward_input", "grad_output");
  check_weight(weight, grad_output, "linear_backward_input", "grad_output");
  AFN_CHECK(grad_output.size(-1) == weight.size(0), "linear_backward_input: grad_output has ",
            grad_output.size(-1), " features (shape ", grad_output.shape(), ") but weight has ",
            weight.size(0), " outputs (weight shape ", weight.shape(), ")");
  if (is_reduced(grad_output) && !grad_output.device().is_cuda())
    return in_dtype_of(grad_output,
                       linear_backward_input(as_float32(grad_output), as_float32(weight)));
  Tensor g = as_rows(grad_output);
  Tensor gx = empty_with_last(grad_output, weight.size(1));
  linear_backward_input_kernels().get(g.device())(gx.reshape({g.size(0), weight.size(1)}), g,
                                                  weight.detach().contiguous());
  return gx;
}

Tensor linear_backward_weight(const Tensor& grad_output, const Tensor& x) {
  check_features(grad_output, "linear_backward_weight", "grad_output");
  check_features(x, "linear_backward_weight", "input");
  check_same_dtype_device(x, grad_output, "linear_backward_weight", "input", "grad_output");
  AFN_CHECK(Shape(x.shape().begin(), x.shape().end() - 1) ==
                Shape(grad_output.shape().begin(), grad_output.shape().end() - 1),
            "linear_backward_weight: input (shape ", x.shape(), ") and grad_output (shape ",
            grad_output.shape(), ") must have the same leading dims");
  if (is_reduced(x) && !x.device().is_cuda())
    return in_dtype_of(x, linear_backward_weight(as_float32(grad_output), as_float32(x)));
  Tensor gw = empty({grad_output.size(-1), x.size(-1)}, x.dtype(), x.device());
  linear_backward_weight_kernels().get(x.device())(gw, as_rows(grad_output), as_rows(x));
  return gw;
}

Tensor linear_backward_bias(const Tensor& grad_output) {
  check_features(grad_output, "linear_backward_bias", "grad_output");
  if (is_reduced(grad_output) && !grad_output.device().is_cuda())
    return in_dtype_of(grad_output, linear_backward_bias(as_float32(grad_output)));
  Tensor gb = empty({grad_output.size(-1)}, grad_output.dtype(), grad_output.device());
  linear_backward_bias_kernels().get(grad_output.device())(gb, as_rows(grad_output));
  return gb;
}

}  // namespace afinar::ops
