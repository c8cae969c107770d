// Autograd rule of batch_norm2d and its fused form batch_norm2d_add_relu (math in
// include/afinar/ops/batch_norm2d.h): saves the input, γ and the forward's per-channel μ and
// invstd, plus the output when a relu follows (its mask); the running statistics are state, not
// inputs, and get no gradient. One backward op computes the gradients that are needed, sharing
// the per-channel sums between them.
#include "afinar/ops/batch_norm2d.h"

#include "afinar/autograd/node.h"

namespace afinar {

namespace {
struct BatchNorm2dBackward : Node {
  SavedTensor x, weight, mean, invstd, relu_output;  // relu_output: only with the relu epilogue
  bool training = true, relu = false;
  const char* name() const override {
    return relu ? "BatchNorm2dAddReluBackward" : "BatchNorm2dBackward";
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    auto grads = ops::batch_norm2d_backward(
        g[0], x.get(), weight.get(), mean.get(), invstd.get(), training,
        {needs_input_grad(0), needs_input_grad(1), needs_input_grad(2), needs_input_grad(3)},
        relu_output.get());
    return {grads.grad_input, grads.grad_weight, grads.grad_bias, grads.grad_residual};
  }
  void release_saved() override {
    x.release();
    weight.release();
    mean.release();
    invstd.release();
    relu_output.release();
  }
};

Tensor batch_norm2d_with(const Tensor& x, const Tensor& weight, const Tensor& bias,
                         const Tensor& running_mean, const Tensor& running_var, bool training,
                         double momentum, double eps, const ops::AddReluEpilogue& epilogue) {
  auto fwd = ops::batch_norm2d_forward(x, weight, bias, running_mean, running_var, training,
                                       momentum, eps, epilogue);
  record<BatchNorm2dBackward>(fwd.y, {&x, &weight, &bias, &epilogue.residual},
                              [&](BatchNorm2dBackward& n) {
                                n.x = SavedTensor(x);
                                n.weight = SavedTensor(weight);
                                n.mean = SavedTensor(fwd.mean);
                                n.invstd = SavedTensor(fwd.invstd);
                                if (epilogue.relu) n.relu_output = SavedTensor(fwd.y);
                                n.training = training;
                                n.relu = epilogue.relu;
                              });
  return fwd.y;
}
}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Tensor& running_mean, const Tensor& running_var, bool training,
                    double momentum, double eps) {
  return batch_norm2d_with(x, weight, bias, running_mean, running_var, training, momentum, eps, {});
}

Tensor batch_norm2d_add_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                             const Tensor& running_mean, const Tensor& running_var,
                             const Tensor& residual, bool training, double momentum, double eps) {
  return batch_norm2d_with(x, weight, bias, running_mean, running_var, training, momentum, eps,
                           {.residual = residual, .relu = true});
}

}  // namespace afinar
