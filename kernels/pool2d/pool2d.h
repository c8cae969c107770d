// Launchers of the pooling kernels behind max_pool2d / avg_pool2d and the adaptive pools (the
// adaptive ops reuse them with the adaptive window rule, as the CPU reference does). Contiguous
// device arrays [planes, H, W] in, [planes, P, Q] out; T float or double.
//
// The window geometry mirrors ops::pool_windows / ops::adaptive_pool_windows exactly (pool2d.cu
// recomputes it per output on the device instead of uploading tables):
//   regular:  output o reads start + i·dilation (i < kernel) inside [0, input),
//             start = o·stride - padding
//   adaptive: output o reads [⌊o·input/output⌋, ⌈(o+1)·input/output⌉)
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace afinar::cuda {

// One axis (rows or columns) of the pooling geometry.
struct PoolAxis {
  int64_t input = 0, output = 0;
  bool adaptive = false;
  // Regular pools only (ignored when adaptive); stride resolved (never 0).
  int64_t kernel = 1, stride = 1, padding = 0, dilation = 1;
};

struct PoolGeometry {
  int64_t planes = 0;  // N·C
  PoolAxis rows, cols;
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

// Checks a backward's indices before the gather: ORs into the device int *flags
//   kIndexOutOfRange  some index lies outside [-1, H·W) (the op reports an error)
//   kIndexOffWindow   some index lies in the plane but outside the span of its own output's
//                     window (legal for the raw op, but the gather would miss it: use the scatter)
// *flags must be zeroed by the caller.
inline constexpr int kIndexOutOfRange = 1;
inline constexpr int kIndexOffWindow = 2;
void launch_max_pool2d_check_indices(int* flags, const int64_t* indices, const PoolGeometry& g,
                                     cudaStream_t stream);

// grad_input[e] = Σ over the outputs o whose window span holds e, in increasing o, of
// grad_output[o] where indices[o] = e: a thread per 4 consecutive input elements, no atomics,
// deterministic, the CPU's summation order. Exact when every index passed the check above.
template <typename T>
void launch_max_pool2d_backward_gather(T* grad_input, const T* grad_output, const int64_t* indices,
                                       const PoolGeometry& g, cudaStream_t stream);
// grad_input[indices[o]] += grad_output[o] by atomicAdd (any in-plane index; -1 and out-of-range
// ones skipped). grad_input must be zeroed first. The fallback for indices that are off-window.
template <typename T>
void launch_max_pool2d_backward_scatter(T* grad_input, const T* grad_output, const int64_t* indices,
                                        const PoolGeometry& g, cudaStream_t stream);

// y = window sum / divisor (float accumulation for float32, as PyTorch).
template <typename T>
void launch_avg_pool2d_forward(T* y, const T* x, const PoolGeometry& g, AvgDivisor d,
                               cudaStream_t stream);
// grad_input[e] = Σ over the windows holding e, in increasing output order, of
// grad_output / divisor: a gather, one thread per input element, every element written.
// `shares` is scratch of grad_output's size (planes·P·Q elements) for grad_output / divisor.
template <typename T>
void launch_avg_pool2d_backward(T* grad_input, const T* grad_output, T* shares,
                                const PoolGeometry& g, AvgDivisor d, cudaStream_t stream);

}  // namespace afinar::cuda
