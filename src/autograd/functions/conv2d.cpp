// Autograd rule of conv2d (math in include/afinar/ops/conv2d.h). Each input's gradient is its own
// op, run only when that input needs it: a frozen weight never reaches conv2d_backward_weight and
// the first layer (an input that needs no gradient) never reaches conv2d_backward_input. Each
// saved tensor is kept only for the gradient that uses it (dx needs the weight, dw the input).
#include "afinar/ops/conv2d.h"

#include "afinar/autograd/autocast.h"
#include "afinar/autograd/node.h"
#include "afinar/ops/unbatched.h"

namespace afinar {

namespace {
struct Conv2dBackward : Node {
  SavedTensor x, weight, relu_output;  // relu_output: only with the relu epilogue
  Shape x_shape, weight_shape;
  Conv2dOptions options;
  bool relu = false;
  const char* name() const override { return relu ? "Conv2dAddReluBackward" : "Conv2dBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    const Tensor gy = ops::epilogue_backward(g[0], relu_output.get());
    return {needs_input_grad(0) ? ops::conv2d_backward_input(gy, weight.get(), x_shape, options)
                                : Tensor(),
            needs_input_grad(1) ? ops::conv2d_backward_weight(gy, x.get(), weight_shape, options)
                                : Tensor(),
            needs_input_grad(2) ? ops::conv2d_backward_bias(gy) : Tensor(),
            needs_input_grad(3) ? gy : Tensor()};
  }
  void release_saved() override {
    x.release();
    weight.release();
    relu_output.release();
  }
};

Tensor conv2d_with(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in,
                   const Conv2dOptions& options, const ops::AddReluEpilogue& epilogue) {
  if (ops::is_unbatched(x_in, epilogue.relu ? "conv2d_add_relu" : "conv2d")) {
    // The residual of an unbatched input is unbatched too.
    const Tensor residual = epilogue.residual.defined() && epilogue.residual.dim() == 3
                                ? ops::with_batch_dim(epilogue.residual)
                                : epilogue.residual;
    return ops::without_batch_dim(conv2d_with(ops::with_batch_dim(x_in), weight_in, bias_in,
                                              options,
                                              {.residual = residual, .relu = epilogue.relu}));
  }
  // Autocast's lower-precision list (autograd/autocast.h): 16-bit operands under autocast. The
  // residual is not cast: it must already have the output's dtype (as the add it replaces would
  // give a float32 sum otherwise).
  const Tensor x = autocast::to_lower(x_in), weight = autocast::to_lower(weight_in),
               bias = autocast::to_lower(bias_in);
  Tensor y = ops::conv2d_forward(x, weight, bias, options, epilogue);
  record<Conv2dBackward>(y, {&x, &weight, &bias, &epilogue.residual}, [&](Conv2dBackward& n) {
    n.x_shape = x.shape();
    n.weight_shape = weight.shape();
    n.options = options;
    if (n.needs_input_grad(0)) n.weight = SavedTensor(weight);
    if (n.needs_input_grad(1)) n.x = SavedTensor(x);
    if (epilogue.relu) n.relu_output = SavedTensor(y);
    n.relu = epilogue.relu;
  });
  return y;
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options) {
  return conv2d_with(x, weight, bias, options, {});
}

Tensor conv2d_add_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& residual, const Conv2dOptions& options) {
  return conv2d_with(x, weight, bias, options, {.residual = residual, .relu = true});
}

}  // namespace afinar
