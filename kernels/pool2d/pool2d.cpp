// CUDA registrations of max_pool2d / avg_pool2d (forward and backward), and the tensor-level
// pooling that the adaptive pools share (pool2d_ops.h).
#include <cstdint>

#include "afinar/ops/pool2d.h"
#include "pool2d/pool2d_ops.h"
#include "runtime/context.h"
#include "runtime/cuda_check.h"

namespace afinar::cuda {

PoolGeometry pool_geometry(const Tensor& input, const Tensor& output) {
  PoolGeometry g;
  g.planes = input.size(0) * input.size(1);
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
  visit_floating(x.dtype(), op, [&](auto tag) {
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

  // Check the indices first: the raw op accepts user indices, and an error must be reported
  // before anything is written out of bounds (the gather never does) or silently dropped.
  int flags = 0;
  if (grad_output.numel() > 0) {
    Tensor flag = empty({1}, DType::I32, grad_output.device());
    AFN_CUDA_CHECK(cudaMemsetAsync(flag.raw_data_ptr(), 0, sizeof(int), stream));
    launch_max_pool2d_check_indices(flag.data_ptr<int32_t>(), indices.data_ptr<int64_t>(), g,
                                    stream);
    AFN_CUDA_CHECK(
        cudaMemcpyAsync(&flags, flag.raw_data_ptr(), sizeof(int), cudaMemcpyDeviceToHost, stream));
    AFN_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  AFN_CHECK((flags & kIndexOutOfRange) == 0, op, ": indices lie outside the input plane [0, ",
            g.rows.input * g.cols.input, ") of grad_input ", grad_input.shape(),
            "; indices must come from the forward of an input of that shape");

  visit_floating(grad_output.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (flags & kIndexOffWindow) {
      AFN_CUDA_CHECK(cudaMemsetAsync(grad_input.raw_data_ptr(), 0, grad_input.nbytes(), stream));
      launch_max_pool2d_backward_scatter<T>(grad_input.data_ptr<T>(), grad_output.data_ptr<T>(),
                                            indices.data_ptr<int64_t>(), g, stream);
    } else {
      launch_max_pool2d_backward_gather<T>(grad_input.data_ptr<T>(), grad_output.data_ptr<T>(),
                                           indices.data_ptr<int64_t>(), g, stream);
    }
  });
}

void avg_pool2d_forward_cuda(const Tensor& y, const Tensor& x, const PoolGeometry& g, AvgDivisor d,
                             const char* op) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  visit_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_avg_pool2d_forward<T>(y.data_ptr<T>(), x.data_ptr<T>(), g, d, compute_stream(dev));
  });
}

void avg_pool2d_backward_cuda(const Tensor& grad_input, const Tensor& grad_output,
                              const PoolGeometry& g, AvgDivisor d, const char* op) {
  const int dev = grad_output.device().index;
  DeviceGuard guard(dev);
  if (grad_input.numel() == 0) return;
  // grad_output / divisor per output, from the caching allocator (freed stream-ordered).
  Tensor shares = empty(grad_output.shape(), grad_output.dtype(), grad_output.device());
  visit_floating(grad_output.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_avg_pool2d_backward<T>(grad_input.data_ptr<T>(), grad_output.data_ptr<T>(),
                                  shares.data_ptr<T>(), g, d, compute_stream(dev));
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
