// CUDA matmul: cuBLAS for Default/Blas (float32 and float64), the hand-written variants for the
// teaching algorithms (float32).
#include "gemm/gemm.h"

#include "afinar/ops/matmul.h"
#include "runtime/context.h"
#include "runtime/cuda_check.h"

namespace afinar::cuda {

namespace {

// Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: cuBLAS (column-major) is called with the
// operands swapped and no transposes, so no data moves.
void cublas_matmul(const Tensor& c, const Tensor& a, const Tensor& b, int dev) {
  const int M = int(a.size(0)), K = int(a.size(1)), N = int(b.size(1));
  cublasHandle_t h = cublas_handle(dev);
  const bool f32 = a.dtype() == DType::F32;
  const cudaDataType_t type = f32 ? CUDA_R_32F : CUDA_R_64F;
  const cublasComputeType_t compute = !f32                    ? CUBLAS_COMPUTE_64F
                                      : tf32_matmul_allowed() ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                              : CUBLAS_COMPUTE_32F;
  const float one_f = 1.0f, zero_f = 0.0f;
  const double one_d = 1.0, zero_d = 0.0;
  const void* alpha = f32 ? static_cast<const void*>(&one_f) : &one_d;
  const void* beta = f32 ? static_cast<const void*>(&zero_f) : &zero_d;
  AFN_CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, alpha, b.raw_data_ptr(), type,
                                N, a.raw_data_ptr(), type, K, beta, c.raw_data_ptr(), type, N,
                                compute, CUBLAS_GEMM_DEFAULT));
}

void matmul(const Tensor& c, const Tensor& a, const Tensor& b, MatmulAlgo algo) {
  const int dev = a.device().index;
  DeviceGuard guard(dev);
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  if (M == 0 || N == 0) return;
  if (K == 0) {         // an empty sum: cuBLAS requires k >= 1
    Tensor(c).zero_();  // a new handle on c's storage: the kernel's output is written in place
    return;
  }
  if (algo == MatmulAlgo::Default || algo == MatmulAlgo::Blas) {
    AFN_CHECK(M < (int64_t(1) << 31) && N < (int64_t(1) << 31) && K < (int64_t(1) << 31),
              "matmul: sizes beyond 2^31 are not supported by cuBLAS");
    cublas_matmul(c, a, b, dev);
    return;
  }
  AFN_CHECK(a.dtype() == DType::F32,
            "matmul: the hand-written CUDA GEMM variants are float32 "
            "only; use MatmulAlgo::Default for ",
            a.dtype());
  const cudaStream_t s = compute_stream(dev);
  const float *pa = a.data_ptr<float>(), *pb = b.data_ptr<float>();
  float* pc = c.data_ptr<float>();
  switch (algo) {
    case MatmulAlgo::Naive:
      launch_gemm_naive(pc, pa, pb, M, N, K, s);
      break;
    case MatmulAlgo::Tiled:
      launch_gemm_tiled(pc, pa, pb, M, N, K, s);
      break;
    case MatmulAlgo::RegisterBlocked:
      launch_gemm_register_blocked(pc, pa, pb, M, N, K, s);
      break;
    default:
      AFN_FAIL("matmul: unknown algorithm ", int(algo));
  }
}

}  // namespace

AFN_REGISTER_KERNEL(matmul, CUDA, matmul);

}  // namespace afinar::cuda
