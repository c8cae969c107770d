// CUDA registrations of amp_unscale / amp_update_scale: the unscale's chunk table is built on the
// host and sent asynchronously (runtime/device_table.h), and both kernels read and write the
// device scalars on the compute stream, so loss scaling never synchronises.
#include "amp_scale/amp_scale.h"

#include <algorithm>

#include "afinar/ops/amp_scale.h"
#include "runtime/context.h"
#include "runtime/device_table.h"
#include "runtime/dtype_dispatch.h"

namespace afinar::cuda {

namespace {

// The front end groups the gradients by dtype: one launch per call.
void amp_unscale(const std::vector<Tensor>& grads, const Tensor& found_inf, const Tensor& scale) {
  if (grads.empty()) return;
  const Device device = found_inf.device();
  DeviceGuard guard(device.index);
  visit_floating_or_16bit(grads[0].dtype(), "amp_unscale_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    // A dense gradient (NCHW or channels-last) is numel() consecutive elements from its pointer.
    std::vector<UnscaleChunk<T>> chunks;
    for (const Tensor& g : grads) {
      const int64_t n = g.numel();
      for (int64_t start = 0; start < n; start += kUnscaleChunk)
        chunks.push_back({g.data_ptr<T>() + start, std::min(kUnscaleChunk, n - start)});
    }
    if (chunks.empty()) return;
    const Tensor table = upload_table(chunks, device);
    launch_amp_unscale<T>(reinterpret_cast<const UnscaleChunk<T>*>(table.data_ptr<uint8_t>()),
                          int64_t(chunks.size()), found_inf.data_ptr<float>(),
                          scale.data_ptr<float>(), compute_stream(device.index));
  });
}

void amp_update_scale(const Tensor& scale, const Tensor& growth_tracker, const Tensor& found_inf,
                      double growth_factor, double backoff_factor, int64_t growth_interval) {
  const int dev = scale.device().index;
  DeviceGuard guard(dev);
  launch_amp_update_scale(scale.data_ptr<float>(), growth_tracker.data_ptr<int32_t>(),
                          found_inf.data_ptr<float>(), growth_factor, backoff_factor,
                          growth_interval, compute_stream(dev));
}

}  // namespace

AFN_REGISTER_KERNEL(amp_unscale, CUDA, amp_unscale);
AFN_REGISTER_KERNEL(amp_update_scale, CUDA, amp_update_scale);

}  // namespace afinar::cuda
