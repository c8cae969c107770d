// PyTorch's unbatched [C,H,W] inputs for the 2-D spatial ops (include/afinar/ops/unbatched.h).
#include "afinar/ops/unbatched.h"

#include "afinar/core/check.h"

namespace afinar::ops {

bool is_unbatched(const Tensor& x, const char* op) {
  AFN_CHECK(x.defined(), op, ": input is undefined");
  AFN_CHECK(x.dim() == 3 || x.dim() == 4, op,
            ": expected a 3-D (unbatched [C,H,W]) or 4-D ([N,C,H,W]) input, got shape ", x.shape());
  return x.dim() == 3;
}

Tensor with_batch_dim(const Tensor& x) {
  Shape shape = x.shape();
  shape.insert(shape.begin(), 1);
  return x.reshape(shape);
}

Tensor without_batch_dim(const Tensor& y) {
  AFN_CHECK(y.dim() >= 1 && y.size(0) == 1,
            "without_batch_dim: expected a batch of one, got shape ", y.shape());
  return y.reshape(Shape(y.shape().begin() + 1, y.shape().end()));
}

}  // namespace afinar::ops
