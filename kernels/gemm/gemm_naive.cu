// Variant 1, naive: thread (m, n) computes C[m,n] = Σ_k A[m,k]·B[k,n] reading both operands from
// global memory. threadIdx.x runs along n, so a warp reads 32 consecutive B elements (coalesced)
// and one A element (a broadcast). Each output costs 2K global loads for 2K flops: the kernel is
// bound by memory traffic (what the caches do not absorb), far below the arithmetic peak.
#include "common.cuh"
#include "gemm/gemm.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {
__global__ void gemm_naive_kernel(float* c, const float* a, const float* b, int64_t M, int64_t N,
                                  int64_t K) {
  const int64_t n = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t m = int64_t(blockIdx.y) * blockDim.y + threadIdx.y;
  if (m >= M || n >= N) return;
  float acc = 0.0f;
  for (int64_t k = 0; k < K; ++k) acc += a[m * K + k] * b[k * N + n];
  c[m * N + n] = acc;
}
}  // namespace

void launch_gemm_naive(float* c, const float* a, const float* b, int64_t M, int64_t N, int64_t K,
                       cudaStream_t stream) {
  if (M == 0 || N == 0) return;
  const dim3 block(32, 8);
  const dim3 grid(unsigned((N + 31) / 32), unsigned((M + 7) / 8));
  gemm_naive_kernel<<<grid, block, 0, stream>>>(c, a, b, M, N, K);
  AFN_CUDA_LAUNCH_CHECK();
}

}  // namespace afinar::cuda
