// CUDA registrations of relu forward / backward.
#include "activation/relu.h"

#include "afinar/ops/activation.h"
#include "runtime/context.h"
#include "runtime/dtype_dispatch.h"

namespace afinar::cuda {

namespace {

void relu_forward(const Tensor& y, const Tensor& x) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  visit_floating_or_16bit(x.dtype(), "relu", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_relu_forward<T>(y.data_ptr<T>(), x.data_ptr<T>(), x.numel(), compute_stream(dev));
  });
}

void relu_backward(const Tensor& gi, const Tensor& go, const Tensor& y) {
  const int dev = y.device().index;
  DeviceGuard guard(dev);
  visit_floating_or_16bit(y.dtype(), "relu_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_relu_backward<T>(gi.data_ptr<T>(), go.data_ptr<T>(), y.data_ptr<T>(), y.numel(),
                            compute_stream(dev));
  });
}

}  // namespace

AFN_REGISTER_KERNEL(relu_forward, CUDA, relu_forward);
AFN_REGISTER_KERNEL(relu_backward, CUDA, relu_backward);

}  // namespace afinar::cuda
