#include "afinar/ops/matmul.h"

#include <atomic>

#include "afinar/ops/check_args.h"

namespace afinar {

namespace {
std::atomic<bool> g_allow_tf32{false};
}

void allow_tf32_matmul(bool allow) {
  g_allow_tf32 = allow;
}
bool tf32_matmul_allowed() {
  return g_allow_tf32;
}

namespace ops {

AFN_DEFINE_KERNEL(matmul, MatmulFn)

Tensor matmul(const Tensor& a, const Tensor& b, MatmulAlgo algo) {
  check_floating(a, "matmul", "a", 2);
  check_floating(b, "matmul", "b", 2);
  check_same_dtype_device(b, a, "matmul", "b", "a");
  AFN_CHECK(a.size(1) == b.size(0), "matmul: a is ", a.shape(), " and b is ", b.shape(),
            "; a's columns (", a.size(1), ") must equal b's rows (", b.size(0), ")");
  Tensor c = empty({a.size(0), b.size(1)}, a.dtype(), a.device());
  matmul_kernels().get(a.device())(c, a.contiguous(), b.contiguous(), algo);
  return c;
}

}  // namespace ops
}  // namespace afinar
