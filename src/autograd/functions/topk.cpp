// argmax (not differentiable: integer output) and the autograd rule of topk's values: the
// gradient goes back to the selected elements, zero elsewhere.
#include "afinar/ops/topk.h"

#include "afinar/autograd/node.h"

namespace afinar {

namespace {
struct TopkBackward : Node {
  SavedTensor indices;
  Shape input_shape;
  int64_t dim = -1;
  const char* name() const override { return "TopkBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {ops::topk_backward(g[0], indices.get(), input_shape, dim)};
  }
  void release_saved() override { indices.release(); }
};
}  // namespace

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return ops::argmax(x, dim, keepdim);
}

Tensor argmax(const Tensor& x) {
  return ops::argmax(x.detach().reshape({-1}), 0, false);
}

TopK topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  TopK out = ops::topk_forward(x, k, dim, largest, sorted);
  record<TopkBackward>(out.values, {&x}, [&](TopkBackward& n) {
    n.indices = SavedTensor(out.indices);
    n.input_shape = x.shape();
    n.dim = dim;
  });
  return out;
}

}  // namespace afinar
