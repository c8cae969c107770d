// Autograd rule of relu: saves the output (cheaper to test y > 0 than to keep x as well).
#include "afinar/ops/activation.h"

#include "afinar/autograd/node.h"

namespace afinar {

namespace {
struct ReluBackward : Node {
  SavedTensor y;
  const char* name() const override { return "ReluBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {ops::relu_backward(g[0], y.get())};
  }
  void release_saved() override { y.release(); }
};
}  // namespace

Tensor relu(const Tensor& x) {
  Tensor y = ops::relu_forward(x);
  record<ReluBackward>(y, {&x}, [&](ReluBackward& n) { n.y = SavedTensor(y); });
  return y;
}

}  // namespace afinar
