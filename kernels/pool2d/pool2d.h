// Launchers of the pooling kernels behind max_pool2d / avg_pool2d and the adaptive pools (the
// adaptive ops reuse them with the adaptive window rule, as the CPU reference does). Device arrays
// [N, C, H, W] in, [N, C, P, Q] out, each dense NCHW or channels-last and addressed through its
// strides (PoolGeometry); T float, double, __nv_bfloat16 or __half. Indices hold the flat h·W + w
// within the [H, W] plane whatever the layout, as PyTorch's.
//
// The window geometry mirrors ops::pool_windows / ops::adaptive_pool_windows exactly (pool2d.cu
// recomputes it per output on the device instead of uploading tables):
//   regular:  output o reads start + i·dilation (i < kernel) inside [0, input),
//             start = o·stride - padding
//   adaptive: output o reads [⌊o·input/output⌋, ⌈(o+1)·input/output⌉)
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "runtime/compute_type.h"

namespace afinar::cuda {

// One axis (rows or columns) of the pooling geometry.
struct PoolAxis {
  int64_t input = 0, output = 0;
  bool adaptive = false;
  // Regular pools only (ignored when adaptive); stride resolved (never 0).
  int64_t kernel = 1, stride = 1, padding = 0, dilation = 1;
};

// Element strides of a dense 4-D operand [N, C, rows, cols]: NCHW {C·H·W, H·W, W, 1} or
// channels-last {H·W·C, 1, W·C, C} (either where they coincide).
struct PoolStrides {
  int64_t n = 0, c = 0, h = 0, w = 0;
};

struct PoolGeometry {
  int64_t batch = 0, channels = 0;  // N, C
  PoolAxis rows, cols;
  // input: x or grad_input; output: y, indices, grad_output (one layout per call, so the indices
  // and grad_output share the output's strides).
  PoolStrides input, output;
  // The order consecutive threads walk the elements of the array they write (or scan): true c
  // fastest (some operand is channels-last and not NCHW-contiguous), false w fastest. Either
  // order is correct for any strides; this one keeps the accesses coalesced.
  bool channels_last = false;
};

// avg_pool2d's divisor rule (pool2d.h): divisor_override if nonzero, else the padded window's area
// if count_include_pad, else the number of elements summed. Adaptive pools: {false, 0}.
struct AvgDivisor {
  bool count_include_pad = false;
  int64_t divisor_override = 0;
};

// y = window max, indices = its flat h·W + w in the plane (-1 for an all-padding window); the
// CPU's scan order, tie and NaN rules, so values and indices equal the CPU's bit for bit.
template <typename T>
void launch_max_pool2d_forward(T* y, int64_t* indices, const T* x, const PoolGeometry& g,
                               cudaStream_t stream);

// The backward checks its indices on the device into *flag (a runtime/deferred_check.h flag:
// kIndicesOk, all ones, until lowered with atomicMin) and picks its kernel there too, so the host
// never waits: the gather runs when the flag stayed kIndicesOk, the zero fill and the scatter
// otherwise (each launched, each returning at once when it is not its case).
//   kIndexOffWindow   some index lies in the plane but outside the span of its own output's
//                     window: legal for the raw op, but the gather would miss it
//   kIndexOutOfRange  some index lies outside [-1, H·W): an error (the scatter skips it); the
//                     smaller value, so atomicMin keeps it over kIndexOffWindow
inline constexpr unsigned long long kIndicesOk = ~0ull;
inline constexpr unsigned long long kIndexOffWindow = kIndicesOk - 1;
inline constexpr unsigned long long kIndexOutOfRange = kIndicesOk - 2;
void launch_max_pool2d_check_indices(unsigned long long* flag, const int64_t* indices,
                                     const PoolGeometry& g, cudaStream_t stream);

// grad_input[e] = Σ over the outputs o whose window span holds e, in increasing o, of
// grad_output[o] where indices[o] = e: a thread per 4 consecutive input elements of a row (NCHW)
// or per element (channels-last), no atomics, deterministic, the CPU's summation order. Exact when
// every index passed the check above; does nothing when *flag says one did not.
template <typename T>
void launch_max_pool2d_backward_gather(T* grad_input, const T* grad_output, const int64_t* indices,
                                       const PoolGeometry& g, const unsigned long long* flag,
                                       cudaStream_t stream);
// When *flag is not kIndicesOk: grad_input = 0, then grad_input[indices[o]] += grad_output[o] by
// atomicAdd (any in-plane index; -1 and out-of-range ones skipped). Otherwise nothing.
template <typename T>
void launch_max_pool2d_backward_scatter(T* grad_input, const T* grad_output, const int64_t* indices,
                                        const PoolGeometry& g, const unsigned long long* flag,
                                        cudaStream_t stream);

// y = window sum / divisor (float accumulation for float32, as PyTorch).
template <typename T>
void launch_avg_pool2d_forward(T* y, const T* x, const PoolGeometry& g, AvgDivisor d,
                               cudaStream_t stream);
// grad_input[e] = Σ over the windows holding e, in increasing output order, of
// grad_output / divisor: a gather, one thread per input element, every element written.
// `shares` is scratch of grad_output's size (N·C·P·Q elements of compute_t<T>) for
// grad_output / divisor, laid out with grad_output's strides.
template <typename T>
void launch_avg_pool2d_backward(T* grad_input, const T* grad_output, compute_t<T>* shares,
                                const PoolGeometry& g, AvgDivisor d, cudaStream_t stream);

}  // namespace afinar::cuda
