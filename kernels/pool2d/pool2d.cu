// Pooling kernels shared by max_pool2d / avg_pool2d and the adaptive pools.
//
// Forward: one thread per output element (grid-stride), scanning its window in the CPU's
//   row-major order, so max values and indices are the CPU's bit for bit. Average pools with
//   large windows (>= 32 elements, e.g. the global 7x7 average of a ResNet head) use a group of
//   8 or 32 lanes per output instead: the lanes read consecutive elements (coalesced) and sum by
//   shuffles.
// Backward: gathers that write every element of grad_input once (no memset, no atomics,
//   deterministic): an element finds the outputs whose window can hold it (closed-form ranges
//   for both window rules) and sums their contributions in increasing output order, which is the
//   CPU's order, so the sum is the CPU's bit for bit. Where few outputs can hold an element, all
//   their loads are issued before any is used: these kernels are bound by memory latency (few
//   bytes in flight per thread) and by index arithmetic, not by bandwidth.
//   avg: a thread per element, over grad_output / divisor precomputed once per output.
//   max: a thread per 4 consecutive elements of a row, sharing their candidate outputs; only the
//   outputs whose saved index is the element contribute. The gather sees an output only if the
//   element lies in its window span, so max_pool2d_backward first checks the indices (any index
//   in the plane is legal for the raw op); the scatter with atomicAdd is the fallback.
//   Measured on an H100 (bench/pool2d_bench.cpp), against PyTorch 2.11 on the same machine:
//   stem [64,64,112,112] 3x3 s2 p1 forward 145 us (torch 204), backward 256 us (torch 633);
//   [256,512,7,7] -> 1x1 forward 12 us (torch 32), backward 32 us (torch 104).
//
// Layouts: every operand is addressed through its strides (NCHW or channels-last, pool2d.h), and
//   the flat thread index walks the array a kernel writes (or scans) in its memory order: w fastest
//   for NCHW, c fastest for channels-last, so consecutive threads touch consecutive addresses. In
//   channels-last the max gather takes a thread per element (its channels' neighbours have the same
//   candidate outputs but their own indices), and the grouped average (lanes along a window row)
//   runs only where a row is contiguous.
//
// Index arithmetic: 32-bit when every flat index and window product fits in 2^30 (the usual
// case), with divisions by the sizes as multiply-high-and-shift (Divisor below); 64-bit
// otherwise.
#include <limits>

#include "common.cuh"
#include "pool2d/pool2d.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

template <typename I>
__host__ __device__ __forceinline__ I imin(I a, I b) {
  return a < b ? a : b;
}

// Division by a runtime divisor. 32-bit: the multiply-high-and-shift of a precomputed magic
// number (Granlund and Montgomery; PyTorch's IntDivider), a few instructions instead of the ~20
// of a 32-bit division (or ~70 of a 64-bit one), which otherwise make the index arithmetic, not
// memory, the limit of these kernels. Valid for numerators in [0, 2^31); ours are below 2^30.
template <typename I>
struct Divisor;

template <>
struct Divisor<int> {
  uint32_t d = 1, magic = 1, shift = 0;
  Divisor() = default;
  explicit Divisor(int64_t divisor) : d(uint32_t(divisor)) {
    while ((uint64_t(1) << shift) < d) ++shift;
    magic = uint32_t(((uint64_t(1) << 32) * ((uint64_t(1) << shift) - d)) / d + 1);
  }
  __device__ __forceinline__ int div(int n) const {
    return int((__umulhi(uint32_t(n), magic) + uint32_t(n)) >> shift);
  }
};

template <>
struct Divisor<int64_t> {
  int64_t d = 1;
  Divisor() = default;
  explicit Divisor(int64_t divisor) : d(divisor) {}
  __device__ __forceinline__ int64_t div(int64_t n) const { return n / d; }
};

// One axis in index type I, with divisors for every division by its sizes.
template <typename I>
struct Axis {
  I in, out, kernel, stride, pad, dil;
  bool adaptive;
  Divisor<I> in_d, out_d, stride_d, dil_d;
};

// q = n / size, r = n % size for n >= 0 (d divides by size).
template <typename I>
__device__ __forceinline__ void divmod(I n, const Divisor<I>& d, I size, I& q, I& r) {
  q = d.div(n);
  r = n - q * size;
}

// A 4-D operand's strides in I; at(n, c, h, w) is the element's offset.
template <typename I>
struct Strides4 {
  I n, c, h, w;
  __device__ __forceinline__ I at(I n_, I c_, I h_, I w_) const {
    return n_ * n + c_ * c + h_ * h + w_ * w;
  }
};

// The channel count, the walking order (PoolGeometry::channels_last) and both operands' strides.
template <typename I>
struct Layout {
  I C;
  Divisor<I> C_d;
  bool channels_last;
  Strides4<I> in, out;
};

// The coordinates (n, c, h, w) of the idx-th element of an [N, C, H, W] array in the layout's
// walking order: w fastest (NCHW) or c fastest (channels-last). Hd, Wd divide by H and W.
template <typename I>
__device__ __forceinline__ void unflatten(const Layout<I>& l, I idx, I H, const Divisor<I>& Hd, I W,
                                          const Divisor<I>& Wd, I& n, I& c, I& h, I& w) {
  I t, u;
  if (l.channels_last) {
    divmod(idx, l.C_d, l.C, t, c);
    divmod(t, Wd, W, u, w);
    divmod(u, Hd, H, n, h);
  } else {
    divmod(idx, Wd, W, t, w);
    divmod(t, Hd, H, u, h);
    divmod(u, l.C_d, l.C, n, c);
  }
}

// ... of an output element (n, c, p, q) and of an input element (n, c, h, w).
template <typename I>
__device__ __forceinline__ void output_coords(const Layout<I>& l, const Axis<I>& rows,
                                              const Axis<I>& cols, I idx, I& n, I& c, I& p, I& q) {
  unflatten(l, idx, rows.out, rows.out_d, cols.out, cols.out_d, n, c, p, q);
}
template <typename I>
__device__ __forceinline__ void input_coords(const Layout<I>& l, const Axis<I>& rows,
                                             const Axis<I>& cols, I idx, I& n, I& c, I& h, I& w) {
  unflatten(l, idx, rows.in, rows.in_d, cols.in, cols.in_d, n, c, h, w);
}

// Output o's window: it reads begin, begin + step, ... < end (all inside [0, in)); padded is
// avg_pool2d's count_include_pad extent (ops::pool_windows, ops::adaptive_pool_windows).
template <typename I>
struct Window {
  I begin, end, step, padded;
};

template <typename I>
__device__ __forceinline__ Window<I> window_of(const Axis<I>& a, I o) {
  Window<I> w;
  if (a.adaptive) {
    w.begin = a.out_d.div(o * a.in);                  // ⌊o·L/n⌋
    w.end = a.out_d.div((o + 1) * a.in + a.out - 1);  // ⌈(o+1)·L/n⌉
    w.step = 1;
    w.padded = w.end - w.begin;
  } else {
    const I start = o * a.stride - a.pad;
    const I last = start + (a.kernel - 1) * a.dil;
    // The first position of the dilated grid start, start + d, ... that is >= 0.
    w.begin = start >= 0 ? start : start + a.dil_d.div(a.dil - 1 - start) * a.dil;
    w.end = imin(last + 1, a.in);
    w.step = a.dil;
    w.padded = a.dil_d.div(imin(last, a.in + a.pad - 1) - start) + 1;
  }
  return w;
}

// Number of positions the window reads.
template <typename I>
__device__ __forceinline__ I count_of(const Window<I>& w) {
  const I span = w.end - w.begin;
  if (span <= 0) return I(0);
  return w.step == 1 ? span : (span + w.step - 1) / w.step;  // avg pools: step 1
}

// The outputs [o0, o1) whose window span holds input position i:
//   regular:  start_o <= i <= start_o + (k-1)·d  <=>  ⌈(i + p - (k-1)·d) / s⌉ <= o <= ⌊(i + p) / s⌋
//   adaptive: ⌊o·L/n⌋ <= i < ⌈(o+1)·L/n⌉        <=>  ⌊i·n/L⌋ <= o < ⌈(i+1)·n/L⌉
template <typename I>
__device__ __forceinline__ void outputs_covering(const Axis<I>& a, I i, I& o0, I& o1) {
  if (a.adaptive) {
    o0 = a.in_d.div(i * a.out);
    o1 = a.in_d.div((i + 1) * a.out + a.in - 1);
  } else {
    const I num = i + a.pad - (a.kernel - 1) * a.dil;
    o0 = num <= 0 ? I(0) : a.stride_d.div(num + a.stride - 1);
    o1 = imin(a.stride_d.div(i + a.pad) + 1, a.out);
  }
}

// avg_pool2d's divisor of the window pair (rows wr, cols wc).
template <typename I>
__device__ __forceinline__ int64_t divisor_of(const Window<I>& wr, const Window<I>& wc,
                                              AvgDivisor d) {
  if (d.divisor_override != 0) return d.divisor_override;
  if (d.count_include_pad) return int64_t(wr.padded) * int64_t(wc.padded);
  return int64_t(count_of(wr)) * int64_t(count_of(wc));
}

// Flat thread index and grid stride in I.
template <typename I>
__device__ __forceinline__ I thread_index() {
  return I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x);
}
template <typename I>
__device__ __forceinline__ I grid_threads() {
  return I(gridDim.x) * I(blockDim.x);
}

// Sums and comparisons in compute_t<T> (runtime/compute_type.h): float for float32 (as PyTorch)
// and for bf16 and f16 (loaded as they are, results rounded once), double for float64.

// ---- forward ----

template <typename T, typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    max_pool_forward_kernel(T* __restrict__ y, int64_t* __restrict__ indices,
                            const T* __restrict__ x, I total, Axis<I> rows, Axis<I> cols,
                            Layout<I> l) {
  const I W = cols.in;
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) {
    I n, c, p, q;
    output_coords(l, rows, cols, idx, n, c, p, q);
    const Window<I> wr = window_of(rows, p), wc = window_of(cols, q);
    const T* in = x + (n * l.in.n + c * l.in.c);
    // The CPU's scan: start from -inf with the first position read, so an all -inf window still
    // points at an input; `v > best || isnan(v)` keeps the first of tied maxima and lets NaN in.
    using A = compute_t<T>;
    A best = -std::numeric_limits<A>::infinity();
    I arg = (wr.begin < wr.end && wc.begin < wc.end) ? wr.begin * W + wc.begin : I(-1);
    for (I h = wr.begin; h < wr.end; h += wr.step)
      for (I w = wc.begin; w < wc.end; w += wc.step) {
        const A v = A(in[h * l.in.h + w * l.in.w]);
        if (v > best || isnan(v)) {
          best = v;
          arg = h * W + w;
        }
      }
    const I o = l.out.at(n, c, p, q);
    y[o] = T(best);  // one of the inputs (or -inf): exact in T
    indices[o] = int64_t(arg);
  }
}

template <typename T, typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    avg_pool_forward_kernel(T* __restrict__ y, const T* __restrict__ x, I total, Axis<I> rows,
                            Axis<I> cols, AvgDivisor d, Layout<I> l) {
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) {
    I n, c, p, q;
    output_coords(l, rows, cols, idx, n, c, p, q);
    const Window<I> wr = window_of(rows, p), wc = window_of(cols, q);
    const T* in = x + (n * l.in.n + c * l.in.c);
    compute_t<T> sum = 0;
    for (I h = wr.begin; h < wr.end; h += wr.step)
      for (I w = wc.begin; w < wc.end; w += wc.step)
        sum += compute_t<T>(in[h * l.in.h + w * l.in.w]);
    y[l.out.at(n, c, p, q)] = T(sum / compute_t<T>(divisor_of(wr, wc, d)));
  }
}

// G lanes per output (avg pools with windows of >= 32 elements: G = 8 up to 128 elements, so a
// warp has four windows' loads in flight, else G = 32). The lanes of a group read consecutive
// elements (coalesced) and sum by shuffles within the group. The loop bound is warp-uniform, so
// every lane reaches the shuffles. Launched only where the input's rows are contiguous (w stride
// 1: NCHW, or channels-last with C = 1), so that the lanes' reads are.
template <typename T, typename I, int G>
__global__ void __launch_bounds__(kThreadsPerBlock)
    avg_pool_forward_group_kernel(T* __restrict__ y, const T* __restrict__ x, I total, Axis<I> rows,
                                  Axis<I> cols, AvgDivisor d, Layout<I> l) {
  constexpr int kGroups = 32 / G;  // outputs per warp
  const I W = cols.in;
  const I lane = I(threadIdx.x % G);
  const I step = grid_threads<I>() / 32 * kGroups;
  for (I base = thread_index<I>() / 32 * kGroups; base < total; base += step) {
    const I o = base + I(threadIdx.x % 32) / G;
    using A = compute_t<T>;
    A sum = 0;
    Window<I> wr{}, wc{};
    I n = 0, c = 0, p = 0, q = 0;
    if (o < total) {
      output_coords(l, rows, cols, o, n, c, p, q);
      wr = window_of(rows, p);
      wc = window_of(cols, q);
      const T* in = x + (n * l.in.n + c * l.in.c);
      const I nw = wc.end - wc.begin;  // avg windows have step 1 and are never empty
      if (nw == W && l.in.h == W) {
        // Whole rows of a dense plane: one contiguous run.
        const I end = wr.end * W;
#pragma unroll 4
        for (I k = wr.begin * W + lane; k < end; k += G) sum += A(in[k]);
      } else {
        const I m = (wr.end - wr.begin) * nw;
#pragma unroll 4
        for (I k = lane; k < m; k += G) {
          const I r = k / nw;
          sum += A(in[(wr.begin + r) * l.in.h + wc.begin + (k - r * nw)]);
        }
      }
    }
#pragma unroll
    for (int off = G / 2; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (o < total && lane == 0) y[l.out.at(n, c, p, q)] = T(sum / A(divisor_of(wr, wc, d)));
  }
}

// ---- backward ----

// Input elements per thread in the max gather.
constexpr int kGatherWidth = 4;

// Σ, p-major (the CPU's order), over the outputs [p0, p1) x [q0, q1) of one plane (ind, g at its
// first element, `out` its strides) of g[o] where ind[o] is `target`.
template <typename T, typename I>
__device__ __forceinline__ compute_t<T> sum_matching(const int64_t* __restrict__ ind,
                                                     const T* __restrict__ g,
                                                     const Strides4<I>& out, I p0, I p1, I q0, I q1,
                                                     int64_t target) {
  using A = compute_t<T>;
  A sum = 0;
  for (I p = p0; p < p1; ++p)
    for (I q = q0; q < q1; ++q) {
      const I o = p * out.h + q * out.w;
      const int64_t k = ind[o];
      const A gv = A(g[o]);
      if (k == target) sum += gv;
    }
  return sum;
}

// A thread per kGatherWidth consecutive elements of an input row: their candidate outputs are
// the union of rows [p0, p1) and columns [qa, qb), read once for all of them. With validated
// indices (max_pool_check_indices_kernel) an output whose index is element e holds e in its
// window span, so it is one of e's own candidates: testing e against the union adds nothing
// else, and the union is walked p-major, the CPU's order.
template <typename T, typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    max_pool_backward_gather_kernel(T* __restrict__ grad_input, const T* __restrict__ grad_output,
                                    const int64_t* __restrict__ indices, I threads, I chunks,
                                    Divisor<I> chunks_d, Axis<I> rows, Axis<I> cols, Layout<I> l,
                                    const unsigned long long* __restrict__ flag) {
  if (*flag != kIndicesOk) return;  // the scatter's case
  constexpr int G = kGatherWidth;
  const I H = rows.in, W = cols.in;
  for (I tid = thread_index<I>(); tid < threads; tid += grid_threads<I>()) {
    I row, chunk, plane, h, n, c;
    divmod(tid, chunks_d, chunks, row, chunk);
    divmod(row, rows.in_d, H, plane, h);
    divmod(plane, l.C_d, l.C, n, c);
    const I w0 = chunk * G;
    const I wn = imin(I(G), W - w0);
    I p0, p1, qa, qb, unused;
    outputs_covering(rows, h, p0, p1);
    outputs_covering(cols, w0, qa, unused);
    outputs_covering(cols, w0 + wn - 1, unused, qb);
    const int64_t base = int64_t(h * W + w0);  // the flat index of element 0
    using A = compute_t<T>;
    const I plane_out = n * l.out.n + c * l.out.c;
    const int64_t* ind = indices + plane_out;
    const T* g = grad_output + plane_out;
    A acc[G];
#pragma unroll
    for (int e = 0; e < G; ++e) acc[e] = 0;
    if (p1 - p0 <= 2 && qb - qa <= 4) {
      // Up to 2x4 candidates (e.g. 3x3 stride 2: 1-2 rows, 3 columns): every load is issued
      // before any is used, so the thread waits for memory once, not once per candidate.
      int64_t k[8];
      A gv[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const I p = p0 + i / 4, q = qa + i % 4;
        const bool ok = p < p1 && q < qb;
        const I o = p * l.out.h + q * l.out.w;
        k[i] = ok ? ind[o] : int64_t(-1);
        gv[i] = ok ? A(g[o]) : A(0);
      }
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const int64_t d = k[i] - base;  // which element, if any, output i credits
#pragma unroll
        for (int e = 0; e < G; ++e)
          if (d == e) acc[e] += gv[i];
      }
    } else {
      for (int e = 0; e < G; ++e) {
        if (e >= wn) break;
        I q0, q1;
        outputs_covering(cols, w0 + e, q0, q1);
        acc[e] = sum_matching(ind, g, l.out, p0, p1, q0, q1, base + e);
      }
    }
    T* out = grad_input + l.in.at(n, c, h, w0);
#pragma unroll
    for (int e = 0; e < G; ++e)
      if (e < wn) out[e * l.in.w] = T(acc[e]);
  }
}

// The channels-last gather: a thread per input element, c fastest (a warp writes consecutive
// channels of one position and reads consecutive channels of its candidate outputs).
template <typename T, typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    max_pool_backward_gather_cl_kernel(T* __restrict__ grad_input,
                                       const T* __restrict__ grad_output,
                                       const int64_t* __restrict__ indices, I total, Axis<I> rows,
                                       Axis<I> cols, Layout<I> l,
                                       const unsigned long long* __restrict__ flag) {
  if (*flag != kIndicesOk) return;  // the scatter's case
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) {
    I n, c, h, w;
    input_coords(l, rows, cols, idx, n, c, h, w);
    I p0, p1, q0, q1;
    outputs_covering(rows, h, p0, p1);
    outputs_covering(cols, w, q0, q1);
    const I plane_out = n * l.out.n + c * l.out.c;
    grad_input[l.in.at(n, c, h, w)] =
        T(sum_matching(indices + plane_out, grad_output + plane_out, l.out, p0, p1, q0, q1,
                       int64_t(h * cols.in + w)));
  }
}

template <typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    max_pool_check_indices_kernel(unsigned long long* __restrict__ flag,
                                  const int64_t* __restrict__ indices, I total, Axis<I> rows,
                                  Axis<I> cols, Layout<I> l) {
  const I W = cols.in;
  const int64_t HW = int64_t(rows.in) * int64_t(W);
  unsigned long long bad = kIndicesOk;  // the smallest (worst) value this thread saw
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) {
    I n, c, p, q;
    output_coords(l, rows, cols, idx, n, c, p, q);
    const int64_t k = indices[l.out.at(n, c, p, q)];
    if (k == -1) continue;
    if (k < 0 || k >= HW) {
      bad = kIndexOutOfRange;
      continue;
    }
    I h, w;
    divmod(I(k), cols.in_d, W, h, w);
    I p0, p1, q0, q1;
    outputs_covering(rows, h, p0, p1);
    outputs_covering(cols, w, q0, q1);
    if (p < p0 || p >= p1 || q < q0 || q >= q1) bad = bad < kIndexOffWindow ? bad : kIndexOffWindow;
  }
  if (bad != kIndicesOk) atomicMin(flag, bad);
}

// grad_input = 0 before the scatter, when the scatter runs (flat: a dense array in either layout
// fills [0, total)).
template <typename T, typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    max_pool_zero_for_scatter_kernel(T* __restrict__ grad_input, I total,
                                     const unsigned long long* __restrict__ flag) {
  if (*flag == kIndicesOk) return;  // the gather's case
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) grad_input[idx] = T(0);
}

template <typename T, typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    max_pool_backward_scatter_kernel(T* __restrict__ grad_input, const T* __restrict__ grad_output,
                                     const int64_t* __restrict__ indices, I total, Axis<I> rows,
                                     Axis<I> cols, Layout<I> l,
                                     const unsigned long long* __restrict__ flag) {
  if (*flag == kIndicesOk) return;  // the gather's case
  const int64_t HW = int64_t(rows.in) * int64_t(cols.in);
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) {
    I n, c, p, q;
    output_coords(l, rows, cols, idx, n, c, p, q);
    const I o = l.out.at(n, c, p, q);
    const int64_t k = indices[o];
    if (k < 0 || k >= HW) continue;
    I h, w;
    divmod(I(k), cols.in_d, cols.in, h, w);
    atomicAdd(grad_input + l.in.at(n, c, h, w), grad_output[o]);
  }
}

// shares[o] = grad_output[o] / D(o): the CPU's share T(g / D) (a float quotient equals the double
// one rounded to float), computed once per output instead of once per (input, output) pair.
template <typename T, typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    avg_pool_shares_kernel(compute_t<T>* __restrict__ shares, const T* __restrict__ grad_output,
                           I total, Axis<I> rows, Axis<I> cols, AvgDivisor d, Layout<I> l) {
  using A = compute_t<T>;
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) {
    I n, c, p, q;
    output_coords(l, rows, cols, idx, n, c, p, q);
    const I o = l.out.at(n, c, p, q);
    shares[o] = A(grad_output[o]) / A(divisor_of(window_of(rows, p), window_of(cols, q), d));
  }
}

// grad_input[e] = Σ shares of the windows holding e, added in increasing output order into zero
// (the CPU's order).
template <typename T, typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    avg_pool_backward_kernel(T* __restrict__ grad_input, const compute_t<T>* __restrict__ shares,
                             I total, Axis<I> rows, Axis<I> cols, Layout<I> l) {
  using A = compute_t<T>;
  const I sp = l.out.h, sq = l.out.w;
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) {
    I n, c, h, w;
    input_coords(l, rows, cols, idx, n, c, h, w);
    I p0, p1, q0, q1;
    outputs_covering(rows, h, p0, p1);
    outputs_covering(cols, w, q0, q1);
    const A* sh = shares + (n * l.out.n + c * l.out.c);
    A acc = 0;
    if (p1 - p0 <= 2 && q1 - q0 <= 2) {
      // At most 2x2 windows hold the element: all loads first (see the max gather).
      A v[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const I p = p0 + i / 2, q = q0 + i % 2;
        v[i] = p < p1 && q < q1 ? sh[p * sp + q * sq] : A(0);
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)  // p-major
        if (p0 + i / 2 < p1 && q0 + i % 2 < q1) acc += v[i];
    } else {
      for (I p = p0; p < p1; ++p)
        for (I q = q0; q < q1; ++q) acc += sh[p * sp + q * sq];
    }
    grad_input[l.in.at(n, c, h, w)] = T(acc);
  }
}

// ---- host side ----

constexpr int64_t kLimit32 = int64_t(1) << 30;

bool axis_fits32(const PoolAxis& a) {
  if (a.input >= kLimit32 || a.output >= kLimit32) return false;
  if (a.adaptive) return (a.output + 1) * (a.input + 1) < kLimit32;
  if (a.kernel >= kLimit32 || a.stride >= kLimit32 || a.padding >= kLimit32 ||
      a.dilation >= kLimit32)
    return false;
  return a.input + 2 * a.padding + a.kernel * a.dilation + (a.output + 1) * a.stride < kLimit32;
}

int64_t total_in(const PoolGeometry& g) {
  return g.batch * g.channels * g.rows.input * g.cols.input;
}
int64_t total_out(const PoolGeometry& g) {
  return g.batch * g.channels * g.rows.output * g.cols.output;
}

// Every flat index (a dense operand's offsets and strides are below its size), window position
// and intermediate product fits in 2^30 (with room for a grid
// stride added past the end).
bool fits32(const PoolGeometry& g) {
  return axis_fits32(g.rows) && axis_fits32(g.cols) && g.channels < kLimit32 &&
         total_in(g) < kLimit32 && total_out(g) < kLimit32;
}

template <typename I>
Axis<I> to_axis(const PoolAxis& a) {
  Axis<I> x;
  x.in = I(a.input);
  x.out = I(a.output);
  x.kernel = I(a.kernel);
  x.stride = I(a.stride);
  x.pad = I(a.padding);
  x.dil = I(a.dilation);
  x.adaptive = a.adaptive;
  x.in_d = Divisor<I>(a.input);
  x.out_d = Divisor<I>(a.output);
  x.stride_d = Divisor<I>(a.stride);
  x.dil_d = Divisor<I>(a.dilation);
  return x;
}

template <typename I>
Strides4<I> to_strides(const PoolStrides& s) {
  return {I(s.n), I(s.c), I(s.h), I(s.w)};
}

template <typename I>
Layout<I> to_layout(const PoolGeometry& g) {
  Layout<I> l;
  l.C = I(g.channels);
  l.C_d = Divisor<I>(g.channels);
  l.channels_last = g.channels_last;
  l.in = to_strides<I>(g.input);
  l.out = to_strides<I>(g.output);
  return l;
}

// Calls f(I{}) with I = int (when everything fits) or int64_t.
template <typename F>
void with_index_type(const PoolGeometry& g, F&& f) {
  if (fits32(g))
    f(int{});
  else
    f(int64_t{});
}

// Largest number of elements any window of the axis reads (an upper bound).
int64_t max_window(const PoolAxis& a) {
  if (a.adaptive) return (a.input + a.output - 1) / a.output + 1;
  return a.kernel < a.input ? a.kernel : a.input;
}

}  // namespace

template <typename T>
void launch_max_pool2d_forward(T* y, int64_t* indices, const T* x, const PoolGeometry& g,
                               cudaStream_t stream) {
  const int64_t n = total_out(g);
  if (n == 0) return;
  with_index_type(g, [&](auto tag) {
    using I = decltype(tag);
    max_pool_forward_kernel<T, I><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(
        y, indices, x, I(n), to_axis<I>(g.rows), to_axis<I>(g.cols), to_layout<I>(g));
    AFN_CUDA_LAUNCH_CHECK();
  });
}

void launch_max_pool2d_check_indices(unsigned long long* flag, const int64_t* indices,
                                     const PoolGeometry& g, cudaStream_t stream) {
  const int64_t n = total_out(g);
  if (n == 0) return;
  with_index_type(g, [&](auto tag) {
    using I = decltype(tag);
    max_pool_check_indices_kernel<I><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(
        flag, indices, I(n), to_axis<I>(g.rows), to_axis<I>(g.cols), to_layout<I>(g));
    AFN_CUDA_LAUNCH_CHECK();
  });
}

template <typename T>
void launch_max_pool2d_backward_gather(T* grad_input, const T* grad_output, const int64_t* indices,
                                       const PoolGeometry& g, const unsigned long long* flag,
                                       cudaStream_t stream) {
  const int64_t n = total_in(g);
  if (n == 0) return;
  with_index_type(g, [&](auto tag) {
    using I = decltype(tag);
    if (g.channels_last) {
      max_pool_backward_gather_cl_kernel<T, I><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(
          grad_input, grad_output, indices, I(n), to_axis<I>(g.rows), to_axis<I>(g.cols),
          to_layout<I>(g), flag);
    } else {
      const int64_t chunks = (g.cols.input + kGatherWidth - 1) / kGatherWidth;
      const int64_t threads = g.batch * g.channels * g.rows.input * chunks;
      max_pool_backward_gather_kernel<T, I><<<blocks_for(threads), kThreadsPerBlock, 0, stream>>>(
          grad_input, grad_output, indices, I(threads), I(chunks), Divisor<I>(chunks),
          to_axis<I>(g.rows), to_axis<I>(g.cols), to_layout<I>(g), flag);
    }
    AFN_CUDA_LAUNCH_CHECK();
  });
}

template <typename T>
void launch_max_pool2d_backward_scatter(T* grad_input, const T* grad_output, const int64_t* indices,
                                        const PoolGeometry& g, const unsigned long long* flag,
                                        cudaStream_t stream) {
  const int64_t m = total_in(g), n = total_out(g);
  if (m == 0) return;
  with_index_type(g, [&](auto tag) {
    using I = decltype(tag);
    max_pool_zero_for_scatter_kernel<T, I>
        <<<blocks_for(m), kThreadsPerBlock, 0, stream>>>(grad_input, I(m), flag);
    AFN_CUDA_LAUNCH_CHECK();
    if (n == 0) return;
    max_pool_backward_scatter_kernel<T, I><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(
        grad_input, grad_output, indices, I(n), to_axis<I>(g.rows), to_axis<I>(g.cols),
        to_layout<I>(g), flag);
    AFN_CUDA_LAUNCH_CHECK();
  });
}

template <typename T>
void launch_avg_pool2d_forward(T* y, const T* x, const PoolGeometry& g, AvgDivisor d,
                               cudaStream_t stream) {
  const int64_t n = total_out(g);
  if (n == 0) return;
  const int64_t area = max_window(g.rows) * max_window(g.cols);
  // Lanes along a window's rows only where those are contiguous; in channels-last a thread per
  // output (consecutive channels) reads consecutive elements instead.
  const bool rows_contiguous = g.input.w == 1;
  with_index_type(g, [&](auto tag) {
    using I = decltype(tag);
    const Layout<I> l = to_layout<I>(g);
    if (area > 128 && rows_contiguous) {
      avg_pool_forward_group_kernel<T, I, 32><<<blocks_for(n * 32), kThreadsPerBlock, 0, stream>>>(
          y, x, I(n), to_axis<I>(g.rows), to_axis<I>(g.cols), d, l);
    } else if (area >= 32 && rows_contiguous) {
      avg_pool_forward_group_kernel<T, I, 8><<<blocks_for(n * 8), kThreadsPerBlock, 0, stream>>>(
          y, x, I(n), to_axis<I>(g.rows), to_axis<I>(g.cols), d, l);
    } else {
      avg_pool_forward_kernel<T, I><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(
          y, x, I(n), to_axis<I>(g.rows), to_axis<I>(g.cols), d, l);
    }
    AFN_CUDA_LAUNCH_CHECK();
  });
}

template <typename T>
void launch_avg_pool2d_backward(T* grad_input, const T* grad_output, compute_t<T>* shares,
                                const PoolGeometry& g, AvgDivisor d, cudaStream_t stream) {
  const int64_t n = total_in(g), m = total_out(g);
  if (n == 0) return;
  with_index_type(g, [&](auto tag) {
    using I = decltype(tag);
    const Axis<I> rows = to_axis<I>(g.rows), cols = to_axis<I>(g.cols);
    const Layout<I> l = to_layout<I>(g);
    avg_pool_shares_kernel<T, I><<<blocks_for(m), kThreadsPerBlock, 0, stream>>>(
        shares, grad_output, I(m), rows, cols, d, l);
    AFN_CUDA_LAUNCH_CHECK();
    avg_pool_backward_kernel<T, I>
        <<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(grad_input, shares, I(n), rows, cols, l);
    AFN_CUDA_LAUNCH_CHECK();
  });
}

#define AFN_INSTANTIATE(T)                                                                         \
  template void launch_max_pool2d_forward<T>(T*, int64_t*, const T*, const PoolGeometry&,          \
                                             cudaStream_t);                                        \
  template void launch_max_pool2d_backward_gather<T>(                                              \
      T*, const T*, const int64_t*, const PoolGeometry&, const unsigned long long*, cudaStream_t); \
  template void launch_max_pool2d_backward_scatter<T>(                                             \
      T*, const T*, const int64_t*, const PoolGeometry&, const unsigned long long*, cudaStream_t); \
  template void launch_avg_pool2d_forward<T>(T*, const T*, const PoolGeometry&, AvgDivisor,        \
                                             cudaStream_t);                                        \
  template void launch_avg_pool2d_backward<T>(T*, const T*, compute_t<T>*, const PoolGeometry&,    \
                                              AvgDivisor, cudaStream_t);
AFN_FOR_FLOATING_AND_16BIT(AFN_INSTANTIATE)
#undef AFN_INSTANTIATE

}  // namespace afinar::cuda
