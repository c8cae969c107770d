#include "afinar/ops/check_args.h"

namespace afinar::ops {

void check_floating(const Tensor& t, const char* op, const char* arg, int64_t ndim) {
  AFN_CHECK(t.defined(), op, ": ", arg, " is undefined");
  AFN_CHECK(ndim < 0 || t.dim() == ndim, op, ": ", arg, " must be ", ndim, "-D, got shape ",
            t.shape());
  AFN_CHECK(is_floating(t.dtype()), op, ": ", arg, " must be a floating tensor, got ", t.dtype());
}

void check_same_dtype_device(const Tensor& t, const Tensor& ref, const char* op, const char* arg,
                             const char* ref_arg) {
  AFN_CHECK(t.defined(), op, ": ", arg, " is undefined");
  AFN_CHECK(t.dtype() == ref.dtype(), op, ": ", arg, " has dtype ", t.dtype(), " but ", ref_arg,
            " has ", ref.dtype(), "; convert one with .to(dtype)");
  AFN_CHECK(t.device() == ref.device(), op, ": ", arg, " is on ", t.device(), " but ", ref_arg,
            " is on ", ref.device());
}

void check_same_shape(const Tensor& t, const Tensor& ref, const char* op, const char* arg,
                      const char* ref_arg) {
  AFN_CHECK(t.shape() == ref.shape(), op, ": ", arg, " has shape ", t.shape(), " but ", ref_arg,
            " has ", ref.shape(), " (afinar never broadcasts silently)");
}

}  // namespace afinar::ops
