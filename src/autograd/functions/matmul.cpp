// Autograd rule of matmul: dA = G·Bᵀ, dB = Aᵀ·G, each computed only when needed, with the
// forward's algorithm.
#include "afinar/ops/matmul.h"

#include "afinar/autograd/node.h"

namespace afinar {

namespace {
struct MatmulBackward : Node {
  SavedTensor a, b;
  MatmulAlgo algo = MatmulAlgo::Default;
  const char* name() const override { return "MatmulBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {needs_input_grad(0) ? ops::matmul(g[0], b.get().transpose(0, 1), algo) : Tensor(),
            needs_input_grad(1) ? ops::matmul(a.get().transpose(0, 1), g[0], algo) : Tensor()};
  }
  void release_saved() override {
    a.release();
    b.release();
  }
};
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, MatmulAlgo algo) {
  Tensor c = ops::matmul(a, b, algo);
  record<MatmulBackward>(c, {&a, &b}, [&](MatmulBackward& n) {
    if (n.needs_input_grad(1)) n.a = SavedTensor(a);
    if (n.needs_input_grad(0)) n.b = SavedTensor(b);
    n.algo = algo;
  });
  return c;
}

}  // namespace afinar
