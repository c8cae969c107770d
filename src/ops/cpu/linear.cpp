// CPU backend of linear: the three products are row-major OpenBLAS GEMMs; the bias gradient is a
// column sum with a double accumulator. There is no loop version beside it: GEMM is the
// reference here, and tests/ops/linear_test.cpp checks it against the closed form written out.
//
// Benchmark: build/bench/afinar_bench --benchmark_filter=Linear (bench/torch/linear.py for
// PyTorch on the same shapes). OpenBLAS threads follow OPENBLAS_NUM_THREADS.
#include "afinar/ops/linear.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <vector>

namespace afinar::cpu {

namespace {

int blas_int(int64_t v) {
  AFN_CHECK(v <= INT_MAX, "linear: dimension ", v, " exceeds the BLAS integer range");
  return int(v);
}

void cblas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const float* a,
                int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
void cblas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const double* a,
                int lda, const double* b, int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

// Row-major C[m, n] = op(A) op(B) + beta·C with op(A) [m, k], op(B) [k, n] and dense leading
// dimensions (A is [m, k] or, transposed, [k, m]; likewise B). Empty products are handled here:
// BLAS rejects a leading dimension of 0, and C = beta·C when k = 0.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a, const T* b,
          T beta, T* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (beta == T(0)) std::fill(c, c + m * n, T(0));
    return;
  }
  cblas_gemm(trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, blas_int(m),
             blas_int(n), blas_int(k), a, blas_int(trans_a ? m : k), b, blas_int(trans_b ? k : n),
             beta, c, blas_int(n));
}

// y = x Wᵀ (+ b): the bias is copied into every row first and the GEMM adds onto it (beta = 1).
void linear_forward(const Tensor& y, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  visit_floating(x.dtype(), "linear", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t m = x.size(0), in = x.size(1), out = weight.size(0);
    T* py = y.data<T>();
    if (bias.defined()) {
      const T* pb = bias.data<T>();
      for (int64_t r = 0; r < m; ++r) std::copy(pb, pb + out, py + r * out);
    }
    gemm<T>(false, true, m, out, in, x.data<T>(), weight.data<T>(), T(bias.defined() ? 1 : 0), py);
  });
}

// gx [M, in] = g [M, out] · W [out, in]
void linear_backward_input(const Tensor& gx, const Tensor& g, const Tensor& weight) {
  visit_floating(g.dtype(), "linear_backward_input", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gemm<T>(false, false, g.size(0), weight.size(1), weight.size(0), g.data<T>(), weight.data<T>(),
            T(0), gx.data<T>());
  });
}

// gw [out, in] = gᵀ [out, M] · x [M, in]
void linear_backward_weight(const Tensor& gw, const Tensor& g, const Tensor& x) {
  visit_floating(g.dtype(), "linear_backward_weight", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gemm<T>(true, false, g.size(1), x.size(1), g.size(0), g.data<T>(), x.data<T>(), T(0),
            gw.data<T>());
  });
}

// gb [out] = Σ_r g[r, :], accumulated in double.
void linear_backward_bias(const Tensor& gb, const Tensor& g) {
  visit_floating(g.dtype(), "linear_backward_bias", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t m = g.size(0), out = g.size(1);
    const T* pg = g.data<T>();
    std::vector<double> acc(size_t(out), 0.0);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t o = 0; o < out; ++o) acc[size_t(o)] += double(pg[r * out + o]);
    T* pb = gb.data<T>();
    for (int64_t o = 0; o < out; ++o) pb[o] = T(acc[size_t(o)]);
  });
}

}  // namespace

AFN_REGISTER_KERNEL(linear_forward, CPU, linear_forward);
AFN_REGISTER_KERNEL(linear_backward_input, CPU, linear_backward_input);
AFN_REGISTER_KERNEL(linear_backward_weight, CPU, linear_backward_weight);
AFN_REGISTER_KERNEL(linear_backward_bias, CPU, linear_backward_bias);

}  // namespace afinar::cpu
