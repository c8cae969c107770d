// CPU reference of the elementwise kernels: one loop each, over dense storage (every operand in one
// memory format, so element i of each is the same logical element).
#include "afinar/ops/elementwise.h"

namespace afinar::cpu {

namespace {

void add(const Tensor& out, const Tensor& a, const Tensor& b, double alpha) {
  visit_floating(a.dtype(), "add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* y = out.data<T>();
    const T *pa = a.data<T>(), *pb = b.data<T>();
    const T al = T(alpha);
    const int64_t n = a.numel();
#pragma omp parallel for simd if (n > 262144)
    for (int64_t i = 0; i < n; ++i) y[i] = pa[i] + al * pb[i];
  });
}

void mul(const Tensor& out, const Tensor& a, const Tensor& b) {
  visit_floating(a.dtype(), "mul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* y = out.data<T>();
    const T *pa = a.data<T>(), *pb = b.data<T>();
    const int64_t n = a.numel();
#pragma omp parallel for simd if (n > 262144)
    for (int64_t i = 0; i < n; ++i) y[i] = pa[i] * pb[i];
  });
}

void affine(const Tensor& out, const Tensor& a, double scale, double shift) {
  visit_floating(a.dtype(), "affine", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* y = out.data<T>();
    const T* pa = a.data<T>();
    const T s = T(scale), t = T(shift);
    const int64_t n = a.numel();
#pragma omp parallel for simd if (n > 262144)
    for (int64_t i = 0; i < n; ++i) y[i] = s * pa[i] + t;
  });
}

}  // namespace

AFN_REGISTER_KERNEL(add, CPU, add);
AFN_REGISTER_KERNEL(mul, CPU, mul);
AFN_REGISTER_KERNEL(affine, CPU, affine);

}  // namespace afinar::cpu
