// flip: one thread per output element by grid-stride. Writes are contiguous; each thread peels
// its output index into the plan's merged coordinates (innermost first) and reads
// x[base + Σ c_d · step_d], so a warp reads one contiguous run, backwards where the innermost
// dim is reversed: coalesced both ways. Index arithmetic is 32-bit when every output index and
// input offset fits (divisions are the kernel's only real arithmetic), 64-bit otherwise.
// Memory-bound: n elements read once and written once.
//
// Bench: afinar_bench --benchmark_filter=FlipCuda (GB/s and the fraction of the copy rate).
#include <climits>

#include "common.cuh"
#include "flip/flip.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

template <typename Word, typename Index>
__global__ void flip_kernel(Word* y, const Word* x, FlipGeometry g, int64_t n) {
  AFN_GRID_STRIDE_LOOP(i, n) {
    Index rest = Index(i), src = Index(g.base);
    for (int d = g.ndim - 1; d >= 0; --d) {
      const Index size = Index(g.size[d]);
      src += (rest % size) * Index(g.step[d]);
      rest /= size;
    }
    y[i] = x[src];
  }
}

}  // namespace

template <typename Word>
void launch_flip(Word* y, const Word* x, const FlipGeometry& g, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  // Every partial sum of the source offset lies in [0, extent), so 32 bits do when both fit.
  if (n <= INT_MAX && g.extent <= INT_MAX)
    flip_kernel<Word, int32_t><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(y, x, g, n);
  else
    flip_kernel<Word, int64_t><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(y, x, g, n);
  AFN_CUDA_LAUNCH_CHECK();
}

template void launch_flip<uint8_t>(uint8_t*, const uint8_t*, const FlipGeometry&, int64_t,
                                   cudaStream_t);
template void launch_flip<uint16_t>(uint16_t*, const uint16_t*, const FlipGeometry&, int64_t,
                                    cudaStream_t);
template void launch_flip<uint32_t>(uint32_t*, const uint32_t*, const FlipGeometry&, int64_t,
                                    cudaStream_t);
template void launch_flip<uint64_t>(uint64_t*, const uint64_t*, const FlipGeometry&, int64_t,
                                    cudaStream_t);

}  // namespace afinar::cuda
