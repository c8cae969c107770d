// Where a tensor lives: "cpu" or "cuda:N". The CUDA backend arrives with its own issue; until a
// build has it, asking for a cuda device is an error that says so.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace afinar {

enum class DeviceType : uint8_t { CPU, CUDA };
inline constexpr int kNumDeviceTypes = 2;

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  Device() = default;
  Device(DeviceType t, int i = 0) : type(t), index(i) {}
  // Parses "cpu", "cuda", "cuda:1". Throws on anything else.
  explicit Device(std::string_view spec);

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;
  friend bool operator==(const Device&, const Device&) = default;
};

inline const Device kCPU{DeviceType::CPU, 0};

inline std::ostream& operator<<(std::ostream& os, const Device& d) {
  return os << d.str();
}

// True when this build has the CUDA backend (AFINAR_CUDA found nvcc and cuDNN).
bool cuda_built();
// Number of visible CUDA devices; 0 when the build has no CUDA or no GPU is present.
int cuda_device_count();
// "NVIDIA H100 80GB HBM3, 79.1 GiB, sm_90" for a CUDA device, "cpu" for the cpu.
std::string device_description(const Device& d);
// Throws an afinar::Error explaining why `d` cannot be used (no CUDA build, no GPU, bad index).
void check_device_available(const Device& d);

}  // namespace afinar
