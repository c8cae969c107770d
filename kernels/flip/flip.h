// Launcher of the flip kernel (kernels/flip/flip.cu) on raw device pointers: the walk of
// ops::FlipPlan (include/afinar/ops/flip.h) in a fixed-size form a kernel can take by value.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace afinar::cuda {

// Merged dims the kernel takes; a plan has at most the tensor's rank, and merging leaves far
// fewer (the horizontal flip of NCHW is 2).
inline constexpr int kFlipMaxDims = 16;

struct FlipGeometry {
  int ndim = 0;
  int64_t size[kFlipMaxDims] = {};
  int64_t step[kFlipMaxDims] = {};  // the input's stride of each merged dim, negated if reversed
  int64_t base = 0;                 // input offset of output element 0
  int64_t extent = 0;               // the largest input offset read, plus one
};

// y[i] = x[base + Σ_d c_d · step[d]] for the n output elements (c: i's coordinates over size).
// Word is an unsigned integer of the element's size: the kernel moves bits, not values.
template <typename Word>
void launch_flip(Word* y, const Word* x, const FlipGeometry& g, int64_t n, cudaStream_t stream);

}  // namespace afinar::cuda
