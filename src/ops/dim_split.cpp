#include "afinar/ops/dim_split.h"

#include <algorithm>

namespace afinar::ops {

DimSplit split_at_dim(const Shape& shape, int64_t dim, const char* op) {
  const int64_t nd = std::max<int64_t>(int64_t(shape.size()), 1);
  DimSplit s{wrap_dim(dim, nd, op), 1, 1, 1};
  for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
    const int64_t n = shape[size_t(d)];
    if (d < s.dim) s.outer *= n;
    if (d == s.dim) s.size = n;
    if (d > s.dim) s.inner *= n;
  }
  return s;
}

Tensor as_dim_blocks(const Tensor& t, const DimSplit& s) {
  return t.detach().contiguous().reshape({s.outer, s.size, s.inner});
}

}  // namespace afinar::ops
