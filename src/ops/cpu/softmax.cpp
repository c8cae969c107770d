// CPU reference of softmax / log_softmax on contiguous [outer, C, inner] blocks: one line of C
// elements (stride `inner`) per (outer, inner) pair, sums accumulated in double.
#include <cmath>
#include <limits>

#include "afinar/ops/softmax.h"

namespace afinar::cpu {

namespace {

// Calls fn(base) for every softmax line of a [outer, C, inner] block; element c of the line is at
// base + c * inner. Lines are independent, so they run in parallel when the block is large.
template <typename Fn>
void for_each_line(const Tensor& t, Fn&& fn) {
  const int64_t outer = t.size(0), C = t.size(1), inner = t.size(2);
#pragma omp parallel for if (outer * C * inner > 65536)
  for (int64_t line = 0; line < outer * inner; ++line)
    fn((line / inner) * C * inner + line % inner);
}

// y = softmax(x) or, when Log, log_softmax(x) along dim 1 (math in the header).
template <bool Log>
void softmax_forward(const Tensor& y, const Tensor& x) {
  visit_floating(x.dtype(), Log ? "log_softmax" : "softmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t C = x.size(1), inner = x.size(2);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for_each_line(x, [&](int64_t base) {
      // `x > m` never holds for NaN, so a NaN leaves m alone and then turns the sum (and every
      // output) into NaN, as in PyTorch; an all -inf line gives NaN as well (-inf - -inf).
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t c = 0; c < C; ++c)
        m = double(px[base + c * inner]) > m ? px[base + c * inner] : m;
      double sum = 0;
      for (int64_t c = 0; c < C; ++c) sum += std::exp(double(px[base + c * inner]) - m);
      const double log_sum = std::log(sum);
      for (int64_t c = 0; c < C; ++c) {
        const double z = double(px[base + c * inner]) - m;
        py[base + c * inner] = T(Log ? z - log_sum : std::exp(z) / sum);
      }
    });
  });
}

// softmax:      gi = y ⊙ (g - Σ g y)
// log_softmax:  gi = g - exp(y) Σ g
template <bool Log>
void softmax_backward(const Tensor& gi, const Tensor& go, const Tensor& y) {
  visit_floating(y.dtype(), Log ? "log_softmax_backward" : "softmax_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t C = y.size(1), inner = y.size(2);
    const T *pg = go.data<T>(), *py = y.data<T>();
    T* pi = gi.data<T>();
    for_each_line(y, [&](int64_t base) {
      double s = 0;
      for (int64_t c = 0; c < C; ++c) {
        const int64_t k = base + c * inner;
        s += Log ? double(pg[k]) : double(pg[k]) * double(py[k]);
      }
      for (int64_t c = 0; c < C; ++c) {
        const int64_t k = base + c * inner;
        const double g = pg[k], out = py[k];
        pi[k] = T(Log ? g - std::exp(out) * s : out * (g - s));
      }
    });
  });
}

}  // namespace

AFN_REGISTER_KERNEL(softmax_forward, CPU, softmax_forward<false>);
AFN_REGISTER_KERNEL(softmax_backward, CPU, softmax_backward<false>);
AFN_REGISTER_KERNEL(log_softmax_forward, CPU, softmax_forward<true>);
AFN_REGISTER_KERNEL(log_softmax_backward, CPU, softmax_backward<true>);

}  // namespace afinar::cpu
