// CUDA registration of the row sum behind sum / mean.
#include "reduce/sum_rows.h"

#include "afinar/ops/reduce.h"
#include "runtime/context.h"

namespace afinar::cuda {

namespace {
void sum_rows(const Tensor& out, const Tensor& x) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  visit_floating(x.dtype(), "sum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_sum_rows<T>(out.data_ptr<T>(), x.data_ptr<T>(), x.size(0), x.size(1),
                       compute_stream(dev));
  });
}
}  // namespace

AFN_REGISTER_KERNEL(sum_rows, CUDA, sum_rows);

}  // namespace afinar::cuda
