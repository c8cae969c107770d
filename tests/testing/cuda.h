// GPU tests: named <Op>Cuda.* and skipped, with the reason, where no GPU is visible (CPU-only CI
// runs them as skips). Compare against the CPU reference on fresh random inputs.
#pragma once

#include <gtest/gtest.h>

#include "afinar/core/device.h"

#define AFN_REQUIRE_CUDA()                                                               \
  do {                                                                                   \
    if (::afinar::cuda_device_count() == 0)                                              \
      GTEST_SKIP() << (::afinar::cuda_built() ? "no CUDA GPU is visible on this machine" \
                                              : "afinar was built without CUDA");        \
  } while (0)

namespace afinar::testing {
inline const Device kCuda0{DeviceType::CUDA, 0};
}
