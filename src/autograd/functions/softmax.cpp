// Autograd rules of softmax and log_softmax: both backward rules need only the output y, so one
// node template serves both (math in include/afinar/ops/softmax.h).
#include "afinar/ops/softmax.h"

#include "afinar/autograd/autocast.h"
#include "afinar/autograd/node.h"

namespace afinar {

namespace {

template <bool Log>
struct SoftmaxBackward : Node {
  SavedTensor y;
  int64_t dim = 0;
  const char* name() const override { return Log ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {Log ? ops::log_softmax_backward(g[0], y.get(), dim)
                : ops::softmax_backward(g[0], y.get(), dim)};
  }
  void release_saved() override { y.release(); }
};

template <bool Log>
Tensor softmax_with_grad(const Tensor& x_in, int64_t dim) {
  // Autocast's float32 list on CUDA (not on the CPU, as torch).
  const Tensor x = autocast::to_float(x_in, /*cuda_only=*/true);
  Tensor y = Log ? ops::log_softmax_forward(x, dim) : ops::softmax_forward(x, dim);
  record<SoftmaxBackward<Log>>(y, {&x}, [&](SoftmaxBackward<Log>& n) {
    n.y = SavedTensor(y);
    n.dim = dim;
  });
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  return softmax_with_grad<false>(x, dim);
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  return softmax_with_grad<true>(x, dim);
}

}  // namespace afinar
