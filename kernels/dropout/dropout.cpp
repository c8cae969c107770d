// CUDA registrations of dropout forward / backward (kernels in dropout.cu).
#include "dropout/dropout.h"

#include "afinar/ops/dropout.h"
#include "afinar/ops/dropout_rule.h"
#include "runtime/context.h"

namespace afinar::cuda {

namespace {

void dropout_forward(const Tensor& y, const Tensor& mask, const Tensor& x, double p, uint64_t seed,
                     uint64_t offset) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  visit_floating(x.dtype(), "dropout", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_dropout_forward<T>(y.data_ptr<T>(), mask.data_ptr<uint8_t>(), x.data_ptr<T>(), x.numel(),
                              p, dropout_keep_scale<T>(p), seed, offset, compute_stream(dev));
  });
}

void dropout_backward(const Tensor& gi, const Tensor& go, const Tensor& mask, double p) {
  const int dev = go.device().index;
  DeviceGuard guard(dev);
  visit_floating(go.dtype(), "dropout_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_dropout_backward<T>(gi.data_ptr<T>(), go.data_ptr<T>(), mask.data_ptr<uint8_t>(),
                               go.numel(), dropout_keep_scale<T>(p), compute_stream(dev));
  });
}

}  // namespace

AFN_REGISTER_KERNEL(dropout_forward, CUDA, dropout_forward);
AFN_REGISTER_KERNEL(dropout_backward, CUDA, dropout_backward);

}  // namespace afinar::cuda
