// Autograd rule of linear (math in include/afinar/ops/linear.h). Each gradient has its own op and
// its own saved operand: dL/dx needs W, dL/dW needs x, dL/db needs neither. Only what an input
// requiring grad will use is saved, and only its op runs, so a frozen layer keeps no copy of its
// input and calls no weight-gradient kernel.
#include "afinar/ops/linear.h"

#include "afinar/autograd/autocast.h"
#include "afinar/autograd/node.h"

namespace afinar {

namespace {
struct LinearBackward : Node {
  SavedTensor x, weight;
  const char* name() const override { return "LinearBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {needs_input_grad(0) ? ops::linear_backward_input(g[0], weight.get()) : Tensor(),
            needs_input_grad(1) ? ops::linear_backward_weight(g[0], x.get()) : Tensor(),
            needs_input_grad(2) ? ops::linear_backward_bias(g[0]) : Tensor()};
  }
  void release_saved() override {
    x.release();
    weight.release();
  }
};
}  // namespace

Tensor linear(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in) {
  // Autocast's lower-precision list (autograd/autocast.h): 16-bit operands under autocast.
  const Tensor x = autocast::to_lower(x_in), weight = autocast::to_lower(weight_in),
               bias = autocast::to_lower(bias_in);
  Tensor y = ops::linear_forward(x, weight, bias);
  record<LinearBackward>(y, {&x, &weight, &bias}, [&](LinearBackward& n) {
    if (n.needs_input_grad(0)) n.weight = SavedTensor(weight);
    if (n.needs_input_grad(1)) n.x = SavedTensor(x);
  });
  return y;
}

}  // namespace afinar
