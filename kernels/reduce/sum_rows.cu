// Row sums, three ways (benchmark: bench/reduce_bench.cpp, GB/s vs the device copy rate).
//
// Naive: thread o sums row o alone. Correct, but at any moment the 32 threads of a warp read
//   addresses `inner` elements apart: 32 memory transactions for 32 useful floats, and only
//   `outer` threads of work, so few rows leave most of the GPU idle.
// WarpShuffle: a warp per short row (lanes read consecutive elements: one coalesced transaction
//   per 32 floats) or a block per long row, partial sums combined in registers with __shfl_xor
//   (no shared memory round trips within a warp). This is the production path.
// Cub: cub::DeviceSegmentedReduce::Sum with row offsets i * inner, NVIDIA's tuned library.
//
// Accumulation is in T (float for float32, as PyTorch); tests' tolerances grow with sqrt(inner).
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>

#include <cub/device/device_segmented_reduce.cuh>

#include "common.cuh"
#include "reduce/sum_rows.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

constexpr int64_t kLongRow = 4096;

template <typename T>
__global__ void sum_rows_naive_kernel(T* out, const T* x, int64_t outer, int64_t inner) {
  AFN_GRID_STRIDE_LOOP(row, outer) {
    T acc = 0;
    for (int64_t i = 0; i < inner; ++i) acc += x[row * inner + i];
    out[row] = acc;
  }
}

template <typename T>
__global__ void sum_rows_warp_kernel(T* out, const T* x, int64_t outer, int64_t inner) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * blockDim.x / 32;
  for (int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; row < outer;
       row += warps) {
    const T* r = x + row * inner;
    T acc = 0;
    for (int64_t i = lane; i < inner; i += 32) acc += r[i];
    acc = warp_reduce_sum(acc);
    if (lane == 0) out[row] = acc;
  }
}

template <typename T>
__global__ void sum_rows_block_kernel(T* out, const T* x, int64_t outer, int64_t inner) {
  for (int64_t row = blockIdx.x; row < outer; row += gridDim.x) {
    const T* r = x + row * inner;
    T acc = 0;
    for (int64_t i = threadIdx.x; i < inner; i += blockDim.x) acc += r[i];
    acc = block_reduce_sum(acc);
    if (threadIdx.x == 0) out[row] = acc;
    __syncthreads();  // `partial` in block_reduce_sum is reused by the next row
  }
}

// Row o starts at element o * inner (segment offsets for CUB, computed on the fly).
struct RowOffset {
  int64_t inner;
  __host__ __device__ int64_t operator()(int64_t o) const { return o * inner; }
};

}  // namespace

template <typename T>
void launch_sum_rows_naive(T* out, const T* x, int64_t outer, int64_t inner, cudaStream_t stream) {
  if (outer == 0) return;
  sum_rows_naive_kernel<<<blocks_for(outer), kThreadsPerBlock, 0, stream>>>(out, x, outer, inner);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_sum_rows_warp_shuffle(T* out, const T* x, int64_t outer, int64_t inner,
                                  cudaStream_t stream) {
  if (outer == 0) return;
  if (inner >= kLongRow) {
    sum_rows_block_kernel<<<blocks_for(outer, 1), kThreadsPerBlock, 0, stream>>>(out, x, outer,
                                                                                 inner);
  } else {
    sum_rows_warp_kernel<<<blocks_for(outer * 32), kThreadsPerBlock, 0, stream>>>(out, x, outer,
                                                                                  inner);
  }
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_sum_rows_cub(T* out, const T* x, int64_t outer, int64_t inner, void* workspace,
                         size_t& workspace_bytes, cudaStream_t stream) {
  const auto rows = thrust::make_counting_iterator<int64_t>(0);
  const auto begins = thrust::make_transform_iterator(rows, RowOffset{inner});
  const auto ends = thrust::make_transform_iterator(rows + 1, RowOffset{inner});
  const cudaError_t e = cub::DeviceSegmentedReduce::Sum(workspace, workspace_bytes, x, out, outer,
                                                        begins, ends, stream);
  if (e != cudaSuccess) cudaGetLastError();
  AFN_CUDA_LAUNCH_CHECK();
}

#define AFN_INSTANTIATE(T)                                                                     \
  template void launch_sum_rows_naive<T>(T*, const T*, int64_t, int64_t, cudaStream_t);        \
  template void launch_sum_rows_warp_shuffle<T>(T*, const T*, int64_t, int64_t, cudaStream_t); \
  template void launch_sum_rows_cub<T>(T*, const T*, int64_t, int64_t, void*, size_t&,         \
                                       cudaStream_t);
AFN_INSTANTIATE(float)
AFN_INSTANTIATE(double)

}  // namespace afinar::cuda
