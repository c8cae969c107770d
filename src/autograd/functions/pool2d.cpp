// Autograd rules of max_pool2d (saves the argmax indices, never the input) and avg_pool2d (saves
// only the input shape: its backward is linear and needs no values).
#include "afinar/ops/pool2d.h"

#include "afinar/autograd/node.h"
#include "afinar/ops/unbatched.h"

namespace afinar {

namespace {

struct MaxPool2dBackward : Node {
  SavedTensor indices;
  Shape input_shape;
  MemoryFormat input_format = MemoryFormat::Contiguous;  // grad_input's, as the input's
  MaxPool2dOptions opt;
  const char* name() const override { return "MaxPool2dBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {ops::max_pool2d_backward(g[0], indices.get(), input_shape, opt, input_format)};
  }
  void release_saved() override { indices.release(); }
};

struct AvgPool2dBackward : Node {
  Shape input_shape;
  MemoryFormat input_format = MemoryFormat::Contiguous;  // grad_input's, as the input's
  AvgPool2dOptions opt;
  const char* name() const override { return "AvgPool2dBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {ops::avg_pool2d_backward(g[0], input_shape, opt, input_format)};
  }
};

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const MaxPool2dOptions& opt) {
  if (ops::is_unbatched(x, "max_pool2d")) {
    const auto [y, indices] = max_pool2d_with_indices(ops::with_batch_dim(x), opt);
    return {ops::without_batch_dim(y), ops::without_batch_dim(indices)};
  }
  std::pair<Tensor, Tensor> out = ops::max_pool2d_forward(x, opt);
  record<MaxPool2dBackward>(out.first, {&x}, [&](MaxPool2dBackward& n) {
    n.indices = SavedTensor(out.second);
    n.input_shape = x.shape();
    n.input_format = suggest_memory_format(x);
    n.opt = opt;
  });
  return out;
}

Tensor max_pool2d(const Tensor& x, const MaxPool2dOptions& opt) {
  return max_pool2d_with_indices(x, opt).first;
}

Tensor avg_pool2d(const Tensor& x, const AvgPool2dOptions& opt) {
  if (ops::is_unbatched(x, "avg_pool2d"))
    return ops::without_batch_dim(avg_pool2d(ops::with_batch_dim(x), opt));
  Tensor y = ops::avg_pool2d_forward(x, opt);
  record<AvgPool2dBackward>(y, {&x}, [&](AvgPool2dBackward& n) {
    n.input_shape = x.shape();
    n.input_format = suggest_memory_format(x);
    n.opt = opt;
  });
  return y;
}

}  // namespace afinar
