// 2-D convolution, exactly torch.nn.functional.conv2d (a cross-correlation: the kernel is not
// flipped).
//
// Shapes: x [N,C,H,W], weight [K, C/G, R, S], optional bias [K], y [N,K,Ho,Wo] (an unbatched x
// [C,H,W] gives [K,Ho,Wo], ops/unbatched.h), with G groups,
// stride (sh,sw), padding (ph,pw), dilation (dh,dw):
//   Ho = floor((H + 2·ph - dh·(R-1) - 1) / sh) + 1,   Wo likewise with W, pw, dw, S, sw.
// Group g owns input channels [g·C/G, (g+1)·C/G) and output channels [g·K/G, (g+1)·K/G); write
// c' = c - g·C/G for the channel index inside the weight, and
//   ih(oh, r) = oh·sh - ph + r·dh,   iw(ow, s) = ow·sw - pw + s·dw   (x is 0 outside [0,H)×[0,W)).
//
// Forward:
//   y[n,k,oh,ow] = b[k] + Σ_{c ∈ group(k), r, s} x[n, c, ih(oh,r), iw(ow,s)] · w[k, c', r, s]
// Backward, with gy = dL/dy:
//   dL/dx[n,c,i,j]  = Σ_{k ∈ group(c), r, s, oh, ow : ih(oh,r) = i, iw(ow,s) = j}
//                         gy[n,k,oh,ow] · w[k,c',r,s]
//   dL/dw[k,c',r,s] = Σ_{n, oh, ow} gy[n,k,oh,ow] · x[n, c, ih(oh,r), iw(ow,s)]
//   dL/db[k]        = Σ_{n, oh, ow} gy[n,k,oh,ow]
// Each is a sum of C/G·R·S (forward), K/G·R·S (input gradient) or N·Ho·Wo terms (weight, bias).
//
// Fused epilogue (conv2d_add_relu, add_relu_epilogue.h): relu(conv2d(x, w, b) + residual), the
// residual optional, in one pass instead of three: what a ResNet block runs once its batch norm
// is folded into the convolution (nn/fuse.h). Bit for bit the unfused ops.
//
//   Tensor y = conv2d(x, w, b, {.stride = 2, .padding = 3});          // ResNet's stem
//   Tensor z = conv2d(x, w, {}, {.padding = {1, 0}, .groups = 32});   // no bias, grouped
#pragma once

#include <cstdint>
#include <ostream>

#include "afinar/core/tensor.h"
#include "afinar/ops/add_relu_epilogue.h"
#include "afinar/ops/dispatch.h"
#include "afinar/ops/int_pair.h"

namespace afinar {

// How a backend computes the convolution. Every backend implements Default; asking a backend for
// a variant it lacks is an error, never a silent substitute. Tests and benchmarks loop over the
// variants of each backend.
//   Default      the fastest correct one: Im2colGemm on the CPU, Cudnn on CUDA
//   Naive        (cpu) the readable 7-deep loops: the reference
//   Im2colGemm   patches unrolled into a matrix (im2col), times the weight with BLAS: OpenBLAS on
//                the CPU; on CUDA an im2col / col2im kernel plus cuBLAS (kernels/conv2d/)
//   Cudnn        (cuda) cuDNN's convolutions; the algorithm by cuDNN's heuristics, or measured
//                when set_cudnn_benchmark(true)
//   Direct       (cuda) one thread per output element running the loops of the formulas: the
//                teaching baseline for the GPU
enum class Conv2dAlgo { Default, Naive, Im2colGemm, Cudnn, Direct };
const char* conv2d_algo_name(Conv2dAlgo algo);
inline std::ostream& operator<<(std::ostream& os, Conv2dAlgo algo) {
  return os << conv2d_algo_name(algo);
}

// torch.backends.cudnn.benchmark: when on, the first call of each convolution shape (geometry,
// dtype, direction, TF32 setting) times every cuDNN algorithm and keeps the fastest for later
// calls; when off (the default) cuDNN's heuristics choose without running anything. Either choice
// is cached per shape.
void set_cudnn_benchmark(bool on);
bool cudnn_benchmark();

// torch.backends.cudnn.allow_tf32: float32 convolutions on CUDA may use TF32 tensor cores (10-bit
// mantissa products, float32 sums). On by default, as in PyTorch. Applies to the Cudnn and the
// Im2colGemm (its GEMM) algorithms; float64 never uses TF32.
void allow_tf32_conv(bool allow);
bool tf32_conv_allowed();

// PyTorch's arguments and defaults. Like PyTorch's int-or-tuple, each pair takes one value for
// both dimensions ({.stride = 2}) or {height, width} ({.padding = {1, 0}}).
struct Conv2dOptions {
  IntPair stride{1}, padding{0}, dilation{1};
  int64_t groups = 1;
  Conv2dAlgo algo = Conv2dAlgo::Default;
};

// Differentiable. `bias` may be undefined (no bias). Computes only the gradients that are needed:
// a frozen weight costs no weight gradient, an input that needs none (the first layer) no input
// gradient.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dOptions& options = {});

// relu(conv2d(x, weight, bias, options) + residual), fused; `residual` (the output's shape, dtype
// and device) may be undefined: relu(conv2d(...)). Differentiable in x, weight, bias and residual.
Tensor conv2d_add_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& residual, const Conv2dOptions& options = {});

namespace ops {

// Every size of one convolution, checked by conv2d_geometry: what a backend kernel gets.
struct Conv2dGeometry {
  int64_t N, C, H, W;  // input
  int64_t K, R, S;     // weight [K, C/G, R, S]
  int64_t Ho, Wo;      // output
  int64_t sh, sw, ph, pw, dh, dw, G;
  Conv2dAlgo algo;
  // The memory format of every 4-D operand the kernel gets (input, weight, output and their
  // gradients): false NCHW-contiguous, true channels-last (NHWC; the weight [K,R,S,C/G]).
  bool channels_last = false;

  int64_t Cg() const { return C / G; }  // input channels per group
  int64_t Kg() const { return K / G; }  // output channels per group
};

// Checks the shapes and options (4-D input and weight, channels divisible by and matching the
// groups, positive stride and dilation, non-negative padding, an output of at least 1×1) and
// computes the output size; errors name `op`.
Conv2dGeometry conv2d_geometry(const Shape& input_shape, const Shape& weight_shape,
                               const Conv2dOptions& options, const char* op);

// Raw ops (no autograd). Each returns a new tensor, channels-last when the activation or the
// weight is (as PyTorch), else contiguous. The forward runs `epilogue` after the bias.
Tensor conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Conv2dOptions& options, const AddReluEpilogue& epilogue = {});
// dL/dx [N,C,H,W] from gy [N,K,Ho,Wo] and the weight.
Tensor conv2d_backward_input(const Tensor& grad_output, const Tensor& weight,
                             const Shape& input_shape, const Conv2dOptions& options);
// dL/dw [K,C/G,R,S] from gy and the forward's input.
Tensor conv2d_backward_weight(const Tensor& grad_output, const Tensor& x, const Shape& weight_shape,
                              const Conv2dOptions& options);
// dL/db [K] from gy [N,K,Ho,Wo].
Tensor conv2d_backward_bias(const Tensor& grad_output);

// Backend kernels: inputs of one dtype, every 4-D operand dense in the memory format
// geometry.channels_last names (the epilogue's residual too), the output preallocated in it and
// uninitialized (the kernel writes every element). `bias` may be undefined. The forward computes
// y = conv + bias, rounds it to the dtype, then applies the epilogue.
using Conv2dForwardFn = void(const Tensor& y, const Tensor& x, const Tensor& weight,
                             const Tensor& bias, const AddReluEpilogue& epilogue,
                             const Conv2dGeometry& geometry);
using Conv2dBackwardInputFn = void(const Tensor& grad_input, const Tensor& grad_output,
                                   const Tensor& weight, const Conv2dGeometry& geometry);
using Conv2dBackwardWeightFn = void(const Tensor& grad_weight, const Tensor& grad_output,
                                    const Tensor& x, const Conv2dGeometry& geometry);
using Conv2dBackwardBiasFn = void(const Tensor& grad_bias, const Tensor& grad_output);
AFN_DECLARE_KERNEL(conv2d_forward, Conv2dForwardFn);
AFN_DECLARE_KERNEL(conv2d_backward_input, Conv2dBackwardInputFn);
AFN_DECLARE_KERNEL(conv2d_backward_weight, Conv2dBackwardWeightFn);
AFN_DECLARE_KERNEL(conv2d_backward_bias, Conv2dBackwardBiasFn);

}  // namespace ops
}  // namespace afinar
