// Front end of argmax / topk: checks, output shapes, and the [outer, C, inner] views the
// backends take (split_at_dim / as_dim_blocks from ops/dim_split.h).
#include "afinar/ops/topk.h"

#include "afinar/ops/check_args.h"
#include "afinar/ops/dim_split.h"

namespace afinar::ops {

AFN_DEFINE_KERNEL(argmax, ArgmaxFn)
AFN_DEFINE_KERNEL(topk_forward, TopkForwardFn)
AFN_DEFINE_KERNEL(topk_backward, TopkBackwardFn)

namespace {

// The shape of topk's outputs: input_shape with the size of dim replaced by k. A 0-D input gives
// 0-D outputs for k = 0 as well as k = 1, holding the element and index 0 (PyTorch's TopK meta
// function sizes a 0-D output and its kernel copies the element either way).
Shape topk_shape(const Shape& input_shape, const DimSplit& s, int64_t k) {
  if (input_shape.empty()) return Shape{};
  Shape out = input_shape;
  out[size_t(s.dim)] = k;
  return out;
}

}  // namespace

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  check_floating(x, "argmax", "input");
  const DimSplit s = split_at_dim(x.shape(), dim, "argmax");
  AFN_CHECK(s.size > 0, "argmax: dim ", dim, " has size 0 (input shape ", x.shape(),
            "); there is no maximum to find");
  Shape out_shape = x.shape();
  if (!out_shape.empty()) {
    if (keepdim)
      out_shape[size_t(s.dim)] = 1;
    else
      out_shape.erase(out_shape.begin() + s.dim);
  }
  Tensor indices = empty(out_shape, DType::I64, x.device());
  argmax_kernels().get(x.device())(indices.reshape({s.outer, s.inner}), as_dim_blocks(x, s));
  return indices;
}

TopK topk_forward(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  check_floating(x, "topk", "input");
  const DimSplit s = split_at_dim(x.shape(), dim, "topk");
  AFN_CHECK(k >= 0 && k <= s.size, "topk: k = ", k, " is out of range for dim ", dim, " of size ",
            s.size, " (input shape ", x.shape(), "); expected 0 <= k <= ", s.size);
  const Shape out_shape = topk_shape(x.shape(), s, k);
  TopK out{empty(out_shape, x.dtype(), x.device()), empty(out_shape, DType::I64, x.device())};
  const DimSplit out_split{s.dim, s.outer, x.dim() == 0 ? 1 : k, s.inner};
  topk_forward_kernels().get(x.device())(as_dim_blocks(out.values, out_split),
                                         as_dim_blocks(out.indices, out_split), as_dim_blocks(x, s),
                                         largest, sorted);
  return out;
}

Tensor topk_backward(const Tensor& grad_values, const Tensor& indices, const Shape& input_shape,
                     int64_t dim) {
  check_floating(grad_values, "topk_backward", "grad_values");
  AFN_CHECK(indices.defined() && indices.dtype() == DType::I64,
            "topk_backward: indices must be an int64 tensor");
  AFN_CHECK(indices.device() == grad_values.device(), "topk_backward: indices are on ",
            indices.device(), " but grad_values is on ", grad_values.device());
  check_same_shape(indices, grad_values, "topk_backward", "indices", "grad_values");
  const DimSplit s = split_at_dim(input_shape, dim, "topk_backward");
  const int64_t k = input_shape.empty()                                ? grad_values.numel()
                    : grad_values.dim() == int64_t(input_shape.size()) ? grad_values.size(s.dim)
                                                                       : -1;
  AFN_CHECK(k >= 0 && k <= s.size && grad_values.shape() == topk_shape(input_shape, s, k),
            "topk_backward: grad_values has shape ", grad_values.shape(),
            " which is not a top-k of an input of shape ", input_shape, " along dim ", dim);
  const DimSplit out_split{s.dim, s.outer, k, s.inner};
  Tensor grad_input = empty(input_shape, grad_values.dtype(), grad_values.device());
  topk_backward_kernels().get(grad_values.device())(as_dim_blocks(grad_input, s),
                                                    as_dim_blocks(grad_values, out_split),
                                                    as_dim_blocks(indices, out_split));
  return grad_input;
}

}  // namespace afinar::ops
