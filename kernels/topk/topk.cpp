// CUDA registrations of argmax and topk forward / backward (kernels and methods in topk.cu).
#include "topk/topk.h"

#include <climits>

#include "afinar/ops/topk.h"
#include "runtime/context.h"
#include "runtime/deferred_check.h"

namespace afinar::cuda {

namespace {

void argmax(const Tensor& indices, const Tensor& x) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  visit_floating(x.dtype(), "argmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_argmax<T>(indices.data_ptr<int64_t>(), x.data_ptr<T>(), x.size(0), x.size(1), x.size(2),
                     compute_stream(dev));
  });
}

// Every method returns the k results sorted (allowed for sorted = false: the order is then
// unspecified).
void topk_forward(const Tensor& values, const Tensor& indices, const Tensor& x, bool largest,
                  bool /*sorted*/) {
  const int64_t outer = x.size(0), C = x.size(1), inner = x.size(2), k = values.size(1);
  if (k == 0 || outer * inner == 0) return;
  AFN_CHECK(C <= INT_MAX, "topk: the CUDA kernels index a dim of up to ", INT_MAX,
            " elements; this one has ", C, " (input viewed as [", outer, ", ", C, ", ", inner,
            "])");
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t s = compute_stream(dev);
  visit_floating(x.dtype(), "topk", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* v = values.data_ptr<T>();
    int64_t* idx = indices.data_ptr<int64_t>();
    const T* in = x.data_ptr<T>();
    if (topk_method(C, k) != TopkMethod::RadixSort) {
      launch_topk_select<T>(v, idx, in, outer, C, inner, k, largest, s);
      return;
    }
    size_t bytes = 0;
    launch_topk_radix_sort<T>(v, idx, in, outer, C, inner, k, largest, nullptr, bytes, s);
    // From the caching allocator, freed (stream-ordered) when this scope ends.
    Tensor workspace = empty({int64_t(bytes)}, DType::U8, x.device());
    launch_topk_radix_sort<T>(v, idx, in, outer, C, inner, k, largest, workspace.raw_data_ptr(),
                              bytes, s);
  });
}

void topk_backward(const Tensor& gi, const Tensor& gv, const Tensor& indices) {
  const int64_t outer = gi.size(0), C = gi.size(1), inner = gi.size(2), k = gv.size(1);
  const int dev = gi.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t s = compute_stream(dev);
  // The first bad index in flat order, reported with the CPU's message at the next
  // synchronisation (runtime/deferred_check.h).
  unsigned long long* bad = deferred_flag(dev, [indices, C, dev](unsigned long long position) {
    const int64_t j =
        read_device_value(indices.data_ptr<int64_t>() + position, compute_stream(dev));
    return detail::concat("topk_backward: index ", j, " is out of range for a dim of size ", C);
  });
  visit_floating(gi.dtype(), "topk_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (gi.numel() > 0)
      AFN_CUDA_CHECK(cudaMemsetAsync(gi.raw_data_ptr(), 0, size_t(gi.numel()) * sizeof(T), s));
    launch_topk_backward<T>(gi.data_ptr<T>(), gv.data_ptr<T>(), indices.data_ptr<int64_t>(), outer,
                            C, inner, k, bad, s);
  });
  check_if_debugging(dev);
}

}  // namespace

AFN_REGISTER_KERNEL(argmax, CUDA, argmax);
AFN_REGISTER_KERNEL(topk_forward, CUDA, topk_forward);
AFN_REGISTER_KERNEL(topk_backward, CUDA, topk_backward);

}  // namespace afinar::cuda
