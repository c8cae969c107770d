// Dropout's per-element rule, shared by the CPU reference and the CUDA kernels (host/device, no
// C++20) so both devices keep exactly the same elements and scale them identically: element i
// uses word i % 4 of Philox block offset + i / 4, kept when that word as a float in (0, 1]
// exceeds p (compared in double).
#pragma once

#include <cstdint>

#include "afinar/core/philox.h"

namespace afinar {

AFN_HOST_DEVICE uint8_t dropout_keep(uint32_t word, double p) {
  return double(uint_to_unit_float(word)) > p ? 1 : 0;
}

// 1/(1-p) in T, as PyTorch's noise.div_(1 - p); 0 for p = 1 (PyTorch multiplies by 0 then).
template <typename T>
AFN_HOST_DEVICE T dropout_keep_scale(double p) {
  return p < 1.0 ? T(1.0 / (1.0 - p)) : T(0);
}

}  // namespace afinar
