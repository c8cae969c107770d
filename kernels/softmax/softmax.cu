// softmax / log_softmax forward and backward on [outer, C, inner] blocks, five layouts
// (benchmark: bench/softmax_bench.cpp, GB/s against the device copy rate):
//
// WarpRow (inner == 1, C * sizeof(T) <= 4 KiB): one warp per row, the row held in registers
//   (kPerLane elements per lane, 16-byte loads when the rows are 16-byte aligned), max and sum
//   by warp shuffles. One read and one write of the row: the memory-bound optimum. The common
//   case (classifier logits, C = 10..1000).
// BlockRegs (inner == 1, rows up to 32768 floats / 16384 doubles forward, half that backward):
//   one block of 128..1024 threads per row, the row held in the registers of the whole block
//   (16-byte loads when aligned), max and sum by block reductions: still one read, one write.
// BlockOnline (longer rows): one block of 256 threads per row. The first pass computes max and
//   Σ exp together (the "online" softmax: the running sum is rescaled when the maximum grows),
//   the second re-reads the row and writes: three passes over memory when the rows in flight
//   exceed L2.
// ColumnsRegs (inner > 1, reducing a middle dim, C up to 1024 / bx * 32 floats forward): a 2-D
//   block of up to 1024 threads, bx <= 32 threads along inner (consecutive addresses:
//   coalesced) and by threads splitting the C elements of each line, held in registers; max and
//   sum reduced across by through shared memory. One read, one write.
// Columns (longer lines): the same 2-D block of 256 threads with the online (max, sum) pass,
//   merged through shared memory, then a second read to write.
//
// float32 accumulates in float (as PyTorch), float64 in double.
#include <type_traits>

#include "common.cuh"
#include "runtime/launch_check.h"
#include "softmax/softmax.h"
#include "softmax/softmax_common.cuh"

namespace afinar::cuda {

namespace {

using namespace softmax_detail;

constexpr int kBlock = 256;

// ---- WarpRow -------------------------------------------------------------------------------

template <typename T, int kPerLane, int V, bool Log>
__global__ void __launch_bounds__(kBlock)
    softmax_warp_forward_kernel(T* __restrict__ y, const T* __restrict__ x, int64_t rows, int C) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; row < rows;
       row += warps) {
    T v[kPerLane];
    load_row<T, kPerLane, V>(v, x + row * C, C, lane, neg_inf<T>());
    T m = neg_inf<T>();
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) m = v[k] > m ? v[k] : m;  // padding is -inf: no effect
    m = warp_reduce_max(m);
    T s = 0;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      const T e = dev_exp(v[k] - m);
      if (in_row<kPerLane, V>(k, C, lane)) s += e;
      if (!Log) v[k] = e;
    }
    s = warp_reduce_sum(s);
    if (Log) {
      const T lse = dev_log(s);
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) v[k] = (v[k] - m) - lse;
    } else {
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) v[k] = v[k] / s;
    }
    store_row<T, kPerLane, V>(y + row * C, v, C, lane);
  }
}

template <typename T, int kPerLane, int V, bool Log>
__global__ void __launch_bounds__(kBlock)
    softmax_warp_backward_kernel(T* __restrict__ gi, const T* __restrict__ go,
                                 const T* __restrict__ y, int64_t rows, int C) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; row < rows;
       row += warps) {
    T g[kPerLane], out[kPerLane];
    load_row<T, kPerLane, V>(g, go + row * C, C, lane, T(0));
    load_row<T, kPerLane, V>(out, y + row * C, C, lane, T(0));
    T s = 0;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) s += Log ? g[k] : g[k] * out[k];  // padding adds 0
    s = warp_reduce_sum(s);
#pragma unroll
    for (int k = 0; k < kPerLane; ++k)
      g[k] = Log ? g[k] - dev_exp(out[k]) * s : out[k] * (g[k] - s);
    store_row<T, kPerLane, V>(gi + row * C, g, C, lane);
  }
}

// ---- BlockRegs -----------------------------------------------------------------------------

template <typename T, int kPerThread, int V, bool Log>
__global__ void __launch_bounds__(1024)
    softmax_block_regs_forward_kernel(T* __restrict__ y, const T* __restrict__ x, int64_t rows,
                                      int C) {
  __shared__ T shared[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    T v[kPerThread];
    block_load_row<T, kPerThread, V>(v, x + row * C, C, neg_inf<T>());
    T m = neg_inf<T>();
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) m = v[k] > m ? v[k] : m;
    m = block_max_broadcast(m, shared);
    T s = 0;
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
      const T e = dev_exp(v[k] - m);
      if (block_column<V>(k) < C) s += e;
      if (!Log) v[k] = e;
    }
    s = block_sum_broadcast(s, shared);
    if (Log) {
      const T lse = dev_log(s);
#pragma unroll
      for (int k = 0; k < kPerThread; ++k) v[k] = (v[k] - m) - lse;
    } else {
#pragma unroll
      for (int k = 0; k < kPerThread; ++k) v[k] = v[k] / s;
    }
    block_store_row<T, kPerThread, V>(y + row * C, v, C);
  }
}

template <typename T, int kPerThread, int V, bool Log>
__global__ void __launch_bounds__(1024)
    softmax_block_regs_backward_kernel(T* __restrict__ gi, const T* __restrict__ go,
                                       const T* __restrict__ y, int64_t rows, int C) {
  __shared__ T shared[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    T g[kPerThread], out[kPerThread];
    block_load_row<T, kPerThread, V>(g, go + row * C, C, T(0));
    block_load_row<T, kPerThread, V>(out, y + row * C, C, T(0));
    T s = 0;
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) s += Log ? g[k] : g[k] * out[k];  // padding adds 0
    s = block_sum_broadcast(s, shared);
#pragma unroll
    for (int k = 0; k < kPerThread; ++k)
      g[k] = Log ? g[k] - dev_exp(out[k]) * s : out[k] * (g[k] - s);
    block_store_row<T, kPerThread, V>(gi + row * C, g, C);
  }
}

// ---- BlockOnline ---------------------------------------------------------------------------

template <typename T, int V, bool Log>
__global__ void __launch_bounds__(kBlock)
    softmax_block_forward_kernel(T* __restrict__ y, const T* __restrict__ x, int64_t rows,
                                 int64_t C) {
  __shared__ MaxSum<T> shared[32];
  using P = Pack<T, V>;
  const int64_t packs = C / V;  // V > 1 only when C % V == 0
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const P* xr = reinterpret_cast<const P*>(x + row * C);
    P* yr = reinterpret_cast<P*>(y + row * C);
    MaxSum<T> a = max_sum_identity<T>();
    for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
      const P v = xr[p];
#pragma unroll
      for (int e = 0; e < V; ++e) online_add(a, v.v[e]);
    }
    a = finish(block_merge(a, shared));
    const T lse = dev_log(a.s);
    for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
      P v = xr[p];
#pragma unroll
      for (int e = 0; e < V; ++e) v.v[e] = Log ? (v.v[e] - a.m) - lse : dev_exp(v.v[e] - a.m) / a.s;
      yr[p] = v;
    }
  }
}

template <typename T, int V, bool Log>
__global__ void __launch_bounds__(kBlock)
    softmax_block_backward_kernel(T* __restrict__ gi, const T* __restrict__ go,
                                  const T* __restrict__ y, int64_t rows, int64_t C) {
  __shared__ T shared[32];
  using P = Pack<T, V>;
  const int64_t packs = C / V;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const P* gr = reinterpret_cast<const P*>(go + row * C);
    const P* yr = reinterpret_cast<const P*>(y + row * C);
    P* ir = reinterpret_cast<P*>(gi + row * C);
    T s = 0;
    for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
      const P g = gr[p];
      if (Log) {
#pragma unroll
        for (int e = 0; e < V; ++e) s += g.v[e];
      } else {
        const P o = yr[p];
#pragma unroll
        for (int e = 0; e < V; ++e) s += g.v[e] * o.v[e];
      }
    }
    s = block_sum_broadcast(s, shared);
    for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
      P g = gr[p];
      const P o = yr[p];
#pragma unroll
      for (int e = 0; e < V; ++e)
        g.v[e] = Log ? g.v[e] - dev_exp(o.v[e]) * s : o.v[e] * (g.v[e] - s);
      ir[p] = g;
    }
  }
}

// ---- ColumnsRegs ---------------------------------------------------------------------------
// Block (bx, by) of up to 1024 threads; thread (tx, ty) holds elements c = k * by + ty,
// k < kPerThread, of line i = tile start + tx in registers. Max and sum are reduced across ty
// through shared memory ([by][bx], tree over ty), so the line is read once and written once.

// Reduces v over ty for each tx and returns the result to every thread of the column (Max: the
// NaN-ignoring maximum, else the sum). Ends with a barrier, so `shared` can be reused at once.
template <bool Max, typename T>
__device__ __forceinline__ T column_reduce(T v, T* shared) {
  const int tx = threadIdx.x, ty = threadIdx.y, bx = blockDim.x;
  shared[ty * bx + tx] = v;
  __syncthreads();
  for (int h = blockDim.y / 2; h > 0; h /= 2) {
    if (ty < h) {
      const T o = shared[(ty + h) * bx + tx];
      v = Max ? (o > v ? o : v) : v + o;
      shared[ty * bx + tx] = v;
    }
    __syncthreads();
  }
  v = shared[tx];
  __syncthreads();
  return v;
}

template <typename T, int kPerThread, bool Log>
__global__ void __launch_bounds__(1024)
    softmax_columns_regs_forward_kernel(T* __restrict__ y, const T* __restrict__ x, int64_t outer,
                                        int C, int64_t inner) {
  __shared__ T shared[1024];
  const int tx = threadIdx.x, ty = threadIdx.y, bx = blockDim.x, by = blockDim.y;
  const int64_t tiles_per_outer = (inner + bx - 1) / bx, tiles = outer * tiles_per_outer;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t o = tile / tiles_per_outer, i = (tile % tiles_per_outer) * bx + tx;
    const bool active = i < inner;
    const int64_t base = o * C * inner + i;
    T v[kPerThread];
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
      const int c = k * by + ty;
      v[k] = active && c < C ? x[base + int64_t(c) * inner] : neg_inf<T>();
    }
    // Two-pass over the registers, as the warp path: exact CPU semantics for NaN and infinities.
    T m = neg_inf<T>();
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) m = v[k] > m ? v[k] : m;
    m = column_reduce<true>(m, shared);
    T s = 0;
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
      const T e = dev_exp(v[k] - m);
      if (k * by + ty < C) s += e;
      if (!Log) v[k] = e;
    }
    s = column_reduce<false>(s, shared);
    const T lse = dev_log(s);
    if (active) {
#pragma unroll
      for (int k = 0; k < kPerThread; ++k) {
        const int c = k * by + ty;
        if (c < C) y[base + int64_t(c) * inner] = Log ? (v[k] - m) - lse : v[k] / s;
      }
    }
  }
}

template <typename T, int kPerThread, bool Log>
__global__ void __launch_bounds__(1024)
    softmax_columns_regs_backward_kernel(T* __restrict__ gi, const T* __restrict__ go,
                                         const T* __restrict__ y, int64_t outer, int C,
                                         int64_t inner) {
  __shared__ T shared[1024];
  const int tx = threadIdx.x, ty = threadIdx.y, bx = blockDim.x, by = blockDim.y;
  const int64_t tiles_per_outer = (inner + bx - 1) / bx, tiles = outer * tiles_per_outer;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t o = tile / tiles_per_outer, i = (tile % tiles_per_outer) * bx + tx;
    const bool active = i < inner;
    const int64_t base = o * C * inner + i;
    T g[kPerThread], out[kPerThread];
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
      const int c = k * by + ty;
      const bool in = active && c < C;
      g[k] = in ? go[base + int64_t(c) * inner] : T(0);
      out[k] = in ? y[base + int64_t(c) * inner] : T(0);
    }
    T s = 0;
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) s += Log ? g[k] : g[k] * out[k];
    s = column_reduce<false>(s, shared);
    if (active) {
#pragma unroll
      for (int k = 0; k < kPerThread; ++k) {
        const int c = k * by + ty;
        if (c < C)
          gi[base + int64_t(c) * inner] = Log ? g[k] - dev_exp(out[k]) * s : out[k] * (g[k] - s);
      }
    }
  }
}

// ---- Columns -------------------------------------------------------------------------------
// Block (bx, by), bx * by <= kBlock, both powers of two. A tile is bx consecutive inner positions
// of one outer index; tiles are taken by grid stride.

template <typename T, bool Log>
__global__ void __launch_bounds__(kBlock)
    softmax_columns_forward_kernel(T* __restrict__ y, const T* __restrict__ x, int64_t outer,
                                   int64_t C, int64_t inner) {
  __shared__ MaxSum<T> shared[kBlock];
  const int tx = threadIdx.x, ty = threadIdx.y, bx = blockDim.x, by = blockDim.y;
  const int64_t tiles_per_outer = (inner + bx - 1) / bx, tiles = outer * tiles_per_outer;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t o = tile / tiles_per_outer, i = (tile % tiles_per_outer) * bx + tx;
    const bool active = i < inner;
    const int64_t base = o * C * inner + i;
    MaxSum<T> a = max_sum_identity<T>();
    if (active)
      for (int64_t c = ty; c < C; c += by) online_add(a, x[base + c * inner]);
    shared[ty * bx + tx] = a;
    __syncthreads();
    for (int h = by / 2; h > 0; h /= 2) {
      if (ty < h) shared[ty * bx + tx] = merge(shared[ty * bx + tx], shared[(ty + h) * bx + tx]);
      __syncthreads();
    }
    a = finish(shared[tx]);
    __syncthreads();  // everyone has read shared[tx] before the next tile writes it
    const T lse = dev_log(a.s);
    if (active)
      for (int64_t c = ty; c < C; c += by) {
        const T v = x[base + c * inner];
        y[base + c * inner] = Log ? (v - a.m) - lse : dev_exp(v - a.m) / a.s;
      }
  }
}

template <typename T, bool Log>
__global__ void __launch_bounds__(kBlock)
    softmax_columns_backward_kernel(T* __restrict__ gi, const T* __restrict__ go,
                                    const T* __restrict__ y, int64_t outer, int64_t C,
                                    int64_t inner) {
  __shared__ T shared[kBlock];
  const int tx = threadIdx.x, ty = threadIdx.y, bx = blockDim.x, by = blockDim.y;
  const int64_t tiles_per_outer = (inner + bx - 1) / bx, tiles = outer * tiles_per_outer;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t o = tile / tiles_per_outer, i = (tile % tiles_per_outer) * bx + tx;
    const bool active = i < inner;
    const int64_t base = o * C * inner + i;
    T s = 0;
    if (active)
      for (int64_t c = ty; c < C; c += by) {
        const int64_t k = base + c * inner;
        s += Log ? go[k] : go[k] * y[k];
      }
    shared[ty * bx + tx] = s;
    __syncthreads();
    for (int h = by / 2; h > 0; h /= 2) {
      if (ty < h) shared[ty * bx + tx] += shared[(ty + h) * bx + tx];
      __syncthreads();
    }
    s = shared[tx];
    __syncthreads();
    if (active)
      for (int64_t c = ty; c < C; c += by) {
        const int64_t k = base + c * inner;
        const T g = go[k], out = y[k];
        gi[k] = Log ? g - dev_exp(out) * s : out * (g - s);
      }
  }
}

// ---- launch helpers ------------------------------------------------------------------------

int pow2_at_least(int64_t n, int cap) {
  int p = 1;
  while (p < cap && p < n) p *= 2;
  return p;
}

// Block shape of the Columns kernels: bx along inner, by along C.
dim3 columns_block(int64_t C, int64_t inner) {
  const int bx = pow2_at_least(inner, 32);
  const int by = pow2_at_least(C, kBlock / bx);
  return dim3(unsigned(bx), unsigned(by));
}

unsigned grid_for_tiles(int64_t tiles) {
  return unsigned(tiles < 1 ? 1 : (tiles > 65536 ? 65536 : tiles));
}

// kPerLane from the row length; V = 16 bytes when every row start is 16-byte aligned.
template <typename T, int kPerLane, bool Log>
void warp_forward(T* y, const T* x, int64_t rows, int C, bool vec, cudaStream_t s) {
  constexpr int V = 16 / sizeof(T);
  if constexpr (kPerLane >= V) {
    if (vec) {
      softmax_warp_forward_kernel<T, kPerLane, V, Log>
          <<<blocks_for(rows * 32, kBlock), kBlock, 0, s>>>(y, x, rows, C);
      return;
    }
  }
  softmax_warp_forward_kernel<T, kPerLane, 1, Log>
      <<<blocks_for(rows * 32, kBlock), kBlock, 0, s>>>(y, x, rows, C);
}

template <typename T, int kPerLane, bool Log>
void warp_backward(T* gi, const T* go, const T* y, int64_t rows, int C, bool vec, cudaStream_t s) {
  constexpr int V = 16 / sizeof(T);
  if constexpr (kPerLane >= V) {
    if (vec) {
      softmax_warp_backward_kernel<T, kPerLane, V, Log>
          <<<blocks_for(rows * 32, kBlock), kBlock, 0, s>>>(gi, go, y, rows, C);
      return;
    }
  }
  softmax_warp_backward_kernel<T, kPerLane, 1, Log>
      <<<blocks_for(rows * 32, kBlock), kBlock, 0, s>>>(gi, go, y, rows, C);
}

template <typename T>
bool rows_vectorisable(int64_t C, const void* a, const void* b, const void* c = nullptr) {
  constexpr int V = 16 / sizeof(T);
  return C % V == 0 && aligned16(a) && aligned16(b) && (c == nullptr || aligned16(c));
}

// The BlockRegs kernels when the row fits their register budget; false otherwise.
template <typename T, bool Log>
bool block_regs_forward(T* y, const T* x, int64_t rows, int64_t C, cudaStream_t s) {
  constexpr int V = 16 / sizeof(T);
  constexpr int kMaxPerThread = kBlockRowWords * 4 / int(sizeof(T));
  const bool vec = rows_vectorisable<T>(C, x, y);
  const BlockRowShape shape = block_row_shape(C, vec ? V : 1);
  if (shape.per_thread > kMaxPerThread) return false;
  const unsigned grid = grid_for_tiles(rows);
  with_per_lane(shape.per_thread, [&](auto per_thread) {
    constexpr int K = decltype(per_thread)::value;
    if constexpr (K <= kMaxPerThread) {
      if constexpr (K >= V) {
        if (vec) {
          softmax_block_regs_forward_kernel<T, K, V, Log>
              <<<grid, shape.threads, 0, s>>>(y, x, rows, int(C));
          return;
        }
      }
      softmax_block_regs_forward_kernel<T, K, 1, Log>
          <<<grid, shape.threads, 0, s>>>(y, x, rows, int(C));
    }
  });
  return true;
}

template <typename T, bool Log>
bool block_regs_backward(T* gi, const T* go, const T* y, int64_t rows, int64_t C, cudaStream_t s) {
  constexpr int V = 16 / sizeof(T);
  constexpr int kMaxPerThread = kBlockRowWords * 4 / int(sizeof(T)) / 2;  // g and y
  const bool vec = rows_vectorisable<T>(C, gi, go, y);
  const BlockRowShape shape = block_row_shape(C, vec ? V : 1);
  if (shape.per_thread > kMaxPerThread) return false;
  const unsigned grid = grid_for_tiles(rows);
  with_per_lane(shape.per_thread, [&](auto per_thread) {
    constexpr int K = decltype(per_thread)::value;
    if constexpr (K <= kMaxPerThread) {
      if constexpr (K >= V) {
        if (vec) {
          softmax_block_regs_backward_kernel<T, K, V, Log>
              <<<grid, shape.threads, 0, s>>>(gi, go, y, rows, int(C));
          return;
        }
      }
      softmax_block_regs_backward_kernel<T, K, 1, Log>
          <<<grid, shape.threads, 0, s>>>(gi, go, y, rows, int(C));
    }
  });
  return true;
}

// Block shape of the ColumnsRegs kernels: bx <= 32 along inner, by along C (bx * by <= 1024),
// and the power-of-two number of elements per thread covering C.
struct ColumnsRegsShape {
  dim3 block;
  int per_thread;
};
ColumnsRegsShape columns_regs_shape(int64_t C, int64_t inner) {
  const int bx = pow2_at_least(inner, 32);
  const int by = pow2_at_least(C, 1024 / bx);
  int per = 1;
  while (int64_t(per) * by < C) per *= 2;
  return {dim3(unsigned(bx), unsigned(by)), per};
}

template <typename T, bool Log>
bool columns_regs_forward(T* y, const T* x, int64_t outer, int64_t C, int64_t inner,
                          cudaStream_t s) {
  constexpr int kMaxPerThread = kBlockRowWords * 4 / int(sizeof(T));
  const ColumnsRegsShape shape = columns_regs_shape(C, inner);
  if (shape.per_thread > kMaxPerThread) return false;
  const unsigned grid = grid_for_tiles(outer * ((inner + shape.block.x - 1) / shape.block.x));
  with_per_lane(shape.per_thread, [&](auto per_thread) {
    constexpr int K = decltype(per_thread)::value;
    if constexpr (K <= kMaxPerThread)
      softmax_columns_regs_forward_kernel<T, K, Log>
          <<<grid, shape.block, 0, s>>>(y, x, outer, int(C), inner);
  });
  return true;
}

template <typename T, bool Log>
bool columns_regs_backward(T* gi, const T* go, const T* y, int64_t outer, int64_t C, int64_t inner,
                           cudaStream_t s) {
  constexpr int kMaxPerThread = kBlockRowWords * 4 / int(sizeof(T)) / 2;  // g and y
  const ColumnsRegsShape shape = columns_regs_shape(C, inner);
  if (shape.per_thread > kMaxPerThread) return false;
  const unsigned grid = grid_for_tiles(outer * ((inner + shape.block.x - 1) / shape.block.x));
  with_per_lane(shape.per_thread, [&](auto per_thread) {
    constexpr int K = decltype(per_thread)::value;
    if constexpr (K <= kMaxPerThread)
      softmax_columns_regs_backward_kernel<T, K, Log>
          <<<grid, shape.block, 0, s>>>(gi, go, y, outer, int(C), inner);
  });
  return true;
}

template <typename T, bool Log>
void softmax_forward_impl(T* y, const T* x, int64_t outer, int64_t C, int64_t inner,
                          cudaStream_t s) {
  constexpr int V = 16 / sizeof(T);
  if (inner == 1 && C * int64_t(sizeof(T)) <= kWarpRowBytes) {
    const bool vec = rows_vectorisable<T>(C, x, y);
    with_per_lane(per_lane_for(C), [&](auto per_lane) {
      warp_forward<T, decltype(per_lane)::value, Log>(y, x, outer, int(C), vec, s);
    });
  } else if (inner == 1) {
    if (block_regs_forward<T, Log>(y, x, outer, C, s)) return;
    const unsigned grid = grid_for_tiles(outer);
    if (rows_vectorisable<T>(C, x, y))
      softmax_block_forward_kernel<T, V, Log><<<grid, kBlock, 0, s>>>(y, x, outer, C);
    else
      softmax_block_forward_kernel<T, 1, Log><<<grid, kBlock, 0, s>>>(y, x, outer, C);
  } else if (!columns_regs_forward<T, Log>(y, x, outer, C, inner, s)) {
    const dim3 block = columns_block(C, inner);
    const int64_t tiles = outer * ((inner + block.x - 1) / block.x);
    softmax_columns_forward_kernel<T, Log>
        <<<grid_for_tiles(tiles), block, 0, s>>>(y, x, outer, C, inner);
  }
}

template <typename T, bool Log>
void softmax_backward_impl(T* gi, const T* go, const T* y, int64_t outer, int64_t C, int64_t inner,
                           cudaStream_t s) {
  constexpr int V = 16 / sizeof(T);
  if (inner == 1 && C * int64_t(sizeof(T)) <= kWarpRowBytes) {
    const bool vec = rows_vectorisable<T>(C, gi, go, y);
    with_per_lane(per_lane_for(C), [&](auto per_lane) {
      warp_backward<T, decltype(per_lane)::value, Log>(gi, go, y, outer, int(C), vec, s);
    });
  } else if (inner == 1) {
    if (block_regs_backward<T, Log>(gi, go, y, outer, C, s)) return;
    const unsigned grid = grid_for_tiles(outer);
    if (rows_vectorisable<T>(C, gi, go, y))
      softmax_block_backward_kernel<T, V, Log><<<grid, kBlock, 0, s>>>(gi, go, y, outer, C);
    else
      softmax_block_backward_kernel<T, 1, Log><<<grid, kBlock, 0, s>>>(gi, go, y, outer, C);
  } else if (!columns_regs_backward<T, Log>(gi, go, y, outer, C, inner, s)) {
    const dim3 block = columns_block(C, inner);
    const int64_t tiles = outer * ((inner + block.x - 1) / block.x);
    softmax_columns_backward_kernel<T, Log>
        <<<grid_for_tiles(tiles), block, 0, s>>>(gi, go, y, outer, C, inner);
  }
}

}  // namespace

template <typename T>
void launch_softmax_forward(T* y, const T* x, int64_t outer, int64_t C, int64_t inner, bool log,
                            cudaStream_t stream) {
  if (outer == 0 || C == 0 || inner == 0) return;
  if (log)
    softmax_forward_impl<T, true>(y, x, outer, C, inner, stream);
  else
    softmax_forward_impl<T, false>(y, x, outer, C, inner, stream);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_softmax_backward(T* gi, const T* go, const T* y, int64_t outer, int64_t C,
                             int64_t inner, bool log, cudaStream_t stream) {
  if (outer == 0 || C == 0 || inner == 0) return;
  if (log)
    softmax_backward_impl<T, true>(gi, go, y, outer, C, inner, stream);
  else
    softmax_backward_impl<T, false>(gi, go, y, outer, C, inner, stream);
  AFN_CUDA_LAUNCH_CHECK();
}

template void launch_softmax_forward<float>(float*, const float*, int64_t, int64_t, int64_t, bool,
                                            cudaStream_t);
template void launch_softmax_forward<double>(double*, const double*, int64_t, int64_t, int64_t,
                                             bool, cudaStream_t);
template void launch_softmax_backward<float>(float*, const float*, const float*, int64_t, int64_t,
                                             int64_t, bool, cudaStream_t);
template void launch_softmax_backward<double>(double*, const double*, const double*, int64_t,
                                              int64_t, int64_t, bool, cudaStream_t);

}  // namespace afinar::cuda
