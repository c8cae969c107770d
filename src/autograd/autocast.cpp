#include "afinar/autograd/autocast.h"

#include <array>

namespace afinar {

namespace {
thread_local std::array<AutocastState, kNumDeviceTypes> g_autocast{};

AutocastState& state(DeviceType device) {
  return g_autocast[static_cast<size_t>(device)];
}
}  // namespace

AutocastGuard::AutocastGuard(DeviceType device, bool enabled, DType dtype)
    : device_(device), previous_(state(device)) {
  AFN_CHECK(is_reduced_float(dtype), "autocast: dtype must be bfloat16 or float16, got ", dtype);
  state(device) = {enabled, dtype};
}

AutocastGuard::~AutocastGuard() {
  state(device_) = previous_;
}

bool autocast_enabled(DeviceType device) {
  return state(device).enabled;
}

DType autocast_dtype(DeviceType device) {
  return state(device).dtype;
}

namespace autocast {

Tensor to_lower(const Tensor& t) {
  if (!t.defined() || t.dtype() != DType::F32 || !autocast_enabled(t.device().type)) return t;
  return t.to(autocast_dtype(t.device().type));
}

Tensor to_float(const Tensor& t, bool cuda_only) {
  if (!t.defined() || !is_reduced_float(t.dtype()) || !autocast_enabled(t.device().type)) return t;
  if (cuda_only && !t.device().is_cuda()) return t;
  return t.to(DType::F32);
}

}  // namespace autocast
}  // namespace afinar
