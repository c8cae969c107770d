// Row sums. Short rows: one warp per row (lanes stride over the row, then a shuffle reduction),
// so a [N*C, H*W] sum keeps every SM busy. Long rows: one block per row with a block reduction.
// Accumulation is in T (float for float32, as PyTorch); the tests' tolerance grows with
// sqrt(row length).
#include "common.cuh"
#include "reduce/sum_rows.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

constexpr int64_t kLongRow = 4096;

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

}  // namespace

template <typename T>
void launch_sum_rows(T* out, const T* x, int64_t outer, int64_t inner, cudaStream_t stream) {
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

template void launch_sum_rows<float>(float*, const float*, int64_t, int64_t, cudaStream_t);
template void launch_sum_rows<double>(double*, const double*, int64_t, int64_t, cudaStream_t);

}  // namespace afinar::cuda
