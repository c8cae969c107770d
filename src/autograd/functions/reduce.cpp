// Autograd rules of sum and mean: the gradient is broadcast back over the reduced dims.
#include "afinar/ops/reduce.h"

#include "afinar/autograd/node.h"
#include "afinar/ops/elementwise.h"

namespace afinar {

namespace {
struct SumBackward : Node {
  Shape input_shape;
  std::vector<int64_t> dims;
  double scale = 1.0;  // 1 for sum, 1/n for mean
  const char* name() const override { return "SumBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {ops::sum_backward(g[0], input_shape, dims, scale)};
  }
};

Tensor reduce(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool is_mean) {
  Tensor y = ops::sum(x, dims, keepdim);
  double scale = 1.0;
  if (is_mean) {
    const int64_t n = y.numel() == 0 ? 0 : x.numel() / y.numel();
    scale = 1.0 / double(n);
    y = ops::mul_scalar(y, scale);
  }
  record<SumBackward>(y, {&x}, [&](SumBackward& node) {
    node.input_shape = x.shape();
    node.dims = dims;
    node.scale = scale;
  });
  return y;
}
}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce(x, dims, keepdim, false);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce(x, dims, keepdim, true);
}

}  // namespace afinar
