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
// and for bf16 (loaded as bf16, results rounded once), double for float64.

// ---- forward ----

template <typename T, typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    max_pool_forward_kernel(T* __restrict__ y, int64_t* __restrict__ indices,
                            const T* __restrict__ x, I total, Axis<I> rows, Axis<I> cols) {
  const I P = rows.out, Q = cols.out, H = rows.in, W = cols.in;
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) {
    I q, t, p, plane;
    divmod(idx, cols.out_d, Q, t, q);
    divmod(t, rows.out_d, P, plane, p);
    const Window<I> wr = window_of(rows, p), wc = window_of(cols, q);
    const T* in = x + plane * H * W;
    // The CPU's scan: start from -inf with the first position read, so an all -inf window still
    // points at an input; `v > best || isnan(v)` keeps the first of tied maxima and lets NaN in.
    using A = compute_t<T>;
    A best = -std::numeric_limits<A>::infinity();
    I arg = (wr.begin < wr.end && wc.begin < wc.end) ? wr.begin * W + wc.begin : I(-1);
    for (I h = wr.begin; h < wr.end; h += wr.step)
      for (I w = wc.begin; w < wc.end; w += wc.step) {
        const A v = A(in[h * W + w]);
        if (v > best || isnan(v)) {
          best = v;
          arg = h * W + w;
        }
      }
    y[idx] = T(best);  // one of the inputs (or -inf): exact in T
    indices[idx] = int64_t(arg);
  }
}

template <typename T, typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    avg_pool_forward_kernel(T* __restrict__ y, const T* __restrict__ x, I total, Axis<I> rows,
                            Axis<I> cols, AvgDivisor d) {
  const I P = rows.out, Q = cols.out, H = rows.in, W = cols.in;
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) {
    I q, t, p, plane;
    divmod(idx, cols.out_d, Q, t, q);
    divmod(t, rows.out_d, P, plane, p);
    const Window<I> wr = window_of(rows, p), wc = window_of(cols, q);
    const T* in = x + plane * H * W;
    compute_t<T> sum = 0;
    for (I h = wr.begin; h < wr.end; h += wr.step)
      for (I w = wc.begin; w < wc.end; w += wc.step) sum += compute_t<T>(in[h * W + w]);
    y[idx] = T(sum / compute_t<T>(divisor_of(wr, wc, d)));
  }
}

// G lanes per output (avg pools with windows of >= 32 elements: G = 8 up to 128 elements, so a
// warp has four windows' loads in flight, else G = 32). The lanes of a group read consecutive
// elements (coalesced) and sum by shuffles within the group. The loop bound is warp-uniform, so
// every lane reaches the shuffles.
template <typename T, typename I, int G>
__global__ void __launch_bounds__(kThreadsPerBlock)
    avg_pool_forward_group_kernel(T* __restrict__ y, const T* __restrict__ x, I total, Axis<I> rows,
                                  Axis<I> cols, AvgDivisor d) {
  constexpr int kGroups = 32 / G;  // outputs per warp
  const I P = rows.out, Q = cols.out, H = rows.in, W = cols.in;
  const I lane = I(threadIdx.x % G);
  const I step = grid_threads<I>() / 32 * kGroups;
  for (I base = thread_index<I>() / 32 * kGroups; base < total; base += step) {
    const I o = base + I(threadIdx.x % 32) / G;
    using A = compute_t<T>;
    A sum = 0;
    Window<I> wr{}, wc{};
    if (o < total) {
      I q, t, p, plane;
      divmod(o, cols.out_d, Q, t, q);
      divmod(t, rows.out_d, P, plane, p);
      wr = window_of(rows, p);
      wc = window_of(cols, q);
      const T* in = x + plane * H * W;
      const I nw = wc.end - wc.begin;  // avg windows have step 1 and are never empty
      if (nw == W) {
        // Whole rows: one contiguous run.
        const I end = wr.end * W;
#pragma unroll 4
        for (I k = wr.begin * W + lane; k < end; k += G) sum += A(in[k]);
      } else {
        const I n = (wr.end - wr.begin) * nw;
#pragma unroll 4
        for (I k = lane; k < n; k += G) {
          const I r = k / nw;
          sum += A(in[(wr.begin + r) * W + wc.begin + (k - r * nw)]);
        }
      }
    }
#pragma unroll
    for (int off = G / 2; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (o < total && lane == 0) y[o] = T(sum / A(divisor_of(wr, wc, d)));
  }
}

// ---- backward ----

// Input elements per thread in the max gather.
constexpr int kGatherWidth = 4;

// A thread per kGatherWidth consecutive elements of an input row: their candidate outputs are
// the union of rows [p0, p1) and columns [qa, qb), read once for all of them. With validated
// indices (max_pool_check_indices_kernel) an output whose index is element e holds e in its
// window span, so it is one of e's own candidates: testing e against the union adds nothing
// else, and the union is walked p-major, the CPU's order.
template <typename T, typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    max_pool_backward_gather_kernel(T* __restrict__ grad_input, const T* __restrict__ grad_output,
                                    const int64_t* __restrict__ indices, I threads, I chunks,
                                    Divisor<I> chunks_d, Axis<I> rows, Axis<I> cols,
                                    const unsigned long long* __restrict__ flag) {
  if (*flag != kIndicesOk) return;  // the scatter's case
  constexpr int G = kGatherWidth;
  const I P = rows.out, Q = cols.out, H = rows.in, W = cols.in;
  for (I tid = thread_index<I>(); tid < threads; tid += grid_threads<I>()) {
    I row, chunk, plane, h;
    divmod(tid, chunks_d, chunks, row, chunk);
    divmod(row, rows.in_d, H, plane, h);
    const I w0 = chunk * G;
    const I wn = imin(I(G), W - w0);
    I p0, p1, qa, qb, unused;
    outputs_covering(rows, h, p0, p1);
    outputs_covering(cols, w0, qa, unused);
    outputs_covering(cols, w0 + wn - 1, unused, qb);
    const int64_t base = int64_t(h * W + w0);  // the flat index of element 0
    using A = compute_t<T>;
    const int64_t* ind = indices + plane * P * Q;
    const T* g = grad_output + plane * P * Q;
    A acc[G];
#pragma unroll
    for (int e = 0; e < G; ++e) acc[e] = 0;
    if (p1 - p0 <= 2 && qb - qa <= 4) {
      // Up to 2x4 candidates (e.g. 3x3 stride 2: 1-2 rows, 3 columns): every load is issued
      // before any is used, so the thread waits for memory once, not once per candidate.
      int64_t k[8];
      A gv[8];
#pragma unroll
      for (int c = 0; c < 8; ++c) {
        const I p = p0 + c / 4, q = qa + c % 4;
        const bool ok = p < p1 && q < qb;
        k[c] = ok ? ind[p * Q + q] : int64_t(-1);
        gv[c] = ok ? A(g[p * Q + q]) : A(0);
      }
#pragma unroll
      for (int c = 0; c < 8; ++c) {
        const int64_t d = k[c] - base;  // which element, if any, output c credits
#pragma unroll
        for (int e = 0; e < G; ++e)
          if (d == e) acc[e] += gv[c];
      }
    } else {
      for (int e = 0; e < G; ++e) {
        if (e >= wn) break;
        I q0, q1;
        outputs_covering(cols, w0 + e, q0, q1);
        const int64_t target = base + e;
        A sum = 0;
        for (I p = p0; p < p1; ++p)
          for (I q = q0; q < q1; ++q) {
            const int64_t k = ind[p * Q + q];
            const A gv = A(g[p * Q + q]);
            if (k == target) sum += gv;
          }
        acc[e] = sum;
      }
    }
    T* out = grad_input + row * W + w0;
#pragma unroll
    for (int e = 0; e < G; ++e)
      if (e < wn) out[e] = T(acc[e]);
  }
}

template <typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    max_pool_check_indices_kernel(unsigned long long* __restrict__ flag,
                                  const int64_t* __restrict__ indices, I total, Axis<I> rows,
                                  Axis<I> cols) {
  const I P = rows.out, Q = cols.out, W = cols.in;
  const int64_t HW = int64_t(rows.in) * int64_t(W);
  unsigned long long bad = kIndicesOk;  // the smallest (worst) value this thread saw
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) {
    const int64_t k = indices[idx];
    if (k == -1) continue;
    if (k < 0 || k >= HW) {
      bad = kIndexOutOfRange;
      continue;
    }
    I q, t, p, plane, h, w;
    divmod(idx, cols.out_d, Q, t, q);
    divmod(t, rows.out_d, P, plane, p);
    divmod(I(k), cols.in_d, W, h, w);
    I p0, p1, q0, q1;
    outputs_covering(rows, h, p0, p1);
    outputs_covering(cols, w, q0, q1);
    if (p < p0 || p >= p1 || q < q0 || q >= q1) bad = bad < kIndexOffWindow ? bad : kIndexOffWindow;
  }
  if (bad != kIndicesOk) atomicMin(flag, bad);
}

// grad_input = 0 before the scatter, when the scatter runs.
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
                                     const int64_t* __restrict__ indices, I total, I PQ, int64_t HW,
                                     const unsigned long long* __restrict__ flag) {
  if (*flag == kIndicesOk) return;  // the gather's case
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) {
    const int64_t k = indices[idx];
    if (k >= 0 && k < HW) atomicAdd(grad_input + int64_t(idx / PQ) * HW + k, grad_output[idx]);
  }
}

// shares[o] = grad_output[o] / D(o): the CPU's share T(g / D) (a float quotient equals the double
// one rounded to float), computed once per output instead of once per (input, output) pair.
template <typename T, typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    avg_pool_shares_kernel(compute_t<T>* __restrict__ shares, const T* __restrict__ grad_output,
                           I total, Axis<I> rows, Axis<I> cols, AvgDivisor d) {
  using A = compute_t<T>;
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) {
    I q, t, p, plane;
    divmod(idx, cols.out_d, cols.out, t, q);
    divmod(t, rows.out_d, rows.out, plane, p);
    shares[idx] = A(grad_output[idx]) / A(divisor_of(window_of(rows, p), window_of(cols, q), d));
  }
}

// grad_input[e] = Σ shares of the windows holding e, added in increasing output order into zero
// (the CPU's order).
template <typename T, typename I>
__global__ void __launch_bounds__(kThreadsPerBlock)
    avg_pool_backward_kernel(T* __restrict__ grad_input, const compute_t<T>* __restrict__ shares,
                             I total, Axis<I> rows, Axis<I> cols) {
  using A = compute_t<T>;
  const I P = rows.out, Q = cols.out, H = rows.in, W = cols.in;
  for (I idx = thread_index<I>(); idx < total; idx += grid_threads<I>()) {
    I w, t, h, plane;
    divmod(idx, cols.in_d, W, t, w);
    divmod(t, rows.in_d, H, plane, h);
    I p0, p1, q0, q1;
    outputs_covering(rows, h, p0, p1);
    outputs_covering(cols, w, q0, q1);
    const A* sh = shares + plane * P * Q;
    A acc = 0;
    if (p1 - p0 <= 2 && q1 - q0 <= 2) {
      // At most 2x2 windows hold the element: all loads first (see the max gather).
      A v[4];
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const I p = p0 + c / 2, q = q0 + c % 2;
        v[c] = p < p1 && q < q1 ? sh[p * Q + q] : A(0);
      }
#pragma unroll
      for (int c = 0; c < 4; ++c)  // p-major
        if (p0 + c / 2 < p1 && q0 + c % 2 < q1) acc += v[c];
    } else {
      for (I p = p0; p < p1; ++p)
        for (I q = q0; q < q1; ++q) acc += sh[p * Q + q];
    }
    grad_input[idx] = T(acc);
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

// Every flat index, window position and intermediate product fits in 2^30 (with room for a grid
// stride added past the end).
bool fits32(const PoolGeometry& g) {
  return axis_fits32(g.rows) && axis_fits32(g.cols) &&
         g.planes * g.rows.input * g.cols.input < kLimit32 &&
         g.planes * g.rows.output * g.cols.output < kLimit32;
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

// Calls f(I{}) with I = int (when everything fits) or int64_t.
template <typename F>
void with_index_type(const PoolGeometry& g, F&& f) {
  if (fits32(g))
    f(int{});
  else
    f(int64_t{});
}

int64_t total_in(const PoolGeometry& g) {
  return g.planes * g.rows.input * g.cols.input;
}
int64_t total_out(const PoolGeometry& g) {
  return g.planes * g.rows.output * g.cols.output;
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
        y, indices, x, I(n), to_axis<I>(g.rows), to_axis<I>(g.cols));
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
        flag, indices, I(n), to_axis<I>(g.rows), to_axis<I>(g.cols));
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
    const int64_t chunks = (g.cols.input + kGatherWidth - 1) / kGatherWidth;
    const int64_t threads = g.planes * g.rows.input * chunks;
    max_pool_backward_gather_kernel<T, I><<<blocks_for(threads), kThreadsPerBlock, 0, stream>>>(
        grad_input, grad_output, indices, I(threads), I(chunks), Divisor<I>(chunks),
        to_axis<I>(g.rows), to_axis<I>(g.cols), flag);
    AFN_CUDA_LAUNCH_CHECK();
  });
}

template <typename T>
void launch_max_pool2d_backward_scatter(T* grad_input, const T* grad_output, const int64_t* indices,
                                        const PoolGeometry& g, const unsigned long long* flag,
                                        cudaStream_t stream) {
  const int64_t m = total_in(g), n = total_out(g);
  if (m == 0) return;
  const int64_t PQ = g.rows.output * g.cols.output, HW = g.rows.input * g.cols.input;
  with_index_type(g, [&](auto tag) {
    using I = decltype(tag);
    max_pool_zero_for_scatter_kernel<T, I>
        <<<blocks_for(m), kThreadsPerBlock, 0, stream>>>(grad_input, I(m), flag);
    AFN_CUDA_LAUNCH_CHECK();
    if (n == 0) return;
    max_pool_backward_scatter_kernel<T, I><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(
        grad_input, grad_output, indices, I(n), I(PQ), HW, flag);
    AFN_CUDA_LAUNCH_CHECK();
  });
}

template <typename T>
void launch_avg_pool2d_forward(T* y, const T* x, const PoolGeometry& g, AvgDivisor d,
                               cudaStream_t stream) {
  const int64_t n = total_out(g);
  if (n == 0) return;
  const int64_t area = max_window(g.rows) * max_window(g.cols);
  with_index_type(g, [&](auto tag) {
    using I = decltype(tag);
    if (area > 128) {
      avg_pool_forward_group_kernel<T, I, 32><<<blocks_for(n * 32), kThreadsPerBlock, 0, stream>>>(
          y, x, I(n), to_axis<I>(g.rows), to_axis<I>(g.cols), d);
    } else if (area >= 32) {
      avg_pool_forward_group_kernel<T, I, 8><<<blocks_for(n * 8), kThreadsPerBlock, 0, stream>>>(
          y, x, I(n), to_axis<I>(g.rows), to_axis<I>(g.cols), d);
    } else {
      avg_pool_forward_kernel<T, I><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(
          y, x, I(n), to_axis<I>(g.rows), to_axis<I>(g.cols), d);
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
    avg_pool_shares_kernel<T, I>
        <<<blocks_for(m), kThreadsPerBlock, 0, stream>>>(shares, grad_output, I(m), rows, cols, d);
    AFN_CUDA_LAUNCH_CHECK();
    avg_pool_backward_kernel<T, I>
        <<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(grad_input, shares, I(n), rows, cols);
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
AFN_INSTANTIATE(float)
AFN_INSTANTIATE(double)
AFN_INSTANTIATE(__nv_bfloat16)
#undef AFN_INSTANTIATE

}  // namespace afinar::cuda
