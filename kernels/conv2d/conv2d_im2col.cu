// Conv2dAlgo::Im2colGemm on CUDA — the convolution as matrix products (the GEMMs themselves are
// cuBLAS calls in conv2d_im2col_gemm.cpp; this file holds the two data-movement kernels).
//
// What it changes over Direct (conv2d_direct.cu): the input patches are first unrolled into a
// matrix, col [C·R·S, Ho·Wo] per image (im2col), so that per group
//   forward          Y_g [Kg, P]      = W_g [Kg, Cg·R·S] · col_g [Cg·R·S, P]
//   backward_input   dcol_g           = W_gᵀ · gY_g,  then col2im adds dcol back onto gx
//   backward_weight  dW_g            += gY_g · col_gᵀ   (summed over the images)
// Why it is faster: a GEMM reuses every loaded operand across a whole tile of outputs (shared
// memory and register blocking, tensor cores with TF32), so it runs near the arithmetic peak,
// where Direct reloads both operands for each multiply-add. The price is memory: col is R·S
// times the input (the .cpp unrolls a bounded chunk of images at a time) and one extra write and
// read of it; cuDNN's implicit-GEMM algorithms avoid even that by forming the patches on the fly
// in shared memory.
//
// im2col: one thread per (image, channel, output pixel) writes that pixel's R·S patch values,
// consecutive threads on consecutive pixels (coalesced writes of each col row). col2im: one
// thread per input pixel gathers the col entries that came from it (no atomics, deterministic).
//
// Benchmark: afinar_bench --benchmark_filter='Conv2dCudaAlgo'.
#include "common.cuh"
#include "conv2d/conv2d.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

template <typename T>
__global__ void im2col_kernel(T* __restrict__ col, const T* __restrict__ x, int64_t images,
                              ConvShape g) {
  const int64_t P = g.Ho * g.Wo, RS = g.R * g.S;
  const int64_t total = images * g.C * P;
  AFN_GRID_STRIDE_LOOP(idx, total) {
    const int64_t p = idx % P;
    const int64_t plane = idx / P;  // n·C + c
    const int64_t oh = p / g.Wo, ow = p % g.Wo;
    const T* xp = x + plane * g.H * g.W;
    T* cp = col + plane * RS * P + p;  // row (c·R + r)·S + s of image n starts at (plane·RS + ..)·P
    for (int64_t r = 0; r < g.R; ++r) {
      const int64_t ih = oh * g.sh - g.ph + r * g.dh;
      const bool row_in = ih >= 0 && ih < g.H;
      for (int64_t s = 0; s < g.S; ++s) {
        const int64_t iw = ow * g.sw - g.pw + s * g.dw;
        cp[(r * g.S + s) * P] = row_in && iw >= 0 && iw < g.W ? xp[ih * g.W + iw] : T(0);
      }
    }
  }
}

template <typename T>
__global__ void col2im_kernel(T* __restrict__ gx, const T* __restrict__ col, int64_t images,
                              ConvShape g) {
  const int64_t P = g.Ho * g.Wo, RS = g.R * g.S;
  const int64_t total = images * g.C * g.H * g.W;
  AFN_GRID_STRIDE_LOOP(idx, total) {
    const int64_t j = idx % g.W;
    const int64_t t = idx / g.W;
    const int64_t i = t % g.H;
    const int64_t plane = t / g.H;  // n·C + c
    const T* cp = col + plane * RS * P;
    T acc = 0;
    for (int64_t r = 0; r < g.R; ++r) {
      const int64_t th = i + g.ph - r * g.dh;
      if (th < 0 || th % g.sh != 0) continue;
      const int64_t oh = th / g.sh;
      if (oh >= g.Ho) continue;
      for (int64_t s = 0; s < g.S; ++s) {
        const int64_t tw = j + g.pw - s * g.dw;
        if (tw < 0 || tw % g.sw != 0) continue;
        const int64_t ow = tw / g.sw;
        if (ow >= g.Wo) continue;
        acc += cp[(r * g.S + s) * P + oh * g.Wo + ow];
      }
    }
    gx[idx] = acc;
  }
}

}  // namespace

template <typename T>
void launch_im2col(T* col, const T* x, int64_t images, const ConvShape& g, cudaStream_t stream) {
  const int64_t total = images * g.C * g.Ho * g.Wo;
  if (total == 0) return;
  im2col_kernel<T><<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(col, x, images, g);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_col2im(T* gx, const T* col, int64_t images, const ConvShape& g, cudaStream_t stream) {
  const int64_t total = images * g.C * g.H * g.W;
  if (total == 0) return;
  col2im_kernel<T><<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(gx, col, images, g);
  AFN_CUDA_LAUNCH_CHECK();
}

template void launch_im2col<float>(float*, const float*, int64_t, const ConvShape&, cudaStream_t);
template void launch_im2col<double>(double*, const double*, int64_t, const ConvShape&,
                                    cudaStream_t);
template void launch_col2im<float>(float*, const float*, int64_t, const ConvShape&, cudaStream_t);
template void launch_col2im<double>(double*, const double*, int64_t, const ConvShape&,
                                    cudaStream_t);

}  // namespace afinar::cuda
