// Front end of amp_unscale_ / amp_update_scale_: the scalars' shapes, dtypes and devices, the
// gradients grouped by dtype (one kernel call per dtype).
#include "afinar/ops/amp_scale.h"

#include <map>

#include "afinar/ops/check_args.h"

namespace afinar::ops {

AFN_DEFINE_KERNEL(amp_unscale, AmpUnscaleFn)
AFN_DEFINE_KERNEL(amp_update_scale, AmpUpdateScaleFn)

namespace {

// `t` is a one-element tensor of `dtype` on `device`.
void check_scalar(const Tensor& t, DType dtype, const Device& device, const char* op,
                  const char* arg) {
  AFN_CHECK(t.defined(), op, ": ", arg, " is undefined");
  AFN_CHECK(t.numel() == 1 && t.dtype() == dtype, op, ": ", arg, " must be a one-element ", dtype,
            " tensor, got shape ", t.shape(), " ", t.dtype());
  AFN_CHECK(t.device() == device, op, ": ", arg, " is on ", t.device(), " but the other tensors ",
            "are on ", device);
}

}  // namespace

void amp_unscale_(const std::vector<Tensor>& grads, const Tensor& found_inf, const Tensor& scale) {
  const char* op = "amp_unscale_";
  AFN_CHECK(found_inf.defined(), op, ": found_inf is undefined");
  const Device device = found_inf.device();
  check_scalar(found_inf, DType::F32, device, op, "found_inf");
  check_scalar(scale, DType::F32, device, op, "scale");
  std::map<DType, std::vector<Tensor>> by_dtype;
  for (const Tensor& g : grads) {
    check_floating(g, op, "gradient");
    AFN_CHECK(g.device() == device, op, ": a gradient is on ", g.device(), " but found_inf is on ",
              device);
    AFN_CHECK(g.is_contiguous(suggest_memory_format(g)), op,
              ": gradients must be dense (contiguous or channels-last), got strides ", g.strides());
    by_dtype[g.dtype()].push_back(g);
  }
  for (const auto& [dtype, list] : by_dtype)
    amp_unscale_kernels().get(device)(list, found_inf, scale);
}

void amp_update_scale_(const Tensor& scale, const Tensor& growth_tracker, const Tensor& found_inf,
                       double growth_factor, double backoff_factor, int64_t growth_interval) {
  const char* op = "amp_update_scale_";
  AFN_CHECK(scale.defined(), op, ": scale is undefined");
  const Device device = scale.device();
  check_scalar(scale, DType::F32, device, op, "scale");
  check_scalar(growth_tracker, DType::I32, device, op, "growth_tracker");
  check_scalar(found_inf, DType::F32, device, op, "found_inf");
  AFN_CHECK(growth_interval > 0, op, ": growth_interval must be positive, got ", growth_interval);
  amp_update_scale_kernels().get(device)(scale, growth_tracker, found_inf, growth_factor,
                                         backoff_factor, growth_interval);
}

}  // namespace afinar::ops
