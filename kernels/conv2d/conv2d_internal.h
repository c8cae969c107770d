// Private to kernels/conv2d/: the host-side (Tensor) implementations of each CUDA algorithm, called
// by the registered kernels in conv2d.cpp. Same contract as the kernel tables of
// include/afinar/ops/conv2d.h: tensors of one floating dtype on one device, contiguous NCHW (or
// channels-last, Conv2dGeometry::channels_last: cuDNN only; conv2d.cpp keeps it from the others),
// the output preallocated, every output element written. The bias is handled by conv2d.cpp.
#pragma once

#include "afinar/ops/conv2d.h"
#include "conv2d/conv2d.h"

namespace afinar::cuda {

ConvShape conv_shape(const ops::Conv2dGeometry& g);

// conv2d_cudnn.cpp (Conv2dAlgo::Cudnn, the Default)
void cudnn_conv2d_forward(const Tensor& y, const Tensor& x, const Tensor& weight,
                          const ops::Conv2dGeometry& g);
void cudnn_conv2d_backward_input(const Tensor& grad_input, const Tensor& grad_output,
                                 const Tensor& weight, const ops::Conv2dGeometry& g);
void cudnn_conv2d_backward_weight(const Tensor& grad_weight, const Tensor& grad_output,
                                  const Tensor& x, const ops::Conv2dGeometry& g);

// conv2d_im2col_gemm.cpp (Conv2dAlgo::Im2colGemm)
void im2col_conv2d_forward(const Tensor& y, const Tensor& x, const Tensor& weight,
                           const ops::Conv2dGeometry& g);
void im2col_conv2d_backward_input(const Tensor& grad_input, const Tensor& grad_output,
                                  const Tensor& weight, const ops::Conv2dGeometry& g);
void im2col_conv2d_backward_weight(const Tensor& grad_weight, const Tensor& grad_output,
                                   const Tensor& x, const ops::Conv2dGeometry& g);

}  // namespace afinar::cuda
