// linear's two small kernels beside the cuBLAS GEMMs (linear.cpp): the bias broadcast before the
// forward GEMM and the bias gradient, a column sum of g [M, out] (memory-bound; M·out reads).
//
// The column sum gives each block 32 columns × a slice of the rows: the 32 lanes of a warp read 32
// consecutive columns of one row (one coalesced transaction), the block's 8 warps take every 8th
// row, and the 8 partial sums meet in shared memory. With few columns (a small head) the rows are
// also split over blocks (gridDim.y), and a second pass adds the slices in a fixed order: no
// atomics, so the result is deterministic. Accumulation is in compute_t<T> (float for float32,
// bf16 and f16, as PyTorch), the partial sums too; the result is rounded to T once.
#include <algorithm>

#include "common.cuh"
#include "linear/linear.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

constexpr int kColumnsPerBlock = 32;
constexpr int kRowsPerBlock = kThreadsPerBlock / kColumnsPerBlock;  // 8

template <typename T>
__global__ void broadcast_rows_kernel(T* __restrict__ y, const T* __restrict__ b, int64_t total,
                                      int64_t out) {
  AFN_GRID_STRIDE_LOOP(i, total) {
    y[i] = b[i % out];
  }
}

// Block (bx, split) sums columns [32·bx, 32·bx + 32) over its rows; out is [gridDim.y, cols], of
// type O: T for the result itself, compute_t<T> for partial sums.
template <typename T, typename O>
__global__ void column_sum_kernel(O* __restrict__ out, const T* __restrict__ g, int64_t M,
                                  int64_t cols, int64_t rows_per_split) {
  using A = compute_t<T>;
  __shared__ A part[kRowsPerBlock][kColumnsPerBlock + 1];
  const int tx = threadIdx.x % kColumnsPerBlock, ty = threadIdx.x / kColumnsPerBlock;
  const int64_t col = int64_t(blockIdx.x) * kColumnsPerBlock + tx;
  const int64_t r0 = int64_t(blockIdx.y) * rows_per_split;
  const int64_t r1 = r0 + rows_per_split < M ? r0 + rows_per_split : M;
  A acc = 0;
  if (col < cols)
    for (int64_t r = r0 + ty; r < r1; r += kRowsPerBlock) acc += A(g[r * cols + col]);
  part[ty][tx] = acc;
  __syncthreads();
  if (ty == 0 && col < cols) {
    A sum = 0;
    for (int i = 0; i < kRowsPerBlock; ++i) sum += part[i][tx];
    out[int64_t(blockIdx.y) * cols + col] = O(sum);
  }
}

// out[c] = Σ_i partials[i, c], in order.
template <typename T>
__global__ void sum_splits_kernel(T* __restrict__ out, const compute_t<T>* __restrict__ partials,
                                  int64_t cols, int64_t splits) {
  AFN_GRID_STRIDE_LOOP(c, cols) {
    compute_t<T> acc = 0;
    for (int64_t i = 0; i < splits; ++i) acc += partials[i * cols + c];
    out[c] = T(acc);
  }
}

}  // namespace

template <typename T>
void launch_broadcast_rows(T* y, const T* b, int64_t M, int64_t out, cudaStream_t stream) {
  const int64_t total = M * out;
  if (total == 0) return;
  broadcast_rows_kernel<T><<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(y, b, total, out);
  AFN_CUDA_LAUNCH_CHECK();
}

int64_t column_sum_splits(int64_t M, int64_t cols) {
  constexpr int64_t kTargetBlocks = 512;  // a few per SM
  constexpr int64_t kMinRowsPerSplit = 64;
  const int64_t column_blocks = (cols + kColumnsPerBlock - 1) / kColumnsPerBlock;
  int64_t splits = (kTargetBlocks + column_blocks - 1) / std::max<int64_t>(column_blocks, 1);
  splits = std::min(splits, (M + kMinRowsPerSplit - 1) / kMinRowsPerSplit);
  splits = std::min<int64_t>(splits, 65535);  // gridDim.y
  return std::max<int64_t>(splits, 1);
}

template <typename T>
void launch_column_sum(T* out, const T* g, int64_t M, int64_t cols, compute_t<T>* partials,
                       int64_t splits, cudaStream_t stream) {
  if (cols == 0) return;
  const int64_t rows_per_split = (M + splits - 1) / splits;
  const dim3 grid{unsigned((cols + kColumnsPerBlock - 1) / kColumnsPerBlock), unsigned(splits)};
  if (splits == 1)
    column_sum_kernel<T, T><<<grid, kThreadsPerBlock, 0, stream>>>(out, g, M, cols, rows_per_split);
  else
    column_sum_kernel<T, compute_t<T>>
        <<<grid, kThreadsPerBlock, 0, stream>>>(partials, g, M, cols, rows_per_split);
  AFN_CUDA_LAUNCH_CHECK();
  if (splits == 1) return;
  sum_splits_kernel<T>
      <<<blocks_for(cols), kThreadsPerBlock, 0, stream>>>(out, partials, cols, splits);
  AFN_CUDA_LAUNCH_CHECK();
}

#define AFN_INSTANTIATE(T)                                                                   \
  template void launch_broadcast_rows<T>(T*, const T*, int64_t, int64_t, cudaStream_t);      \
  template void launch_column_sum<T>(T*, const T*, int64_t, int64_t, compute_t<T>*, int64_t, \
                                     cudaStream_t);
AFN_FOR_FLOATING_AND_16BIT(AFN_INSTANTIATE)
#undef AFN_INSTANTIATE

}  // namespace afinar::cuda
