// CPU reference of amp_unscale_ / amp_update_scale_ (math in include/afinar/ops/amp_scale.h):
// the gradients' values through float (16-bit types) or their own type, the scale in float32 as
// PyTorch's kernels keep it.
#include "afinar/ops/amp_scale.h"

#include <cmath>
#include <type_traits>

namespace afinar::cpu {

namespace {

template <typename T>
void unscale(const Tensor& g, float inv_scale, bool& found_inf) {
  T* p = g.data<T>();
  const int64_t n = g.numel();
  bool inf = false;
#pragma omp parallel for reduction(|| : inf) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    // compute_t: 16-bit values in float, the rest in their own type (PyTorch's opmath).
    using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const C v = C(p[i]);
    if (!std::isfinite(v)) inf = true;
    p[i] = T(v * C(inv_scale));
  }
  found_inf = found_inf || inf;
}

void amp_unscale(const std::vector<Tensor>& grads, const Tensor& found_inf, const Tensor& scale) {
  const float inv = float(1.0 / double(scale.data<float>()[0]));
  bool inf = false;
  for (const Tensor& g : grads) {
    visit_cpu_dtype(g.dtype(), "amp_unscale_", [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_integral_v<T>)
        AFN_FAIL("amp_unscale_: gradients are floating, got ", g.dtype());
      else
        unscale<T>(g, inv, inf);
    });
  }
  if (inf) found_inf.data<float>()[0] = 1.0f;
}

void amp_update_scale(const Tensor& scale, const Tensor& growth_tracker, const Tensor& found_inf,
                      double growth_factor, double backoff_factor, int64_t growth_interval) {
  float& s = scale.data<float>()[0];
  int32_t& tracker = growth_tracker.data<int32_t>()[0];
  if (found_inf.data<float>()[0] != 0.0f) {
    s = float(double(s) * backoff_factor);  // PyTorch's float · double, stored as float
    tracker = 0;
    return;
  }
  const int64_t successful = int64_t(tracker) + 1;
  if (successful == growth_interval) {
    const float grown = float(double(s) * growth_factor);
    if (std::isfinite(grown)) s = grown;
    tracker = 0;
  } else {
    tracker = int32_t(successful);
  }
}

}  // namespace

AFN_REGISTER_KERNEL(amp_unscale, CPU, amp_unscale);
AFN_REGISTER_KERNEL(amp_update_scale, CPU, amp_update_scale);

}  // namespace afinar::cpu
