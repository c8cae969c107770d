// Launchers of the fill / strided-copy / random-fill kernels (kernels/fill/fill.cu). Plain C++:
// raw device pointers, sizes and the stream.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace afinar::cuda {

inline constexpr int kMaxDims = 8;

// Shape and element strides of one side of a strided copy.
struct StridedLayout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};
};

// dst[offset(i)] = value for every logical index i < n.
template <typename T>
void launch_fill(T* dst, const StridedLayout& dst_layout, int64_t n, double value,
                 cudaStream_t stream);
// dst[offset_d(i)] = convert(src[offset_s(i)]) for i < n (shapes equal, strides per side).
template <typename D, typename S>
void launch_copy(D* dst, const StridedLayout& dst_layout, const S* src,
                 const StridedLayout& src_layout, int64_t n, cudaStream_t stream);
// Contiguous random fills with the same values as the CPU (include/afinar/core/philox.h).
template <typename T>
void launch_uniform(T* dst, int64_t n, double low, double high, uint64_t seed, uint64_t offset,
                    cudaStream_t stream);
template <typename T>
void launch_normal(T* dst, int64_t n, double mean, double std, uint64_t seed, uint64_t offset,
                   cudaStream_t stream);

}  // namespace afinar::cuda
