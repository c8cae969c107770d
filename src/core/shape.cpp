#include "afinar/core/shape.h"

#include <algorithm>

#include "afinar/core/check.h"

namespace afinar {

int64_t numel_of(const Shape& shape) {
  for (int64_t s : shape) AFN_CHECK(s >= 0, "shape ", shape_str(shape), " has a negative size");
  if (std::find(shape.begin(), shape.end(), int64_t(0)) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t s : shape)
    AFN_CHECK(!__builtin_mul_overflow(n, s, &n), "shape ", shape_str(shape),
              " has more elements than a 64-bit count holds");
  return n;
}

Strides contiguous_strides(const Shape& shape) {
  // stride[i] = Π_{j>i} max(shape[j], 1) (a size-0 dim still gets distinct strides, as PyTorch's).
  // A product past int64 would be an address no tensor can have: an error, not a wrapped stride
  // (a file's declared shape reaches here through empty()).
  Strides st(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = acc;
    if (i > 0)
      AFN_CHECK(!__builtin_mul_overflow(acc, std::max<int64_t>(shape[i], 1), &acc), "shape ",
                shape_str(shape), " is too large: its strides do not fit in 64 bits");
  }
  return st;
}

Strides channels_last_strides(const Shape& shape) {
  AFN_CHECK(shape.size() == 4, "channels_last needs a 4-D [N,C,H,W] shape, got ", shape_str(shape));
  const int64_t C = std::max<int64_t>(shape[1], 1), H = std::max<int64_t>(shape[2], 1),
                W = std::max<int64_t>(shape[3], 1);
  return {H * W * C, 1, W * C, C};
}

Strides strides_for(const Shape& shape, MemoryFormat fmt) {
  return fmt == MemoryFormat::ChannelsLast ? channels_last_strides(shape)
                                           : contiguous_strides(shape);
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
