// CUDA backend of linear: the three products are cuBLAS GEMMs (cublasGemmEx) on the row-major
// operands, float32, float64, bfloat16 and float16 (autocast's: 16-bit operands on the tensor
// cores, float accumulation, one rounding of the result, bias included); the bias is a broadcast
// kernel before the forward GEMM, which then adds onto it (beta = 1), and its gradient a column-sum
// kernel (linear.cu, accumulating in float for the 16-bit types).
//   forward          y [M,out]  = x [M,in] · Wᵀ  (+ b)
//   backward_input   gx [M,in]  = g [M,out] · W [out,in]
//   backward_weight  gw [out,in] = gᵀ [out,M] · x [M,in]
// Float32 GEMMs use TF32 tensor cores only when tf32_matmul_allowed() (include/afinar/ops/
// matmul.h; off by default, as torch.backends.cuda.matmul.allow_tf32), else full float32 FMA.
//
// Benchmark: afinar_bench --benchmark_filter=LinearCuda (TFLOP/s over the three GEMMs).
#include <climits>

#include "afinar/ops/linear.h"
#include "afinar/ops/matmul.h"
#include "linear/linear.h"
#include "runtime/context.h"
#include "runtime/cuda_check.h"
#include "runtime/dtype_dispatch.h"

namespace afinar::cuda {

namespace {

int blas_int(int64_t v, const char* op) {
  AFN_CHECK(v >= 0 && v <= INT_MAX, op, ": GEMM size ", v, " exceeds cuBLAS's int range");
  return int(v);
}

// cuBLAS's data type, compute type and scalar type (of alpha and beta) for T.
template <typename T>
struct GemmTypes;
template <>
struct GemmTypes<float> {
  using Scalar = float;
  static constexpr cudaDataType_t kData = CUDA_R_32F;
  static cublasComputeType_t compute() {
    return tf32_matmul_allowed() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  }
};
template <>
struct GemmTypes<double> {
  using Scalar = double;
  static constexpr cudaDataType_t kData = CUDA_R_64F;
  static cublasComputeType_t compute() { return CUBLAS_COMPUTE_64F; }
};
// The 16-bit types: float accumulation and float alpha / beta (PyTorch's bf16 and half GEMMs).
template <cudaDataType_t Data>
struct GemmTypes16 {
  using Scalar = float;
  static constexpr cudaDataType_t kData = Data;
  static cublasComputeType_t compute() { return CUBLAS_COMPUTE_32F; }
};
template <>
struct GemmTypes<__nv_bfloat16> : GemmTypes16<CUDA_R_16BF> {};
template <>
struct GemmTypes<__half> : GemmTypes16<CUDA_R_16F> {};

// Row-major C [m,n] = op(A) [m,k] · op(B) [k,n] (+ C when accumulate), dense leading dimensions.
// Row-major C is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS gets B first, then A, same transposes.
// Empty products are handled here (cuBLAS wants k ≥ 1): C = 0, or C unchanged when accumulating.
template <typename T>
void gemm(int dev, const char* op, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a,
          const T* b, bool accumulate, T* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      AFN_CUDA_CHECK(cudaMemsetAsync(c, 0, size_t(m * n) * sizeof(T), compute_stream(dev)));
    return;
  }
  using S = typename GemmTypes<T>::Scalar;
  const cudaDataType_t type = GemmTypes<T>::kData;
  const cublasComputeType_t compute = GemmTypes<T>::compute();
  const S one = S(1), zero = S(0);
  AFN_CUBLAS_CHECK(cublasGemmEx(cublas_handle(dev), tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                ta ? CUBLAS_OP_T : CUBLAS_OP_N, blas_int(n, op), blas_int(m, op),
                                blas_int(k, op), &one, b, type, blas_int(tb ? k : n, op), a, type,
                                blas_int(ta ? m : k, op), accumulate ? &one : &zero, c, type,
                                blas_int(n, op), compute, CUBLAS_GEMM_DEFAULT));
}

void linear_forward(const Tensor& y, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  visit_floating_or_16bit(x.dtype(), "linear", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t m = x.size(0), in = x.size(1), out = weight.size(0);
    T* py = y.data_ptr<T>();
    if (bias.defined())
      launch_broadcast_rows<T>(py, bias.data_ptr<T>(), m, out, compute_stream(dev));
    gemm<T>(dev, "linear", false, true, m, out, in, x.data_ptr<T>(), weight.data_ptr<T>(),
            bias.defined(), py);
  });
}

void linear_backward_input(const Tensor& gx, const Tensor& g, const Tensor& weight) {
  const int dev = g.device().index;
  DeviceGuard guard(dev);
  visit_floating_or_16bit(g.dtype(), "linear_backward_input", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gemm<T>(dev, "linear_backward_input", false, false, g.size(0), weight.size(1), weight.size(0),
            g.data_ptr<T>(), weight.data_ptr<T>(), false, gx.data_ptr<T>());
  });
}

void linear_backward_weight(const Tensor& gw, const Tensor& g, const Tensor& x) {
  const int dev = g.device().index;
  DeviceGuard guard(dev);
  visit_floating_or_16bit(g.dtype(), "linear_backward_weight", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gemm<T>(dev, "linear_backward_weight", true, false, g.size(1), x.size(1), g.size(0),
            g.data_ptr<T>(), x.data_ptr<T>(), false, gw.data_ptr<T>());
  });
}

void linear_backward_bias(const Tensor& gb, const Tensor& g) {
  const int dev = g.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t s = compute_stream(dev);
  const int64_t m = g.size(0), out = g.size(1);
  if (out == 0) return;
  if (m == 0) {  // an empty sum
    AFN_CUDA_CHECK(cudaMemsetAsync(gb.raw_data_ptr(), 0, gb.nbytes(), s));
    return;
  }
  visit_floating_or_16bit(g.dtype(), "linear_backward_bias", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = compute_t<T>;
    const int64_t splits = column_sum_splits(m, out);
    Tensor partials;
    if (splits > 1) partials = empty({splits * out * int64_t(sizeof(A))}, DType::U8, g.device());
    launch_column_sum<T>(gb.data_ptr<T>(), g.data_ptr<T>(), m, out,
                         splits > 1 ? static_cast<A*>(partials.raw_data_ptr()) : nullptr, splits,
                         s);
  });
}

}  // namespace

AFN_REGISTER_KERNEL(linear_forward, CUDA, linear_forward);
AFN_REGISTER_KERNEL(linear_backward_input, CUDA, linear_backward_input);
AFN_REGISTER_KERNEL(linear_backward_weight, CUDA, linear_backward_weight);
AFN_REGISTER_KERNEL(linear_backward_bias, CUDA, linear_backward_bias);

}  // namespace afinar::cuda
