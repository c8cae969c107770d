// CPU matmul: OpenBLAS for Default/Blas; the triple loop for Naive (the readable reference the
// other variants are tested against). The GPU-only variants are an error here.
#include <cblas.h>

#include "afinar/ops/matmul.h"

namespace afinar::cpu {

namespace {

template <typename T>
void naive(T* c, const T* a, const T* b, int64_t M, int64_t N, int64_t K) {
#pragma omp parallel for if (M * N * K > 1 << 20)
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += double(a[m * K + k]) * double(b[k * N + n]);
      c[m * N + n] = T(acc);
    }
}

void matmul(const Tensor& c, const Tensor& a, const Tensor& b, MatmulAlgo algo) {
  AFN_CHECK(algo == MatmulAlgo::Default || algo == MatmulAlgo::Blas || algo == MatmulAlgo::Naive,
            "matmul: the Tiled and RegisterBlocked algorithms are CUDA kernels; on the cpu use "
            "Default, Blas or Naive");
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  visit_floating(a.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (algo == MatmulAlgo::Naive || M == 0 || N == 0 || K == 0) {
      naive(c.data<T>(), a.data<T>(), b.data<T>(), M, N, K);
    } else if constexpr (std::is_same_v<T, float>) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(N), int(K), 1.0f,
                  a.data<T>(), int(K), b.data<T>(), int(N), 0.0f, c.data<T>(), int(N));
    } else {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(N), int(K), 1.0,
                  a.data<T>(), int(K), b.data<T>(), int(N), 0.0, c.data<T>(), int(N));
    }
  });
}

}  // namespace

AFN_REGISTER_KERNEL(matmul, CPU, matmul);

}  // namespace afinar::cpu
