// Elementwise add / mul / affine: memory-bound maps with 16-byte loads and stores (common.cuh).
// bf16 and f16 elements compute in float (A = compute_t<T>) with float scalars and round once, as
// PyTorch's 16-bit kernels; for float and double A is T and the expressions are unchanged.
// Benchmark: bench/elementwise_bench.cpp reports GB/s against the device-to-device copy rate.
#include "common.cuh"
#include "elementwise/elementwise.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {
template <typename T, typename A = compute_t<T>>
struct Axpby {
  A alpha;
  __device__ T operator()(T a, T b) const { return T(A(a) + alpha * A(b)); }
};
template <typename T, typename A = compute_t<T>>
struct Mul {
  __device__ T operator()(T a, T b) const { return T(A(a) * A(b)); }
};
template <typename T, typename A = compute_t<T>>
struct Affine {
  A scale, shift;
  __device__ T operator()(T a) const { return T(scale * A(a) + shift); }
};
}  // namespace

template <typename T>
void launch_add(T* out, const T* a, const T* b, compute_t<T> alpha, int64_t n,
                cudaStream_t stream) {
  launch_binary_map(out, a, b, n, Axpby<T>{alpha}, stream);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_mul(T* out, const T* a, const T* b, int64_t n, cudaStream_t stream) {
  launch_binary_map(out, a, b, n, Mul<T>{}, stream);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_affine(T* out, const T* a, compute_t<T> scale, compute_t<T> shift, int64_t n,
                   cudaStream_t stream) {
  launch_unary_map(out, a, n, Affine<T>{scale, shift}, stream);
  AFN_CUDA_LAUNCH_CHECK();
}

#define AFN_INSTANTIATE(T)                                                                  \
  template void launch_add<T>(T*, const T*, const T*, compute_t<T>, int64_t, cudaStream_t); \
  template void launch_mul<T>(T*, const T*, const T*, int64_t, cudaStream_t);               \
  template void launch_affine<T>(T*, const T*, compute_t<T>, compute_t<T>, int64_t, cudaStream_t);
AFN_FOR_FLOATING_AND_16BIT(AFN_INSTANTIATE)
#undef AFN_INSTANTIATE

}  // namespace afinar::cuda
