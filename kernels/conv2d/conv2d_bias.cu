// conv2d's bias on CUDA, shared by every algorithm: the forward's y[n,k,:] += b[k] with the fused
// add + relu epilogue (conv2d_add_relu) in the same pass, and the bias gradient
// db[k] = Σ_{n,p} gy[n,k,p] (memory-bound; count N·K·P reads).
//
// The gradient runs in two passes, with no atomics, so it is deterministic: pass 1 gives each
// channel `splits` blocks (enough blocks in all to fill the GPU even when K is small, as in the
// first layers), each summing its slice of the batch with the threads of the block spread over
// rows of the Ho·Wo plane (coalesced reads; for small planes, 7×7 or 14×14, several images' rows
// are read at once so few threads idle); pass 2 adds each channel's `splits` partial sums in a
// fixed order. Accumulation is in compute_t<T> (float for float32, bf16 and f16, as PyTorch), the
// partial sums too; 16-bit results are rounded once. The forward adds in float and rounds.
// Channels-last gy is a [N·P, K] matrix: pass 1 gives each block 32 consecutive channels (a warp
// reads 32 consecutive elements of a row) and a slice of the rows, its 8 warps take every 8th row
// and add their column sums in a fixed order; pass 2 is the same.
#include "afinar/ops/relu_rule.h"
#include "common.cuh"
#include "conv2d/conv2d.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

// The forward's bias and epilogue in place on y as [outer, inner], a block per outer index: NCHW,
// N·K planes of P elements (channel outer % K); channels-last, N·P rows of K elements (channel =
// the inner index). Each step rounds to T as the unfused ops do (bias add, residual add, relu).
template <typename T>
__global__ void conv2d_epilogue_kernel(T* __restrict__ y, const T* __restrict__ b,
                                       const T* __restrict__ r, bool relu, int64_t outer,
                                       int64_t inner, int64_t K, bool channels_last) {
  using A = compute_t<T>;
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    T* yo = y + o * inner;
    const T* ro = r ? r + o * inner : nullptr;
    for (int64_t i = threadIdx.x; i < inner; i += blockDim.x) {
      A v = A(yo[i]);
      if (b) v = A(T(v + A(b[channels_last ? i : o % K])));
      if (ro) v = A(T(v + A(ro[i])));
      yo[i] = T(relu ? relu_value(v) : v);
    }
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

// Channels-last columns per block of channel_sum_cl_kernel (a warp's width) and its rows at once.
constexpr int kClCols = 32;
constexpr int kClRows = kThreadsPerBlock / kClCols;

// Block (channels [32·bx, 32·bx + 32), split) sums the rows [split·rows_per_split, ...) of the
// [rows, K] matrix x: warp r takes rows r, r + 8, ..., then the 8 warps' sums are added in order.
template <typename T, typename O>
__global__ void channel_sum_cl_kernel(O* __restrict__ out, const T* __restrict__ x, int64_t rows,
                                      int64_t K, int64_t rows_per_split) {
  using A = compute_t<T>;
  __shared__ A part[kClRows][kClCols];
  const int col = threadIdx.x % kClCols, row = threadIdx.x / kClCols;
  const int64_t k = int64_t(blockIdx.x) * kClCols + col, split = blockIdx.y;
  const int64_t r_begin = split * rows_per_split;
  const int64_t r_end = r_begin + rows_per_split < rows ? r_begin + rows_per_split : rows;
  A acc = 0;
  if (k < K)
    for (int64_t r = r_begin + row; r < r_end; r += kClRows) acc += A(x[r * K + k]);
  part[row][col] = acc;
  __syncthreads();
  if (row == 0 && k < K) {
    for (int i = 1; i < kClRows; ++i) acc += part[i][col];
    out[k * gridDim.y + split] = O(acc);
  }
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
void launch_conv2d_epilogue(T* y, const T* b, const T* residual, bool relu, int64_t N, int64_t K,
                            int64_t P, bool channels_last, cudaStream_t stream) {
  const int64_t outer = channels_last ? N * P : N * K, inner = channels_last ? K : P;
  if (outer == 0 || inner == 0 || (!b && !residual && !relu)) return;
  const unsigned blocks = unsigned(outer < 65536 ? outer : 65536);
  conv2d_epilogue_kernel<T><<<blocks, plane_threads(inner), 0, stream>>>(
      y, b, residual, relu, outer, inner, K, channels_last);
  AFN_CUDA_LAUNCH_CHECK();
}

int64_t channel_sum_splits(int64_t N, int64_t K, int64_t P, bool channels_last) {
  constexpr int64_t kTargetBlocks = 1024;  // ~8 per SM on an H100
  // Blocks per split, and the most splits that still give every block some work: NCHW a block
  // per channel and at least one image each, channels-last a block per 32 channels and at least
  // one row per warp.
  const int64_t per_split = channels_last ? (K + kClCols - 1) / kClCols : K;
  const int64_t most = channels_last ? N * P / kClRows : N;
  int64_t splits = (kTargetBlocks + per_split - 1) / per_split;
  if (splits > most) splits = most;
  if (splits > 65535) splits = 65535;  // gridDim.y
  return splits < 1 ? 1 : splits;
}

template <typename T>
void launch_channel_sum(T* out, const T* x, int64_t N, int64_t K, int64_t P, bool channels_last,
                        compute_t<T>* partials, int64_t splits, cudaStream_t stream) {
  if (K == 0) return;
  if (channels_last) {
    const int64_t rows = N * P, rows_per_split = (rows + splits - 1) / splits;
    const dim3 grid{unsigned((K + kClCols - 1) / kClCols), unsigned(splits)};
    if (splits == 1)
      channel_sum_cl_kernel<T, T>
          <<<grid, kThreadsPerBlock, 0, stream>>>(out, x, rows, K, rows_per_split);
    else
      channel_sum_cl_kernel<T, compute_t<T>>
          <<<grid, kThreadsPerBlock, 0, stream>>>(partials, x, rows, K, rows_per_split);
  } else {
    const int64_t images_per_split = (N + splits - 1) / splits;
    const dim3 grid{unsigned(K), unsigned(splits)};
    const int cols = plane_threads(P);
    if (splits == 1)
      channel_sum_kernel<T, T>
          <<<grid, kThreadsPerBlock, 0, stream>>>(out, x, N, K, P, images_per_split, cols);
    else
      channel_sum_kernel<T, compute_t<T>>
          <<<grid, kThreadsPerBlock, 0, stream>>>(partials, x, N, K, P, images_per_split, cols);
  }
  AFN_CUDA_LAUNCH_CHECK();
  if (splits == 1) return;
  sum_partials_kernel<T><<<blocks_for(K), kThreadsPerBlock, 0, stream>>>(out, partials, K, splits);
  AFN_CUDA_LAUNCH_CHECK();
}

#define AFN_INSTANTIATE(T)                                                                         \
  template void launch_conv2d_epilogue<T>(T*, const T*, const T*, bool, int64_t, int64_t, int64_t, \
                                          bool, cudaStream_t);                                     \
  template void launch_channel_sum<T>(T*, const T*, int64_t, int64_t, int64_t, bool,               \
                                      compute_t<T>*, int64_t, cudaStream_t);
AFN_FOR_FLOATING_AND_16BIT(AFN_INSTANTIATE)
#undef AFN_INSTANTIATE

}  // namespace afinar::cuda
