// Reductions.
//
//   sum(x, dims, keepdim):   y = Σ_{i ∈ dims} x_i       dL/dx = g broadcast back over dims
//   mean(x, dims, keepdim):  y = (1/n) Σ_{i ∈ dims} x_i  dL/dx = g/n broadcast, n = Π size(dims)
// With no dims, every dimension is reduced (a 0-D result). keepdim keeps reduced dims as size 1.
// The CPU reference accumulates in double, so long float32 sums lose no more than one rounding.
//
// Every reduction becomes row sums of a contiguous [outer, inner] matrix. On CUDA the algorithm
// is selectable, for teaching and benchmarking (kernels/reduce/ explains each):
//   Default       the fastest correct one (WarpShuffle)
//   Naive         one thread per row, a serial loop (uncoalesced: neighbouring threads read
//                 addresses `inner` apart)
//   WarpShuffle   a warp (short rows) or a block (long rows) per row, coalesced reads, shuffle
//                 reductions in registers
//   Cub           NVIDIA CUB's segmented reduction, the library reference
#pragma once

#include <vector>

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"

namespace afinar {

enum class ReduceAlgo { Default, Naive, WarpShuffle, Cub };

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

namespace ops {

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
           ReduceAlgo algo = ReduceAlgo::Default);
// Broadcasts g (the reduced shape, keepdim or not) back to `input_shape` over `dims`, times scale.
Tensor sum_backward(const Tensor& g, const Shape& input_shape, const std::vector<int64_t>& dims,
                    double scale);

// Backend kernel: out[o] = Σ_i x[o, i] for x contiguous [outer, inner], out contiguous [outer].
using SumRowsFn = void(const Tensor& out, const Tensor& x, ReduceAlgo algo);
AFN_DECLARE_KERNEL(sum_rows, SumRowsFn);

}  // namespace ops
}  // namespace afinar
