// Launchers of the hand-written conv2d kernels: contiguous NCHW device arrays of T (float or
// double; the bias kernels also channels-last, bf16 and f16), shapes as in
// include/afinar/ops/conv2d.h. Plain C++ (the .cu files see no afinar C++20 headers); the .cpp
// files of this folder turn Tensors into these calls.
//   conv2d_direct.cu   Conv2dAlgo::Direct: one thread per output element of each direction
//   conv2d_im2col.cu   Conv2dAlgo::Im2colGemm: im2col / col2im around cuBLAS GEMMs
//   conv2d_bias.cu     bias and epilogue (forward) and per-channel sums (the bias gradient),
//                      every algo
// The cuDNN path (Conv2dAlgo::Cudnn, the Default) is host code only: conv2d_cudnn.cpp.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "runtime/compute_type.h"

namespace afinar::cuda {

// Every size of one convolution (ops::Conv2dGeometry without the algorithm).
struct ConvShape {
  int64_t N, C, H, W;  // input
  int64_t K, R, S;     // weight [K, C/G, R, S]
  int64_t Ho, Wo;      // output
  int64_t sh, sw, ph, pw, dh, dw, G;
};

// ---- Direct (conv2d_direct.cu) ----------------------------------------------------------------
// y [N,K,Ho,Wo] (+ bias b [K], may be null), gx [N,C,H,W], gw [K,C/G,R,S]: each written whole.
template <typename T>
void launch_conv2d_direct_forward(T* y, const T* x, const T* w, const T* b, const ConvShape& g,
                                  cudaStream_t stream);
template <typename T>
void launch_conv2d_direct_backward_input(T* gx, const T* gy, const T* w, const ConvShape& g,
                                         cudaStream_t stream);
template <typename T>
void launch_conv2d_direct_backward_weight(T* gw, const T* gy, const T* x, const ConvShape& g,
                                          cudaStream_t stream);

// ---- Im2colGemm (conv2d_im2col.cu) ------------------------------------------------------------
// For `images` consecutive images of x (x points at the first), P = Ho·Wo:
//   col[i, (c·R + r)·S + s, oh·Wo + ow] = x[i, c, ih(oh,r), iw(ow,s)]   (0 in the padding)
// a [images, C·R·S, P] array; col2im is its adjoint (gather: every gx element is written once).
template <typename T>
void launch_im2col(T* col, const T* x, int64_t images, const ConvShape& g, cudaStream_t stream);
template <typename T>
void launch_col2im(T* gx, const T* col, int64_t images, const ConvShape& g, cudaStream_t stream);

// ---- bias (conv2d_bias.cu) --------------------------------------------------------------------
// y and x are [N, K, P] arrays, or with channels_last [N, P, K] ones (P = Ho·Wo).
// The forward's bias and epilogue, in place: y[n, k, p] = relu(y + b[k] + residual[n, k, p]),
// each step rounded to T; b and residual may be null (not added), relu false (not applied).
template <typename T>
void launch_conv2d_epilogue(T* y, const T* b, const T* residual, bool relu, int64_t N, int64_t K,
                            int64_t P, bool channels_last, cudaStream_t stream);
// out[k] = Σ_{n,p} x[n, k, p] (N·P ≥ 1): in channel_sum_splits(N, K, P, channels_last) slices
// (NCHW: of the batch; channels-last: of the N·P rows) per channel, then the slices' partial sums
// in a fixed order (deterministic, no atomics). `partials` holds K · splits elements (unused, may
// be null, when splits == 1).
int64_t channel_sum_splits(int64_t N, int64_t K, int64_t P, bool channels_last);
template <typename T>
void launch_channel_sum(T* out, const T* x, int64_t N, int64_t K, int64_t P, bool channels_last,
                        compute_t<T>* partials, int64_t splits, cudaStream_t stream);

}  // namespace afinar::cuda
