// Fill, strided copy with dtype conversion, and Philox random fills.
// Each thread handles logical indices by grid-stride; a strided side maps a logical index to its
// element offset by peeling coordinates off from the innermost dimension.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "afinar/core/philox.h"
#include "common.cuh"
#include "fill/fill.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

__device__ __forceinline__ int64_t strided_offset(int64_t i, const StridedLayout& l) {
  int64_t off = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    const int64_t c = i % l.shape[d];
    i /= l.shape[d];
    off += c * l.stride[d];
  }
  return off;
}

// Conversions go through float for the 16-bit types (their only exact common ground).
template <typename D, typename S>
__host__ __device__ __forceinline__ D convert(S s) {
  constexpr bool d16 = std::is_same_v<D, __half> || std::is_same_v<D, __nv_bfloat16>;
  constexpr bool s16 = std::is_same_v<S, __half> || std::is_same_v<S, __nv_bfloat16>;
  if constexpr (d16 && s16)
    return D(float(s));
  else if constexpr (d16)
    return D(float(s));
  else if constexpr (s16)
    return static_cast<D>(float(s));
  else
    return static_cast<D>(s);
}

template <typename T>
__global__ void fill_kernel(T* dst, StridedLayout l, int64_t n, T value) {
  AFN_GRID_STRIDE_LOOP(i, n) {
    dst[strided_offset(i, l)] = value;
  }
}

template <typename D, typename S>
__global__ void copy_kernel(D* dst, StridedLayout dl, const S* src, StridedLayout sl, int64_t n) {
  AFN_GRID_STRIDE_LOOP(i, n) {
    dst[strided_offset(i, dl)] = convert<D>(src[strided_offset(i, sl)]);
  }
}

template <typename T>
__global__ void uniform_kernel(T* dst, int64_t n, T low, T span, uint64_t seed, uint64_t offset) {
  constexpr int per = RandomValues<T>::kPerBlock;
  AFN_GRID_STRIDE_LOOP(b, (n + per - 1) / per) {
    const Philox4 w = philox_block(seed, offset + uint64_t(b));
    for (int k = 0; k < per && b * per + k < n; ++k)
      dst[b * per + k] = RandomValues<T>::uniform(w, k, low, span);
  }
}

template <typename T>
__global__ void normal_kernel(T* dst, int64_t n, T mean, T std, uint64_t seed, uint64_t offset) {
  constexpr int per = RandomValues<T>::kPerBlock;
  AFN_GRID_STRIDE_LOOP(b, (n + per - 1) / per) {
    const Philox4 w = philox_block(seed, offset + uint64_t(b));
    for (int k = 0; k < per && b * per + k < n; ++k)
      dst[b * per + k] = RandomValues<T>::normal(w, k, mean, std);
  }
}

}  // namespace

template <typename T>
void launch_fill(T* dst, const StridedLayout& l, int64_t n, double value, cudaStream_t stream) {
  if (n == 0) return;
  fill_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(dst, l, n, convert<T>(value));
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename D, typename S>
void launch_copy(D* dst, const StridedLayout& dl, const S* src, const StridedLayout& sl, int64_t n,
                 cudaStream_t stream) {
  if (n == 0) return;
  copy_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(dst, dl, src, sl, n);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_uniform(T* dst, int64_t n, double low, double high, uint64_t seed, uint64_t offset,
                    cudaStream_t stream) {
  if (n == 0) return;
  const int64_t blocks = (n + RandomValues<T>::kPerBlock - 1) / RandomValues<T>::kPerBlock;
  uniform_kernel<<<blocks_for(blocks), kThreadsPerBlock, 0, stream>>>(dst, n, T(low), T(high - low),
                                                                      seed, offset);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_normal(T* dst, int64_t n, double mean, double std, uint64_t seed, uint64_t offset,
                   cudaStream_t stream) {
  if (n == 0) return;
  const int64_t blocks = (n + RandomValues<T>::kPerBlock - 1) / RandomValues<T>::kPerBlock;
  normal_kernel<<<blocks_for(blocks), kThreadsPerBlock, 0, stream>>>(dst, n, T(mean), T(std), seed,
                                                                     offset);
  AFN_CUDA_LAUNCH_CHECK();
}

// Instantiations: fill and copy for every stored type (copy: every pair), random for f32/f64.
#define AFN_TYPES(X) X(float) X(double) X(int64_t) X(int32_t) X(uint8_t) X(__half) X(__nv_bfloat16)
#define AFN_FILL(T) \
  template void launch_fill<T>(T*, const StridedLayout&, int64_t, double, cudaStream_t);
AFN_TYPES(AFN_FILL)
#define AFN_COPY_FROM(S)                                                                      \
  template void launch_copy<float, S>(float*, const StridedLayout&, const S*,                 \
                                      const StridedLayout&, int64_t, cudaStream_t);           \
  template void launch_copy<double, S>(double*, const StridedLayout&, const S*,               \
                                       const StridedLayout&, int64_t, cudaStream_t);          \
  template void launch_copy<int64_t, S>(int64_t*, const StridedLayout&, const S*,             \
                                        const StridedLayout&, int64_t, cudaStream_t);         \
  template void launch_copy<int32_t, S>(int32_t*, const StridedLayout&, const S*,             \
                                        const StridedLayout&, int64_t, cudaStream_t);         \
  template void launch_copy<uint8_t, S>(uint8_t*, const StridedLayout&, const S*,             \
                                        const StridedLayout&, int64_t, cudaStream_t);         \
  template void launch_copy<__half, S>(__half*, const StridedLayout&, const S*,               \
                                       const StridedLayout&, int64_t, cudaStream_t);          \
  template void launch_copy<__nv_bfloat16, S>(__nv_bfloat16*, const StridedLayout&, const S*, \
                                              const StridedLayout&, int64_t, cudaStream_t);
AFN_TYPES(AFN_COPY_FROM)
template void launch_uniform<float>(float*, int64_t, double, double, uint64_t, uint64_t,
                                    cudaStream_t);
template void launch_uniform<double>(double*, int64_t, double, double, uint64_t, uint64_t,
                                     cudaStream_t);
template void launch_normal<float>(float*, int64_t, double, double, uint64_t, uint64_t,
                                   cudaStream_t);
template void launch_normal<double>(double*, int64_t, double, double, uint64_t, uint64_t,
                                    cudaStream_t);

}  // namespace afinar::cuda
