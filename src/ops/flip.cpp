// Front end of flip: dims checked and wrapped, the plan the backends walk (neighbouring dims
// merged, see include/afinar/ops/flip.h), the output in the input's memory format, dispatch.
#include "afinar/ops/flip.h"

#include <algorithm>

namespace afinar::ops {

AFN_DEFINE_KERNEL(flip, FlipFn)

namespace {

// reversed[d] for every dim of an `ndim`-D tensor (a 0-D one counts as [1], as in PyTorch).
std::vector<bool> reversed_dims(int64_t ndim, const std::vector<int64_t>& dims) {
  const int64_t n = std::max<int64_t>(ndim, 1);
  std::vector<bool> reversed(size_t(n), false);
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, n, "flip");
    AFN_CHECK(!reversed[size_t(w)], "flip: dim ", w, " appears more than once in dims ", dims,
              "; list each dim once");
    reversed[size_t(w)] = true;
  }
  return reversed;
}

}  // namespace

FlipPlan flip_plan(const Shape& shape, const Strides& strides, const std::vector<int64_t>& dims) {
  AFN_CHECK(shape.size() == strides.size(), "flip: shape ", shape, " and strides ", strides,
            " have different ranks");
  const std::vector<bool> reversed = reversed_dims(int64_t(shape.size()), dims);
  FlipPlan p;
  std::vector<bool> rev;  // of each merged dim
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // one element: reversed or not, the same
    // Dim d continues the previous merged dim when both are reversed (or both kept) and the
    // previous one steps over exactly one run of d: then (a, b) -> a·size_d + b is one index,
    // and reversing both reverses it.
    if (!p.sizes.empty() && rev.back() == reversed[d] && p.steps.back() == strides[d] * shape[d]) {
      p.sizes.back() *= shape[d];
      p.steps.back() = strides[d];
      continue;
    }
    p.sizes.push_back(shape[d]);
    p.steps.push_back(strides[d]);
    rev.push_back(reversed[d]);
  }
  if (p.sizes.empty()) {  // one element (or a 0-D tensor)
    p.sizes = {1};
    p.steps = {1};
    return p;
  }
  for (size_t d = 0; d < p.sizes.size(); ++d) {
    if (!rev[d]) continue;
    p.base += (p.sizes[d] - 1) * p.steps[d];
    p.steps[d] = -p.steps[d];
  }
  return p;
}

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  AFN_CHECK(x.defined(), "flip: the input is an undefined tensor");
  // The backends write the output in the order of the plan's dims. A channels-last input gets a
  // channels-last output (as PyTorch's flip keeps the format): the plan then walks N, H, W, C,
  // the output's memory order, with each flipped dim moved to its place in that order.
  const MemoryFormat fmt = suggest_memory_format(x);
  Shape shape = x.shape();
  Strides strides = x.strides();
  std::vector<int64_t> walk_dims = dims;
  if (fmt == MemoryFormat::ChannelsLast) {
    constexpr int64_t kMemoryOrder[4] = {0, 2, 3, 1}, kPlace[4] = {0, 3, 1, 2};
    for (size_t i = 0; i < 4; ++i) {
      shape[i] = x.size(kMemoryOrder[i]);
      strides[i] = x.stride(kMemoryOrder[i]);
    }
    for (int64_t& d : walk_dims) d = kPlace[wrap_dim(d, 4, "flip")];
  }
  const FlipPlan plan = flip_plan(shape, strides, walk_dims);
  Tensor y = empty(x.shape(), x.dtype(), x.device(), fmt);
  if (y.numel() > 0) flip_kernels().get(x.device())(y, x.detach(), plan);
  return y;
}

}  // namespace afinar::ops
