// CPU kernels for fill, strided copy with conversion, and the Philox random fills.
#include <cmath>
#include <numbers>

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

// Fills dst (contiguous) with `per_block` values per Philox block via make(words, k) -> value k.
template <typename T, typename Make>
void random_fill(const Tensor& dst, uint64_t seed, uint64_t offset, int per_block, Make&& make) {
  T* p = dst.data<T>();
  const int64_t n = dst.numel();
  const Generator g(seed);
  const int64_t blocks = (n + per_block - 1) / per_block;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t b = 0; b < blocks; ++b) {
    auto w = g.block(offset + uint64_t(b));
    for (int k = 0; k < per_block && b * per_block + k < n; ++k) p[b * per_block + k] = make(w, k);
  }
}

void uniform(const Tensor& dst, double low, double high, uint64_t seed, uint64_t offset) {
  AFN_CHECK(dst.is_contiguous(), "uniform: destination must be contiguous");
  visit_floating(dst.dtype(), "uniform", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T lo = T(low), span = T(high - low);
    if constexpr (std::is_same_v<T, float>) {
      // u in (0, 1] -> 1 - u in [0, 1): the range is [low, high) as in PyTorch.
      random_fill<T>(dst, seed, offset, 4,
                     [&](auto& w, int k) { return lo + span * (1.0f - uint_to_unit_float(w[k])); });
    } else {
      random_fill<T>(dst, seed, offset, 2, [&](auto& w, int k) {
        return lo + span * (1.0 - uint_to_unit_double(w[2 * k], w[2 * k + 1]));
      });
    }
  });
}

void normal(const Tensor& dst, double mean, double std, uint64_t seed, uint64_t offset) {
  AFN_CHECK(dst.is_contiguous(), "normal: destination must be contiguous");
  visit_floating(dst.dtype(), "normal", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr T two_pi = T(2) * std::numbers::pi_v<T>;
    // Box-Muller: u1, u2 in (0, 1] -> r = sqrt(-2 ln u1); values r cos(2 pi u2), r sin(2 pi u2).
    if constexpr (std::is_same_v<T, float>) {
      random_fill<T>(dst, seed, offset, 4, [&](auto& w, int k) {
        const int pair = k / 2;
        const float r = std::sqrt(-2.0f * std::log(uint_to_unit_float(w[2 * pair])));
        const float th = two_pi * uint_to_unit_float(w[2 * pair + 1]);
        return T(mean) + T(std) * r * (k % 2 ? std::sin(th) : std::cos(th));
      });
    } else {
      random_fill<T>(dst, seed, offset, 2, [&](auto& w, int k) {
        const double r = std::sqrt(-2.0 * std::log(uint_to_unit_double(w[0], w[1])));
        const double th = two_pi * uint_to_unit_double(w[2], w[3]);
        return T(mean) + T(std) * r * (k ? std::sin(th) : std::cos(th));
      });
    }
  });
}

}  // namespace

AFN_REGISTER_KERNEL(fill, CPU, fill);
AFN_REGISTER_KERNEL(copy, CPU, copy);
AFN_REGISTER_KERNEL(uniform, CPU, uniform);
AFN_REGISTER_KERNEL(normal, CPU, normal);

}  // namespace afinar::cpu
