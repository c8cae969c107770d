// Autograd rules of adaptive_max_pool2d (saves the argmax indices, never the input) and
// adaptive_avg_pool2d (saves only the input shape: its backward is linear).
#include "afinar/ops/adaptive_pool2d.h"

#include "afinar/autograd/node.h"
#include "afinar/ops/unbatched.h"

namespace afinar {

namespace {

struct AdaptiveMaxPool2dBackward : Node {
  SavedTensor indices;
  Shape input_shape;
  MemoryFormat input_format = MemoryFormat::Contiguous;  // grad_input's, as the input's
  const char* name() const override { return "AdaptiveMaxPool2dBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {ops::adaptive_max_pool2d_backward(g[0], indices.get(), input_shape, input_format)};
  }
  void release_saved() override { indices.release(); }
};

struct AdaptiveAvgPool2dBackward : Node {
  Shape input_shape;
  MemoryFormat input_format = MemoryFormat::Contiguous;  // grad_input's, as the input's
  const char* name() const override { return "AdaptiveAvgPool2dBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {ops::adaptive_avg_pool2d_backward(g[0], input_shape, input_format)};
  }
};

}  // namespace

std::pair<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& x, IntPair output_size) {
  if (ops::is_unbatched(x, "adaptive_max_pool2d")) {
    const auto [y, indices] = adaptive_max_pool2d_with_indices(ops::with_batch_dim(x), output_size);
    return {ops::without_batch_dim(y), ops::without_batch_dim(indices)};
  }
  std::pair<Tensor, Tensor> out = ops::adaptive_max_pool2d_forward(x, output_size);
  record<AdaptiveMaxPool2dBackward>(out.first, {&x}, [&](AdaptiveMaxPool2dBackward& n) {
    n.indices = SavedTensor(out.second);
    n.input_shape = x.shape();
    n.input_format = suggest_memory_format(x);
  });
  return out;
}

Tensor adaptive_max_pool2d(const Tensor& x, IntPair output_size) {
  return adaptive_max_pool2d_with_indices(x, output_size).first;
}

Tensor adaptive_avg_pool2d(const Tensor& x, IntPair output_size) {
  if (ops::is_unbatched(x, "adaptive_avg_pool2d"))
    return ops::without_batch_dim(adaptive_avg_pool2d(ops::with_batch_dim(x), output_size));
  Tensor y = ops::adaptive_avg_pool2d_forward(x, output_size);
  record<AdaptiveAvgPool2dBackward>(y, {&x}, [&](AdaptiveAvgPool2dBackward& n) {
    n.input_shape = x.shape();
    n.input_format = suggest_memory_format(x);
  });
  return y;
}

}  // namespace afinar
