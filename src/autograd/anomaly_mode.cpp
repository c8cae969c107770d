#include "afinar/autograd/anomaly_mode.h"

#include <cmath>
#include <vector>

namespace afinar {

namespace {
thread_local bool g_anomaly_enabled = false;
}

bool AnomalyMode::is_enabled() {
  return g_anomaly_enabled;
}
void AnomalyMode::set_enabled(bool enabled) {
  g_anomaly_enabled = enabled;
}

std::string first_non_finite(const Tensor& t) {
  if (!t.defined() || !is_floating(t.dtype())) return "";
  // Widened to double on the host: exact for every floating dtype (bf16 and f16 included).
  for (double v : t.to_vector<double>())
    if (!std::isfinite(v)) return std::isnan(v) ? "nan" : "inf";
  return "";
}

}  // namespace afinar
