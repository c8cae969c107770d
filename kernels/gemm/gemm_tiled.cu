// Variant 2, shared-memory tiles: a 32×32 block of threads computes a 32×32 tile of C. For each
// step along K, the block loads a 32×32 tile of A and of B into shared memory (each thread one
// element of each, coalesced), synchronises, and every thread accumulates 32 products from shared
// memory. Every global element is now read once per tile instead of once per output: global
// traffic drops 32×. The limit moves to shared-memory bandwidth: 2 shared loads per FMA.
#include "common.cuh"
#include "gemm/gemm.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {
constexpr int kTile = 32;

__global__ void gemm_tiled_kernel(float* c, const float* a, const float* b, int64_t M, int64_t N,
                                  int64_t K) {
  __shared__ float as[kTile][kTile];
  __shared__ float bs[kTile][kTile + 1];  // +1: no bank conflicts in the column reads below
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t m = int64_t(blockIdx.y) * kTile + ty, n = int64_t(blockIdx.x) * kTile + tx;
  float acc = 0.0f;
  for (int64_t k0 = 0; k0 < K; k0 += kTile) {
    // Out-of-range elements load as 0, so partial tiles at the edges add nothing.
    as[ty][tx] = (m < M && k0 + tx < K) ? a[m * K + k0 + tx] : 0.0f;
    bs[ty][tx] = (k0 + ty < K && n < N) ? b[(k0 + ty) * N + n] : 0.0f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kTile; ++k) acc += as[ty][k] * bs[k][tx];
    __syncthreads();
  }
  if (m < M && n < N) c[m * N + n] = acc;
}
}  // namespace

void launch_gemm_tiled(float* c, const float* a, const float* b, int64_t M, int64_t N, int64_t K,
                       cudaStream_t stream) {
  if (M == 0 || N == 0) return;
  const dim3 block(kTile, kTile);
  const dim3 grid(unsigned((N + kTile - 1) / kTile), unsigned((M + kTile - 1) / kTile));
  gemm_tiled_kernel<<<grid, block, 0, stream>>>(c, a, b, M, N, K);
  AFN_CUDA_LAUNCH_CHECK();
}

}  // namespace afinar::cuda
