// The order in which topk(largest) ranks two elements of a line, shared by host and device code
// (no C++20 here): NaN above every number, then by value (-0 equal to +0), ties and NaN pairs by
// the lower index — PyTorch leaves tie order unspecified; afinar fixes it so that devices agree.
#pragma once

#include <cstdint>

#include "afinar/core/philox.h"  // AFN_HOST_DEVICE

namespace afinar {

template <typename T>
AFN_HOST_DEVICE bool topk_ranks_above(T a, int64_t index_a, T b, int64_t index_b) {
  const bool a_nan = a != a, b_nan = b != b;
  if (a_nan != b_nan) return a_nan;
  if (!a_nan && a != b) return a > b;
  return index_a < index_b;
}

}  // namespace afinar
