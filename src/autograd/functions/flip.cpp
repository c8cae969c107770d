// Autograd rule of flip: the gradient is flipped back along the same dims (a flip is its own
// inverse), so nothing is saved but the dims.
#include "afinar/ops/flip.h"

#include "afinar/autograd/node.h"

namespace afinar {

namespace {
struct FlipBackward : Node {
  std::vector<int64_t> dims;
  const char* name() const override { return "FlipBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override { return {ops::flip(g[0], dims)}; }
};
}  // namespace

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  Tensor y = ops::flip(x, dims);
  record<FlipBackward>(y, {&x}, [&](FlipBackward& n) { n.dims = dims; });
  return y;
}

}  // namespace afinar
