// Device building blocks shared by the softmax kernels (softmax.cu) and the fused cross-entropy
// kernels (loss/loss.cu): exp / log overloads, the row maximum and the running (max, sum) pair of
// the one-read "online" softmax, and the register-cached row of the warp-per-row kernels.
//
// NaN and infinity follow the CPU reference (src/ops/cpu/softmax.cpp), which takes m = max_k x_k
// with `x > m` (NaN never raises m) and then sums exp(x_k - m):
//   a NaN anywhere, a +inf anywhere (exp(inf - inf)) or a line of -inf only (exp(-inf - -inf))
//   makes the sum, and so every output of the line, NaN.
// The two-pass register path gets this for free. The online path (one read for max and sum)
// rescales its running sum when the maximum grows, so it handles the infinities explicitly:
// -inf elements are skipped (they add exp(-inf - m) = 0 unless the final maximum is -inf, which
// finish() turns into NaN), and a +inf element makes the sum NaN.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "common.cuh"

namespace afinar::cuda::softmax_detail {

__device__ __forceinline__ float dev_exp(float x) {
  return expf(x);
}
__device__ __forceinline__ double dev_exp(double x) {
  return exp(x);
}
__device__ __forceinline__ float dev_log(float x) {
  return logf(x);
}
__device__ __forceinline__ double dev_log(double x) {
  return log(x);
}

template <typename T>
__device__ __forceinline__ T neg_inf() {
  return T(-INFINITY);
}
template <typename T>
__device__ __forceinline__ T quiet_nan() {
  return T(NAN);
}

// Maximum over a warp where NaN never wins (`o > v` is false for NaN), as the CPU's `x > m`.
template <typename T>
__device__ __forceinline__ T warp_reduce_max(T v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    const T o = __shfl_xor_sync(0xffffffffu, v, offset);
    v = o > v ? o : v;
  }
  return v;
}

// Running maximum m and Σ exp(x - m) of the elements seen so far.
template <typename T>
struct MaxSum {
  T m;
  T s;
};

template <typename T>
__device__ __forceinline__ MaxSum<T> max_sum_identity() {
  return {neg_inf<T>(), T(0)};
}

template <typename T>
__device__ __forceinline__ void online_add(MaxSum<T>& a, T x) {
  if (x > a.m) {  // false for NaN and for -inf
    // x = +inf: the two-pass sum has exp(inf - inf) = NaN in it, so the line is NaN.
    a.s = a.s * dev_exp(a.m - x) + (isinf(x) ? quiet_nan<T>() : T(1));
    a.m = x;
  } else if (x != neg_inf<T>()) {
    a.s += dev_exp(x - a.m);  // NaN x: s becomes NaN
  }
}

// An empty side (s == 0, m == -inf) adds nothing; a NaN sum stays NaN.
template <typename T>
__device__ __forceinline__ MaxSum<T> merge(const MaxSum<T>& a, const MaxSum<T>& b) {
  const T m = b.m > a.m ? b.m : a.m;
  const T sa = a.s == T(0) ? T(0) : a.s * dev_exp(a.m - m);
  const T sb = b.s == T(0) ? T(0) : b.s * dev_exp(b.m - m);
  return {m, sa + sb};
}

template <typename T>
__device__ __forceinline__ MaxSum<T> warp_merge(MaxSum<T> a) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    const MaxSum<T> o{__shfl_xor_sync(0xffffffffu, a.m, offset),
                      __shfl_xor_sync(0xffffffffu, a.s, offset)};
    a = merge(a, o);
  }
  return a;
}

// The line's (m, s) after every element was added: a maximum of -inf means only -inf (and NaN)
// elements, for which the two-pass sum is NaN.
template <typename T>
__device__ __forceinline__ MaxSum<T> finish(MaxSum<T> a) {
  if (a.m == neg_inf<T>()) a.s = quiet_nan<T>();
  return a;
}

// Merges every thread's pair over a 1-D block (blockDim.x a multiple of 32, at most 1024) and
// returns the total to every thread. `shared` holds 32 pairs; the trailing barrier lets the caller
// reuse it straight away.
template <typename T>
__device__ __forceinline__ MaxSum<T> block_merge(MaxSum<T> a, MaxSum<T>* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  a = warp_merge(a);
  if (lane == 0) shared[warp] = a;
  __syncthreads();
  if (warp == 0) {
    a = lane < int(blockDim.x / 32) ? shared[lane] : max_sum_identity<T>();
    a = warp_merge(a);
    if (lane == 0) shared[0] = a;
  }
  __syncthreads();
  a = shared[0];
  __syncthreads();
  return a;
}

// Sum over a 1-D block returned to every thread (same conventions as block_merge).
template <typename T>
__device__ __forceinline__ T block_sum_broadcast(T v, T* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_reduce_sum(v);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x / 32) ? shared[lane] : T(0);
    v = warp_reduce_sum(v);
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  v = shared[0];
  __syncthreads();
  return v;
}

// ---- a row cached in registers (warp per row) -----------------------------------------------
// Lane `lane` holds kPerLane elements of a row of C <= 32 * kPerLane: pack j (V consecutive
// elements) starts at column (j * 32 + lane) * V, so each load instruction of the warp reads
// 32 * V consecutive elements. V > 1 requires C % V == 0 and a 16-byte aligned row start, so a
// pack is either wholly inside the row or wholly past its end.
template <int kPerLane, int V>
struct RowLayout {
  static_assert(kPerLane % V == 0, "kPerLane must be a multiple of the pack size");
  static constexpr int kPacks = kPerLane / V;
  __device__ static int column(int j, int lane) { return (j * 32 + lane) * V; }
};

template <typename T, int kPerLane, int V>
__device__ __forceinline__ void load_row(T (&v)[kPerLane], const T* row, int C, int lane, T fill) {
  using L = RowLayout<kPerLane, V>;
#pragma unroll
  for (int j = 0; j < L::kPacks; ++j) {
    const int c = L::column(j, lane);
    if (c < C) {
      const Pack<T, V> p = *reinterpret_cast<const Pack<T, V>*>(row + c);
#pragma unroll
      for (int e = 0; e < V; ++e) v[j * V + e] = p.v[e];
    } else {
#pragma unroll
      for (int e = 0; e < V; ++e) v[j * V + e] = fill;
    }
  }
}

template <typename T, int kPerLane, int V>
__device__ __forceinline__ void store_row(T* row, const T (&v)[kPerLane], int C, int lane) {
  using L = RowLayout<kPerLane, V>;
#pragma unroll
  for (int j = 0; j < L::kPacks; ++j) {
    const int c = L::column(j, lane);
    if (c < C) {
      Pack<T, V> p;
#pragma unroll
      for (int e = 0; e < V; ++e) p.v[e] = v[j * V + e];
      *reinterpret_cast<Pack<T, V>*>(row + c) = p;
    }
  }
}

// Whether element k of the lane's registers lies inside the row.
template <int kPerLane, int V>
__device__ __forceinline__ bool in_row(int k, int C, int lane) {
  return RowLayout<kPerLane, V>::column(k / V, lane) < C;
}

// ---- a row cached in the registers of a whole block (block per row) --------------------------
// Thread tid holds kPerThread elements: pack j (V elements) at column (j * blockDim.x + tid) * V.
// Same rules for V > 1 as above.
template <typename T, int kPerThread, int V>
__device__ __forceinline__ void block_load_row(T (&v)[kPerThread], const T* row, int C, T fill) {
#pragma unroll
  for (int j = 0; j < kPerThread / V; ++j) {
    const int c = (j * int(blockDim.x) + int(threadIdx.x)) * V;
    if (c < C) {
      const Pack<T, V> p = *reinterpret_cast<const Pack<T, V>*>(row + c);
#pragma unroll
      for (int e = 0; e < V; ++e) v[j * V + e] = p.v[e];
    } else {
#pragma unroll
      for (int e = 0; e < V; ++e) v[j * V + e] = fill;
    }
  }
}

template <typename T, int kPerThread, int V>
__device__ __forceinline__ void block_store_row(T* row, const T (&v)[kPerThread], int C) {
#pragma unroll
  for (int j = 0; j < kPerThread / V; ++j) {
    const int c = (j * int(blockDim.x) + int(threadIdx.x)) * V;
    if (c < C) {
      Pack<T, V> p;
#pragma unroll
      for (int e = 0; e < V; ++e) p.v[e] = v[j * V + e];
      *reinterpret_cast<Pack<T, V>*>(row + c) = p;
    }
  }
}

// Column of element k of this thread's registers.
template <int V>
__device__ __forceinline__ int block_column(int k) {
  return ((k / V) * int(blockDim.x) + int(threadIdx.x)) * V + k % V;
}

// Maximum over a 1-D block where NaN never wins, returned to every thread (as block_merge).
template <typename T>
__device__ __forceinline__ T block_max_broadcast(T v, T* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_reduce_max(v);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x / 32) ? shared[lane] : neg_inf<T>();
    v = warp_reduce_max(v);
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  v = shared[0];
  __syncthreads();
  return v;
}

// Launch shape of the block-register kernels: threads in [128, 1024] (about 8 elements each),
// per_thread a power of two >= min_per_thread, threads * per_thread >= C.
struct BlockRowShape {
  int threads;
  int per_thread;
};
inline BlockRowShape block_row_shape(int64_t C, int min_per_thread) {
  int threads = 128;
  while (threads < 1024 && int64_t(threads) * 8 < C) threads *= 2;
  int per = min_per_thread;
  while (int64_t(per) * threads < C) per *= 2;
  return {threads, per};
}

// Largest row (in bytes) the warp-per-row kernels keep in registers: 32 lanes x 32 floats (or
// 16 doubles). Longer rows go to a block per row.
inline constexpr int kWarpRowBytes = 4096;
// Registers (32-bit words) per thread a block-register kernel may spend on cached row data, so
// that 1024 threads fit the register file: rows up to 1024 * 32 floats (forward).
inline constexpr int kBlockRowWords = 32;

// Smallest kPerLane in {1, 2, 4, 8, 16, 32} with 32 * kPerLane >= C.
inline int per_lane_for(int64_t C) {
  int k = 1;
  while (32 * int64_t(k) < C) k *= 2;
  return k;
}

// Dispatches a run-time values-per-lane count to the compile-time kernel template that holds a
// row in registers. Calls f(std::integral_constant<int, kPerLane>) for kPerLane in {1, ..., 32}.
template <typename F>
void with_per_lane(int per_lane, F&& f) {
  switch (per_lane) {
    case 1:
      return f(std::integral_constant<int, 1>{});
    case 2:
      return f(std::integral_constant<int, 2>{});
    case 4:
      return f(std::integral_constant<int, 4>{});
    case 8:
      return f(std::integral_constant<int, 8>{});
    case 16:
      return f(std::integral_constant<int, 16>{});
    default:
      return f(std::integral_constant<int, 32>{});
  }
}

}  // namespace afinar::cuda::softmax_detail
