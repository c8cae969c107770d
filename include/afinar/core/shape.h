// Shapes and strides, in elements. Letters used across afinar: N batch, C channels, H/W height and
// width, K output channels, R/S kernel height/width.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

namespace afinar {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

int64_t numel_of(const Shape& shape);
// Row-major (C-contiguous) strides: NCHW for a 4-D tensor.
Strides contiguous_strides(const Shape& shape);
// Channels-last strides for a 4-D [N,C,H,W] shape: memory order N,H,W,C.
Strides channels_last_strides(const Shape& shape);

// How a dense 4-D tensor is laid out: NCHW (Contiguous) or NHWC (ChannelsLast), as PyTorch's
// torch.contiguous_format / torch.channels_last.
enum class MemoryFormat : uint8_t { Contiguous, ChannelsLast };
// contiguous_strides or channels_last_strides.
Strides strides_for(const Shape& shape, MemoryFormat fmt);
// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"

}  // namespace afinar

namespace std {
// Lets AFN_CHECK messages stream shapes directly: "got shape [2, 3]".
inline ostream& operator<<(ostream& os, const vector<int64_t>& s) {
  return os << afinar::shape_str(s);
}
}  // namespace std
