// CPU kernels for fill, strided copy with conversion, and the Philox random fills.
#include "afinar/ops/fill.h"
#include "strided.h"

namespace afinar::cpu {

namespace {

void fill(const Tensor& dst, double value) {
  visit_cpu_dtype(dst.dtype(), "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(dst.raw_data());
    const T v = static_cast<T>(value);
    for_each_offset2(dst.shape(), dst.strides(), dst.strides(),
                     [&](int64_t, int64_t o, int64_t) { p[o] = v; });
  });
}

void copy(const Tensor& dst, const Tensor& src) {
  visit_cpu_dtype(dst.dtype(), "copy", [&](auto dtag) {
    using D = typename decltype(dtag)::type;
    visit_cpu_dtype(src.dtype(), "copy", [&](auto stag) {
      using S = typename decltype(stag)::type;
      D* d = static_cast<D*>(dst.raw_data());
      const S* s = static_cast<const S*>(src.raw_data());
      for_each_offset2(dst.shape(), dst.strides(), src.strides(),
                       [&](int64_t, int64_t od, int64_t os) { d[od] = static_cast<D>(s[os]); });
    });
  });
}

// Fills dst (contiguous) from Philox blocks starting at `offset`: value(block, k) is element
// k of the block (include/afinar/core/philox.h defines the values; CUDA uses the same ones).
template <typename T, typename Value>
void random_fill(const Tensor& dst, uint64_t seed, uint64_t offset, Value&& value) {
  constexpr int per_block = RandomValues<T>::kPerBlock;
  T* p = dst.data<T>();
  const int64_t n = dst.numel();
  const int64_t blocks = (n + per_block - 1) / per_block;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t b = 0; b < blocks; ++b) {
    const Philox4 w = philox_block(seed, offset + uint64_t(b));
    for (int k = 0; k < per_block && b * per_block + k < n; ++k) p[b * per_block + k] = value(w, k);
  }
}

void uniform(const Tensor& dst, double low, double high, uint64_t seed, uint64_t offset) {
  AFN_CHECK(dst.is_contiguous(), "uniform: destination must be contiguous");
  visit_floating(dst.dtype(), "uniform", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T lo = T(low), span = T(high - low);
    random_fill<T>(dst, seed, offset, [&](const Philox4& w, int k) {
      return RandomValues<T>::uniform(w, k, lo, span);
    });
  });
}

void normal(const Tensor& dst, double mean, double std, uint64_t seed, uint64_t offset) {
  AFN_CHECK(dst.is_contiguous(), "normal: destination must be contiguous");
  visit_floating(dst.dtype(), "normal", [&](auto tag) {
    using T = typename decltype(tag)::type;
    random_fill<T>(dst, seed, offset, [&](const Philox4& w, int k) {
      return RandomValues<T>::normal(w, k, T(mean), T(std));
    });
  });
}

}  // namespace

AFN_REGISTER_KERNEL(fill, CPU, fill);
AFN_REGISTER_KERNEL(copy, CPU, copy);
AFN_REGISTER_KERNEL(uniform, CPU, uniform);
AFN_REGISTER_KERNEL(normal, CPU, normal);

}  // namespace afinar::cpu
