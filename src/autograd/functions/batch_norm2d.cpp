// Autograd rule of batch_norm2d (math in include/afinar/ops/batch_norm2d.h): saves the input, γ
// and the forward's per-channel μ and invstd; the running statistics are state, not inputs, and
// get no gradient. One backward op computes the gradients that are needed, sharing the
// per-channel sums between them.
#include "afinar/ops/batch_norm2d.h"

#include "afinar/autograd/node.h"

namespace afinar {

namespace {
struct BatchNorm2dBackward : Node {
  SavedTensor x, weight, mean, invstd;
  bool training = true;
  const char* name() const override { return "BatchNorm2dBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    auto grads =
        ops::batch_norm2d_backward(g[0], x.get(), weight.get(), mean.get(), invstd.get(), training,
                                   {needs_input_grad(0), needs_input_grad(1), needs_input_grad(2)});
    return {grads.grad_input, grads.grad_weight, grads.grad_bias};
  }
  void release_saved() override {
    x.release();
    weight.release();
    mean.release();
    invstd.release();
  }
};
}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Tensor& running_mean, const Tensor& running_var, bool training,
                    double momentum, double eps) {
  auto fwd = ops::batch_norm2d_forward(x, weight, bias, running_mean, running_var, training,
                                       momentum, eps);
  record<BatchNorm2dBackward>(fwd.y, {&x, &weight, &bias}, [&](BatchNorm2dBackward& n) {
    n.x = SavedTensor(x);
    n.weight = SavedTensor(weight);
    n.mean = SavedTensor(fwd.mean);
    n.invstd = SavedTensor(fwd.invstd);
    n.training = training;
  });
  return fwd.y;
}

}  // namespace afinar
