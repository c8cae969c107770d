// Elementwise add / mul / affine: memory-bound maps with 16-byte loads and stores (common.cuh).
// Benchmark: bench/elementwise_bench.cpp reports GB/s against the device-to-device copy rate.
#include "common.cuh"
#include "elementwise/elementwise.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {
template <typename T>
struct Axpby {
  T alpha;
  __device__ T operator()(T a, T b) const { return a + alpha * b; }
};
template <typename T>
struct Mul {
  __device__ T operator()(T a, T b) const { return a * b; }
};
template <typename T>
struct Affine {
  T scale, shift;
  __device__ T operator()(T a) const { return scale * a + shift; }
};
}  // namespace

template <typename T>
void launch_add(T* out, const T* a, const T* b, T alpha, int64_t n, cudaStream_t stream) {
  launch_binary_map(out, a, b, n, Axpby<T>{alpha}, stream);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_mul(T* out, const T* a, const T* b, int64_t n, cudaStream_t stream) {
  launch_binary_map(out, a, b, n, Mul<T>{}, stream);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_affine(T* out, const T* a, T scale, T shift, int64_t n, cudaStream_t stream) {
  launch_unary_map(out, a, n, Affine<T>{scale, shift}, stream);
  AFN_CUDA_LAUNCH_CHECK();
}

#define AFN_INSTANTIATE(T)                                                       \
  template void launch_add<T>(T*, const T*, const T*, T, int64_t, cudaStream_t); \
  template void launch_mul<T>(T*, const T*, const T*, int64_t, cudaStream_t);    \
  template void launch_affine<T>(T*, const T*, T, T, int64_t, cudaStream_t);
AFN_INSTANTIATE(float)
AFN_INSTANTIATE(double)

}  // namespace afinar::cuda
