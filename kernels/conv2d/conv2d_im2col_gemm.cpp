// Conv2dAlgo::Im2colGemm on CUDA, host side: the im2col / col2im kernels (conv2d_im2col.cu, whose
// header explains the method) around cuBLAS GEMMs (cublasGemmStridedBatchedEx), float32 and
// float64. Float32 GEMMs use TF32 tensor cores when tf32_conv_allowed() (a convolution setting,
// as in PyTorch, where torch.backends.cudnn.allow_tf32 governs convolutions whatever computes
// them).
//
// Memory: col holds C·R·S·Ho·Wo elements per image; images are unrolled in chunks of at most
// 256 MiB (at least one image) into one U8 tensor from the caching allocator.
// GEMM batching, per chunk of `nb` images and G groups (Kg = K/G, CRSg = C/G·R·S, P = Ho·Wo):
//   forward, backward_input   one strided-batched call per group over the images (weight
//                             stride 0) when G <= nb, else one per image over the groups
//   backward_weight           dW sums over images: one call per image, batched over groups,
//                             adding onto dW (beta = 1) after the first image
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <type_traits>

#include "conv2d/conv2d_internal.h"
#include "runtime/context.h"
#include "runtime/cuda_check.h"

namespace afinar::cuda {

namespace {

using ops::Conv2dGeometry;

// The col buffer's budget: 256 MiB, or AFN_IM2COL_CHUNK_BYTES (read at each call; the tests
// shrink it to cover chunk boundaries on small inputs).
int64_t col_chunk_bytes() {
  constexpr int64_t kColBytes = int64_t(256) << 20;
  const char* v = std::getenv("AFN_IM2COL_CHUNK_BYTES");
  return v ? std::max<int64_t>(1, std::atoll(v)) : kColBytes;
}

int64_t images_per_chunk(const Conv2dGeometry& g, int64_t element_bytes) {
  const int64_t per_image = g.C * g.R * g.S * g.Ho * g.Wo * element_bytes;
  return std::clamp<int64_t>(col_chunk_bytes() / per_image, 1, std::max<int64_t>(g.N, 1));
}

int blas_int(int64_t v) {
  AFN_CHECK(v >= 0 && v <= INT_MAX, "conv2d (Im2colGemm): GEMM size ", v,
            " exceeds cuBLAS's int range");
  return int(v);
}

// Row-major, strided-batched: C_b = op(A_b)·op(B_b) (+ C_b when accumulate), b < batch, with
// op(A) [M,K], op(B) [K,N], C [M,N]; lda/ldb/ldc the row strides of the stored matrices and
// sA/sB/sC the element strides between batch entries. Pointers are typed by the caller's T.
template <typename T>
struct Gemm {
  bool ta, tb;
  int64_t M, N, K;
  const T* A;
  int64_t lda, sA;
  const T* B;
  int64_t ldb, sB;
  T* C;
  int64_t ldc, sC;
  int64_t batch;
  bool accumulate;
};

// Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS gets B first, then A,
// with the same transposes, and nothing moves.
template <typename T>
void gemm(cublasHandle_t h, const Gemm<T>& p) {
  constexpr bool f32 = std::is_same_v<T, float>;
  const cudaDataType_t type = f32 ? CUDA_R_32F : CUDA_R_64F;
  const cublasComputeType_t compute = !f32                  ? CUBLAS_COMPUTE_64F
                                      : tf32_conv_allowed() ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                            : CUBLAS_COMPUTE_32F;
  const T one = T(1), zero = T(0);
  AFN_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      h, p.tb ? CUBLAS_OP_T : CUBLAS_OP_N, p.ta ? CUBLAS_OP_T : CUBLAS_OP_N, blas_int(p.N),
      blas_int(p.M), blas_int(p.K), &one, p.B, type, blas_int(p.ldb), p.sB, p.A, type,
      blas_int(p.lda), p.sA, p.accumulate ? &one : &zero, p.C, type, blas_int(p.ldc), p.sC,
      blas_int(p.batch), compute, CUBLAS_GEMM_DEFAULT));
}

// What every direction sets up: the stream and cuBLAS handle, the sizes of the per-group GEMMs
// (P = Ho·Wo output pixels, CRS = C·R·S rows of an image's unrolled patches, CRSg and Kg per
// group), how many images one unrolled chunk holds, and that chunk's scratch from the caching
// allocator.
template <typename T>
struct Im2colPlan {
  cudaStream_t stream;
  cublasHandle_t handle;
  ConvShape shape;
  int64_t P, CRS, CRSg, Kg, step;
  Tensor col_buffer;
  T* col;

  Im2colPlan(const Conv2dGeometry& g, const Device& dev)
      : stream(compute_stream(dev.index)),
        handle(cublas_handle(dev.index)),
        shape(conv_shape(g)),
        P(g.Ho * g.Wo),
        CRS(g.C * g.R * g.S),
        CRSg(g.Cg() * g.R * g.S),
        Kg(g.Kg()),
        step(images_per_chunk(g, sizeof(T))),
        col_buffer(empty({std::min(step, g.N) * CRS * P * int64_t(sizeof(T))}, DType::U8, dev)),
        col(static_cast<T*>(col_buffer.raw_data_ptr())) {}
};

template <typename T>
void forward(const Tensor& y, const Tensor& x, const Tensor& w, const Conv2dGeometry& g) {
  const Im2colPlan<T> plan(g, x.device());
  const auto& [s, h, cs, P, CRS, CRSg, Kg, step, col_buffer, col] = plan;
  const T *px = x.data_ptr<T>(), *pw = w.data_ptr<T>();
  T* py = y.data_ptr<T>();
  for (int64_t n0 = 0; n0 < g.N; n0 += step) {
    const int64_t nb = std::min(step, g.N - n0);
    launch_im2col<T>(col, px + n0 * g.C * g.H * g.W, nb, cs, s);
    // y[n0+i, group] [Kg, P] = W_group [Kg, CRSg] · col[i, group] [CRSg, P]
    if (g.G <= nb) {
      for (int64_t gi = 0; gi < g.G; ++gi)
        gemm<T>(h, {false, false, Kg, P, CRSg, pw + gi * Kg * CRSg, CRSg, 0, col + gi * CRSg * P, P,
                    CRS * P, py + (n0 * g.K + gi * Kg) * P, P, g.K * P, nb, false});
    } else {
      for (int64_t i = 0; i < nb; ++i)
        gemm<T>(h, {false, false, Kg, P, CRSg, pw, CRSg, Kg * CRSg, col + i * CRS * P, P, CRSg * P,
                    py + (n0 + i) * g.K * P, P, Kg * P, g.G, false});
    }
  }
}

template <typename T>
void backward_input(const Tensor& gx, const Tensor& gy, const Tensor& w, const Conv2dGeometry& g) {
  const Im2colPlan<T> plan(g, gy.device());
  const auto& [s, h, cs, P, CRS, CRSg, Kg, step, col_buffer, col] = plan;
  const T *pgy = gy.data_ptr<T>(), *pw = w.data_ptr<T>();
  T* pgx = gx.data_ptr<T>();
  for (int64_t n0 = 0; n0 < g.N; n0 += step) {
    const int64_t nb = std::min(step, g.N - n0);
    // dcol[i, group] [CRSg, P] = W_groupᵀ [CRSg, Kg] · gy[n0+i, group] [Kg, P]
    if (g.G <= nb) {
      for (int64_t gi = 0; gi < g.G; ++gi)
        gemm<T>(h, {true, false, CRSg, P, Kg, pw + gi * Kg * CRSg, CRSg, 0,
                    pgy + (n0 * g.K + gi * Kg) * P, P, g.K * P, col + gi * CRSg * P, P, CRS * P, nb,
                    false});
    } else {
      for (int64_t i = 0; i < nb; ++i)
        gemm<T>(h, {true, false, CRSg, P, Kg, pw, CRSg, Kg * CRSg, pgy + (n0 + i) * g.K * P, P,
                    Kg * P, col + i * CRS * P, P, CRSg * P, g.G, false});
    }
    launch_col2im<T>(pgx + n0 * g.C * g.H * g.W, col, nb, cs, s);
  }
}

template <typename T>
void backward_weight(const Tensor& gw, const Tensor& gy, const Tensor& x, const Conv2dGeometry& g) {
  const Im2colPlan<T> plan(g, gy.device());
  const auto& [s, h, cs, P, CRS, CRSg, Kg, step, col_buffer, col] = plan;
  const T *pgy = gy.data_ptr<T>(), *px = x.data_ptr<T>();
  T* pgw = gw.data_ptr<T>();
  for (int64_t n0 = 0; n0 < g.N; n0 += step) {
    const int64_t nb = std::min(step, g.N - n0);
    launch_im2col<T>(col, px + n0 * g.C * g.H * g.W, nb, cs, s);
    // dW_group [Kg, CRSg] (+)= gy[n, group] [Kg, P] · col[i, group]ᵀ [P, CRSg], over groups
    for (int64_t i = 0; i < nb; ++i)
      gemm<T>(h, {false, true, Kg, CRSg, P, pgy + (n0 + i) * g.K * P, P, Kg * P, col + i * CRS * P,
                  P, CRSg * P, pgw, CRSg, Kg * CRSg, g.G, n0 + i > 0});
  }
}

}  // namespace

void im2col_conv2d_forward(const Tensor& y, const Tensor& x, const Tensor& w,
                           const Conv2dGeometry& g) {
  if (g.N == 0) return;
  DeviceGuard guard(x.device().index);
  visit_floating(x.dtype(), "conv2d",
                 [&](auto tag) { forward<typename decltype(tag)::type>(y, x, w, g); });
}

void im2col_conv2d_backward_input(const Tensor& gx, const Tensor& gy, const Tensor& w,
                                  const Conv2dGeometry& g) {
  if (g.N == 0) return;
  DeviceGuard guard(gy.device().index);
  visit_floating(gy.dtype(), "conv2d_backward_input",
                 [&](auto tag) { backward_input<typename decltype(tag)::type>(gx, gy, w, g); });
}

void im2col_conv2d_backward_weight(const Tensor& gw, const Tensor& gy, const Tensor& x,
                                   const Conv2dGeometry& g) {
  DeviceGuard guard(gy.device().index);
  if (g.N == 0) {
    AFN_CUDA_CHECK(
        cudaMemsetAsync(gw.raw_data_ptr(), 0, gw.nbytes(), compute_stream(gy.device().index)));
    return;
  }
  visit_floating(gy.dtype(), "conv2d_backward_weight",
                 [&](auto tag) { backward_weight<typename decltype(tag)::type>(gw, gy, x, g); });
}

}  // namespace afinar::cuda
