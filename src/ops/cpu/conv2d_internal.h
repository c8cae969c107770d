// Private to the CPU conv2d kernels: the registered kernels (conv2d.cpp, which also holds the
// Naive reference) choose the algorithm and call the im2col + GEMM path (conv2d_im2col.cpp).
// Same contract as the kernel tables in include/afinar/ops/conv2d.h.
#pragma once

#include "afinar/ops/conv2d.h"

namespace afinar::cpu {

void conv2d_forward_im2col(const Tensor& y, const Tensor& x, const Tensor& weight,
                           const Tensor& bias, const ops::AddReluEpilogue& epilogue,
                           const ops::Conv2dGeometry& g);
void conv2d_backward_input_im2col(const Tensor& grad_input, const Tensor& grad_output,
                                  const Tensor& weight, const ops::Conv2dGeometry& g);
void conv2d_backward_weight_im2col(const Tensor& grad_weight, const Tensor& grad_output,
                                   const Tensor& x, const ops::Conv2dGeometry& g);

}  // namespace afinar::cpu
