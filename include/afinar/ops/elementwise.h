// Elementwise arithmetic on tensors of the same shape, dtype and device (afinar never broadcasts
// silently: a shape mismatch is an error), and with a scalar.
//
//   add(a, b, alpha):  y = a + alpha·b        dL/da = g,  dL/db = alpha·g
//   sub(a, b):         y = a - b              (add with alpha = -1)
//   mul(a, b):         y = a ⊙ b              dL/da = g ⊙ b,  dL/db = g ⊙ a
//   add(a, s):         y = a + s              dL/da = g
//   mul(a, s):         y = s·a                dL/da = s·g
//   neg(a):            y = -a
#pragma once

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"

namespace afinar {

// ---- differentiable (recorded on the autograd tape) ----
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor neg(const Tensor& a);

inline Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
inline Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
inline Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
inline Tensor operator+(const Tensor& a, double s) {
  return add(a, s);
}
inline Tensor operator-(const Tensor& a, double s) {
  return add(a, -s);
}
inline Tensor operator*(const Tensor& a, double s) {
  return mul(a, s);
}
inline Tensor operator*(double s, const Tensor& a) {
  return mul(a, s);
}
inline Tensor operator-(const Tensor& a) {
  return neg(a);
}

namespace ops {

// ---- raw ops (no autograd; dispatch to the tensors' device; any strides in, contiguous out) ----
Tensor add(const Tensor& a, const Tensor& b, double alpha);  // a + alpha·b
Tensor mul(const Tensor& a, const Tensor& b);                // a ⊙ b
Tensor add_scalar(const Tensor& a, double s);                // a + s
Tensor mul_scalar(const Tensor& a, double s);                // s·a
// In place: a += alpha·b (gradient accumulation, optimizer updates). a must be contiguous.
void add_(const Tensor& a, const Tensor& b, double alpha);

// Backend kernels: contiguous inputs of one dtype, `out` preallocated contiguous.
using AxpbyFn = void(const Tensor& out, const Tensor& a, const Tensor& b, double alpha);
using MulFn = void(const Tensor& out, const Tensor& a, const Tensor& b);
using AffineFn = void(const Tensor& out, const Tensor& a, double scale, double shift);
AFN_DECLARE_KERNEL(add, AxpbyFn);      // out = a + alpha·b (out may alias a)
AFN_DECLARE_KERNEL(mul, MulFn);        // out = a ⊙ b
AFN_DECLARE_KERNEL(affine, AffineFn);  // out = scale·a + shift

}  // namespace ops
}  // namespace afinar
