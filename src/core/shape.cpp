#include "afinar/core/shape.h"

#include "afinar/core/check.h"

namespace afinar {

int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) {
    AFN_CHECK(s >= 0, "shape ", shape_str(shape), " has a negative size");
    n *= s;
  }
  return n;
}

Strides contiguous_strides(const Shape& shape) {
  Strides st(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = acc;
    acc *= std::max<int64_t>(shape[i], 1);
  }
  return st;
}

Strides channels_last_strides(const Shape& shape) {
  AFN_CHECK(shape.size() == 4, "channels_last needs a 4-D [N,C,H,W] shape, got ", shape_str(shape));
  const int64_t C = std::max<int64_t>(shape[1], 1), H = std::max<int64_t>(shape[2], 1),
                W = std::max<int64_t>(shape[3], 1);
  return {H * W * C, 1, W * C, C};
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  AFN_CHECK(dim >= -ndim && dim < ndim, op, ": dim ", dim, " is out of range for a ", ndim,
            "-D tensor (expected ", -ndim, "..", ndim - 1, ")");
  return dim < 0 ? dim + ndim : dim;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace afinar
