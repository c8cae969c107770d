// Front end of max_pool2d / avg_pool2d: PyTorch's argument checks (pool2d_shape_check), the
// output size, allocation and dispatch; plus the window geometry and argument checks that
// adaptive_pool2d shares.
#include "afinar/ops/pool2d.h"

#include <algorithm>
#include <string>

#include "afinar/ops/check_args.h"
#include "ops/float_compute.h"

namespace afinar::ops {

AFN_DEFINE_KERNEL(max_pool2d_forward, MaxPool2dForwardFn)
AFN_DEFINE_KERNEL(max_pool2d_backward, MaxPool2dBackwardFn)
AFN_DEFINE_KERNEL(avg_pool2d_forward, AvgPool2dForwardFn)
AFN_DEFINE_KERNEL(avg_pool2d_backward, AvgPool2dBackwardFn)

namespace {

using Pair = IntPair;

std::string str(const Pair& p) {
  return detail::concat("(", p[0], ", ", p[1], ")");
}

// ⌊a / b⌋ for b > 0 and any sign of a (PyTorch's div_rtn): C++ division truncates toward 0.
int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// Checks kernel / stride / padding / dilation as PyTorch does and returns the stride with 0
// resolved to the kernel size.
Pair check_window(const char* op, const Pair& kernel, const Pair& stride, const Pair& padding,
                  const Pair& dilation) {
  AFN_CHECK(kernel[0] > 0 && kernel[1] > 0, op, ": kernel_size must be greater than zero, got ",
            str(kernel));
  AFN_CHECK(stride[0] >= 0 && stride[1] >= 0, op,
            ": stride must be positive (0 means kernel_size), got ", str(stride));
  AFN_CHECK(dilation[0] > 0 && dilation[1] > 0, op, ": dilation must be greater than zero, got ",
            str(dilation));
  AFN_CHECK(padding[0] >= 0 && padding[1] >= 0, op, ": padding must be non-negative, got ",
            str(padding));
  AFN_CHECK(padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2, op,
            ": padding must be at most half of kernel_size, got padding ", str(padding),
            " and kernel_size ", str(kernel));
  return {stride[0] == 0 ? kernel[0] : stride[0], stride[1] == 0 ? kernel[1] : stride[1]};
}

MaxPool2dOptions resolved(const MaxPool2dOptions& opt, const char* op) {
  MaxPool2dOptions o = opt;
  o.stride = check_window(op, o.kernel_size, o.stride, o.padding, o.dilation);
  return o;
}

AvgPool2dOptions resolved(const AvgPool2dOptions& opt, const char* op) {
  AvgPool2dOptions o = opt;
  o.stride = check_window(op, o.kernel_size, o.stride, o.padding, {1, 1});
  return o;
}

// The output's {P, Q} for an [N,C,H,W] input; an error when the input is too small for a window.
Pair output_hw(const Shape& in, const Pair& kernel, const Pair& stride, const Pair& padding,
               const Pair& dilation, bool ceil_mode, const char* op) {
  const Pair pq{
      pool2d_output_size(in[2], kernel[0], stride[0], padding[0], dilation[0], ceil_mode),
      pool2d_output_size(in[3], kernel[1], stride[1], padding[1], dilation[1], ceil_mode)};
  AFN_CHECK(pq[0] >= 1 && pq[1] >= 1, op, ": input of shape ", in, " is too small for kernel_size ",
            str(kernel), ", stride ", str(stride), ", padding ", str(padding), ", dilation ",
            str(dilation), ": the output would be ", pq[0], "x", pq[1]);
  return pq;
}

void check_grad_hw(const Tensor& grad_output, const Pair& pq, const Shape& input_shape,
                   const char* op) {
  AFN_CHECK(grad_output.size(2) == pq[0] && grad_output.size(3) == pq[1], op,
            ": grad_output has shape ", grad_output.shape(),
            " but the output for an input of shape ", input_shape, " is ", pq[0], "x", pq[1]);
}

}  // namespace

int64_t pool2d_output_size(int64_t input, int64_t kernel, int64_t stride, int64_t padding,
                           int64_t dilation, bool ceil_mode) {
  const int64_t span = input + 2 * padding - dilation * (kernel - 1) - 1;
  int64_t out = floor_div(span + (ceil_mode ? stride - 1 : 0), stride) + 1;
  // ceil_mode must not add a window that starts in the right padding.
  if (ceil_mode && (out - 1) * stride >= input + padding) --out;
  return out;
}

PoolWindows pool_windows(int64_t input, int64_t output, int64_t kernel, int64_t stride,
                         int64_t padding, int64_t dilation) {
  PoolWindows w;
  w.step = dilation;
  for (int64_t o = 0; o < output; ++o) {
    const int64_t start = o * stride - padding;
    const int64_t last = start + (kernel - 1) * dilation;  // the window's last position
    // The first position of the dilated grid start, start + d, ... that is >= 0.
    const int64_t first = start >= 0 ? start : start + (dilation - 1 - start) / dilation * dilation;
    w.begin.push_back(first);
    w.end.push_back(std::min(last + 1, input));
    // start < input + padding for every window pool2d_output_size admits, so this is >= 1.
    w.padded.push_back((std::min(last, input + padding - 1) - start) / dilation + 1);
  }
  return w;
}

void check_pool2d_input(const Tensor& x, const char* op) {
  AFN_CHECK(x.defined(), op, ": input is undefined");
  AFN_CHECK(x.dim() == 4, op, ": input must be 4-D [N,C,H,W], got shape ", x.shape(),
            x.dim() == 3 ? " (reshape a [C,H,W] input to [1,C,H,W])" : "");
  check_floating(x, op, "input");
  AFN_CHECK(x.size(1) > 0 && x.size(2) > 0 && x.size(3) > 0, op,
            ": input must have nonzero C, H and W (only N may be 0), got shape ", x.shape());
}

void check_pool2d_grad(const Tensor& grad_output, const Shape& input_shape, const char* op) {
  check_floating(grad_output, op, "grad_output", 4);
  AFN_CHECK(
      input_shape.size() == 4 && input_shape[1] > 0 && input_shape[2] > 0 && input_shape[3] > 0, op,
      ": input_shape must be [N,C,H,W] with nonzero C, H and W, got ", input_shape);
  AFN_CHECK(grad_output.size(0) == input_shape[0] && grad_output.size(1) == input_shape[1] &&
                grad_output.size(2) > 0 && grad_output.size(3) > 0,
            op, ": grad_output of shape ", grad_output.shape(),
            " is not a pooled output of an input of shape ", input_shape);
}

void check_pool2d_indices(const Tensor& indices, const Tensor& grad_output, const char* op) {
  AFN_CHECK(indices.defined(), op, ": indices is undefined");
  AFN_CHECK(indices.dtype() == DType::I64, op, ": indices must be int64, got ", indices.dtype());
  AFN_CHECK(indices.device() == grad_output.device(), op, ": indices is on ", indices.device(),
            " but grad_output is on ", grad_output.device());
  check_same_shape(indices, grad_output, op, "indices", "grad_output");
}

std::pair<Tensor, Tensor> max_pool2d_forward(const Tensor& x, const MaxPool2dOptions& opt) {
  const char* op = "max_pool2d";
  check_pool2d_input(x, op);
  const MaxPool2dOptions o = resolved(opt, op);
  const Pair pq =
      output_hw(x.shape(), o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode, op);
  if (is_reduced(x) && !x.device().is_cuda()) {
    auto [y, indices] = max_pool2d_forward(as_float32(x), opt);
    return {in_dtype_of(x, y), indices};
  }
  const Shape out_shape{x.size(0), x.size(1), pq[0], pq[1]};
  const MemoryFormat fmt = suggest_memory_format(x);  // the kernels take NCHW and NHWC
  Tensor y = empty(out_shape, x.dtype(), x.device(), fmt);
  Tensor indices = empty(out_shape, DType::I64, x.device(), fmt);
  max_pool2d_forward_kernels().get(x.device())(y, indices, x.detach().contiguous(fmt), o);
  return {y, indices};
}

Tensor max_pool2d_backward(const Tensor& grad_output, const Tensor& indices,
                           const Shape& input_shape, const MaxPool2dOptions& opt,
                           std::optional<MemoryFormat> input_format) {
  const char* op = "max_pool2d_backward";
  check_pool2d_grad(grad_output, input_shape, op);
  check_pool2d_indices(indices, grad_output, op);
  const MaxPool2dOptions o = resolved(opt, op);
  check_grad_hw(
      grad_output,
      output_hw(input_shape, o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode, op),
      input_shape, op);
  if (is_reduced(grad_output) && !grad_output.device().is_cuda())
    return in_dtype_of(grad_output, max_pool2d_backward(as_float32(grad_output), indices,
                                                        input_shape, opt, input_format));
  const MemoryFormat fmt = input_format.value_or(suggest_memory_format(grad_output));
  Tensor gi = empty(input_shape, grad_output.dtype(), grad_output.device(), fmt);
  max_pool2d_backward_kernels().get(grad_output.device())(gi, grad_output.detach().contiguous(fmt),
                                                          indices.detach().contiguous(fmt), o);
  return gi;
}

Tensor avg_pool2d_forward(const Tensor& x, const AvgPool2dOptions& opt) {
  const char* op = "avg_pool2d";
  check_pool2d_input(x, op);
  const AvgPool2dOptions o = resolved(opt, op);
  const Pair pq = output_hw(x.shape(), o.kernel_size, o.stride, o.padding, {1, 1}, o.ceil_mode, op);
  if (is_reduced(x) && !x.device().is_cuda())
    return in_dtype_of(x, avg_pool2d_forward(as_float32(x), opt));
  const MemoryFormat fmt = suggest_memory_format(x);  // the kernels take NCHW and NHWC
  Tensor y = empty({x.size(0), x.size(1), pq[0], pq[1]}, x.dtype(), x.device(), fmt);
  avg_pool2d_forward_kernels().get(x.device())(y, x.detach().contiguous(fmt), o);
  return y;
}

Tensor avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape,
                           const AvgPool2dOptions& opt, std::optional<MemoryFormat> input_format) {
  const char* op = "avg_pool2d_backward";
  check_pool2d_grad(grad_output, input_shape, op);
  const AvgPool2dOptions o = resolved(opt, op);
  check_grad_hw(grad_output,
                output_hw(input_shape, o.kernel_size, o.stride, o.padding, {1, 1}, o.ceil_mode, op),
                input_shape, op);
  if (is_reduced(grad_output) && !grad_output.device().is_cuda())
    return in_dtype_of(
        grad_output, avg_pool2d_backward(as_float32(grad_output), input_shape, opt, input_format));
  const MemoryFormat fmt = input_format.value_or(suggest_memory_format(grad_output));
  Tensor gi = empty(input_shape, grad_output.dtype(), grad_output.device(), fmt);
  avg_pool2d_backward_kernels().get(grad_output.device())(gi, grad_output.detach().contiguous(fmt),
                                                          o);
  return gi;
}

}  // namespace afinar::ops
