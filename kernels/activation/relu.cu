// relu forward and backward: memory-bound maps with 16-byte accesses (common.cuh). The 16-bit
// types compare in their own arithmetic: relu only selects, so nothing is rounded.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "activation/relu.h"
#include "afinar/ops/relu_rule.h"
#include "common.cuh"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {
template <typename T>
struct Relu {
  __device__ T operator()(T x) const { return relu_value(x); }
};
template <typename T>
struct ReluBackward {
  __device__ T operator()(T g, T y) const { return relu_grad(g, y); }
};
}  // namespace

template <typename T>
void launch_relu_forward(T* y, const T* x, int64_t n, cudaStream_t stream) {
  launch_unary_map(y, x, n, Relu<T>{}, stream);
  AFN_CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_relu_backward(T* gi, const T* go, const T* y, int64_t n, cudaStream_t stream) {
  launch_binary_map(gi, go, y, n, ReluBackward<T>{}, stream);
  AFN_CUDA_LAUNCH_CHECK();
}

#define AFN_INSTANTIATE(T)                                                   \
  template void launch_relu_forward<T>(T*, const T*, int64_t, cudaStream_t); \
  template void launch_relu_backward<T>(T*, const T*, const T*, int64_t, cudaStream_t);
AFN_FOR_FLOATING_AND_16BIT(AFN_INSTANTIATE)
#undef AFN_INSTANTIATE

}  // namespace afinar::cuda
