// Autograd rule of conv2d (math in include/afinar/ops/conv2d.h). Each input's gradient is its own
// op, run only when that input needs it: a frozen weight never reaches conv2d_backward_weight and
// the first layer (an input that needs no gradient) never reaches conv2d_backward_input. Each
// saved tensor is kept only for the gradient that uses it (dx needs the weight, dw the input).
#include "afinar/ops/conv2d.h"

#include "afinar/autograd/autocast.h"
#include "afinar/autograd/node.h"

namespace afinar {

namespace {
struct Conv2dBackward : Node {
  SavedTensor x, weight;
  Shape x_shape, weight_shape;
  Conv2dOptions options;
  const char* name() const override { return "Conv2dBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    const Tensor& gy = g[0];
    return {needs_input_grad(0) ? ops::conv2d_backward_input(gy, weight.get(), x_shape, options)
                                : Tensor(),
            needs_input_grad(1) ? ops::conv2d_backward_weight(gy, x.get(), weight_shape, options)
                                : Tensor(),
            needs_input_grad(2) ? ops::conv2d_backward_bias(gy) : Tensor()};
  }
  void release_saved() override {
    x.release();
    weight.release();
  }
};
}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in,
              const Conv2dOptions& options) {
  // Autocast's lower-precision list (autograd/autocast.h): 16-bit operands under autocast.
  const Tensor x = autocast::to_lower(x_in), weight = autocast::to_lower(weight_in),
               bias = autocast::to_lower(bias_in);
  Tensor y = ops::conv2d_forward(x, weight, bias, options);
  record<Conv2dBackward>(y, {&x, &weight, &bias}, [&](Conv2dBackward& n) {
    n.x_shape = x.shape();
    n.weight_shape = weight.shape();
    n.options = options;
    if (n.needs_input_grad(0)) n.weight = SavedTensor(weight);
    if (n.needs_input_grad(1)) n.x = SavedTensor(x);
  });
  return y;
}

}  // namespace afinar
