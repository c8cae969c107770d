// CUDA registrations of fill / copy / uniform / normal / transfer: Tensors in, launches out.
#include "fill/fill.h"

#include "afinar/ops/fill.h"
#include "runtime/context.h"
#include "runtime/cuda_check.h"
#include "runtime/deferred_check.h"
#include "runtime/dtype_dispatch.h"
#include "runtime/events.h"
#include "runtime/pinned_allocator.h"

namespace afinar::cuda {

namespace {

StridedLayout layout_of(const Tensor& t, const char* op) {
  AFN_CHECK(t.dim() <= kMaxDims, op, ": CUDA strided kernels take at most ", kMaxDims,
            " dimensions, got shape ", t.shape(), "; reshape or make it contiguous first");
  StridedLayout l;
  l.ndim = int(t.dim());
  for (int d = 0; d < l.ndim; ++d) {
    l.shape[d] = t.shape()[size_t(d)];
    l.stride[d] = t.strides()[size_t(d)];
  }
  return l;
}

void fill(const Tensor& dst, double value) {
  DeviceGuard guard(dst.device().index);
  visit_dtype(dst.dtype(), "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_fill<T>(static_cast<T*>(dst.raw_data_ptr()), layout_of(dst, "fill"), dst.numel(), value,
                   compute_stream(dst.device().index));
  });
}

void copy(const Tensor& dst, const Tensor& src) {
  AFN_CHECK(dst.device() == src.device(), "copy: both tensors must be on one device (",
            dst.device(), " vs ", src.device(), "); use .to(device) to move data");
  const int dev = dst.device().index;
  DeviceGuard guard(dev);
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous()) {
    AFN_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data_ptr(), src.raw_data_ptr(), dst.nbytes(),
                                   cudaMemcpyDeviceToDevice, compute_stream(dev)));
    return;
  }
  visit_dtype(dst.dtype(), "copy", [&](auto dtag) {
    using D = typename decltype(dtag)::type;
    visit_dtype(src.dtype(), "copy", [&](auto stag) {
      using S = typename decltype(stag)::type;
      launch_copy<D, S>(static_cast<D*>(dst.raw_data_ptr()), layout_of(dst, "copy"),
                        static_cast<const S*>(src.raw_data_ptr()), layout_of(src, "copy"),
                        dst.numel(), compute_stream(dev));
    });
  });
}

void uniform(const Tensor& dst, double low, double high, uint64_t seed, uint64_t offset) {
  AFN_CHECK(dst.is_contiguous(), "uniform: destination must be contiguous");
  DeviceGuard guard(dst.device().index);
  visit_floating(dst.dtype(), "uniform", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_uniform<T>(dst.data_ptr<T>(), dst.numel(), low, high, seed, offset,
                      compute_stream(dst.device().index));
  });
}

void normal(const Tensor& dst, double mean, double std, uint64_t seed, uint64_t offset) {
  AFN_CHECK(dst.is_contiguous(), "normal: destination must be contiguous");
  DeviceGuard guard(dst.device().index);
  visit_floating(dst.dtype(), "normal", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_normal<T>(dst.data_ptr<T>(), dst.numel(), mean, std, seed, offset,
                     compute_stream(dst.device().index));
  });
}

// Pinned host -> device on the copy stream: the host returns at once, the compute stream waits
// for the copy before any op queued after this call, and the pinned block is not reused until
// the copy has read it. Overlaps with the compute work queued before the call.
void transfer_async(const Tensor& dst, const Tensor& src) {
  AFN_CHECK(src.is_pinned() && dst.device().is_cuda(),
            "transfer: an asynchronous copy goes from pinned host memory to a CUDA device");
  const int dev = dst.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t copy = copy_stream(dev);
  AFN_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data_ptr(), src.raw_data_ptr(), dst.nbytes(),
                                 cudaMemcpyHostToDevice, copy));
  record_pinned_use(src.raw_data_ptr(), dev, copy);
  stream_wait(dev, compute_stream(dev), copy);
}

// Host <-> device and device <-> device copies of dense data (NCHW or channels-last, the same
// layout on both sides: the bytes go over as they are) on the compute stream. A copy to the host
// waits for it (the caller reads the values next).
void transfer(const Tensor& dst, const Tensor& src, bool async) {
  const MemoryFormat fmt = suggest_memory_format(dst);
  AFN_CHECK(dst.dtype() == src.dtype() && dst.shape() == src.shape() && dst.is_contiguous(fmt) &&
                src.is_contiguous(fmt),
            "transfer: expects dense tensors of one shape, dtype and memory format");
  if (async) return transfer_async(dst, src);
  const Device& gpu = dst.device().is_cuda() ? dst.device() : src.device();
  DeviceGuard guard(gpu.index);
  const cudaStream_t stream = compute_stream(gpu.index);
  if (dst.device().is_cuda() && src.device().is_cuda() && dst.device() != src.device()) {
    // Between GPUs: make the source's pending work visible first.
    AFN_CUDA_CHECK(cudaStreamSynchronize(compute_stream(src.device().index)));
  }
  const cudaMemcpyKind kind = src.device().is_cpu()   ? cudaMemcpyHostToDevice
                              : dst.device().is_cpu() ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  AFN_CUDA_CHECK(
      cudaMemcpyAsync(dst.raw_data_ptr(), src.raw_data_ptr(), dst.nbytes(), kind, stream));
  // Pageable host memory: the host buffer must stay valid and (for device->host) be filled when
  // we return, so wait. (cudaMemcpyAsync from pageable memory is synchronous w.r.t. the host for
  // H2D already; waiting also keeps the source storage alive long enough.)
  AFN_CUDA_CHECK(cudaStreamSynchronize(stream));
  // The host is about to read values the earlier ops computed: report what their kernels flagged.
  if (dst.device().is_cpu()) check_deferred(gpu.index);
}

}  // namespace

AFN_REGISTER_KERNEL(fill, CUDA, fill);
AFN_REGISTER_KERNEL(copy, CUDA, copy);
AFN_REGISTER_KERNEL(uniform, CUDA, uniform);
AFN_REGISTER_KERNEL(normal, CUDA, normal);
AFN_REGISTER_KERNEL(transfer, CUDA, transfer);

}  // namespace afinar::cuda
