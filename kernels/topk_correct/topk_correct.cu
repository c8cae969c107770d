// topk_correct: one warp per row. The 32 lanes stride over the row counting the classes that
// rank above the target's logit (ops/topk_rule.h, the order topk uses), the counts are summed by
// shuffles, and lane 0 adds 1 to the device-wide count when the rank is below k. The row is read
// once, coalesced; there is no sort and no shared memory. The caller zeroes the count on the
// stream first, so the result never leaves the device until someone asks for it.
//
// Bench: afinar_bench --benchmark_filter=TopkCorrect (memory-bound: N*C logits read once).
#include "afinar/ops/topk_rule.h"
#include "common.cuh"
#include "runtime/launch_check.h"
#include "topk_correct/topk_correct.h"

namespace afinar::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;

template <typename T>
__global__ void topk_correct_kernel(unsigned long long* count, const T* logits,
                                    const int64_t* target, int64_t N, int64_t C, int64_t k) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * kWarpsPerBlock;
  for (int64_t n = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32; n < N; n += warps) {
    const int64_t t = target[n];
    if (t < 0 || t >= C) continue;  // the whole warp skips the row together
    const T* row = logits + n * C;
    const T xt = row[t];
    int64_t above = 0;
    for (int64_t j = lane; j < C; j += 32) above += topk_ranks_above(row[j], j, xt, t) ? 1 : 0;
    above = warp_reduce_sum(above);
    if (lane == 0 && above < k) atomicAdd(count, 1ull);
  }
}

}  // namespace

template <typename T>
void launch_topk_correct(int64_t* count, const T* logits, const int64_t* target, int64_t N,
                         int64_t C, int64_t k, cudaStream_t stream) {
  static_assert(sizeof(unsigned long long) == sizeof(int64_t));
  if (N == 0) return;
  const int threads = 32 * kWarpsPerBlock;
  const unsigned blocks = blocks_for(N, kWarpsPerBlock);
  topk_correct_kernel<T><<<blocks, threads, 0, stream>>>(
      reinterpret_cast<unsigned long long*>(count), logits, target, N, C, k);
  AFN_CUDA_LAUNCH_CHECK();
}

template void launch_topk_correct<float>(int64_t*, const float*, const int64_t*, int64_t, int64_t,
                                         int64_t, cudaStream_t);
template void launch_topk_correct<double>(int64_t*, const double*, const int64_t*, int64_t, int64_t,
                                          int64_t, cudaStream_t);

}  // namespace afinar::cuda
