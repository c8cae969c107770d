// relu forward and backward: memory-bound maps with 16-byte accesses (common.cuh).
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

template void launch_relu_forward<float>(float*, const float*, int64_t, cudaStream_t);
template void launch_relu_forward<double>(double*, const double*, int64_t, cudaStream_t);
template void launch_relu_backward<float>(float*, const float*, const float*, int64_t,
                                          cudaStream_t);
template void launch_relu_backward<double>(double*, const double*, const double*, int64_t,
                                           cudaStream_t);
template void launch_relu_forward<__nv_bfloat16>(__nv_bfloat16*, const __nv_bfloat16*, int64_t,
                                                 cudaStream_t);
template void launch_relu_backward<__nv_bfloat16>(__nv_bfloat16*, const __nv_bfloat16*,
                                                  const __nv_bfloat16*, int64_t, cudaStream_t);

}  // namespace afinar::cuda
