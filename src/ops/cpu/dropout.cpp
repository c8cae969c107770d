// CPU reference of dropout: the mask of element i from Philox block offset + i/4, word i % 4
// (see include/afinar/ops/dropout.h), so any thread count gives the same mask.
#include "afinar/ops/dropout.h"
#include "afinar/ops/dropout_rule.h"

namespace afinar::cpu {

namespace {

void dropout_forward(const Tensor& y, const Tensor& mask, const Tensor& x, double p, uint64_t seed,
                     uint64_t offset) {
  visit_floating(x.dtype(), "dropout", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    uint8_t* pm = mask.data<uint8_t>();
    const T scale = dropout_keep_scale<T>(p);
    const int64_t n = x.numel(), blocks = int64_t(ops::dropout_blocks(n));
    const Generator gen(seed);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t b = 0; b < blocks; ++b) {
      const auto words = gen.block(offset + uint64_t(b));
      for (int64_t k = 0; k < 4 && b * 4 + k < n; ++k) {
        const int64_t i = b * 4 + k;
        pm[i] = dropout_keep(words[size_t(k)], p);
        // x · (m·scale), not m ? x·scale : 0, so a NaN input stays NaN as in PyTorch.
        py[i] = px[i] * (T(pm[i]) * scale);
      }
    }
  });
}

void dropout_backward(const Tensor& gi, const Tensor& go, const Tensor& mask, double p) {
  visit_floating(go.dtype(), "dropout_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pg = go.data<T>();
    const uint8_t* pm = mask.data<uint8_t>();
    T* pi = gi.data<T>();
    const T scale = dropout_keep_scale<T>(p);
    const int64_t n = go.numel();
#pragma omp parallel for simd if (n > 262144)
    for (int64_t i = 0; i < n; ++i) pi[i] = pg[i] * (T(pm[i]) * scale);
  });
}

}  // namespace

AFN_REGISTER_KERNEL(dropout_forward, CPU, dropout_forward);
AFN_REGISTER_KERNEL(dropout_backward, CPU, dropout_backward);

}  // namespace afinar::cpu
