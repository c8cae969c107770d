// Shared building blocks of the CUDA kernels: grid-stride loops, launch shapes, launch checks.
// Every kernel launch in kernels/ is followed by AFN_CUDA_LAUNCH_CHECK().
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace afinar::cuda {

// for (i = global thread id; i < n; i += total threads): covers any n with a bounded grid.
#define AFN_GRID_STRIDE_LOOP(i, n)                                          \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += int64_t(blockDim.x) * gridDim.x)

inline constexpr int kThreadsPerBlock = 256;

// M(T) for every floating element type a kernel computes in (visit_floating_or_16bit's), for
// the explicit instantiations at the end of a .cu file:
//   #define AFN_INSTANTIATE(T) template void launch_relu<T>(T*, const T*, int64_t, cudaStream_t);
//   AFN_FOR_FLOATING_AND_16BIT(AFN_INSTANTIATE)
#define AFN_FOR_FLOATING_AND_16BIT(M) M(float) M(double) M(__nv_bfloat16) M(__half)

// Enough blocks to cover n elements with kThreadsPerBlock threads, capped so a grid-stride loop
// takes the rest (2^16 blocks keeps every SM busy on any current GPU).
inline unsigned blocks_for(int64_t n, int threads = kThreadsPerBlock) {
  int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65536 ? 65536 : b));
}

}  // namespace afinar::cuda

namespace afinar::cuda {

// ---- reductions ----------------------------------------------------------------------------
// Sum over the 32 lanes of a warp by butterfly shuffles; every lane gets the total.
template <typename T>
__device__ __forceinline__ T warp_reduce_sum(T v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Sum over a block (blockDim.x a multiple of 32, at most 1024): warps reduce, then warp 0 reduces
// the 32 partials. The total is valid in thread 0.
template <typename T>
__device__ __forceinline__ T block_reduce_sum(T v) {
  __shared__ T partial[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_reduce_sum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? partial[lane] : T(0);
  if (warp == 0) v = warp_reduce_sum(v);
  return v;
}

// ---- vectorised elementwise maps -----------------------------------------------------------
// V elements of T moved as one 16-byte access (4 floats, 2 doubles) when V * sizeof(T) == 16.
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

inline bool aligned16(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15) == 0;
}

// out[i] = f(a[i]) and out[i] = f(a[i], b[i]): each thread moves whole packs by grid-stride; the
// n % V tail is done by the first block.
template <int V, typename T, typename F>
__global__ void unary_map_kernel(T* out, const T* a, int64_t n, F f) {
  using P = Pack<T, V>;
  const int64_t packs = n / V;
  AFN_GRID_STRIDE_LOOP(i, packs) {
    const P pa = reinterpret_cast<const P*>(a)[i];
    P po;
#pragma unroll
    for (int k = 0; k < V; ++k) po.v[k] = f(pa.v[k]);
    reinterpret_cast<P*>(out)[i] = po;
  }
  const int64_t t = packs * V + threadIdx.x;
  if (blockIdx.x == 0 && t < n) out[t] = f(a[t]);
}

template <int V, typename T, typename F>
__global__ void binary_map_kernel(T* out, const T* a, const T* b, int64_t n, F f) {
  using P = Pack<T, V>;
  const int64_t packs = n / V;
  AFN_GRID_STRIDE_LOOP(i, packs) {
    const P pa = reinterpret_cast<const P*>(a)[i], pb = reinterpret_cast<const P*>(b)[i];
    P po;
#pragma unroll
    for (int k = 0; k < V; ++k) po.v[k] = f(pa.v[k], pb.v[k]);
    reinterpret_cast<P*>(out)[i] = po;
  }
  const int64_t t = packs * V + threadIdx.x;
  if (blockIdx.x == 0 && t < n) out[t] = f(a[t], b[t]);
}

// Launches the 16-byte version when every pointer allows it, else one element per access.
template <typename T, typename F>
void launch_unary_map(T* out, const T* a, int64_t n, F f, cudaStream_t stream) {
  if (n == 0) return;
  constexpr int V = 16 / sizeof(T);
  if (aligned16(out) && aligned16(a))
    unary_map_kernel<V><<<blocks_for(n / V + 1), kThreadsPerBlock, 0, stream>>>(out, a, n, f);
  else
    unary_map_kernel<1><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(out, a, n, f);
}

template <typename T, typename F>
void launch_binary_map(T* out, const T* a, const T* b, int64_t n, F f, cudaStream_t stream) {
  if (n == 0) return;
  constexpr int V = 16 / sizeof(T);
  if (aligned16(out) && aligned16(a) && aligned16(b))
    binary_map_kernel<V><<<blocks_for(n / V + 1), kThreadsPerBlock, 0, stream>>>(out, a, b, n, f);
  else
    binary_map_kernel<1><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(out, a, b, n, f);
}

}  // namespace afinar::cuda
