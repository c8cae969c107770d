// Front end of conv2d: argument checks (shapes, groups, options, dtypes, devices), the output
// size, allocation, and dispatch to the device's kernels (math in include/afinar/ops/conv2d.h).
#include "afinar/ops/conv2d.h"

#include <atomic>

#include "afinar/ops/check_args.h"
#include "ops/float_compute.h"

namespace afinar {

const char* conv2d_algo_name(Conv2dAlgo algo) {
  switch (algo) {
    case Conv2dAlgo::Default:
      return "Default";
    case Conv2dAlgo::Naive:
      return "Naive";
    case Conv2dAlgo::Im2colGemm:
      return "Im2colGemm";
    case Conv2dAlgo::Cudnn:
      return "Cudnn";
    case Conv2dAlgo::Direct:
      return "Direct";
  }
  return "unknown";
}

// Process-wide switches, read by the CUDA backend (kernels/conv2d/) at each call.
namespace {
std::atomic<bool> g_cudnn_benchmark{false};  // torch.backends.cudnn.benchmark
std::atomic<bool> g_allow_tf32_conv{true};   // torch.backends.cudnn.allow_tf32
}  // namespace

void set_cudnn_benchmark(bool on) {
  g_cudnn_benchmark.store(on, std::memory_order_relaxed);
}
bool cudnn_benchmark() {
  return g_cudnn_benchmark.load(std::memory_order_relaxed);
}
void allow_tf32_conv(bool allow) {
  g_allow_tf32_conv.store(allow, std::memory_order_relaxed);
}
bool tf32_conv_allowed() {
  return g_allow_tf32_conv.load(std::memory_order_relaxed);
}

namespace ops {

AFN_DEFINE_KERNEL(conv2d_forward, Conv2dForwardFn)
AFN_DEFINE_KERNEL(conv2d_backward_input, Conv2dBackwardInputFn)
AFN_DEFINE_KERNEL(conv2d_backward_weight, Conv2dBackwardWeightFn)
AFN_DEFINE_KERNEL(conv2d_backward_bias, Conv2dBackwardBiasFn)

namespace {

// floor((size + 2·pad - dil·(k-1) - 1) / stride) + 1, or 0 when the dilated kernel does not fit
// into the padded input (the numerator is negative; C++ division would round it towards zero).
int64_t output_size(int64_t size, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
  const int64_t span = size + 2 * pad - dil * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

Shape output_shape(const Conv2dGeometry& g) {
  return {g.N, g.K, g.Ho, g.Wo};
}

// A tensor for a kernel: dense in `fmt` (the bias, 1-D, contiguous), and detached so that the raw
// op records no autograd history.
Tensor kernel_arg(const Tensor& t, MemoryFormat fmt = MemoryFormat::Contiguous) {
  if (!t.defined()) return Tensor();
  return t.detach().contiguous(t.dim() == 4 ? fmt : MemoryFormat::Contiguous);
}

// PyTorch's rule (cudnn_conv_suggest_memory_format): channels-last when the activation or the
// weight is channels-last; every 4-D operand of the call then goes in that format. Except float64
// on the GPU, which stays NCHW as in PyTorch (cuDNN has no NHWC double kernels).
MemoryFormat conv_memory_format(const Tensor& activation, const Tensor& weight) {
  if (activation.device().is_cuda() && activation.dtype() == DType::F64)
    return MemoryFormat::Contiguous;
  const bool cl = suggest_memory_format(activation) == MemoryFormat::ChannelsLast ||
                  (weight.defined() && suggest_memory_format(weight) == MemoryFormat::ChannelsLast);
  return cl ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous;
}

// g for operands in `fmt`.
Conv2dGeometry in_format(Conv2dGeometry g, MemoryFormat fmt) {
  g.channels_last = fmt == MemoryFormat::ChannelsLast;
  return g;
}

// Whether the op's kernel takes bf16 / f16 itself: cuDNN's convolutions (the CUDA default) do, with
// float accumulation, the bias added in float and rounded again (as PyTorch's cuDNN path); the
// other algorithms and the CPU compute in float32 (float_compute.h).
bool native_reduced(const Tensor& t, const Conv2dOptions& o) {
  return t.device().is_cuda() && (o.algo == Conv2dAlgo::Default || o.algo == Conv2dAlgo::Cudnn);
}

}  // namespace

Conv2dGeometry conv2d_geometry(const Shape& xs, const Shape& ws, const Conv2dOptions& o,
                               const char* op) {
  AFN_CHECK(xs.size() == 4, op, ": input must be 4-D [N,C,H,W], got shape ", xs);
  AFN_CHECK(ws.size() == 4, op, ": weight must be 4-D [K,C/groups,R,S], got shape ", ws);
  AFN_CHECK(o.groups >= 1, op, ": groups must be positive, got ", o.groups);
  AFN_CHECK(o.stride.h >= 1 && o.stride.w >= 1, op, ": stride must be positive, got (", o.stride.h,
            ", ", o.stride.w, ")");
  AFN_CHECK(o.dilation.h >= 1 && o.dilation.w >= 1, op, ": dilation must be positive, got (",
            o.dilation.h, ", ", o.dilation.w, ")");
  AFN_CHECK(o.padding.h >= 0 && o.padding.w >= 0, op, ": padding must be non-negative, got (",
            o.padding.h, ", ", o.padding.w, ")");
  for (int64_t s : ws)
    AFN_CHECK(s >= 1, op, ": weight must have no zero-size dimension, got shape ", ws);
  AFN_CHECK(xs[1] >= 1, op, ": input must have at least one channel, got shape ", xs);

  Conv2dGeometry g{};
  g.N = xs[0], g.C = xs[1], g.H = xs[2], g.W = xs[3];
  g.K = ws[0], g.R = ws[2], g.S = ws[3];
  g.sh = o.stride.h, g.sw = o.stride.w, g.ph = o.padding.h, g.pw = o.padding.w;
  g.dh = o.dilation.h, g.dw = o.dilation.w, g.G = o.groups, g.algo = o.algo;

  AFN_CHECK(g.C % g.G == 0, op, ": input has ", g.C, " channels, which groups=", g.G,
            " does not divide (input shape ", xs, ")");
  AFN_CHECK(g.K % g.G == 0, op, ": weight has ", g.K, " output channels, which groups=", g.G,
            " does not divide (weight shape ", ws, ")");
  AFN_CHECK(ws[1] * g.G == g.C, op, ": input has ", g.C, " channels but weight expects ",
            ws[1] * g.G, " (weight shape ", ws, ", groups=", g.G, ")");

  g.Ho = output_size(g.H, g.R, g.sh, g.ph, g.dh);
  g.Wo = output_size(g.W, g.S, g.sw, g.pw, g.dw);
  AFN_CHECK(g.Ho >= 1 && g.Wo >= 1, op, ": input is too small for the kernel: the padded input is ",
            g.H + 2 * g.ph, "x", g.W + 2 * g.pw, " but the (dilated) kernel is ",
            g.dh * (g.R - 1) + 1, "x", g.dw * (g.S - 1) + 1, " (input shape ", xs,
            ", weight shape ", ws, ")");
  return g;
}

Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dOptions& options, const AddReluEpilogue& epilogue) {
  const char* op = epilogue.empty() ? "conv2d" : "conv2d_add_relu";
  check_floating(x, op, "input");
  check_same_dtype_device(weight, x, op, "weight", "input");
  const Conv2dGeometry g = conv2d_geometry(x.shape(), weight.shape(), options, op);
  if (bias.defined()) {
    check_same_dtype_device(bias, x, op, "bias", "input");
    AFN_CHECK(bias.shape() == Shape{g.K}, op, ": bias must have shape [", g.K,
              "] (the weight's output channels), got ", bias.shape());
  }
  check_epilogue(epilogue, x, output_shape(g), op);
  if (is_reduced(x) && !native_reduced(x, options))  // the epilogue on the rounded result
    return apply_epilogue(in_dtype_of(x, conv2d_forward(as_float32(x), as_float32(weight),
                                                        as_float32(bias), options)),
                          epilogue);
  const MemoryFormat fmt = conv_memory_format(x, weight);
  Tensor y = empty(output_shape(g), x.dtype(), x.device(), fmt);
  conv2d_forward_kernels().get(x.device())(
      y, kernel_arg(x, fmt), kernel_arg(weight, fmt), kernel_arg(bias),
      {.residual = kernel_arg(epilogue.residual, fmt), .relu = epilogue.relu}, in_format(g, fmt));
  return y;
}

Tensor conv2d_backward_input(const Tensor& grad_output, const Tensor& weight,
                             const Shape& input_shape, const Conv2dOptions& options) {
  const char* op = "conv2d_backward_input";
  check_floating(grad_output, op, "grad_output");
  check_same_dtype_device(weight, grad_output, op, "weight", "grad_output");
  const Conv2dGeometry g = conv2d_geometry(input_shape, weight.shape(), options, op);
  AFN_CHECK(grad_output.shape() == output_shape(g), op, ": grad_output has shape ",
            grad_output.shape(), " but the convolution's output has shape ", output_shape(g));
  if (is_reduced(grad_output) && !native_reduced(grad_output, options))
    return in_dtype_of(
        grad_output,
        conv2d_backward_input(as_float32(grad_output), as_float32(weight), input_shape, options));
  const MemoryFormat fmt = conv_memory_format(grad_output, weight);
  Tensor gx = empty(input_shape, grad_output.dtype(), grad_output.device(), fmt);
  conv2d_backward_input_kernels().get(gx.device())(gx, kernel_arg(grad_output, fmt),
                                                   kernel_arg(weight, fmt), in_format(g, fmt));
  return gx;
}

Tensor conv2d_backward_weight(const Tensor& grad_output, const Tensor& x, const Shape& weight_shape,
                              const Conv2dOptions& options) {
  const char* op = "conv2d_backward_weight";
  check_floating(grad_output, op, "grad_output");
  check_same_dtype_device(x, grad_output, op, "input", "grad_output");
  const Conv2dGeometry g = conv2d_geometry(x.shape(), weight_shape, options, op);
  AFN_CHECK(grad_output.shape() == output_shape(g), op, ": grad_output has shape ",
            grad_output.shape(), " but the convolution's output has shape ", output_shape(g));
  if (is_reduced(grad_output) && !native_reduced(grad_output, options))
    return in_dtype_of(grad_output, conv2d_backward_weight(as_float32(grad_output), as_float32(x),
                                                           weight_shape, options));
  const MemoryFormat fmt = conv_memory_format(grad_output, x);
  Tensor gw = empty(weight_shape, grad_output.dtype(), grad_output.device(), fmt);
  conv2d_backward_weight_kernels().get(gw.device())(gw, kernel_arg(grad_output, fmt),
                                                    kernel_arg(x, fmt), in_format(g, fmt));
  return gw;
}

Tensor conv2d_backward_bias(const Tensor& grad_output) {
  check_floating(grad_output, "conv2d_backward_bias", "grad_output", 4);
  if (is_reduced(grad_output) && !grad_output.device().is_cuda())  // CUDA's bias sum takes them
    return in_dtype_of(grad_output, conv2d_backward_bias(as_float32(grad_output)));
  Tensor gb = empty({grad_output.size(1)}, grad_output.dtype(), grad_output.device());
  conv2d_backward_bias_kernels().get(gb.device())(
      gb, kernel_arg(grad_output, suggest_memory_format(grad_output)));
  return gb;
}

}  // namespace ops
}  // namespace afinar
