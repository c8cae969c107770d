// Autograd rule of dropout: saves the uint8 mask (and p), never the input.
#include "afinar/ops/dropout.h"

#include "afinar/autograd/node.h"

namespace afinar {

namespace {
struct DropoutBackward : Node {
  SavedTensor mask;
  double p = 0.5;
  const char* name() const override { return "DropoutBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {ops::dropout_backward(g[0], mask.get(), p)};
  }
  void release_saved() override { mask.release(); }
};
}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  ops::check_dropout_probability(p, "dropout");
  // PyTorch returns the input itself here: no copy, no mask, no random numbers drawn.
  if (!training || p == 0.0) return x;
  ops::DropoutForward out = ops::dropout_forward(x, p, gen);
  record<DropoutBackward>(out.output, {&x}, [&](DropoutBackward& n) {
    n.mask = SavedTensor(out.mask);
    n.p = p;
  });
  return out.output;
}

}  // namespace afinar
