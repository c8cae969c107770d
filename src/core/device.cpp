#include "afinar/core/device.h"

#include <charconv>

#include "afinar/core/check.h"

#ifdef AFINAR_WITH_CUDA
#include "core/cuda_bridge.h"
#endif

namespace afinar {

Device::Device(std::string_view spec) {
  if (spec == "cpu") {
    type = DeviceType::CPU;
    index = 0;
    return;
  }
  if (spec.starts_with("cuda")) {
    type = DeviceType::CUDA;
    index = 0;
    auto rest = spec.substr(4);
    if (rest.empty()) return;
    if (rest[0] == ':') {
      auto digits = rest.substr(1);
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (ec == std::errc() && ptr == digits.data() + digits.size() && !digits.empty() &&
          index >= 0)
        return;
    }
  }
  AFN_FAIL("device: cannot parse '", spec, "'; expected \"cpu\", \"cuda\" or \"cuda:N\"");
}

std::string Device::str() const {
  return type == DeviceType::CPU ? std::string("cpu") : "cuda:" + std::to_string(index);
}

bool cuda_built() {
#ifdef AFINAR_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef AFINAR_WITH_CUDA
  return cuda::runtime_device_count();
#else
  return 0;
#endif
}

std::string device_description(const Device& d) {
  check_device_available(d);
#ifdef AFINAR_WITH_CUDA
  if (d.is_cuda()) return cuda::device_description(d.index);
#endif
  return "cpu";
}

void check_device_available(const Device& d) {
  if (d.is_cpu()) return;
  AFN_CHECK(cuda_built(), "device ", d,
            ": this afinar was built without CUDA (configure with -DAFINAR_CUDA=ON on a machine "
            "with nvcc and cuDNN), use device cpu");
  int n = cuda_device_count();
  AFN_CHECK(n > 0, "device ", d, ": no CUDA GPU is visible on this machine; use device cpu");
  AFN_CHECK(d.index < n, "device ", d, ": only ", n,
            " CUDA device(s) visible (cuda:0..cuda:", n - 1, ")");
}

}  // namespace afinar
