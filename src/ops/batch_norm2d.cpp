// Front end of batch_norm2d: argument checks (PyTorch's rules: n > 1 per channel in training,
// running statistics required in eval), contiguous operands, allocation, dispatch. The fused
// epilogue's backward is relu_backward's mask, then the plain backward: the forward is where
// fusion saves passes (bn, add, relu: 8 passes over the data -> 4), the backward would save one.
#include "afinar/ops/batch_norm2d.h"

#include <initializer_list>

#include "afinar/ops/check_args.h"
#include "ops/float_compute.h"

namespace afinar::ops {

AFN_DEFINE_KERNEL(batch_norm2d_forward, BatchNorm2dForwardFn)
AFN_DEFINE_KERNEL(batch_norm2d_backward, BatchNorm2dBackwardFn)

namespace {

// An optional per-channel tensor: undefined, or [C] with x's dtype and device, or float32 with a
// bf16 / f16 x (PyTorch's mixed batch norm, what autocast runs: 16-bit activations, float32
// parameters and statistics).
void check_per_channel(const Tensor& t, const Tensor& x, const char* op, const char* arg) {
  if (!t.defined()) return;
  check_floating(t, op, arg, 1);
  if (!(is_reduced(x) && t.dtype() == DType::F32)) check_same_dtype_device(t, x, op, arg, "input");
  AFN_CHECK(t.device() == x.device(), op, ": ", arg, " is on ", t.device(), " but input is on ",
            x.device());
  AFN_CHECK(t.size(0) == x.size(1), op, ": ", arg, " has ", t.size(0), " elements but input has ",
            x.size(1), " channels (input shape ", x.shape(), ")");
}

// 16-bit activations whose kernel takes them as they are: the GPU's, with float32 (or no)
// parameters and statistics. Anything else with bf16 / f16 computes in float32
// (float_compute.h).
bool native_reduced(const Tensor& x, std::initializer_list<Tensor> per_channel) {
  if (!is_reduced(x) || !x.device().is_cuda()) return false;
  for (const Tensor& t : per_channel)
    if (t.defined() && t.dtype() != DType::F32) return false;
  return true;
}

// The dtype of the statistics and parameters' gradients for activations of dtype `t`.
DType per_channel_dtype(DType t) {
  return is_reduced_float(t) ? DType::F32 : t;
}

Tensor contiguous_or_none(const Tensor& t) {
  return t.defined() ? t.detach().contiguous() : Tensor();
}

// `updated` is the contiguous operand the kernel updated in place for the running statistic
// `stat`: the same storage when `stat` is contiguous, else a copy to write back.
void write_back(const Tensor& stat, const Tensor& updated) {
  if (stat.defined() && !stat.is_contiguous()) stat.detach().copy_(updated);
}

}  // namespace

BatchNorm2dForward batch_norm2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                        const Tensor& running_mean, const Tensor& running_var,
                                        bool training, double momentum, double eps,
                                        const AddReluEpilogue& epilogue) {
  const char* op = epilogue.relu ? "batch_norm2d_add_relu" : "batch_norm2d";
  check_floating(x, op, "input", 4);
  check_epilogue(epilogue, x, x.shape(), op);
  check_per_channel(weight, x, op, "weight");
  check_per_channel(bias, x, op, "bias");
  check_per_channel(running_mean, x, op, "running_mean");
  check_per_channel(running_var, x, op, "running_var");
  if (training) {
    AFN_CHECK(x.size(0) * x.size(2) * x.size(3) != 1, op,
              ": Expected more than 1 value per channel when training, got input size ", x.shape());
  } else {
    AFN_CHECK(running_mean.defined() && running_var.defined(), op,
              ": running_mean and running_var must be defined in evaluation mode "
              "(training=false)");
  }

  if (is_reduced(x) && !native_reduced(x, {weight, bias, running_mean, running_var})) {
    // In float32 (float_compute.h); bf16 running statistics are updated through their copies.
    // The epilogue runs on the bf16 result with the bf16 ops, so that every rounding of the
    // unfused bn -> add -> relu happens here too (bit for bit the same values).
    const Tensor rm = as_float32(running_mean), rv = as_float32(running_var);
    BatchNorm2dForward out = batch_norm2d_forward(
        as_float32(x), as_float32(weight), as_float32(bias), rm, rv, training, momentum, eps);
    if (training && is_reduced(running_mean)) running_mean.detach().copy_(rm);
    if (training && is_reduced(running_var)) running_var.detach().copy_(rv);
    // mean and invstd stay float32, as PyTorch saves them
    out.y = apply_epilogue(in_dtype_of(x, out.y), epilogue);
    return out;
  }
  // x, y and the residual in x's memory format: the kernels take NCHW and channels-last.
  const MemoryFormat fmt = suggest_memory_format(x);
  const int64_t c = x.size(1);
  BatchNorm2dForwardArgs a;
  a.y = empty(x.shape(), x.dtype(), x.device(), fmt);
  a.mean = empty({c}, per_channel_dtype(x.dtype()), x.device());
  a.invstd = empty({c}, per_channel_dtype(x.dtype()), x.device());
  a.x = x.detach().contiguous(fmt);
  a.weight = contiguous_or_none(weight);
  a.bias = contiguous_or_none(bias);
  // Training updates the running statistics in place (a strided one through a contiguous copy,
  // written back below).
  a.running_mean = contiguous_or_none(running_mean);
  a.running_var = contiguous_or_none(running_var);
  a.training = training;
  a.momentum = momentum;
  a.eps = eps;
  if (epilogue.residual.defined()) a.residual = epilogue.residual.detach().contiguous(fmt);
  a.relu = epilogue.relu;
  batch_norm2d_forward_kernels().get(x.device())(a);
  if (training) {
    write_back(running_mean, a.running_mean);
    write_back(running_var, a.running_var);
  }
  return {a.y, a.mean, a.invstd};
}

BatchNorm2dGrads batch_norm2d_backward(const Tensor& grad_output, const Tensor& x,
                                       const Tensor& weight, const Tensor& mean,
                                       const Tensor& invstd, bool training,
                                       std::array<bool, 4> output_mask, const Tensor& relu_output) {
  const char* op = "batch_norm2d_backward";
  check_floating(grad_output, op, "grad_output", 4);
  check_same_dtype_device(x, grad_output, op, "input", "grad_output");
  check_same_shape(x, grad_output, op, "input", "grad_output");
  check_per_channel(weight, x, op, "weight");
  AFN_CHECK(mean.defined() && invstd.defined(), op, ": mean and invstd (from the forward) ",
            "are required");
  check_per_channel(mean, x, op, "mean");
  check_per_channel(invstd, x, op, "invstd");

  if (output_mask == std::array<bool, 4>{}) return {};
  if (is_reduced(x) && !native_reduced(x, {weight, mean, invstd})) {
    BatchNorm2dGrads grads = batch_norm2d_backward(
        as_float32(grad_output), as_float32(x), as_float32(weight), as_float32(mean),
        as_float32(invstd), training, output_mask, as_float32(relu_output));
    grads.grad_input = in_dtype_of(x, grads.grad_input);
    grads.grad_residual = in_dtype_of(x, grads.grad_residual);
    if (is_reduced(weight)) {  // the parameters' gradients in the parameters' dtype
      grads.grad_weight = in_dtype_of(weight, grads.grad_weight);
      grads.grad_bias = in_dtype_of(weight, grads.grad_bias);
    }
    return grads;
  }
  // The relu epilogue's mask; the residual's gradient is what reaches the sum.
  const Tensor g = epilogue_backward(grad_output, relu_output);
  BatchNorm2dGrads grads;
  if (output_mask[3]) grads.grad_residual = g;
  if (!output_mask[0] && !output_mask[1] && !output_mask[2]) return grads;

  const MemoryFormat fmt = suggest_memory_format(x);
  const int64_t c = x.size(1);
  BatchNorm2dBackwardArgs a;
  if (output_mask[0]) a.grad_input = empty(x.shape(), x.dtype(), x.device(), fmt);
  if (output_mask[1]) a.grad_weight = empty({c}, per_channel_dtype(x.dtype()), x.device());
  if (output_mask[2]) a.grad_bias = empty({c}, per_channel_dtype(x.dtype()), x.device());
  a.grad_output = g.detach().contiguous(fmt);
  a.x = x.detach().contiguous(fmt);
  a.weight = contiguous_or_none(weight);
  a.mean = mean.detach().contiguous();
  a.invstd = invstd.detach().contiguous();
  a.training = training;
  batch_norm2d_backward_kernels().get(x.device())(a);
  grads.grad_input = a.grad_input;
  grads.grad_weight = a.grad_weight;
  grads.grad_bias = a.grad_bias;
  return grads;
}

}  // namespace afinar::ops
