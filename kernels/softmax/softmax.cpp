// CUDA registrations of softmax / log_softmax forward and backward (kernels in softmax.cu).
#include "softmax/softmax.h"

#include "afinar/ops/softmax.h"
#include "runtime/context.h"

namespace afinar::cuda {

namespace {

template <bool Log>
void softmax_forward(const Tensor& y, const Tensor& x) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  visit_floating(x.dtype(), Log ? "log_softmax" : "softmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_softmax_forward<T>(y.data_ptr<T>(), x.data_ptr<T>(), x.size(0), x.size(1), x.size(2),
                              Log, compute_stream(dev));
  });
}

template <bool Log>
void softmax_backward(const Tensor& gi, const Tensor& go, const Tensor& y) {
  const int dev = y.device().index;
  DeviceGuard guard(dev);
  visit_floating(y.dtype(), Log ? "log_softmax_backward" : "softmax_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_softmax_backward<T>(gi.data_ptr<T>(), go.data_ptr<T>(), y.data_ptr<T>(), y.size(0),
                               y.size(1), y.size(2), Log, compute_stream(dev));
  });
}

}  // namespace

AFN_REGISTER_KERNEL(softmax_forward, CUDA, softmax_forward<false>);
AFN_REGISTER_KERNEL(softmax_backward, CUDA, softmax_backward<false>);
AFN_REGISTER_KERNEL(log_softmax_forward, CUDA, softmax_forward<true>);
AFN_REGISTER_KERNEL(log_softmax_backward, CUDA, softmax_backward<true>);

}  // namespace afinar::cuda
