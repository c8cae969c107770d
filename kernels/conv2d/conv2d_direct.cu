// Conv2dAlgo::Direct — the convolution formulas of include/afinar/ops/conv2d.h as GPU loops: one
// thread per output element of each direction, the 7-deep loop of the CPU reference with its
// outer loops replaced by the thread grid.
//
// What it changes over the CPU reference (src/ops/cpu/conv2d.cpp, Naive): nothing in the math;
// the N·K·Ho·Wo (forward), N·C·H·W (input gradient) or K·C/G·R·S (weight gradient) independent
// sums run on tens of thousands of threads at once instead of a few cores. Neighbouring threads
// hold neighbouring output columns, so a warp reads neighbouring input pixels (coalesced,
// stride sw apart) and, mostly, the same weight (one broadcast transaction).
// Why it is still far from cuDNN: every multiply-add loads both operands from global memory
// (L1/L2 catch the reuse, but the kernel stays memory-latency bound at ~1 flop per load); no
// operand is staged in shared memory or registers for reuse, no tensor cores. Im2colGemm turns
// the same work into a GEMM that does all of that (conv2d_im2col.cu). The weight gradient is the
// worst case: only K·C/G·R·S threads, each summing N·Ho·Wo products serially.
// Each sum accumulates in T (float for float32, as PyTorch); the gather form of the input
// gradient writes each gx element from one thread, so there are no atomics and the result is
// deterministic.
//
// Benchmark: afinar_bench --benchmark_filter='Conv2dCudaAlgo' (each algorithm on one ResNet shape).
#include "common.cuh"
#include "conv2d/conv2d.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

// y[n,k,oh,ow] = b[k] + Σ_{c',r,s} x[n, g·Cg + c', oh·sh - ph + r·dh, ow·sw - pw +
// s·dw]·w[k,c',r,s]
template <typename T>
__global__ void conv2d_direct_forward_kernel(T* __restrict__ y, const T* __restrict__ x,
                                             const T* __restrict__ w, const T* __restrict__ b,
                                             ConvShape g) {
  const int64_t Cg = g.C / g.G, Kg = g.K / g.G;
  const int64_t total = g.N * g.K * g.Ho * g.Wo;
  AFN_GRID_STRIDE_LOOP(idx, total) {
    const int64_t ow = idx % g.Wo;
    int64_t t = idx / g.Wo;
    const int64_t oh = t % g.Ho;
    t /= g.Ho;
    const int64_t k = t % g.K, n = t / g.K;
    const int64_t c0 = (k / Kg) * Cg;  // first input channel of k's group
    T acc = b ? b[k] : T(0);
    for (int64_t c = 0; c < Cg; ++c) {
      const T* xc = x + (n * g.C + c0 + c) * g.H * g.W;
      const T* wc = w + (k * Cg + c) * g.R * g.S;
      for (int64_t r = 0; r < g.R; ++r) {
        const int64_t ih = oh * g.sh - g.ph + r * g.dh;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t s = 0; s < g.S; ++s) {
          const int64_t iw = ow * g.sw - g.pw + s * g.dw;
          if (iw < 0 || iw >= g.W) continue;
          acc += xc[ih * g.W + iw] * wc[r * g.S + s];
        }
      }
    }
    y[idx] = acc;
  }
}

// gx[n,c,i,j] = Σ over k in c's group and the taps (r,s) whose output (oh,ow) reads (i,j):
//   i = oh·sh - ph + r·dh  ⇔  oh = (i + ph - r·dh) / sh, an integer in [0, Ho)   (likewise j).
template <typename T>
__global__ void conv2d_direct_backward_input_kernel(T* __restrict__ gx, const T* __restrict__ gy,
                                                    const T* __restrict__ w, ConvShape g) {
  const int64_t Cg = g.C / g.G, Kg = g.K / g.G;
  const int64_t total = g.N * g.C * g.H * g.W;
  AFN_GRID_STRIDE_LOOP(idx, total) {
    const int64_t j = idx % g.W;
    int64_t t = idx / g.W;
    const int64_t i = t % g.H;
    t /= g.H;
    const int64_t c = t % g.C, n = t / g.C;
    const int64_t k0 = (c / Cg) * Kg, cw = c % Cg;  // first output channel; channel in the weight
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
        const T* gyp = gy + ((n * g.K + k0) * g.Ho + oh) * g.Wo + ow;
        const T* wp = w + ((k0 * Cg + cw) * g.R + r) * g.S + s;
        for (int64_t k = 0; k < Kg; ++k) acc += gyp[k * g.Ho * g.Wo] * wp[k * Cg * g.R * g.S];
      }
    }
    gx[idx] = acc;
  }
}

// gw[k,c',r,s] = Σ_{n,oh,ow} gy[n,k,oh,ow] · x[n, g·Cg + c', oh·sh - ph + r·dh, ow·sw - pw + s·dw]
template <typename T>
__global__ void conv2d_direct_backward_weight_kernel(T* __restrict__ gw, const T* __restrict__ gy,
                                                     const T* __restrict__ x, ConvShape g) {
  const int64_t Cg = g.C / g.G, Kg = g.K / g.G;
  const int64_t total = g.K * Cg * g.R * g.S;
  AFN_GRID_STRIDE_LOOP(idx, total) {
    const int64_t s = idx % g.S;
    int64_t t = idx / g.S;
    const int64_t r = t % g.R;
    t /= g.R;
    const int64_t cw = t % Cg, k = t / Cg;
    const int64_t c = (k / Kg) * Cg + cw;  // the input channel
    T acc = 0;
    for (int64_t n = 0; n < g.N; ++n) {
      const T* gyp = gy + (n * g.K + k) * g.Ho * g.Wo;
      const T* xp = x + (n * g.C + c) * g.H * g.W;
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        const int64_t ih = oh * g.sh - g.ph + r * g.dh;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          const int64_t iw = ow * g.sw - g.pw + s * g.dw;
          if (iw < 0 || iw >= g.W) continue;
          acc += gyp[oh * g.Wo + ow] * xp[ih * g.W + iw];
        }
      }
    }
    gw[idx] = acc;
  }
}

}  // namespace

template <typename T>
void launch_conv2d_direct_forward(T* y, const T* x, const T* w, const T* b, const ConvShape& g,
                                  cudaStream_t stream) {
  const int64_t total = g.N * g.K * g.Ho * g.Wo;
  if (total == 0) return;
  conv2d_direct_forward_kernel<T>
      <<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(y, x, w, b, g);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_conv2d_direct_backward_input(T* gx, const T* gy, const T* w, const ConvShape& g,
                                         cudaStream_t stream) {
  const int64_t total = g.N * g.C * g.H * g.W;
  if (total == 0) return;
  conv2d_direct_backward_input_kernel<T>
      <<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(gx, gy, w, g);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_conv2d_direct_backward_weight(T* gw, const T* gy, const T* x, const ConvShape& g,
                                          cudaStream_t stream) {
  const int64_t total = g.K * (g.C / g.G) * g.R * g.S;
  if (total == 0) return;
  conv2d_direct_backward_weight_kernel<T>
      <<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(gw, gy, x, g);
  AFN_CUDA_LAUNCH_CHECK();
}

#define AFN_INSTANTIATE(T)                                                                        \
  template void launch_conv2d_direct_forward<T>(T*, const T*, const T*, const T*,                 \
                                                const ConvShape&, cudaStream_t);                  \
  template void launch_conv2d_direct_backward_input<T>(T*, const T*, const T*, const ConvShape&,  \
                                                       cudaStream_t);                             \
  template void launch_conv2d_direct_backward_weight<T>(T*, const T*, const T*, const ConvShape&, \
                                                        cudaStream_t);
AFN_INSTANTIATE(float)
AFN_INSTANTIATE(double)
#undef AFN_INSTANTIATE

}  // namespace afinar::cuda
