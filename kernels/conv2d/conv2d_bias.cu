// conv2d's bias on CUDA, shared by every algorithm: the forward broadcast y[n,k,:] += b[k] and the
// bias gradient db[k] = Σ_{n,p} gy[n,k,p] (memory-bound; count N·K·P reads).
//
// The gradient runs in two passes, with no atomics, so it is deterministic: pass 1 gives each
// channel `splits` blocks (enough blocks in all to fill the GPU even when K is small, as in the
// first layers), each summing its slice of the batch with the threads of the block spread over
// rows of the Ho·Wo plane (coalesced reads; for small planes, 7×7 or 14×14, several images' rows
// are read at once so few threads idle); pass 2 adds each channel's `splits` partial sums in a
// fixed order. Accumulation is in compute_t<T> (float for float32 and bf16, as PyTorch), the
// partial sums too; bf16 results are rounded once. The forward adds in float and rounds.
#include "common.cuh"
#include "conv2d/conv2d.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

template <typename T>
__global__ void add_channel_bias_kernel(T* __restrict__ y, const T* __restrict__ b, int64_t planes,
                                        int64_t K, int64_t P) {
  using A = compute_t<T>;
  for (int64_t plane = blockIdx.x; plane < planes; plane += gridDim.x) {
    const A bk = A(b[plane % K]);
    T* yp = y + plane * P;
    for (int64_t p = threadIdx.x; p < P; p += blockDim.x) yp[p] = T(A(yp[p]) + bk);
  }
}

// Threads along a plane of P elements: the smallest of 32, 64, 128, 256 that covers it (a power of
// two, so a block of kThreadsPerBlock threads is a whole number of `rows` of such planes).
inline int plane_threads(int64_t P) {
  int t = 32;
  while (t < kThreadsPerBlock && t < P) t *= 2;
  return t;
}

// Block (k, split) sums x[n, k, :] for n in its slice of the batch; out has type O: T for the
// result itself, compute_t<T> for partial sums.
template <typename T, typename O>
__global__ void channel_sum_kernel(O* __restrict__ out, const T* __restrict__ x, int64_t N,
                                   int64_t K, int64_t P, int64_t images_per_split, int cols) {
  using A = compute_t<T>;
  const int64_t k = blockIdx.x, split = blockIdx.y;
  const int64_t n_begin = split * images_per_split;
  const int64_t n_end = n_begin + images_per_split < N ? n_begin + images_per_split : N;
  const int col = threadIdx.x % cols, row = threadIdx.x / cols, rows = blockDim.x / cols;
  A acc = 0;
  for (int64_t n = n_begin + row; n < n_end; n += rows) {
    const T* xp = x + (n * K + k) * P;
    for (int64_t p = col; p < P; p += cols) acc += A(xp[p]);
  }
  acc = block_reduce_sum(acc);
  if (threadIdx.x == 0) out[k * gridDim.y + split] = O(acc);
}

// out[k] = Σ_i partials[k, i], in order.
template <typename T>
__global__ void sum_partials_kernel(T* __restrict__ out, const compute_t<T>* __restrict__ partials,
                                    int64_t K, int64_t splits) {
  AFN_GRID_STRIDE_LOOP(k, K) {
    compute_t<T> acc = 0;
    for (int64_t i = 0; i < splits; ++i) acc += partials[k * splits + i];
    out[k] = T(acc);
  }
}

}  // namespace

template <typename T>
void launch_add_channel_bias(T* y, const T* b, int64_t N, int64_t K, int64_t P,
                             cudaStream_t stream) {
  const int64_t planes = N * K;
  if (planes == 0 || P == 0) return;
  const unsigned blocks = unsigned(planes < 65536 ? planes : 65536);
  add_channel_bias_kernel<T><<<blocks, plane_threads(P), 0, stream>>>(y, b, planes, K, P);
  AFN_CUDA_LAUNCH_CHECK();
}

int64_t channel_sum_splits(int64_t N, int64_t K) {
  constexpr int64_t kTargetBlocks = 1024;  // ~8 per SM on an H100
  int64_t splits = (kTargetBlocks + K - 1) / K;
  if (splits > N) splits = N;
  if (splits > 65535) splits = 65535;  // gridDim.y
  return splits < 1 ? 1 : splits;
}

template <typename T>
void launch_channel_sum(T* out, const T* x, int64_t N, int64_t K, int64_t P, compute_t<T>* partials,
                        int64_t splits, cudaStream_t stream) {
  if (K == 0) return;
  const int64_t images_per_split = (N + splits - 1) / splits;
  const dim3 grid{unsigned(K), unsigned(splits)};
  const int cols = plane_threads(P);
  if (splits == 1)
    channel_sum_kernel<T, T>
        <<<grid, kThreadsPerBlock, 0, stream>>>(out, x, N, K, P, images_per_split, cols);
  else
    channel_sum_kernel<T, compute_t<T>>
        <<<grid, kThreadsPerBlock, 0, stream>>>(partials, x, N, K, P, images_per_split, cols);
  AFN_CUDA_LAUNCH_CHECK();
  if (splits == 1) return;
  sum_partials_kernel<T><<<blocks_for(K), kThreadsPerBlock, 0, stream>>>(out, partials, K, splits);
  AFN_CUDA_LAUNCH_CHECK();
}

template void launch_add_channel_bias<float>(float*, const float*, int64_t, int64_t, int64_t,
                                             cudaStream_t);
template void launch_add_channel_bias<double>(double*, const double*, int64_t, int64_t, int64_t,
                                              cudaStream_t);
template void launch_channel_sum<float>(float*, const float*, int64_t, int64_t, int64_t, float*,
                                        int64_t, cudaStream_t);
template void launch_channel_sum<double>(double*, const double*, int64_t, int64_t, int64_t, double*,
                                         int64_t, cudaStream_t);
template void launch_add_channel_bias<__nv_bfloat16>(__nv_bfloat16*, const __nv_bfloat16*, int64_t,
                                                     int64_t, int64_t, cudaStream_t);
template void launch_channel_sum<__nv_bfloat16>(__nv_bfloat16*, const __nv_bfloat16*, int64_t,
                                                int64_t, int64_t, float*, int64_t, cudaStream_t);

}  // namespace afinar::cuda
