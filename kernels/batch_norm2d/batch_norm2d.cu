// batch_norm2d forward and backward on CUDA.
//
// Channel c of a contiguous [N, C, H·W] tensor is N runs of H·W values ("rows"), row i starting at
// (i·C + c)·H·W. Every pass walks these rows with S blocks per channel (grid C·S, block b works on
// channel b / S), S chosen so that the whole grid is one wave of resident blocks (no tail), and
// each row split into Sj pieces when there are too few rows (small N) to feed S blocks. Inside a
// block, tpr threads (a power of two, up to 256) share a row, so short rows (7x7) still keep the
// threads busy. Loads and stores move 16 bytes (4 floats, 2 doubles, 8 bf16 or f16) when H·W
// allows, else 8 bytes for the 2-byte types (4 values), else one element.
//
// Training forward: 2 reads of x + 1 write of y.
//   1. stats: every thread keeps a Welford triple (count, mean, M2) over its elements in T (float
//      for float32, as PyTorch): each 16-byte pack's own mean and M2 are merged in with Chan's
//      formula (one division per pack). Blocks merge their threads' triples in double (shuffles,
//      then shared memory) and write one partial per block. Welford / Chan rather than Σx, Σx²:
//      no cancellation when |mean| >> std, and the rounding error grows with the per-thread
//      length (a few hundred elements), not with N·H·W.
//   2. normalize: every block first merges its channel's S partials (in double, the same order in
//      every block) into μ and σ², then y = x·scale + shift with scale = γ·invstd and shift =
//      β - μ·scale; block 0 of each channel writes mean / invstd and updates the running
//      statistics with the CPU's double expressions. The pass walks its rows in the reverse order
//      of pass 1, so the rows pass 1 read last are still in L2 when they are read again.
// bf16 and f16 activations (autocast): loaded as they are, computed in float (A = compute_t<T>,
//   float for the 16-bit types and float, double for double), the parameters and statistics
//   float; where the unfused ops would round (after bn, before the residual add) the kernel rounds
//   too.
// Eval forward: normalize from the running statistics (1 read + 1 write).
// Epilogue (batch_norm2d_add_relu): normalize adds the residual and applies relu before its
// store, so relu(bn(x) + r) costs one more read instead of bn + add + relu's 4 more passes.
// Backward: Σg and Σg·(x - μ) per channel (float per thread, double across threads and blocks),
//   then dL/dx elementwise (reverse order), each block turning its channel's sums into the
//   coefficients and block 0 writing dL/dγ, dL/dβ. The sums are skipped when only an eval dL/dx
//   is wanted. Without a dL/dx or a y pass, a block-per-channel finalize kernel does the rest.
//
// Channels-last (x, y, residual, g, dL/dx [N, H·W, C]): a [R, C] matrix, R = N·H·W rows, channel
// c its column. Every pass runs blocks of bx x by threads (bx the smallest power of two >= C, at
// most 32; by = 256 / bx) on a 2-D grid: block (i, s) takes channels [i·bx, i·bx + bx), thread
// (tx, ty) channel i·bx + tx of the rows s·by + ty, stepping by S·by, so a warp reads whole
// 32-channel runs of a row (coalesced) and keeps its channel, and thus its coefficients, fixed.
//   stats / backward sums: per-thread Welford (one element at a time) / sums in A as above; the
//     by threads of a column merge by a shared-memory tree (fixed order) into one partial per
//     (channel, s), S chosen for one wave of resident blocks;
//   finalize: a block per channel merges its S partials (as NCHW's normalize pass does), writes
//     the outputs above and stores the channel's coefficients in the workspace;
//   normalize / dL/dx: elementwise with those coefficients, the same expressions as NCHW.
// Deterministic: the grid depends only on the shape and the device, every merge has a fixed order.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "afinar/ops/relu_rule.h"
#include "batch_norm2d/batch_norm2d.h"
#include "common.cuh"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

constexpr int kThreads = 256;

// How the blocks of a per-channel pass walk the rows (see the top of the file).
struct Plan {
  int64_t N, C, HW;
  int64_t Sj;  // pieces per row
  int64_t L;   // piece length, a multiple of the pack width
  int S;       // blocks per channel
  int tpr;     // threads per row (a power of two)
  int rpp;     // rows a block works on at once: kThreads / tpr
};

// f(offset) for every pack of the (channel c, block s) share, offset a multiple of V. kReverse
// walks the rows from the last to the first.
template <int V, bool kReverse, typename F>
__device__ __forceinline__ void for_each_pack(const Plan& p, int64_t c, int64_t s, F&& f) {
  const int rr = int(threadIdx.x) / p.tpr, l = int(threadIdx.x) % p.tpr;
  const int64_t rows = p.N * p.Sj;
  const int64_t step = int64_t(p.S) * p.rpp;
  const int64_t first = s * p.rpp + rr;
  if (first >= rows) return;
  const int64_t last = first + (rows - 1 - first) / step * step;
  for (int64_t t = 0, r = kReverse ? last : first; t <= (last - first) / step;
       ++t, r += kReverse ? -step : step) {
    int64_t i = r, k = 0;
    if (p.Sj > 1) {
      i = r / p.Sj;
      k = r - i * p.Sj;
    }
    const int64_t base = (i * p.C + c) * p.HW;
    const int64_t jb = k * p.L;
    const int64_t je = jb + p.L < p.HW ? jb + p.L : p.HW;
    for (int64_t j = jb + int64_t(l) * V; j < je; j += int64_t(p.tpr) * V) f(base + j);
  }
}

template <typename T, int V>
__device__ __forceinline__ Pack<T, V> load(const T* p) {
  return *reinterpret_cast<const Pack<T, V>*>(p);
}
template <typename T, int V>
__device__ __forceinline__ void store(T* p, const Pack<T, V>& v) {
  *reinterpret_cast<Pack<T, V>*>(p) = v;
}

// Chan's merge of the Welford triple (nb, mb, qb) into (n, m, q).
__device__ __forceinline__ void merge(double& n, double& m, double& q, double nb, double mb,
                                      double qb) {
  if (nb == 0) return;
  const double nn = n + nb, d = mb - m, r = nb / nn;
  m += d * r;
  q += qb + d * d * n * r;
  n = nn;
}

// Merges the triples of the whole block; the result is valid in thread 0. Fixed order, so
// deterministic.
__device__ __forceinline__ void block_merge(double& n, double& m, double& q) {
  __shared__ double sn[32], sm[32], sq[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int off = 16; off > 0; off /= 2) {
    const double nb = __shfl_down_sync(0xffffffffu, n, off);
    const double mb = __shfl_down_sync(0xffffffffu, m, off);
    const double qb = __shfl_down_sync(0xffffffffu, q, off);
    merge(n, m, q, nb, mb, qb);
  }
  if (lane == 0) {
    sn[warp] = n;
    sm[warp] = m;
    sq[warp] = q;
  }
  __syncthreads();
  if (warp == 0) {
    const bool have = lane < int(blockDim.x / 32);
    n = have ? sn[lane] : 0.0;
    m = have ? sm[lane] : 0.0;
    q = have ? sq[lane] : 0.0;
#pragma unroll
    for (int off = 16; off > 0; off /= 2) {
      const double nb = __shfl_down_sync(0xffffffffu, n, off);
      const double mb = __shfl_down_sync(0xffffffffu, m, off);
      const double qb = __shfl_down_sync(0xffffffffu, q, off);
      merge(n, m, q, nb, mb, qb);
    }
  }
}

// Channels-last: merges the triples of each column of the block (threads tx, tx + bx, ...; bx a
// power of two) by a tree in shared memory, fixed order; valid in the threads of row 0
// (threadIdx.x < bx). Every thread must call it.
__device__ __forceinline__ void column_merge(int bx, double& n, double& m, double& q) {
  __shared__ double sn[kThreads], sm[kThreads], sq[kThreads];
  const int t = threadIdx.x;
  sn[t] = n;
  sm[t] = m;
  sq[t] = q;
  __syncthreads();
  // half is a multiple of bx: thread t and t + half share a column.
  for (int half = kThreads / 2; half >= bx; half /= 2) {
    if (t < half) {
      merge(n, m, q, sn[t + half], sm[t + half], sq[t + half]);
      sn[t] = n;
      sm[t] = m;
      sq[t] = q;
    }
    __syncthreads();
  }
}

// Channels-last: sums a and b over each column of the block, like column_merge.
__device__ __forceinline__ void column_sum2(int bx, double& a, double& b) {
  __shared__ double sa[kThreads], sb[kThreads];
  const int t = threadIdx.x;
  sa[t] = a;
  sb[t] = b;
  __syncthreads();
  for (int half = kThreads / 2; half >= bx; half /= 2) {
    if (t < half) {
      a += sa[t + half];
      b += sb[t + half];
      sa[t] = a;
      sb[t] = b;
    }
    __syncthreads();
  }
}

// How the blocks of a channels-last pass cover the [R, C] matrix (see the top of the file).
struct ClPlan {
  int64_t R, C;
  int bx, by;  // threads along the channels (a power of two) and along the rows
  int S;       // blocks along the rows (gridDim.y)
};

// Channel of this thread in a channels-last pass (>= C: none).
__device__ __forceinline__ int64_t cl_channel(const ClPlan& p) {
  return int64_t(blockIdx.x) * p.bx + threadIdx.x % p.bx;
}

// f(offset of (row, c)) for every row of this thread, c < C; kReverse walks them backwards.
template <bool kReverse, typename F>
__device__ __forceinline__ void for_each_row(const ClPlan& p, int64_t c, F&& f) {
  const int64_t first = int64_t(blockIdx.y) * p.by + threadIdx.x / p.bx;
  if (first >= p.R) return;
  const int64_t step = int64_t(p.S) * p.by;
  const int64_t last = first + (p.R - 1 - first) / step * step;
  for (int64_t t = 0, r = kReverse ? last : first; t <= (last - first) / step;
       ++t, r += kReverse ? -step : step)
    f(r * p.C + c);
}

// Sums a and b over the block; valid in thread 0.
__device__ __forceinline__ void block_sum2(double& a, double& b) {
  __shared__ double sa[32], sb[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  a = warp_reduce_sum(a);
  b = warp_reduce_sum(b);
  if (lane == 0) {
    sa[warp] = a;
    sb[warp] = b;
  }
  __syncthreads();
  if (warp == 0) {
    const bool have = lane < int(blockDim.x / 32);
    a = warp_reduce_sum(have ? sa[lane] : 0.0);
    b = warp_reduce_sum(have ? sb[lane] : 0.0);
  }
}

// ---- forward ----

template <typename T, int V>
__global__ void __launch_bounds__(kThreads, 8)
    bn_stats_kernel(const T* __restrict__ x, Plan p, double* __restrict__ partials) {
  using A = compute_t<T>;
  const int64_t c = blockIdx.x / unsigned(p.S), s = blockIdx.x % unsigned(p.S);
  int64_t cnt = 0;
  A mean = 0, m2 = 0;
  for_each_pack<V, false>(p, c, s, [&](int64_t off) {
    const Pack<T, V> v = load<T, V>(x + off);
    A sum = 0;
#pragma unroll
    for (int k = 0; k < V; ++k) sum += A(v.v[k]);
    const A pm = sum * (A(1) / A(V));  // V is a power of two: exact
    A pq = 0;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const A d = A(v.v[k]) - pm;
      pq += d * d;
    }
    const int64_t n_new = cnt + V;
    const A r = A(V) / A(n_new);
    const A delta = pm - mean;
    mean += delta * r;
    m2 += pq + delta * delta * A(cnt) * r;
    cnt = n_new;
  });
  double n = double(cnt), m = double(mean), q = double(m2);
  block_merge(n, m, q);
  if (threadIdx.x == 0) {
    double* out = partials + (c * p.S + s) * 3;
    out[0] = n;
    out[1] = m;
    out[2] = q;
  }
}

// Channel c's scale and shift from its merged statistics (training: the Welford triple n, m, q;
// eval: the running statistics). With `outputs`, also writes mean / invstd and updates the
// running statistics (the CPU's double expressions; an empty batch leaves them alone). Exactly
// one thread per channel may pass outputs = true.
template <typename T, typename A = compute_t<T>>
__device__ __forceinline__ void finalize_channel(const BatchNormForwardParams<T>& p, int64_t c,
                                                 double n, double m, double q, bool outputs,
                                                 A& scale, A& shift) {
  double mean, var;
  if (p.training) {
    mean = m;
    var = n > 0 ? q / n : 0.0;
    const double n_total = double(p.N * p.HW), mom = p.momentum;
    if (outputs && n_total > 0) {
      if (p.running_mean) p.running_mean[c] = A((1 - mom) * double(p.running_mean[c]) + mom * mean);
      if (p.running_var)
        p.running_var[c] =
            A((1 - mom) * double(p.running_var[c]) + mom * var * n_total / (n_total - 1));
    }
  } else {
    mean = double(p.running_mean[c]);
    var = double(p.running_var[c]);
  }
  const double invstd = 1.0 / sqrt(var + p.eps);
  if (outputs && p.mean) p.mean[c] = A(mean);
  if (outputs && p.invstd) p.invstd[c] = A(invstd);
  const double sc = (p.weight ? double(p.weight[c]) : 1.0) * invstd;
  scale = A(sc);
  shift = A((p.bias ? double(p.bias[c]) : 0.0) - mean * sc);
}

// Merges channel c's S partials over the block (valid in thread 0); every thread must call it.
__device__ __forceinline__ void merge_partials(const double* __restrict__ partials, int S,
                                               int64_t c, double& n, double& m, double& q) {
  n = m = q = 0;
  for (int i = threadIdx.x; i < S; i += blockDim.x) {
    const double* ps = partials + (c * S + i) * 3;
    merge(n, m, q, ps[0], ps[1], ps[2]);
  }
  block_merge(n, m, q);
}

// A block per channel: merges its S partials (training) and writes mean / invstd and the running
// statistics, for the channels-last passes and where NCHW has no normalize pass to do it (empty
// input, no y). With `coef`, also stores the channel's scale and shift at coef[2c], coef[2c + 1].
template <typename T>
__global__ void __launch_bounds__(kThreads)
    bn_forward_finalize_kernel(const double* __restrict__ partials, int S,
                               BatchNormForwardParams<T> p, compute_t<T>* __restrict__ coef) {
  for (int64_t c = blockIdx.x; c < p.C; c += gridDim.x) {
    double n = 0, m = 0, q = 0;
    if (p.training) merge_partials(partials, S, c, n, m, q);
    if (threadIdx.x == 0) {
      compute_t<T> scale, shift;
      finalize_channel(p, c, n, m, q, /*outputs=*/true, scale, shift);
      if (coef) {
        coef[2 * c] = scale;
        coef[2 * c + 1] = shift;
      }
    }
    __syncthreads();  // the next channel's merge reuses the shared memory
  }
}

// The output element from a = x·scale + shift: + r when has_residual (bn's output rounded to T
// first, as the unfused ops store it; a no-op for float / double), then relu (which commutes with
// the final rounding).
template <typename T, typename A>
__device__ __forceinline__ T bn_output(A a, bool has_residual, T r, bool relu) {
  if (has_residual) a = A(T(a)) + A(r);
  if (relu) a = relu_value(a);
  return T(a);
}

// y = x·scale + shift (+ residual, relu). Every block merges its channel's S partials itself (no
// separate finalize kernel and launch), block 0 of the channel writes mean / invstd and the running
// statistics; all blocks of a channel merge in the same order, so they normalise with the same
// statistics.
template <typename T, int V>
__global__ void __launch_bounds__(kThreads, 8)
    bn_normalize_kernel(BatchNormForwardParams<T> p, const double* __restrict__ partials,
                        int S_stats, Plan plan) {
  using A = compute_t<T>;
  const int64_t c = blockIdx.x / unsigned(plan.S), s = blockIdx.x % unsigned(plan.S);
  __shared__ A coef[2];
  double n = 0, m = 0, q = 0;
  if (p.training) merge_partials(partials, S_stats, c, n, m, q);
  if (threadIdx.x == 0) finalize_channel(p, c, n, m, q, s == 0, coef[0], coef[1]);
  __syncthreads();
  const A sc = coef[0], sh = coef[1];
  const T* __restrict__ x = p.x;
  const T* __restrict__ res = p.residual;
  T* __restrict__ y = p.y;
  const bool relu = p.relu;
  for_each_pack<V, true>(plan, c, s, [&](int64_t off) {
    Pack<T, V> v = load<T, V>(x + off), r{};
    if (res) r = load<T, V>(res + off);
#pragma unroll
    for (int k = 0; k < V; ++k)
      v.v[k] = bn_output(A(v.v[k]) * sc + sh, res != nullptr, r.v[k], relu);
    store<T, V>(y + off, v);
  });
}

// Channels-last stats: one partial triple per (channel, row block).
template <typename T>
__global__ void __launch_bounds__(kThreads, 8)
    bn_stats_cl_kernel(const T* __restrict__ x, ClPlan p, double* __restrict__ partials) {
  using A = compute_t<T>;
  const int64_t c = cl_channel(p);
  int64_t cnt = 0;
  A mean = 0, m2 = 0;
  if (c < p.C)
    for_each_row<false>(p, c, [&](int64_t off) {
      const A v = A(x[off]);
      ++cnt;
      const A d = v - mean;
      mean += d / A(cnt);
      m2 += d * (v - mean);
    });
  double n = double(cnt), m = double(mean), q = double(m2);
  column_merge(p.bx, n, m, q);
  if (int(threadIdx.x) < p.bx && c < p.C) {
    double* out = partials + (c * p.S + blockIdx.y) * 3;
    out[0] = n;
    out[1] = m;
    out[2] = q;
  }
}

// Channels-last y = x·scale + shift (+ residual, relu), the coefficients from the finalize kernel.
template <typename T>
__global__ void __launch_bounds__(kThreads, 8)
    bn_normalize_cl_kernel(BatchNormForwardParams<T> p, const compute_t<T>* __restrict__ coef,
                           ClPlan plan) {
  using A = compute_t<T>;
  const int64_t c = cl_channel(plan);
  if (c >= plan.C) return;
  const A sc = coef[2 * c], sh = coef[2 * c + 1];
  const T* __restrict__ x = p.x;
  const T* __restrict__ res = p.residual;
  T* __restrict__ y = p.y;
  const bool relu = p.relu;
  for_each_row<true>(plan, c, [&](int64_t off) {
    y[off] = bn_output(A(x[off]) * sc + sh, res != nullptr, res ? res[off] : T(0), relu);
  });
}

// ---- backward ----

template <typename T, int V>
__global__ void __launch_bounds__(kThreads, 8)
    bn_backward_reduce_kernel(const T* __restrict__ g, const T* __restrict__ x,
                              const compute_t<T>* __restrict__ mean, Plan p,
                              double* __restrict__ partials) {
  using A = compute_t<T>;
  const int64_t c = blockIdx.x / unsigned(p.S), s = blockIdx.x % unsigned(p.S);
  const A mu = mean[c];
  A sg = 0, sgx = 0;  // Σ g, Σ g·(x - μ)
  for_each_pack<V, false>(p, c, s, [&](int64_t off) {
    const Pack<T, V> gv = load<T, V>(g + off), xv = load<T, V>(x + off);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      sg += A(gv.v[k]);
      sgx += A(gv.v[k]) * (A(xv.v[k]) - mu);
    }
  });
  double a = double(sg), b = double(sgx);
  block_sum2(a, b);
  if (threadIdx.x == 0) {
    partials[(c * p.S + s) * 2] = a;
    partials[(c * p.S + s) * 2 + 1] = b;
  }
}

// Channel c's dL/dx coefficients {k = γ·invstd, mean(g), invstd·mean(g·x̂), μ} from its sums
// (the CPU's double expressions); with `outputs`, also dL/dγ and dL/dβ.
template <typename T, typename A = compute_t<T>>
__device__ __forceinline__ void backward_channel(const BatchNormBackwardParams<T>& p, int64_t c,
                                                 double sum_g, double sum_gxmu, bool outputs,
                                                 A* coef) {
  const double n = double(p.N * p.HW);
  const double invstd = double(p.invstd[c]);
  const double sum_gxhat = sum_gxmu * invstd;
  if (outputs && p.grad_weight) p.grad_weight[c] = A(sum_gxhat);
  if (outputs && p.grad_bias) p.grad_bias[c] = A(sum_g);
  coef[0] = A((p.weight ? double(p.weight[c]) : 1.0) * invstd);
  coef[1] = A(n > 0 ? sum_g / n : 0.0);
  coef[2] = A(n > 0 ? invstd * sum_gxhat / n : 0.0);
  coef[3] = p.mean[c];
}

// Sums channel c's S partials over the block (valid in thread 0); every thread must call it.
__device__ __forceinline__ void sum_partials(const double* __restrict__ partials, int S, int64_t c,
                                             double& a, double& b) {
  a = b = 0;
  for (int i = threadIdx.x; i < S; i += blockDim.x) {
    a += partials[(c * S + i) * 2];
    b += partials[(c * S + i) * 2 + 1];
  }
  block_sum2(a, b);
}

// A block per channel: sums its S partials and writes dL/dγ and dL/dβ, for the channels-last
// passes and where NCHW has no grad_input pass to do it. With `coef`, also stores the channel's
// dL/dx coefficients at coef[4c .. 4c + 3].
template <typename T>
__global__ void __launch_bounds__(kThreads)
    bn_backward_finalize_kernel(const double* __restrict__ partials, int S, bool have_sums,
                                BatchNormBackwardParams<T> p, compute_t<T>* __restrict__ coef) {
  for (int64_t c = blockIdx.x; c < p.C; c += gridDim.x) {
    double sum_g = 0, sum_gxmu = 0;
    if (have_sums) sum_partials(partials, S, c, sum_g, sum_gxmu);
    if (threadIdx.x == 0) {
      compute_t<T> local[4];
      backward_channel(p, c, sum_g, sum_gxmu, /*outputs=*/true, coef ? coef + 4 * c : local);
    }
    __syncthreads();  // the next channel's sum reuses the shared memory
  }
}

// dL/dx of one element from g (and x, in training) and its channel's coefficients
// (backward_channel).
template <bool kTraining, typename T, typename A>
__device__ __forceinline__ T grad_input_value(T g, T x, A k, A mean_g, A c_x, A mu) {
  if constexpr (kTraining)
    return T(k * (A(g) - mean_g - (A(x) - mu) * c_x));
  else
    return T(A(g) * k);
}

// dL/dx. Like the forward's normalize, every block sums its channel's partials itself and
// block 0 of the channel writes dL/dγ and dL/dβ.
template <typename T, int V, bool kTraining>
__global__ void __launch_bounds__(kThreads, 8)
    bn_backward_input_kernel(BatchNormBackwardParams<T> p, const double* __restrict__ partials,
                             int S_sums, bool have_sums, Plan plan) {
  using A = compute_t<T>;
  const int64_t c = blockIdx.x / unsigned(plan.S), s = blockIdx.x % unsigned(plan.S);
  __shared__ A coef[4];
  double a = 0, b = 0;
  if (have_sums) sum_partials(partials, S_sums, c, a, b);
  if (threadIdx.x == 0) backward_channel(p, c, a, b, s == 0, coef);
  __syncthreads();
  const A k = coef[0], mean_g = coef[1], c_x = coef[2], mu = coef[3];
  const T* __restrict__ g = p.grad_output;
  const T* __restrict__ x = p.x;
  T* __restrict__ gx = p.grad_input;
  for_each_pack<V, true>(plan, c, s, [&](int64_t off) {
    Pack<T, V> gv = load<T, V>(g + off), xv{};
    if constexpr (kTraining) xv = load<T, V>(x + off);
#pragma unroll
    for (int j = 0; j < V; ++j)
      gv.v[j] = grad_input_value<kTraining>(gv.v[j], xv.v[j], k, mean_g, c_x, mu);
    store<T, V>(gx + off, gv);
  });
}

// Channels-last Σg and Σg·(x - μ): one partial pair per (channel, row block).
template <typename T>
__global__ void __launch_bounds__(kThreads, 8)
    bn_backward_reduce_cl_kernel(const T* __restrict__ g, const T* __restrict__ x,
                                 const compute_t<T>* __restrict__ mean, ClPlan p,
                                 double* __restrict__ partials) {
  using A = compute_t<T>;
  const int64_t c = cl_channel(p);
  A sg = 0, sgx = 0;
  if (c < p.C) {
    const A mu = mean[c];
    for_each_row<false>(p, c, [&](int64_t off) {
      const A gv = A(g[off]);
      sg += gv;
      sgx += gv * (A(x[off]) - mu);
    });
  }
  double a = double(sg), b = double(sgx);
  column_sum2(p.bx, a, b);
  if (int(threadIdx.x) < p.bx && c < p.C) {
    partials[(c * p.S + blockIdx.y) * 2] = a;
    partials[(c * p.S + blockIdx.y) * 2 + 1] = b;
  }
}

// Channels-last dL/dx, the coefficients from the finalize kernel.
template <typename T, bool kTraining>
__global__ void __launch_bounds__(kThreads, 8)
    bn_backward_input_cl_kernel(BatchNormBackwardParams<T> p, const compute_t<T>* __restrict__ coef,
                                ClPlan plan) {
  using A = compute_t<T>;
  const int64_t c = cl_channel(plan);
  if (c >= plan.C) return;
  const A k = coef[4 * c], mean_g = coef[4 * c + 1], c_x = coef[4 * c + 2], mu = coef[4 * c + 3];
  const T* __restrict__ g = p.grad_output;
  const T* __restrict__ x = p.x;
  T* __restrict__ gx = p.grad_input;
  for_each_row<true>(plan, c, [&](int64_t off) {
    gx[off] = grad_input_value<kTraining>(g[off], kTraining ? x[off] : T(0), k, mean_g, c_x, mu);
  });
}

// ---- host side ----

int current_device() {
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) dev = 0;
  return dev;
}

int device_attribute(cudaDeviceAttr attr, int fallback) {
  int v = 0;
  if (cudaDeviceGetAttribute(&v, attr, current_device()) != cudaSuccess || v <= 0) {
    (void)cudaGetLastError();
    return fallback;
  }
  return v;
}

int sm_count() {
  return device_attribute(cudaDevAttrMultiProcessorCount, 1);
}

// The most blocks of kThreads that can ever be resident on the device.
int64_t max_resident_blocks() {
  const int per_sm = device_attribute(cudaDevAttrMaxThreadsPerMultiProcessor, kThreads) / kThreads;
  return int64_t(sm_count()) * std::max(per_sm, 1);
}

// Largest S any pass uses for C channels (sizes the partials).
int64_t splits_cap(int64_t C) {
  return std::max<int64_t>(1, max_resident_blocks() / C);
}

// Channels-last: threads along the channels of a block (the power of two up to 32 that covers C)
// and blocks along them.
int cl_columns(int64_t C) {
  int bx = 1;
  while (bx < C && bx < 32) bx *= 2;
  return bx;
}
int64_t cl_column_blocks(int64_t C) {
  return (C + cl_columns(C) - 1) / cl_columns(C);
}

// Largest S a channels-last stats or sums pass uses (one wave of blocks; sizes the partials).
int64_t cl_splits_cap(int64_t C) {
  return std::max<int64_t>(1, max_resident_blocks() / cl_column_blocks(C));
}

size_t partials_bytes(int64_t C, bool channels_last) {
  const int64_t splits = channels_last ? cl_splits_cap(C) : splits_cap(C);
  return (size_t(C * splits) * 3 * sizeof(double) + 15) / 16 * 16;
}

// Channels-last: the per-channel coefficients (scale, shift; or the 4 of dL/dx) after the partials.
size_t coef_bytes(int64_t C) {
  return size_t(C) * 4 * sizeof(double);
}
template <typename T>
compute_t<T>* coef_of(void* workspace, int64_t C) {
  return reinterpret_cast<compute_t<T>*>(static_cast<char*>(workspace) + partials_bytes(C, true));
}

// Resident blocks per SM of a kernel at kThreads threads (queried once per kernel).
template <auto Kernel>
int occupancy() {
  static const int blocks = [] {
    int b = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&b, Kernel, kThreads, 0) != cudaSuccess) {
      (void)cudaGetLastError();
      b = 1;
    }
    return std::max(b, 1);
  }();
  return blocks;
}

Plan make_plan(int64_t N, int64_t C, int64_t HW, int V, int blocks_per_sm) {
  Plan p{};
  p.N = N;
  p.C = C;
  p.HW = HW;
  if (N * HW == 0) {  // nothing to walk; the stats pass still writes empty partials
    p.N = 0;
    p.Sj = 1;
    p.L = V;
    p.S = 1;
    p.tpr = kThreads;
    p.rpp = 1;
    return p;
  }
  // One wave: as many blocks as fit at once, spread over the channels; at least 16 elements per
  // thread so a block's fixed costs (merges, partial write) stay small.
  int64_t S = std::max<int64_t>(1, int64_t(sm_count()) * blocks_per_sm / C);
  S = std::min(S, splits_cap(C));
  S = std::min(S, std::max<int64_t>(1, N * HW / (kThreads * 16)));
  // Split rows when N is too small to give every block several rows (pieces of >= 2 block
  // widths of packs).
  int64_t Sj = 1;
  if (N < 4 * S) {
    Sj = (4 * S + N - 1) / N;
    Sj = std::min(Sj, std::max<int64_t>(1, HW / (2 * kThreads * V)));
  }
  int64_t L = (HW + Sj - 1) / Sj;
  L = (L + V - 1) / V * V;
  Sj = (HW + L - 1) / L;
  S = std::min(S, N * Sj);
  const int64_t packs = L / V;
  int tpr = 1;
  while (tpr < packs && tpr < kThreads) tpr *= 2;
  p.Sj = Sj;
  p.L = L;
  p.S = int(S);
  p.tpr = tpr;
  p.rpp = kThreads / tpr;
  return p;
}

unsigned grid_of(const Plan& p) {
  return unsigned(p.C * p.S);
}

// Blocks of the finalize kernels (a block per channel, grid-stride beyond).
unsigned finalize_blocks(int64_t C) {
  return unsigned(std::min<int64_t>(C, 65536));
}

// The channels-last plan of a pass whose kernel has `blocks_per_sm` resident blocks per SM: one
// wave, at least 16 rows per thread, at most `cap` row blocks.
ClPlan make_cl_plan(int64_t R, int64_t C, int blocks_per_sm, int64_t cap) {
  ClPlan p{};
  p.R = R;
  p.C = C;
  p.bx = cl_columns(C);
  p.by = kThreads / p.bx;
  int64_t S = int64_t(sm_count()) * blocks_per_sm / cl_column_blocks(C);
  S = std::min(S, R / (int64_t(p.by) * 16));
  S = std::min<int64_t>({S, cap, 65535});  // gridDim.y
  p.S = int(std::max<int64_t>(S, 1));
  return p;
}

dim3 grid_of(const ClPlan& p) {
  return dim3(unsigned(cl_column_blocks(p.C)), unsigned(p.S));
}

template <typename T, int V>
void forward_passes(const BatchNormForwardParams<T>& p, double* partials, cudaStream_t stream) {
  int S = 1;
  if (p.training) {
    constexpr auto stats = bn_stats_kernel<T, V>;
    const Plan plan = make_plan(p.N, p.C, p.HW, V, occupancy<stats>());
    stats<<<grid_of(plan), kThreads, 0, stream>>>(p.x, plan, partials);
    AFN_CUDA_LAUNCH_CHECK();
    S = plan.S;
  }
  if (p.y && p.N * p.HW > 0) {
    constexpr auto normalize = bn_normalize_kernel<T, V>;
    const Plan plan = make_plan(p.N, p.C, p.HW, V, occupancy<normalize>());
    normalize<<<grid_of(plan), kThreads, 0, stream>>>(p, partials, S, plan);
  } else {
    bn_forward_finalize_kernel<T>
        <<<finalize_blocks(p.C), kThreads, 0, stream>>>(partials, S, p, nullptr);
  }
  AFN_CUDA_LAUNCH_CHECK();
}

// Channels-last: stats (training), finalize (statistics, running stats, coefficients), normalize.
template <typename T>
void forward_passes_cl(const BatchNormForwardParams<T>& p, double* partials, compute_t<T>* coef,
                       cudaStream_t stream) {
  const int64_t R = p.N * p.HW;
  int S = 1;
  if (p.training) {
    constexpr auto stats = bn_stats_cl_kernel<T>;
    const ClPlan plan = make_cl_plan(R, p.C, occupancy<stats>(), cl_splits_cap(p.C));
    stats<<<grid_of(plan), kThreads, 0, stream>>>(p.x, plan, partials);
    AFN_CUDA_LAUNCH_CHECK();
    S = plan.S;
  }
  const bool normalize = p.y && R > 0;
  bn_forward_finalize_kernel<T>
      <<<finalize_blocks(p.C), kThreads, 0, stream>>>(partials, S, p, normalize ? coef : nullptr);
  AFN_CUDA_LAUNCH_CHECK();
  if (!normalize) return;
  constexpr auto kernel = bn_normalize_cl_kernel<T>;
  const ClPlan plan = make_cl_plan(R, p.C, occupancy<kernel>(), 65535);
  kernel<<<grid_of(plan), kThreads, 0, stream>>>(p, coef, plan);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T, int V>
void backward_passes(const BatchNormBackwardParams<T>& p, double* partials, cudaStream_t stream) {
  const bool need_sums = p.grad_weight || p.grad_bias || (p.grad_input && p.training);
  const bool have_data = p.N * p.HW > 0;
  const bool have_sums = need_sums && have_data;
  int S = 1;
  if (have_sums) {
    constexpr auto reduce = bn_backward_reduce_kernel<T, V>;
    const Plan plan = make_plan(p.N, p.C, p.HW, V, occupancy<reduce>());
    reduce<<<grid_of(plan), kThreads, 0, stream>>>(p.grad_output, p.x, p.mean, plan, partials);
    AFN_CUDA_LAUNCH_CHECK();
    S = plan.S;
  }
  if (p.grad_input && have_data) {
    if (p.training) {
      constexpr auto input = bn_backward_input_kernel<T, V, true>;
      const Plan plan = make_plan(p.N, p.C, p.HW, V, occupancy<input>());
      input<<<grid_of(plan), kThreads, 0, stream>>>(p, partials, S, have_sums, plan);
    } else {
      constexpr auto input = bn_backward_input_kernel<T, V, false>;
      const Plan plan = make_plan(p.N, p.C, p.HW, V, occupancy<input>());
      input<<<grid_of(plan), kThreads, 0, stream>>>(p, partials, S, have_sums, plan);
    }
  } else {
    bn_backward_finalize_kernel<T>
        <<<finalize_blocks(p.C), kThreads, 0, stream>>>(partials, S, have_sums, p, nullptr);
  }
  AFN_CUDA_LAUNCH_CHECK();
}

// Channels-last: sums (when needed), finalize (dL/dγ, dL/dβ, coefficients), dL/dx.
template <typename T>
void backward_passes_cl(const BatchNormBackwardParams<T>& p, double* partials, compute_t<T>* coef,
                        cudaStream_t stream) {
  const int64_t R = p.N * p.HW;
  const bool need_sums = p.grad_weight || p.grad_bias || (p.grad_input && p.training);
  const bool have_sums = need_sums && R > 0;
  int S = 1;
  if (have_sums) {
    constexpr auto reduce = bn_backward_reduce_cl_kernel<T>;
    const ClPlan plan = make_cl_plan(R, p.C, occupancy<reduce>(), cl_splits_cap(p.C));
    reduce<<<grid_of(plan), kThreads, 0, stream>>>(p.grad_output, p.x, p.mean, plan, partials);
    AFN_CUDA_LAUNCH_CHECK();
    S = plan.S;
  }
  const bool input = p.grad_input && R > 0;
  bn_backward_finalize_kernel<T><<<finalize_blocks(p.C), kThreads, 0, stream>>>(
      partials, S, have_sums, p, input ? coef : nullptr);
  AFN_CUDA_LAUNCH_CHECK();
  if (!input) return;
  constexpr auto train = bn_backward_input_cl_kernel<T, true>;
  constexpr auto eval = bn_backward_input_cl_kernel<T, false>;
  const ClPlan plan =
      make_cl_plan(R, p.C, p.training ? occupancy<train>() : occupancy<eval>(), 65535);
  (p.training ? train : eval)<<<grid_of(plan), kThreads, 0, stream>>>(p, coef, plan);
  AFN_CUDA_LAUNCH_CHECK();
}

// Whether packs of V elements of T fit: H·W a multiple of V and every array (null: absent) aligned
// to a pack.
template <typename T, int V>
bool packs_fit(int64_t HW, std::initializer_list<const void*> arrays) {
  if (HW % V != 0) return false;
  for (const void* a : arrays)
    if (a && reinterpret_cast<uintptr_t>(a) % (sizeof(T) * V) != 0) return false;
  return true;
}

// Runs passes<T, V> with the widest pack that fits: 16 bytes, else (the 2-byte types, whose
// 16-byte pack needs H·W % 8 == 0: ResNet's 14x14 planes) 8 bytes, else one element.
template <typename T, typename Passes>
void with_pack_width(int64_t HW, std::initializer_list<const void*> arrays, Passes&& passes) {
  constexpr int V = 16 / sizeof(T);
  if (packs_fit<T, V>(HW, arrays))
    passes(std::integral_constant<int, V>{});
  else if (V > 4 && packs_fit<T, 4>(HW, arrays))
    passes(std::integral_constant<int, (V > 4 ? 4 : 1)>{});
  else
    passes(std::integral_constant<int, 1>{});
}

}  // namespace

size_t batch_norm_workspace_bytes(int64_t C, bool channels_last) {
  return partials_bytes(C, channels_last) + (channels_last ? coef_bytes(C) : 0);
}

template <typename T>
void launch_batch_norm_forward(const BatchNormForwardParams<T>& p, void* workspace,
                               cudaStream_t stream) {
  if (p.C == 0) return;
  auto* partials = static_cast<double*>(workspace);
  if (p.channels_last) return forward_passes_cl<T>(p, partials, coef_of<T>(workspace, p.C), stream);
  with_pack_width<T>(p.HW, {p.x, p.y, p.residual},
                     [&](auto v) { forward_passes<T, decltype(v)::value>(p, partials, stream); });
}

template <typename T>
void launch_batch_norm_backward(const BatchNormBackwardParams<T>& p, void* workspace,
                                cudaStream_t stream) {
  if (p.C == 0) return;
  auto* partials = static_cast<double*>(workspace);
  if (p.channels_last)
    return backward_passes_cl<T>(p, partials, coef_of<T>(workspace, p.C), stream);
  with_pack_width<T>(p.HW, {p.grad_output, p.x, p.grad_input},
                     [&](auto v) { backward_passes<T, decltype(v)::value>(p, partials, stream); });
}

#define AFN_INSTANTIATE(T)                                                              \
  template void launch_batch_norm_forward<T>(const BatchNormForwardParams<T>&, void*,   \
                                             cudaStream_t);                             \
  template void launch_batch_norm_backward<T>(const BatchNormBackwardParams<T>&, void*, \
                                              cudaStream_t);
AFN_FOR_FLOATING_AND_16BIT(AFN_INSTANTIATE)
#undef AFN_INSTANTIATE

}  // namespace afinar::cuda
