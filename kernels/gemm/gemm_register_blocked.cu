// Variant 3, register blocking: each block of 256 threads computes a 128×128 tile of C and each
// thread an 8×8 sub-tile held in 64 registers. Per step along K (8 wide) the block stages an
// A tile (stored transposed, so a thread's 8 A values are contiguous) and a B tile in shared
// memory, double-buffered so the next tile's global loads overlap this tile's arithmetic. In the
// inner loop a thread loads 8 A values and 8 B values from shared memory and does 64 FMAs:
// 16 shared loads per 64 FMAs instead of 2 per FMA in the tiled kernel, so the FMA units, not
// shared memory, set the pace. Global loads are 16-byte vectors when the shapes allow it.
// Edge tiles (M, N or K not multiples of the tile) use bounds-checked scalar loads and stores.
#include "common.cuh"
#include "gemm/gemm.h"
#include "runtime/launch_check.h"

namespace afinar::cuda {

namespace {

constexpr int BM = 128, BN = 128, BK = 8, TM = 8, TN = 8;
constexpr int kThreads = (BM / TM) * (BN / TN);  // 256

// One thread's share of a K-step's tiles: 4 elements of the A tile (rows [bm, bm+BM), cols
// [k0, k0+BK)) and 4 of the B tile (rows [k0, k0+BK), cols [bn, bn+BN)), fetched from global
// memory into registers first and stored to shared memory later, so the fetch of the next tile
// overlaps the arithmetic on the current one.
struct TileFragment {
  float4 a, b;
};

template <bool kVector>
__device__ __forceinline__ TileFragment fetch_tiles(const float* a, const float* b, int64_t M,
                                                    int64_t N, int64_t K, int64_t bm, int64_t bn,
                                                    int64_t k0) {
  const int t = threadIdx.x;
  const int a_row = t / 2, a_col = (t % 2) * 4;    // 128 rows x 2 float4 per row
  const int b_row = t / 32, b_col = (t % 32) * 4;  // 8 rows x 32 float4 per row
  TileFragment f;
  if constexpr (kVector) {
    f.a = *reinterpret_cast<const float4*>(&a[(bm + a_row) * K + k0 + a_col]);
    f.b = *reinterpret_cast<const float4*>(&b[(k0 + b_row) * N + bn + b_col]);
  } else {
    float va[4], vb[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int64_t m = bm + a_row, ka = k0 + a_col + i;
      va[i] = (m < M && ka < K) ? a[m * K + ka] : 0.0f;  // out of range adds nothing
      const int64_t kb = k0 + b_row, n = bn + b_col + i;
      vb[i] = (kb < K && n < N) ? b[kb * N + n] : 0.0f;
    }
    f.a = make_float4(va[0], va[1], va[2], va[3]);
    f.b = make_float4(vb[0], vb[1], vb[2], vb[3]);
  }
  return f;
}

// A is stored transposed (as[k][m]) so that a thread's 8 rows of A are contiguous in shared
// memory and load as two float4.
__device__ __forceinline__ void stash_tiles(const TileFragment& f, float (*as)[BM],
                                            float (*bs)[BN]) {
  const int t = threadIdx.x;
  const int a_row = t / 2, a_col = (t % 2) * 4;
  const int b_row = t / 32, b_col = (t % 32) * 4;
  as[a_col + 0][a_row] = f.a.x;
  as[a_col + 1][a_row] = f.a.y;
  as[a_col + 2][a_row] = f.a.z;
  as[a_col + 3][a_row] = f.a.w;
  *reinterpret_cast<float4*>(&bs[b_row][b_col]) = f.b;
}

template <bool kVector>
__global__ void __launch_bounds__(kThreads)
    gemm_register_blocked_kernel(float* c, const float* a, const float* b, int64_t M, int64_t N,
                                 int64_t K) {
  __shared__ __align__(16) float as[2][BK][BM];
  __shared__ __align__(16) float bs[2][BK][BN];
  const int64_t bm = int64_t(blockIdx.y) * BM, bn = int64_t(blockIdx.x) * BN;
  const int thread_row = threadIdx.x / (BN / TN), thread_col = threadIdx.x % (BN / TN);

  float acc[TM][TN] = {};
  float reg_a[TM], reg_b[TN];

  stash_tiles(fetch_tiles<kVector>(a, b, M, N, K, bm, bn, 0), as[0], bs[0]);
  __syncthreads();
  int stage = 0;
  for (int64_t k0 = 0; k0 < K; k0 += BK) {
    // Fetch the next tile into registers now; its latency hides behind this tile's FMAs.
    const bool more = k0 + BK < K;
    TileFragment next{};
    if (more) next = fetch_tiles<kVector>(a, b, M, N, K, bm, bn, k0 + BK);
#pragma unroll
    for (int k = 0; k < BK; ++k) {
#pragma unroll
      for (int i = 0; i < TM; i += 4)
        *reinterpret_cast<float4*>(&reg_a[i]) =
            *reinterpret_cast<const float4*>(&as[stage][k][thread_row * TM + i]);
#pragma unroll
      for (int j = 0; j < TN; j += 4)
        *reinterpret_cast<float4*>(&reg_b[j]) =
            *reinterpret_cast<const float4*>(&bs[stage][k][thread_col * TN + j]);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] += reg_a[i] * reg_b[j];
    }
    // The other buffer was last read before the previous barrier, so it can be written now.
    if (more) stash_tiles(next, as[stage ^ 1], bs[stage ^ 1]);
    __syncthreads();
    stage ^= 1;
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int64_t m = bm + thread_row * TM + i;
    const int64_t n0 = bn + thread_col * TN;
    if constexpr (kVector) {
#pragma unroll
      for (int j = 0; j < TN; j += 4)
        *reinterpret_cast<float4*>(&c[m * N + n0 + j]) =
            make_float4(acc[i][j], acc[i][j + 1], acc[i][j + 2], acc[i][j + 3]);
    } else {
#pragma unroll
      for (int j = 0; j < TN; ++j)
        if (m < M && n0 + j < N) c[m * N + n0 + j] = acc[i][j];
    }
  }
}

}  // namespace

void launch_gemm_register_blocked(float* c, const float* a, const float* b, int64_t M, int64_t N,
                                  int64_t K, cudaStream_t stream) {
  if (M == 0 || N == 0) return;
  const dim3 grid(unsigned((N + BN - 1) / BN), unsigned((M + BM - 1) / BM));
  // The vector path needs whole tiles and 16-byte aligned rows and bases.
  const bool vector =
      M % BM == 0 && N % BN == 0 && K % BK == 0 && aligned16(a) && aligned16(b) && aligned16(c);
  if (vector)
    gemm_register_blocked_kernel<true><<<grid, kThreads, 0, stream>>>(c, a, b, M, N, K);
  else
    gemm_register_blocked_kernel<false><<<grid, kThreads, 0, stream>>>(c, a, b, M, N, K);
  AFN_CUDA_LAUNCH_CHECK();
}

}  // namespace afinar::cuda
