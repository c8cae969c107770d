// Front end of sum / mean: the reduced dims are moved last, so every backend only sums the rows
// of a contiguous [outer, inner] matrix; the backward is a broadcast (a zero-stride view copied).
#include "afinar/ops/reduce.h"

#include <algorithm>

#include "afinar/ops/check_args.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/fill.h"

namespace afinar::ops {

AFN_DEFINE_KERNEL(sum_rows, SumRowsFn)

namespace {

// Sorted, unique, wrapped reduced dims; all dims when `dims` is empty. A 0-D tensor takes dim 0
// or -1 as PyTorch does (as if it were 1-D) and reduces nothing: its sum is itself.
std::vector<int64_t> reduced_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> r;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) r.push_back(d);
    return r;
  }
  for (int64_t d : dims) r.push_back(wrap_dim(d, std::max<int64_t>(ndim, 1), op));
  std::sort(r.begin(), r.end());
  AFN_CHECK(std::adjacent_find(r.begin(), r.end()) == r.end(), op, ": a dim appears twice in ",
            dims);
  if (ndim == 0) r.clear();
  return r;
}

bool contains(const std::vector<int64_t>& v, int64_t d) {
  return std::find(v.begin(), v.end(), d) != v.end();
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, ReduceAlgo algo) {
  check_floating(x, "sum", "input");
  const auto red = reduced_dims(dims, x.dim(), "sum");
  std::vector<int64_t> order;
  Shape kept_shape, out_shape;
  int64_t inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (contains(red, d)) {
      inner *= x.size(d);
      if (keepdim) out_shape.push_back(1);
    } else {
      order.push_back(d);
      kept_shape.push_back(x.size(d));
      out_shape.push_back(x.size(d));
    }
  }
  order.insert(order.end(), red.begin(), red.end());
  const int64_t outer = numel_of(kept_shape);
  Tensor rows = x.detach().permute(order).contiguous().reshape({outer, inner});
  Tensor out = empty({outer}, x.dtype(), x.device());
  sum_rows_kernels().get(x.device())(out, rows, algo);
  return out.reshape(out_shape);
}

Tensor sum_backward(const Tensor& g, const Shape& input_shape, const std::vector<int64_t>& dims,
                    double scale) {
  const int64_t nd = int64_t(input_shape.size());
  const auto red = reduced_dims(dims, nd, "sum_backward");
  // g with the input's rank (reduced dims of size 1), expanded to the input's shape.
  Shape keep_shape;
  for (int64_t d = 0; d < nd; ++d)
    keep_shape.push_back(contains(red, d) ? 1 : input_shape[size_t(d)]);
  const Tensor expanded = g.detach().reshape(keep_shape).expand(input_shape);
  Tensor out = empty(input_shape, g.dtype(), g.device());
  copy_kernels().get(g.device())(out, expanded);
  return scale == 1.0 ? out : ops::mul_scalar(out, scale);
}

}  // namespace afinar::ops
