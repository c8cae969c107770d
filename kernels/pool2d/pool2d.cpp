// CUDA registrations of max_pool2d / avg_pool2d (forward and backward), and the tensor-level
// pooling that the adaptive pools share (pool2d_ops.h).
#include <cstdint>
#include <string>

#include "afinar/ops/pool2d.h"
#include "pool2d/pool2d_ops.h"
#include "runtime/context.h"
#include "runtime/cuda_check.h"
#include "runtime/deferred_check.h"
#include "runtime/dtype_dispatch.h"

namespace afinar::cuda {

namespace {

PoolStrides strides_of(const Tensor& t) {
  const Strides& s = t.strides();
  return {s[0], s[1], s[2], s[3]};
}

}  // namespace

PoolGeometry pool_geometry(const Tensor& input, const Tensor& output) {
  PoolGeometry g;
  g.batch = input.size(0);
  g.channels = input.size(1);
  g.input = strides_of(input);
  g.output = strides_of(output);
  // The contract: every operand dense NCHW or channels-last, so one that is not NCHW-contiguous
  // is channels-last (and then so is the other, or it is both).
  g.channels_last = !input.is_contiguous() || !output.is_contiguous();
  g.rows.input = input.size(2);
  g.cols.input = input.size(3);
  g.rows.output = output.size(2);
  g.cols.output = output.size(3);
  return g;
}

void max_pool2d_forward_cuda(const Tensor& y, const Tensor& indices, const Tensor& x,
                             const PoolGeometry& g, const char* op) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  visit_floating_or_16bit(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_max_pool2d_forward<T>(y.data_ptr<T>(), indices.data_ptr<int64_t>(), x.data_ptr<T>(), g,
                                 compute_stream(dev));
  });
}

void max_pool2d_backward_cuda(const Tensor& grad_input, const Tensor& grad_output,
                              const Tensor& indices, const PoolGeometry& g, const char* op) {
  const int dev = grad_output.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t stream = compute_stream(dev);
  if (grad_input.numel() == 0) return;

  // The raw op accepts user indices: they are checked on the device, which also picks the
  // kernel (pool2d.h), and an index outside the plane is an error at the next synchronisation
  // (runtime/deferred_check.h); nothing is written out of bounds meanwhile.
  const int64_t plane = g.rows.input * g.cols.input;
  unsigned long long* flag =
      deferred_flag(dev, [op, plane, shape = grad_input.shape()](unsigned long long value) {
        if (value != kIndexOutOfRange) return std::string();  // off-window indices are legal
        return detail::concat(op, ": indices lie outside the input plane [0, ", plane,
                              ") of grad_input ", shape,
                              "; indices must come from the forward of an input of that shape");
      });
  launch_max_pool2d_check_indices(flag, indices.data_ptr<int64_t>(), g, stream);
  visit_floating_or_16bit(grad_output.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_max_pool2d_backward_gather<T>(grad_input.data_ptr<T>(), grad_output.data_ptr<T>(),
                                         indices.data_ptr<int64_t>(), g, flag, stream);
    launch_max_pool2d_backward_scatter<T>(grad_input.data_ptr<T>(), grad_output.data_ptr<T>(),
                                          indices.data_ptr<int64_t>(), g, flag, stream);
  });
  check_if_debugging(dev);
}

void avg_pool2d_forward_cuda(const Tensor& y, const Tensor& x, const PoolGeometry& g, AvgDivisor d,
                             const char* op) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  visit_floating_or_16bit(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_avg_pool2d_forward<T>(y.data_ptr<T>(), x.data_ptr<T>(), g, d, compute_stream(dev));
  });
}

void avg_pool2d_backward_cuda(const Tensor& grad_input, const Tensor& grad_output,
                              const PoolGeometry& g, AvgDivisor d, const char* op) {
  const int dev = grad_output.device().index;
  DeviceGuard guard(dev);
  if (grad_input.numel() == 0) return;
  // grad_output / divisor per output, from the caching allocator (freed stream-ordered); the
  // kernels address it with grad_output's strides (a dense layout: offsets in [0, numel)).
  visit_floating_or_16bit(grad_output.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Tensor shares = empty(grad_output.shape(), dtype_of<compute_t<T>>, grad_output.device());
    launch_avg_pool2d_backward<T>(grad_input.data_ptr<T>(), grad_output.data_ptr<T>(),
                                  shares.data_ptr<compute_t<T>>(), g, d, compute_stream(dev));
  });
}

namespace {

// The regular window rule of both axes from the op's options.
void set_windows(PoolGeometry& g, const IntPair& kernel, const IntPair& stride,
                 const IntPair& padding, const IntPair& dilation) {
  PoolAxis* axes[2] = {&g.rows, &g.cols};
  for (int i = 0; i < 2; ++i) {
    axes[i]->adaptive = false;
    axes[i]->kernel = kernel[size_t(i)];
    axes[i]->stride = stride[size_t(i)];
    axes[i]->padding = padding[size_t(i)];
    axes[i]->dilation = dilation[size_t(i)];
  }
}

PoolGeometry geometry(const Tensor& input, const Tensor& output, const MaxPool2dOptions& o) {
  PoolGeometry g = pool_geometry(input, output);
  set_windows(g, o.kernel_size, o.stride, o.padding, o.dilation);
  return g;
}

PoolGeometry geometry(const Tensor& input, const Tensor& output, const AvgPool2dOptions& o) {
  PoolGeometry g = pool_geometry(input, output);
  set_windows(g, o.kernel_size, o.stride, o.padding, {1, 1});
  return g;
}

AvgDivisor divisor(const AvgPool2dOptions& o) {
  return {o.count_include_pad, o.divisor_override};
}

void max_pool2d_forward(const Tensor& y, const Tensor& indices, const Tensor& x,
                        const MaxPool2dOptions& o) {
  max_pool2d_forward_cuda(y, indices, x, geometry(x, y, o), "max_pool2d");
}

void max_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output, const Tensor& indices,
                         const MaxPool2dOptions& o) {
  max_pool2d_backward_cuda(grad_input, grad_output, indices, geometry(grad_input, grad_output, o),
                           "max_pool2d_backward");
}

void avg_pool2d_forward(const Tensor& y, const Tensor& x, const AvgPool2dOptions& o) {
  avg_pool2d_forward_cuda(y, x, geometry(x, y, o), divisor(o), "avg_pool2d");
}

void avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output,
                         const AvgPool2dOptions& o) {
  avg_pool2d_backward_cuda(grad_input, grad_output, geometry(grad_input, grad_output, o),
                           divisor(o), "avg_pool2d_backward");
}

}  // namespace

AFN_REGISTER_KERNEL(max_pool2d_forward, CUDA, max_pool2d_forward);
AFN_REGISTER_KERNEL(max_pool2d_backward, CUDA, max_pool2d_backward);
AFN_REGISTER_KERNEL(avg_pool2d_forward, CUDA, avg_pool2d_forward);
AFN_REGISTER_KERNEL(avg_pool2d_backward, CUDA, avg_pool2d_backward);

}  // namespace afinar::cuda
