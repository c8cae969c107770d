// CPU reference of relu.
#include "afinar/ops/activation.h"

#include "afinar/ops/relu_rule.h"

namespace afinar::cpu {

namespace {

void relu_forward(const Tensor& y, const Tensor& x) {
  visit_floating(x.dtype(), "relu", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const int64_t n = x.numel();
#pragma omp parallel for simd if (n > 262144)
    for (int64_t i = 0; i < n; ++i) py[i] = relu_value(px[i]);
  });
}

void relu_backward(const Tensor& gi, const Tensor& go, const Tensor& y) {
  visit_floating(y.dtype(), "relu_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *pg = go.data<T>(), *py = y.data<T>();
    T* pi = gi.data<T>();
    const int64_t n = y.numel();
#pragma omp parallel for simd if (n > 262144)
    for (int64_t i = 0; i < n; ++i) pi[i] = relu_grad(pg[i], py[i]);
  });
}

}  // namespace

AFN_REGISTER_KERNEL(relu_forward, CPU, relu_forward);
AFN_REGISTER_KERNEL(relu_backward, CPU, relu_backward);

}  // namespace afinar::cpu
