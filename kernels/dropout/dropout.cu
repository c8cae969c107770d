// Dropout forward and backward: memory-bound maps over groups of 4 elements, one group per
// Philox block (4 random words), so each thread draws exactly the words the CPU reference draws
// for those elements. When the arrays are aligned (16 bytes for values, 4 for the mask) a group
// moves as 16-byte value accesses (one float4, or two double2) and one 4-byte mask access; a
// misaligned view or the partial last group takes element accesses. Bytes per element: forward
// reads x and writes y and the mask; backward reads grad_output and the mask, writes grad_input.
#include "afinar/ops/dropout_rule.h"
#include "common.cuh"
#include "dropout/dropout.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

constexpr int kBlock = 256;

// Four consecutive values of T as 16-byte accesses (one for float, two for double).
template <typename T>
struct Quad {
  static constexpr int V = 16 / sizeof(T);
  Pack<T, V> p[4 / V];
  __device__ T get(int k) const { return p[k / V].v[k % V]; }
  __device__ void set(int k, T v) { p[k / V].v[k % V] = v; }
};

struct alignas(4) MaskQuad {
  uint8_t m[4];
};

template <typename T, bool Aligned>
__global__ void __launch_bounds__(kBlock)
    dropout_forward_kernel(T* __restrict__ y, uint8_t* __restrict__ mask, const T* __restrict__ x,
                           int64_t n, double p, T scale, uint64_t seed, uint64_t offset) {
  const int64_t groups = (n + 3) / 4;
  AFN_GRID_STRIDE_LOOP(g, groups) {
    const Philox4 r = philox_block(seed, offset + uint64_t(g));
    const int64_t i0 = g * 4;
    if (Aligned && i0 + 4 <= n) {
      const Quad<T> xv = *reinterpret_cast<const Quad<T>*>(x + i0);
      Quad<T> yv;
      MaskQuad mv;
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        mv.m[k] = dropout_keep(r.w[k], p);
        // x · (m · scale), not m ? x · scale : 0, so a NaN input stays NaN (as the CPU).
        yv.set(k, xv.get(k) * (T(mv.m[k]) * scale));
      }
      *reinterpret_cast<Quad<T>*>(y + i0) = yv;
      *reinterpret_cast<MaskQuad*>(mask + i0) = mv;
    } else {
      for (int k = 0; k < 4 && i0 + k < n; ++k) {
        const uint8_t m = dropout_keep(r.w[k], p);
        mask[i0 + k] = m;
        y[i0 + k] = x[i0 + k] * (T(m) * scale);
      }
    }
  }
}

template <typename T, bool Aligned>
__global__ void __launch_bounds__(kBlock)
    dropout_backward_kernel(T* __restrict__ gi, const T* __restrict__ go,
                            const uint8_t* __restrict__ mask, int64_t n, T scale) {
  const int64_t groups = (n + 3) / 4;
  AFN_GRID_STRIDE_LOOP(g, groups) {
    const int64_t i0 = g * 4;
    if (Aligned && i0 + 4 <= n) {
      Quad<T> gv = *reinterpret_cast<const Quad<T>*>(go + i0);
      const MaskQuad mv = *reinterpret_cast<const MaskQuad*>(mask + i0);
#pragma unroll
      for (int k = 0; k < 4; ++k) gv.set(k, gv.get(k) * (T(mv.m[k]) * scale));
      *reinterpret_cast<Quad<T>*>(gi + i0) = gv;
    } else {
      for (int k = 0; k < 4 && i0 + k < n; ++k) gi[i0 + k] = go[i0 + k] * (T(mask[i0 + k]) * scale);
    }
  }
}

bool aligned4(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 3) == 0;
}

}  // namespace

template <typename T>
void launch_dropout_forward(T* y, uint8_t* mask, const T* x, int64_t n, double p, T scale,
                            uint64_t seed, uint64_t offset, cudaStream_t stream) {
  if (n == 0) return;
  const unsigned grid = blocks_for((n + 3) / 4, kBlock);
  if (aligned16(y) && aligned16(x) && aligned4(mask))
    dropout_forward_kernel<T, true>
        <<<grid, kBlock, 0, stream>>>(y, mask, x, n, p, scale, seed, offset);
  else
    dropout_forward_kernel<T, false>
        <<<grid, kBlock, 0, stream>>>(y, mask, x, n, p, scale, seed, offset);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_dropout_backward(T* gi, const T* go, const uint8_t* mask, int64_t n, T scale,
                             cudaStream_t stream) {
  if (n == 0) return;
  const unsigned grid = blocks_for((n + 3) / 4, kBlock);
  if (aligned16(gi) && aligned16(go) && aligned4(mask))
    dropout_backward_kernel<T, true><<<grid, kBlock, 0, stream>>>(gi, go, mask, n, scale);
  else
    dropout_backward_kernel<T, false><<<grid, kBlock, 0, stream>>>(gi, go, mask, n, scale);
  AFN_CUDA_LAUNCH_CHECK();
}

template void launch_dropout_forward<float>(float*, uint8_t*, const float*, int64_t, double, float,
                                            uint64_t, uint64_t, cudaStream_t);
template void launch_dropout_forward<double>(double*, uint8_t*, const double*, int64_t, double,
                                             double, uint64_t, uint64_t, cudaStream_t);
template void launch_dropout_backward<float>(float*, const float*, const uint8_t*, int64_t, float,
                                             cudaStream_t);
template void launch_dropout_backward<double>(double*, const double*, const uint8_t*, int64_t,
                                              double, cudaStream_t);

}  // namespace afinar::cuda
