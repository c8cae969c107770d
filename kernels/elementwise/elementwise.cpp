// CUDA registrations of add / mul / affine.
#include "elementwise/elementwise.h"

#include "afinar/ops/elementwise.h"
#include "runtime/context.h"
#include "runtime/dtype_dispatch.h"

namespace afinar::cuda {

namespace {

void add(const Tensor& out, const Tensor& a, const Tensor& b, double alpha) {
  const int dev = a.device().index;
  DeviceGuard guard(dev);
  visit_floating_or_16bit(a.dtype(), "add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_add<T>(out.data_ptr<T>(), a.data_ptr<T>(), b.data_ptr<T>(), compute_t<T>(alpha),
                  a.numel(), compute_stream(dev));
  });
}

void mul(const Tensor& out, const Tensor& a, const Tensor& b) {
  const int dev = a.device().index;
  DeviceGuard guard(dev);
  visit_floating_or_16bit(a.dtype(), "mul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_mul<T>(out.data_ptr<T>(), a.data_ptr<T>(), b.data_ptr<T>(), a.numel(),
                  compute_stream(dev));
  });
}

void affine(const Tensor& out, const Tensor& a, double scale, double shift) {
  const int dev = a.device().index;
  DeviceGuard guard(dev);
  visit_floating_or_16bit(a.dtype(), "affine", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_affine<T>(out.data_ptr<T>(), a.data_ptr<T>(), compute_t<T>(scale), compute_t<T>(shift),
                     a.numel(), compute_stream(dev));
  });
}

}  // namespace

AFN_REGISTER_KERNEL(add, CUDA, add);
AFN_REGISTER_KERNEL(mul, CUDA, mul);
AFN_REGISTER_KERNEL(affine, CUDA, affine);

}  // namespace afinar::cuda
