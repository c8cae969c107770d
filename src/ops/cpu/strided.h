// Walking a strided tensor on the CPU in logical (row-major) order. The innermost dimension is a
// plain loop so contiguous data stays a tight loop; outer dimensions advance an index counter.
#pragma once

#include <cstdint>
#include <vector>

#include "afinar/core/shape.h"

namespace afinar::cpu {

// Calls fn(i, offset_a, offset_b) for every logical index i with the element offsets of two
// tensors of the same shape and their own strides.
template <typename Fn>
void for_each_offset2(const Shape& shape, const Strides& sa, const Strides& sb, Fn&& fn) {
  const int64_t nd = int64_t(shape.size());
  const int64_t n = numel_of(shape);
  if (n == 0) return;
  if (nd == 0) {
    fn(int64_t(0), int64_t(0), int64_t(0));
    return;
  }
  std::vector<int64_t> idx(nd, 0);
  const int64_t inner = shape[nd - 1], ia = sa[nd - 1], ib = sb[nd - 1];
  int64_t oa = 0, ob = 0;
  for (int64_t i = 0; i < n; i += inner) {
    for (int64_t j = 0; j < inner; ++j) fn(i + j, oa + j * ia, ob + j * ib);
    // advance the outer index (dims nd-2 .. 0) like an odometer
    for (int64_t d = nd - 2; d >= 0; --d) {
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < shape[d]) break;
      oa -= sa[d] * shape[d];
      ob -= sb[d] * shape[d];
      idx[d] = 0;
    }
  }
}

}  // namespace afinar::cpu
