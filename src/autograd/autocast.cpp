#include "afinar/autograd/autocast.h"

#include <array>

namespace afinar {

namespace {
thread_local std::array<bool, kNumDeviceTypes> g_autocast{};

bool& state(DeviceType device) {
  return g_autocast[static_cast<size_t>(device)];
}
}  // namespace

AutocastGuard::AutocastGuard(DeviceType device, bool enabled)
    : device_(device), previous_(state(device)) {
  state(device) = enabled;
}

AutocastGuard::~AutocastGuard() {
  state(device_) = previous_;
}

bool autocast_enabled(DeviceType device) {
  return state(device);
}

namespace autocast {

Tensor to_lower(const Tensor& t) {
  if (!t.defined() || t.dtype() != DType::F32 || !autocast_enabled(t.device().type)) return t;
  return t.to(DType::BF16);
}

Tensor to_float(const Tensor& t, bool cuda_only) {
  if (!t.defined() || t.dtype() != DType::BF16 || !autocast_enabled(t.device().type)) return t;
  if (cuda_only && !t.device().is_cuda()) return t;
  return t.to(DType::F32);
}

}  // namespace autocast
}  // namespace afinar
