// nll_loss and cross_entropy on CUDA (benchmark: bench/loss_bench.cpp, GB/s of the fused
// forward + backward against the device copy rate). Math in include/afinar/ops/loss.h.
//
// cross_entropy forward is fused: one pass per row computes log_softmax (written: the backward
//   needs it), the target's log-probability and, with label smoothing, Σ_c w_c logp_c, and writes
//   the row's loss ℓ_i and weight w[t_i] (in double) to scratch. The row layouts of softmax.cu:
//   a warp per row for rows of C * sizeof(T) <= 4 KiB, a block per row with the row in the
//   block's registers up to 32768 floats / 16384 doubles (one read, one write either way), and
//   beyond that a block per row with the online max/sum pass (softmax/softmax_common.cuh).
//   A finish kernel then sums ℓ_i and W = Σ w[t_i] in double in a fixed order (deterministic,
//   like the CPU's serial sum; above 4096 rows through one partial sum per fixed slice of rows)
//   and writes total_weight and the sum / mean (for None the rows write ℓ_i directly).
// nll_loss forward: a warp per row (the smoothing sum needs the whole row), same finish.
// Backward (both): one pass over [N, C]: every element is a closed form of per-row scalars,
//   dℓ/dlogp_c = -a_i ((1-ε) w[t_i] [c = t_i] + ε w_c / C)  (0 for ignored rows), and for
//   cross_entropy grad_c = dℓ/dlogp_c - exp(logp_c) S_i with S_i = Σ_c dℓ/dlogp_c =
//   -a_i ((1-ε) w[t_i] + ε Σ_c w_c / C): no row reduction, so it reads logp once and writes once.
//   cross_entropy computes it in T from per-row coefficients (a few ulp from the CPU, which
//   rounds dℓ/dlogp to T and sums the rounded terms; Σ_c w_c comes from one small kernel when
//   there are weights and ε > 0); nll_loss_backward computes dℓ/dlogp in double exactly as the
//   CPU does, so it matches it bit for bit.
// Invalid targets: see loss.h (a flag, read back by loss.cpp).
#include <algorithm>
#include <type_traits>

#include <math_constants.h>

#include "common.cuh"
#include "loss/loss.h"
#include "runtime/launch_check.h"
#include "softmax/softmax_common.cuh"

namespace afinar::cuda {

namespace {

using namespace softmax_detail;

constexpr int kBlock = 256;
constexpr int kFinishThreads = 1024;

__device__ __forceinline__ void flag_bad_row(unsigned long long* bad_row, int64_t row) {
  atomicMin(bad_row, static_cast<unsigned long long>(row));
}

// Whether row `row` counts: false for ignore_index, and for an invalid target, which is also
// flagged (the row then gives loss 0 and weight 0; the caller throws).
__device__ __forceinline__ bool target_ok(int64_t t, int64_t C, int64_t ignore_index, int64_t row,
                                          unsigned long long* bad_row) {
  if (t == ignore_index) return false;
  if (t < 0 || t >= C) {
    flag_bad_row(bad_row, row);
    return false;
  }
  return true;
}

template <typename T>
__device__ __forceinline__ void write_row_loss(int64_t row, double loss, double weight,
                                               double* row_loss, double* row_weight, T* loss_none) {
  row_loss[row] = loss;
  row_weight[row] = weight;
  if (loss_none) loss_none[row] = T(loss);
}

// Row i's loss from its target's log-probability lpt and sw = Σ_c w_c logp_c (used only when
// ε > 0), as the CPU computes it:  ℓ_i = -(1-ε) w[t] logp_t + ε (-Σ_c w_c logp_c) / C.
template <typename T>
__device__ __forceinline__ double row_loss_value(T lpt, T sw, double wt, double eps, int64_t C) {
  double l = -(1.0 - eps) * wt * double(lpt);
  // Without smoothing the term is skipped, not multiplied by 0 (a -inf logp elsewhere must not
  // make the loss NaN), as on the CPU.
  if (eps > 0) l += eps * (-double(sw)) / double(C);
  return l;
}

template <typename T>
__device__ __forceinline__ T class_weight(const T* w, int64_t c) {
  return w ? w[c] : T(1);
}

// ---- cross_entropy forward: warp per row -----------------------------------------------------
template <typename T, int kPerLane, int V>
__global__ void __launch_bounds__(kBlock)
    cross_entropy_forward_warp_kernel(T* __restrict__ logp, double* __restrict__ row_loss,
                                      double* __restrict__ row_weight, T* __restrict__ loss_none,
                                      const T* __restrict__ x, const int64_t* __restrict__ target,
                                      const T* __restrict__ w, int64_t N, int C,
                                      int64_t ignore_index, double eps,
                                      unsigned long long* bad_row) {
  using L = RowLayout<kPerLane, V>;
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; row < N; row += warps) {
    T v[kPerLane];
    load_row<T, kPerLane, V>(v, x + row * C, C, lane, neg_inf<T>());
    T m = neg_inf<T>();
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) m = v[k] > m ? v[k] : m;
    m = warp_reduce_max(m);
    T s = 0;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      const T e = dev_exp(v[k] - m);
      if (in_row<kPerLane, V>(k, C, lane)) s += e;
    }
    s = warp_reduce_sum(s);
    const T lse = dev_log(s);
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) v[k] = (v[k] - m) - lse;
    store_row<T, kPerLane, V>(logp + row * C, v, C, lane);
    T sw = 0;
    if (eps > 0) {
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        const int c = L::column(k / V, lane) + k % V;
        if (in_row<kPerLane, V>(k, C, lane)) sw += class_weight(w, c) * v[k];
      }
      sw = warp_reduce_sum(sw);
    }
    if (lane == 0) {
      const int64_t t = target[row];
      double loss = 0, weight = 0;
      if (target_ok(t, C, ignore_index, row, bad_row)) {
        // The same expression as the stored logp_t, recomputed from x.
        const T lpt = (x[row * C + t] - m) - lse;
        weight = double(class_weight(w, t));
        loss = row_loss_value(lpt, sw, weight, eps, C);
      }
      write_row_loss(row, loss, weight, row_loss, row_weight, loss_none);
    }
  }
}

// ---- cross_entropy forward: block per row, row in the block's registers ----------------------
template <typename T, int kPerThread, int V>
__global__ void __launch_bounds__(1024)
    cross_entropy_forward_block_regs_kernel(T* __restrict__ logp, double* __restrict__ row_loss,
                                            double* __restrict__ row_weight,
                                            T* __restrict__ loss_none, const T* __restrict__ x,
                                            const int64_t* __restrict__ target,
                                            const T* __restrict__ w, int64_t N, int C,
                                            int64_t ignore_index, double eps,
                                            unsigned long long* bad_row) {
  __shared__ T shared[32];
  for (int64_t row = blockIdx.x; row < N; row += gridDim.x) {
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
    }
    s = block_sum_broadcast(s, shared);
    const T lse = dev_log(s);
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) v[k] = (v[k] - m) - lse;
    block_store_row<T, kPerThread, V>(logp + row * C, v, C);
    T sw = 0;
    if (eps > 0) {
#pragma unroll
      for (int k = 0; k < kPerThread; ++k) {
        const int c = block_column<V>(k);
        if (c < C) sw += class_weight(w, c) * v[k];
      }
      sw = block_sum_broadcast(sw, shared);
    }
    if (threadIdx.x == 0) {
      const int64_t t = target[row];
      double loss = 0, weight = 0;
      if (target_ok(t, C, ignore_index, row, bad_row)) {
        const T lpt = (x[row * C + t] - m) - lse;
        weight = double(class_weight(w, t));
        loss = row_loss_value(lpt, sw, weight, eps, C);
      }
      write_row_loss(row, loss, weight, row_loss, row_weight, loss_none);
    }
  }
}

// ---- cross_entropy forward: block per row (long rows) ----------------------------------------
template <typename T, int V>
__global__ void __launch_bounds__(kBlock)
    cross_entropy_forward_block_kernel(T* __restrict__ logp, double* __restrict__ row_loss,
                                       double* __restrict__ row_weight, T* __restrict__ loss_none,
                                       const T* __restrict__ x, const int64_t* __restrict__ target,
                                       const T* __restrict__ w, int64_t N, int64_t C,
                                       int64_t ignore_index, double eps,
                                       unsigned long long* bad_row) {
  __shared__ MaxSum<T> shared_pairs[32];
  __shared__ T shared_sums[32];
  using P = Pack<T, V>;
  const int64_t packs = C / V;
  for (int64_t row = blockIdx.x; row < N; row += gridDim.x) {
    const P* xr = reinterpret_cast<const P*>(x + row * C);
    P* lr = reinterpret_cast<P*>(logp + row * C);
    MaxSum<T> a = max_sum_identity<T>();
    for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
      const P v = xr[p];
#pragma unroll
      for (int e = 0; e < V; ++e) online_add(a, v.v[e]);
    }
    a = finish(block_merge(a, shared_pairs));
    const T lse = dev_log(a.s);
    T sw = 0;
    for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
      P v = xr[p];
#pragma unroll
      for (int e = 0; e < V; ++e) {
        v.v[e] = (v.v[e] - a.m) - lse;
        if (eps > 0) sw += class_weight(w, p * V + e) * v.v[e];
      }
      lr[p] = v;
    }
    if (eps > 0) sw = block_sum_broadcast(sw, shared_sums);
    if (threadIdx.x == 0) {
      const int64_t t = target[row];
      double loss = 0, weight = 0;
      if (target_ok(t, C, ignore_index, row, bad_row)) {
        const T lpt = (x[row * C + t] - a.m) - lse;
        weight = double(class_weight(w, t));
        loss = row_loss_value(lpt, sw, weight, eps, C);
      }
      write_row_loss(row, loss, weight, row_loss, row_weight, loss_none);
    }
  }
}

// ---- nll_loss forward: warp per row ----------------------------------------------------------
template <typename T>
__global__ void __launch_bounds__(kBlock)
    nll_loss_forward_kernel(double* __restrict__ row_loss, double* __restrict__ row_weight,
                            T* __restrict__ loss_none, const T* __restrict__ lp,
                            const int64_t* __restrict__ target, const T* __restrict__ w, int64_t N,
                            int64_t C, int64_t ignore_index, double eps,
                            unsigned long long* bad_row) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; row < N; row += warps) {
    const T* r = lp + row * C;
    T sw = 0;
    if (eps > 0) {
      for (int64_t c = lane; c < C; c += 32) sw += class_weight(w, c) * r[c];
      sw = warp_reduce_sum(sw);
    }
    if (lane == 0) {
      const int64_t t = target[row];
      double loss = 0, weight = 0;
      if (target_ok(t, C, ignore_index, row, bad_row)) {
        weight = double(class_weight(w, t));
        loss = row_loss_value(r[t], sw, weight, eps, C);
      }
      write_row_loss(row, loss, weight, row_loss, row_weight, loss_none);
    }
  }
}

// ---- finish: W and the reduction in a fixed summation order ----------------------------------
// Large N first sums gridDim.x fixed slices of rows into partials (one block each), so the finish
// block reads a few hundred values instead of all N; both stages depend only on N (deterministic).
__global__ void __launch_bounds__(kFinishThreads)
    loss_partials_kernel(double* __restrict__ partial_loss, double* __restrict__ partial_weight,
                         const double* __restrict__ row_loss, const double* __restrict__ row_weight,
                         int64_t N) {
  __shared__ double shared[32];
  const int64_t chunk = (N + gridDim.x - 1) / gridDim.x;
  const int64_t begin = int64_t(blockIdx.x) * chunk;
  const int64_t end = begin + chunk < N ? begin + chunk : N;
  double s = 0, W = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    s += row_loss[i];
    W += row_weight[i];
  }
  s = block_sum_broadcast(s, shared);
  W = block_sum_broadcast(W, shared);
  if (threadIdx.x == 0) {
    partial_loss[blockIdx.x] = s;
    partial_weight[blockIdx.x] = W;
  }
}

template <typename T>
__global__ void __launch_bounds__(kFinishThreads)
    loss_finish_kernel(T* __restrict__ loss, T* __restrict__ total_weight,
                       const double* __restrict__ row_loss, const double* __restrict__ row_weight,
                       int64_t N, LossReduce reduction, double eps) {
  __shared__ double shared[32];
  double s = 0, W = 0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    if (reduction != LossReduce::None) s += row_loss[i];
    W += row_weight[i];
  }
  W = block_sum_broadcast(W, shared);
  if (reduction != LossReduce::None) s = block_sum_broadcast(s, shared);
  if (threadIdx.x == 0) {
    total_weight[0] = T(W);
    if (reduction == LossReduce::Sum) loss[0] = T(s);
    // As the CPU's mean_loss (src/ops/cpu/loss.cpp): NaN for W = 0 with smoothing, else s / W
    // (0/0 = NaN when all are ignored).
    if (reduction == LossReduce::Mean) loss[0] = T(W == 0 && eps > 0 ? CUDART_NAN : s / W);
  }
}

// Σ_c w_c in double (one block), for the smoothed cross_entropy backward.
template <typename T>
__global__ void __launch_bounds__(kFinishThreads)
    weight_sum_kernel(double* __restrict__ out, const T* __restrict__ w, int64_t C) {
  __shared__ double shared[32];
  double s = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += double(w[c]);
  s = block_sum_broadcast(s, shared);
  if (threadIdx.x == 0) out[0] = s;
}

// ---- backward: one pass over [N, C] -----------------------------------------------------------
// Block (tpr, rpb): threadIdx.x walks the packs of a row, threadIdx.y picks one of rpb rows.
// For CE, grad = G_c - exp(logp_c) S (see the file comment); for NLL, grad = G_c.
template <typename T, int V, bool CE>
__global__ void __launch_bounds__(kBlock)
    loss_backward_kernel(T* __restrict__ gi, const T* __restrict__ lp,
                         const T* __restrict__ grad_loss, const int64_t* __restrict__ target,
                         const T* __restrict__ total_weight, const T* __restrict__ w,
                         const double* __restrict__ weight_sum, int64_t N, int64_t C,
                         int64_t ignore_index, double eps, LossReduce reduction,
                         unsigned long long* bad_row) {
  using P = Pack<T, V>;
  const int64_t packs = C / V;  // V > 1 only when C % V == 0
  const int64_t rows_per_step = int64_t(gridDim.x) * blockDim.y;
  for (int64_t row = int64_t(blockIdx.x) * blockDim.y + threadIdx.y; row < N;
       row += rows_per_step) {
    const int64_t t = target[row];
    const bool ignored = t == ignore_index;
    const bool invalid = !ignored && (t < 0 || t >= C);
    if (invalid && threadIdx.x == 0) flag_bad_row(bad_row, row);
    const bool counted = !ignored && !invalid;
    const double a = reduction == LossReduce::None ? double(grad_loss[row])
                     : reduction == LossReduce::Sum
                         ? double(grad_loss[0])
                         : double(grad_loss[0]) / double(total_weight[0]);
    const double target_part = counted ? (1.0 - eps) * double(class_weight(w, t)) : 0.0;
    P* gr = reinterpret_cast<P*>(gi + row * C);
    if constexpr (CE) {
      // In T, from per-row coefficients: G_c = gt [c = t] + gs w_c, grad = G_c - exp(logp_c) S.
      // Ignored rows: G = 0 and S = 0, so grad = 0 - exp(logp) · 0 as on the CPU.
      T gt = 0, gs = 0, S = 0;
      if (counted) {
        const double sum_w = w ? weight_sum[0] : double(C);
        gt = T(-a * target_part);
        gs = eps > 0 ? T(-a * eps / double(C)) : T(0);
        S = T(-a * (target_part + (eps > 0 ? eps * sum_w / double(C) : 0.0)));
      }
      const bool smooth = counted && eps > 0;
      const P* lr = reinterpret_cast<const P*>(lp + row * C);
      for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
        P out = lr[p];
#pragma unroll
        for (int e = 0; e < V; ++e) {
          const int64_t c = p * V + e;
          T G = c == t ? gt : T(0);
          if (smooth) G += w ? gs * w[c] : gs;
          out.v[e] = G - dev_exp(out.v[e]) * S;
        }
        gr[p] = out;
      }
    } else {
      // In double, the CPU's expression: bit-identical to the reference.
      const double plain_smooth = eps > 0 ? eps * 1.0 / double(C) : 0.0;
      for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
        P out;
#pragma unroll
        for (int e = 0; e < V; ++e) {
          const int64_t c = p * V + e;
          T G = T(0);
          if (counted && (c == t || eps > 0)) {  // the CPU's rule: no -a·0 terms
            const double smooth =
                eps > 0 ? (w ? eps * double(w[c]) / double(C) : plain_smooth) : 0.0;
            G = T(-a * ((c == t ? target_part : 0.0) + smooth));
          }
          out.v[e] = G;
        }
        gr[p] = out;
      }
    }
  }
}

// ---- launch helpers ------------------------------------------------------------------------

// `partials` holds 2 * kLossPartials doubles.
template <typename T>
void finish(T* loss, T* total_weight, const double* row_loss, const double* row_weight, int64_t N,
            LossReduce reduction, double eps, double* partials, cudaStream_t s) {
  if (N > 4 * kFinishThreads) {
    const int64_t blocks = std::min<int64_t>(kLossPartials, (N + 2047) / 2048);
    loss_partials_kernel<<<unsigned(blocks), kFinishThreads, 0, s>>>(
        partials, partials + kLossPartials, row_loss, row_weight, N);
    AFN_CUDA_LAUNCH_CHECK();
    row_loss = partials;
    row_weight = partials + kLossPartials;
    N = blocks;
  }
  loss_finish_kernel<T>
      <<<1, kFinishThreads, 0, s>>>(loss, total_weight, row_loss, row_weight, N, reduction, eps);
  AFN_CUDA_LAUNCH_CHECK();
}

// The block-register forward when the row fits its register budget; false otherwise.
template <typename T>
bool block_regs_forward(T* logp, double* row_loss, double* row_weight, T* loss_none, const T* x,
                        const int64_t* target, const T* w, int64_t N, int64_t C,
                        int64_t ignore_index, double eps, unsigned long long* bad_row, bool vec,
                        cudaStream_t s) {
  constexpr int V = 16 / sizeof(T);
  constexpr int kMaxPerThread = kBlockRowWords * 4 / int(sizeof(T));
  const BlockRowShape shape = block_row_shape(C, vec ? V : 1);
  if (shape.per_thread > kMaxPerThread) return false;
  const unsigned grid = blocks_for(N, 1);
  with_per_lane(shape.per_thread, [&](auto per_thread) {
    constexpr int K = decltype(per_thread)::value;
    if constexpr (K <= kMaxPerThread) {
      if constexpr (K >= V) {
        if (vec) {
          cross_entropy_forward_block_regs_kernel<T, K, V>
              <<<grid, shape.threads, 0, s>>>(logp, row_loss, row_weight, loss_none, x, target, w,
                                              N, int(C), ignore_index, eps, bad_row);
          return;
        }
      }
      cross_entropy_forward_block_regs_kernel<T, K, 1>
          <<<grid, shape.threads, 0, s>>>(logp, row_loss, row_weight, loss_none, x, target, w, N,
                                          int(C), ignore_index, eps, bad_row);
    }
  });
  return true;
}

template <typename T, bool CE>
void loss_backward(T* gi, const T* lp, const T* grad_loss, const int64_t* target,
                   const T* total_weight, const T* w, const double* weight_sum, int64_t N,
                   int64_t C, int64_t ignore_index, double eps, LossReduce reduction,
                   unsigned long long* bad_row, cudaStream_t s) {
  constexpr int V = 16 / sizeof(T);
  const bool vec = C % V == 0 && aligned16(gi) && (!CE || aligned16(lp));
  const int64_t packs = vec ? C / V : C;
  int tpr = 32;
  while (tpr < kBlock && tpr < packs) tpr *= 2;
  const dim3 block(unsigned(tpr), unsigned(kBlock / tpr));
  const unsigned grid = blocks_for((N + block.y - 1) / block.y, 1);
  if (vec)
    loss_backward_kernel<T, V, CE><<<grid, block, 0, s>>>(gi, lp, grad_loss, target, total_weight,
                                                          w, weight_sum, N, C, ignore_index, eps,
                                                          reduction, bad_row);
  else
    loss_backward_kernel<T, 1, CE><<<grid, block, 0, s>>>(gi, lp, grad_loss, target, total_weight,
                                                          w, weight_sum, N, C, ignore_index, eps,
                                                          reduction, bad_row);
  AFN_CUDA_LAUNCH_CHECK();
}

}  // namespace

template <typename T>
void launch_cross_entropy_forward(T* loss, T* total_weight, T* log_probs, const T* logits,
                                  const int64_t* target, const T* weight, int64_t N, int64_t C,
                                  int64_t ignore_index, double eps, LossReduce reduction,
                                  double* scratch, unsigned long long* bad_row,
                                  cudaStream_t stream) {
  constexpr int V = 16 / sizeof(T);
  double* row_loss = scratch;
  double* row_weight = scratch + N;
  T* loss_none = reduction == LossReduce::None ? loss : nullptr;
  if (N > 0) {
    const bool vec = C % V == 0 && aligned16(logits) && aligned16(log_probs);
    if (C * int64_t(sizeof(T)) <= kWarpRowBytes) {
      with_per_lane(per_lane_for(C), [&](auto per_lane) {
        constexpr int K = decltype(per_lane)::value;
        const unsigned grid = blocks_for(N * 32, kBlock);
        if constexpr (K >= V) {
          if (vec) {
            cross_entropy_forward_warp_kernel<T, K, V><<<grid, kBlock, 0, stream>>>(
                log_probs, row_loss, row_weight, loss_none, logits, target, weight, N, int(C),
                ignore_index, eps, bad_row);
            return;
          }
        }
        cross_entropy_forward_warp_kernel<T, K, 1>
            <<<grid, kBlock, 0, stream>>>(log_probs, row_loss, row_weight, loss_none, logits,
                                          target, weight, N, int(C), ignore_index, eps, bad_row);
      });
    } else if (block_regs_forward(log_probs, row_loss, row_weight, loss_none, logits, target,
                                  weight, N, C, ignore_index, eps, bad_row, vec, stream)) {
      // launched
    } else if (vec) {
      cross_entropy_forward_block_kernel<T, V><<<blocks_for(N, 1), kBlock, 0, stream>>>(
          log_probs, row_loss, row_weight, loss_none, logits, target, weight, N, C, ignore_index,
          eps, bad_row);
    } else {
      cross_entropy_forward_block_kernel<T, 1><<<blocks_for(N, 1), kBlock, 0, stream>>>(
          log_probs, row_loss, row_weight, loss_none, logits, target, weight, N, C, ignore_index,
          eps, bad_row);
    }
    AFN_CUDA_LAUNCH_CHECK();
  }
  finish(loss, total_weight, row_loss, row_weight, N, reduction, eps, scratch + 2 * N, stream);
}

template <typename T>
void launch_nll_loss_forward(T* loss, T* total_weight, const T* log_probs, const int64_t* target,
                             const T* weight, int64_t N, int64_t C, int64_t ignore_index,
                             double eps, LossReduce reduction, double* scratch,
                             unsigned long long* bad_row, cudaStream_t stream) {
  double* row_loss = scratch;
  double* row_weight = scratch + N;
  T* loss_none = reduction == LossReduce::None ? loss : nullptr;
  if (N > 0) {
    nll_loss_forward_kernel<T><<<blocks_for(N * 32, kBlock), kBlock, 0, stream>>>(
        row_loss, row_weight, loss_none, log_probs, target, weight, N, C, ignore_index, eps,
        bad_row);
    AFN_CUDA_LAUNCH_CHECK();
  }
  finish(loss, total_weight, row_loss, row_weight, N, reduction, eps, scratch + 2 * N, stream);
}

template <typename T>
void launch_cross_entropy_backward(T* grad_logits, const T* grad_loss, const T* log_probs,
                                   const int64_t* target, const T* total_weight, const T* weight,
                                   int64_t N, int64_t C, int64_t ignore_index, double eps,
                                   LossReduce reduction, double* scratch,
                                   unsigned long long* bad_row, cudaStream_t stream) {
  if (N == 0) return;
  if (weight && eps > 0) {
    weight_sum_kernel<T><<<1, kFinishThreads, 0, stream>>>(scratch, weight, C);
    AFN_CUDA_LAUNCH_CHECK();
  }
  loss_backward<T, true>(grad_logits, log_probs, grad_loss, target, total_weight, weight, scratch,
                         N, C, ignore_index, eps, reduction, bad_row, stream);
}

template <typename T>
void launch_nll_loss_backward(T* grad_input, const T* grad_loss, const int64_t* target,
                              const T* total_weight, const T* weight, int64_t N, int64_t C,
                              int64_t ignore_index, double eps, LossReduce reduction,
                              unsigned long long* bad_row, cudaStream_t stream) {
  if (N == 0) return;
  loss_backward<T, false>(grad_input, nullptr, grad_loss, target, total_weight, weight, nullptr, N,
                          C, ignore_index, eps, reduction, bad_row, stream);
}

#define AFN_INSTANTIATE(T)                                                                      \
  template void launch_cross_entropy_forward<T>(T*, T*, T*, const T*, const int64_t*, const T*, \
                                                int64_t, int64_t, int64_t, double, LossReduce,  \
                                                double*, unsigned long long*, cudaStream_t);    \
  template void launch_nll_loss_forward<T>(T*, T*, const T*, const int64_t*, const T*, int64_t, \
                                           int64_t, int64_t, double, LossReduce, double*,       \
                                           unsigned long long*, cudaStream_t);                  \
  template void launch_cross_entropy_backward<T>(                                               \
      T*, const T*, const T*, const int64_t*, const T*, const T*, int64_t, int64_t, int64_t,    \
      double, LossReduce, double*, unsigned long long*, cudaStream_t);                          \
  template void launch_nll_loss_backward<T>(T*, const T*, const int64_t*, const T*, const T*,   \
                                            int64_t, int64_t, int64_t, double, LossReduce,      \
                                            unsigned long long*, cudaStream_t);
AFN_INSTANTIATE(float)
AFN_INSTANTIATE(double)

}  // namespace afinar::cuda
