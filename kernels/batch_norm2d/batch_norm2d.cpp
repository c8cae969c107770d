// CUDA registrations of batch_norm2d forward / backward (the contract: include/afinar/ops/
// batch_norm2d.h and its CPU reference src/ops/cpu/batch_norm2d.cpp).
#include "batch_norm2d/batch_norm2d.h"

#include "afinar/ops/batch_norm2d.h"
#include "runtime/context.h"
#include "runtime/dtype_dispatch.h"

namespace afinar::cuda {

namespace {

template <typename T>
T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

// Scratch from the caching allocator, released (stream-ordered) when the caller's scope ends.
Tensor workspace(int64_t C, bool channels_last, const Device& device) {
  return empty({int64_t(batch_norm_workspace_bytes(C, channels_last))}, DType::U8, device);
}

// The contract of the kernel tables: x (and every activation-shaped operand with it) is NCHW-
// contiguous or else channels-last dense; where both hold, the NCHW path reads the same memory.
bool channels_last(const Tensor& x) {
  return !x.is_contiguous();
}

void batch_norm2d_forward(const ops::BatchNorm2dForwardArgs& a) {
  const int dev = a.x.device().index;
  DeviceGuard guard(dev);
  visit_floating_or_16bit(a.x.dtype(), "batch_norm2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using P = compute_t<T>;
    BatchNormForwardParams<T> p{};
    p.y = ptr_or_null<T>(a.y);
    p.mean = ptr_or_null<P>(a.mean);
    p.invstd = ptr_or_null<P>(a.invstd);
    p.x = a.x.data_ptr<T>();
    p.weight = ptr_or_null<P>(a.weight);
    p.bias = ptr_or_null<P>(a.bias);
    p.running_mean = ptr_or_null<P>(a.running_mean);
    p.running_var = ptr_or_null<P>(a.running_var);
    p.N = a.x.size(0);
    p.C = a.x.size(1);
    p.HW = a.x.size(2) * a.x.size(3);
    p.channels_last = channels_last(a.x);
    p.training = a.training;
    p.momentum = a.momentum;
    p.eps = a.eps;
    p.residual = ptr_or_null<T>(a.residual);
    p.relu = a.relu;
    AFN_CHECK(p.training || (p.running_mean && p.running_var),
              "batch_norm2d: running_mean and running_var are required in evaluation mode");
    if (p.C == 0) return;
    Tensor ws = workspace(p.C, p.channels_last, a.x.device());
    launch_batch_norm_forward<T>(p, ws.raw_data_ptr(), compute_stream(dev));
  });
}

void batch_norm2d_backward(const ops::BatchNorm2dBackwardArgs& a) {
  const int dev = a.x.device().index;
  DeviceGuard guard(dev);
  visit_floating_or_16bit(a.x.dtype(), "batch_norm2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using P = compute_t<T>;
    BatchNormBackwardParams<T> p{};
    p.grad_input = ptr_or_null<T>(a.grad_input);
    p.grad_weight = ptr_or_null<P>(a.grad_weight);
    p.grad_bias = ptr_or_null<P>(a.grad_bias);
    p.grad_output = a.grad_output.data_ptr<T>();
    p.x = a.x.data_ptr<T>();
    p.weight = ptr_or_null<P>(a.weight);
    p.mean = a.mean.data_ptr<P>();
    p.invstd = a.invstd.data_ptr<P>();
    p.N = a.x.size(0);
    p.C = a.x.size(1);
    p.HW = a.x.size(2) * a.x.size(3);
    p.channels_last = channels_last(a.x);
    p.training = a.training;
    if (p.C == 0 || (!p.grad_input && !p.grad_weight && !p.grad_bias)) return;
    Tensor ws = workspace(p.C, p.channels_last, a.x.device());
    launch_batch_norm_backward<T>(p, ws.raw_data_ptr(), compute_stream(dev));
  });
}

}  // namespace

AFN_REGISTER_KERNEL(batch_norm2d_forward, CUDA, batch_norm2d_forward);
AFN_REGISTER_KERNEL(batch_norm2d_backward, CUDA, batch_norm2d_backward);

}  // namespace afinar::cuda
