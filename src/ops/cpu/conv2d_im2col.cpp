// CPU conv2d, fast path (Conv2dAlgo::Im2colGemm, the CPU's Default): the convolution as GEMMs on
// a matrix of unrolled input patches (im2col), with OpenBLAS.
//
// Columns are the output pixels of the batch, flattened: j = n·P + oh·Wo + ow, P = Ho·Wo. For a
// tile of T consecutive columns and group g (Cg = C/G input and Kg = K/G output channels,
// CRS = Cg·R·S)
//   col[(c'·R + r)·S + s, j] = x[n, g·Cg + c', ih(oh,r), iw(ow,s)]     (0 in the padding)
// is a [CRS, T] matrix, and with W_g = w[g·Kg : (g+1)·Kg] viewed as [Kg, CRS] and gY_g the tile's
// columns of gy[:, g·Kg : (g+1)·Kg] as a [Kg, T] matrix:
//   forward          Y_g[Kg, T]      = W_g · col            then + bias (and the epilogue), into y
//   backward_weight  dW_g[Kg, CRS]  += gY_g · colᵀ          summed over every tile
//   backward_input   dcol[CRS, T]    = W_gᵀ · gY_g          then col2im: dx[n,c,ih,iw] += dcol
// (col2im is the adjoint of im2col: every patch element adds back to the input pixel it came from).
//
// What the choices below buy (measured on ResNet18's 3x3 layers, batch 16, 2 cores; the numbers
// are in tools/bench/README.md):
//  - Tiles of about 1024 output pixels (512 for the weight gradient), not whole batches: col for
//    one tile is a few MB at most, written by im2col and read back by BLAS's packing while it is
//    still in cache, and the weight (which BLAS packs again on every call) is reused over enough
//    columns. A tile is a part of one image or a run of whole images (small Ho·Wo, where batching
//    images is what keeps the GEMMs wide); inside one image y and gy are used in place (leading
//    dimension Ho·Wo), runs of images go through a small buffer.
//  - Stride 1 with Wo == W (3x3 with padding 1, 1x1 without) makes each col row one contiguous
//    stretch of the input plane: im2col and col2im become copies and adds of long runs.
//  - Threads: the images are split into one contiguous range per OpenMP thread; each thread
//    tiles its own range with its own buffers and calls BLAS single-threaded. No two threads touch
//    one image, so col2im needs no atomics, and each thread sums its own dW (added up at the end).
//    OpenBLAS's own thread pool would otherwise compete with the OpenMP threads for the same
//    cores. With one image there is one range, and BLAS runs on its own threads.
//  - Except when the batch has few output pixels for the weight's size (one group, K >= 2·N·P:
//    ResNet's layer4 at small resolutions, 4 pixels per image at 64x64). BLAS packs the weight
//    again for every GEMM, so with the images split every thread packs all of it for a handful of
//    columns; the forward and the weight gradient then split the output channels instead: each
//    thread takes its rows of the weight over the whole batch (wider GEMMs, half the packing
//    each, and dW without per-thread partial sums), at the price of each thread unrolling the
//    whole batch: [CRS, N·P], at most the half of the [K, CRS] weight that it no longer packs.
//    (At K >= N·P, layer4 at 224x224 and batch 8 lost more to the unrolling than it saved.) The
//    backward to the input sums over the output channels, so it keeps the split by images.
// What bounds it: OpenBLAS's sgemm on these shapes runs at 150-200 GFLOP/s per core (about 140
// with only 64 output channels), and im2col plus BLAS's packing of col add 10-20%.
//
// Channels-last (g.channels_last: x, y, gy, gx as [N·H·W, C] pixel rows, the weight as
// [K, R·S·Cg]): the same tiles and threads with the transposed matrices. A tile's output pixels
// are a block of consecutive rows of y or gy (row j = output pixel j, leading dimension K), so
// they are used in place for any tile, and col is [T, R·S·Cg] with row t = (r, s, c') for pixel t:
// for each tap a copy of Cg consecutive input channels.
//   forward          Y[T, Kg]      = col · W_gᵀ
//   backward_weight  dW_g[Kg, RSC] += gY_gᵀ · col
//   backward_input   dcol[T, RSC]  = gY_g · W_g        then col2im
//
// Benchmark: build/bench/afinar_bench --benchmark_filter=Conv2d, or tools/bench/compare.py.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <vector>

#include "afinar/ops/relu_rule.h"
#include "ops/cpu/conv2d_internal.h"

namespace afinar::cpu {

namespace {

using ops::Conv2dGeometry;

// Output pixels per tile (measured on the ResNet18 layers, see the header comment).
constexpr int64_t kForwardTile = 1024;
constexpr int64_t kBackwardInputTile = 1024;
constexpr int64_t kBackwardWeightTile = 512;

// ---- BLAS ------------------------------------------------------------------------------------

// Row-major C[m,n] = A[m,k]·B[k,n] (op(A), op(B) transposed as asked) + beta·C.
void gemm(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda, const float* b,
          int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
void gemm(bool trans_a, bool trans_b, int m, int n, int k, const double* a, int lda,
          const double* b, int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

// Inside our OpenMP region every thread calls BLAS single-threaded; the previous setting comes
// back afterwards. (OpenBLAS's pthreads build has no per-call thread count.)
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() : saved_(openblas_get_num_threads()) {
    if (saved_ != 1) openblas_set_num_threads(1);
  }
  ~SingleThreadedBlas() {
    if (saved_ != 1) openblas_set_num_threads(saved_);
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int saved_;
};

// ---- tiles -----------------------------------------------------------------------------------

// One output row inside a tile: tile columns [col, col + len) are the pixels (n, oh, ow0 + i).
struct RowSegment {
  int64_t n, oh, ow0, len, col;
};

// Tile columns [col, col + len) are the pixels p0 .. p0 + len of image n.
struct ImageRun {
  int64_t n, p0, len, col;
};

struct Tile {
  int64_t width = 0;
  std::vector<RowSegment> rows;
  std::vector<ImageRun> images;
};

// The tile of batch columns [j0, j1).
Tile make_tile(const Conv2dGeometry& g, int64_t j0, int64_t j1) {
  const int64_t P = g.Ho * g.Wo;
  Tile t;
  t.width = j1 - j0;
  for (int64_t j = j0; j < j1;) {
    const int64_t n = j / P, p = j % P;
    const int64_t len = std::min(g.Wo - p % g.Wo, j1 - j);
    t.rows.push_back({n, p / g.Wo, p % g.Wo, len, j - j0});
    if (t.images.empty() || t.images.back().n != n) t.images.push_back({n, p, 0, j - j0});
    t.images.back().len += len;
    j += len;
  }
  return t;
}

// The outputs o in [lo, hi) whose input coordinate o·stride - pad + offset lies in [0, in_size).
struct Range {
  int64_t lo, hi;
};
Range valid_outputs(int64_t in_size, int64_t out_size, int64_t stride, int64_t pad,
                    int64_t offset) {
  const int64_t first = pad - offset;               // o·stride >= first
  const int64_t last = in_size - 1 + pad - offset;  // o·stride <= last
  const int64_t lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  const int64_t hi = last < 0 ? 0 : std::min(out_size, last / stride + 1);
  return {std::min(lo, hi), hi};
}

// The batch as im2col reads it (kToCol) or col2im writes it.
template <bool kToCol, typename T>
using BatchPtr = std::conditional_t<kToCol, const T*, T*>;

// The general traversal: one output row segment at a time.
template <bool kToCol, typename T>
void patches_by_rows(const Conv2dGeometry& g, int64_t grp, const Tile& tile, BatchPtr<kToCol, T> x,
                     T* col) {
  std::vector<Range> valid_ow(size_t(g.S));
  for (int64_t s = 0; s < g.S; ++s)
    valid_ow[size_t(s)] = valid_outputs(g.W, g.Wo, g.sw, g.pw, s * g.dw);
  const int64_t Cg = g.Cg();
  for (int64_t c = 0; c < Cg; ++c) {
    for (int64_t r = 0; r < g.R; ++r) {
      for (int64_t s = 0; s < g.S; ++s) {
        auto* row = col + ((c * g.R + r) * g.S + s) * tile.width;
        const int64_t offset = s * g.dw - g.pw;  // iw = ow·sw + offset
        for (const RowSegment& seg : tile.rows) {
          auto* dst = row + seg.col;  // dst[i] is output pixel (n, oh, ow0 + i)
          const int64_t ih = seg.oh * g.sh - g.ph + r * g.dh;
          const int64_t end = seg.ow0 + seg.len;
          const bool row_valid = ih >= 0 && ih < g.H;
          // Pixels [lo, hi) read inside the input; the others read the zero padding.
          const int64_t lo = row_valid ? std::clamp(valid_ow[size_t(s)].lo, seg.ow0, end) : end;
          const int64_t hi = row_valid ? std::clamp(valid_ow[size_t(s)].hi, lo, end) : end;
          if constexpr (kToCol) {
            std::fill(dst, dst + (lo - seg.ow0), T(0));
            std::fill(dst + (hi - seg.ow0), dst + seg.len, T(0));
          }
          if (lo == hi) continue;
          auto* d = dst + (lo - seg.ow0);
          auto* src = x + ((seg.n * g.C + grp * Cg + c) * g.H + ih) * g.W + lo * g.sw + offset;
          const int64_t count = hi - lo;
          if (g.sw == 1) {  // contiguous: vectorizes
            for (int64_t i = 0; i < count; ++i) {
              if constexpr (kToCol)
                d[i] = src[i];
              else
                src[i] += d[i];
            }
          } else {
            for (int64_t i = 0; i < count; ++i) {
              if constexpr (kToCol)
                d[i] = src[i * g.sw];
              else
                src[i * g.sw] += d[i];
            }
          }
        }
      }
    }
  }
}

// Stride 1 with Wo == W ("same" width, e.g. 3x3 with padding 1, or 1x1 without): output pixel
// p = oh·W + ow of a col row (c', r, s) reads input pixel p + (r·dh - ph)·W + s·dw - pw of its
// plane, so each image's part of the row is one contiguous stretch of the plane (a copy, or an
// add for col2im). The pixels whose column iw falls outside [0, W) would read the neighbouring
// row there: they are zeroed in col (after the copy, or before the add).
template <bool kToCol, typename T>
void patches_flat(const Conv2dGeometry& g, int64_t grp, const Tile& tile, BatchPtr<kToCol, T> x,
                  T* col) {
  const int64_t Cg = g.Cg(), W = g.W, plane = g.H * g.W;
  for (int64_t c = 0; c < Cg; ++c) {
    for (int64_t r = 0; r < g.R; ++r) {
      const Range rows = valid_outputs(g.H, g.Ho, 1, g.ph, r * g.dh);
      for (int64_t s = 0; s < g.S; ++s) {
        const Range cols = valid_outputs(g.W, g.Wo, 1, g.pw, s * g.dw);
        const int64_t shift = (r * g.dh - g.ph) * W + s * g.dw - g.pw;
        T* row = col + ((c * g.R + r) * g.S + s) * tile.width;
        for (const ImageRun& run : tile.images) {
          T* d = row + run.col;  // d[p - p0] is pixel p of the image, p in [p0, p0 + len)
          auto* src = x + (run.n * g.C + grp * Cg + c) * plane;
          // Pixels [a, b) lie in valid rows and read inside the plane.
          const int64_t end = run.p0 + run.len;
          const int64_t a = std::min(end, std::max({run.p0, rows.lo * W, -shift}));
          const int64_t b = std::max(a, std::min({end, rows.hi * W, plane - shift}));
          auto zero = [&](int64_t lo, int64_t hi) {  // pixels [lo, hi) ∩ [a, b)
            for (int64_t p = std::max(lo, a); p < std::min(hi, b); ++p) d[p - run.p0] = T(0);
          };
          auto zero_outside_columns = [&] {
            for (int64_t rs = a - a % W; rs < b; rs += W) {  // rs: the start of an output row
              zero(rs, rs + cols.lo);
              zero(rs + cols.hi, rs + W);
            }
          };
          if constexpr (kToCol) {
            std::fill(d, d + (a - run.p0), T(0));
            std::copy(src + (a + shift), src + (b + shift), d + (a - run.p0));
            std::fill(d + (b - run.p0), d + (end - run.p0), T(0));
            zero_outside_columns();
          } else {
            zero_outside_columns();
            T* dst = src + (a + shift);
            const T* add = d + (a - run.p0);
            for (int64_t i = 0; i < b - a; ++i) dst[i] += add[i];
          }
        }
      }
    }
  }
}

// im2col (kToCol: col ← the tile's patches of group `grp`, 0 in the padding) and its adjoint
// col2im (x += col, each element added back to the pixel it was read from) share one traversal.
// `x` points at the whole batch, `col` at the tile's [CRS, width] matrix (col2im may zero the
// entries that belong to the padding).
template <bool kToCol, typename T>
void patches(const Conv2dGeometry& g, int64_t grp, const Tile& tile, BatchPtr<kToCol, T> x,
             T* col) {
  if (g.sh == 1 && g.sw == 1 && g.Wo == g.W)
    patches_flat<kToCol, T>(g, grp, tile, x, col);
  else
    patches_by_rows<kToCol, T>(g, grp, tile, x, col);
}

// Channels-last im2col (kToCol) / col2im: col row t of the tile holds, for each tap (r, s), the
// Cg channels of group grp at input pixel (n, ih, iw) of the tile's output pixel t (zeros in the
// padding); col2im adds them back.
template <bool kToCol, typename T>
void patches_nhwc(const Conv2dGeometry& g, int64_t grp, const Tile& tile, BatchPtr<kToCol, T> x,
                  T* col) {
  const int64_t Cg = g.Cg(), crs = g.R * g.S * Cg;
  for (const RowSegment& seg : tile.rows) {
    for (int64_t i = 0; i < seg.len; ++i) {
      T* row = col + (seg.col + i) * crs;
      const int64_t ow = seg.ow0 + i;
      for (int64_t r = 0; r < g.R; ++r) {
        const int64_t ih = seg.oh * g.sh - g.ph + r * g.dh;
        for (int64_t s = 0; s < g.S; ++s) {
          const int64_t iw = ow * g.sw - g.pw + s * g.dw;
          T* d = row + (r * g.S + s) * Cg;
          if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) {
            if constexpr (kToCol) std::fill(d, d + Cg, T(0));
            continue;
          }
          auto* src = x + ((seg.n * g.H + ih) * g.W + iw) * g.C + grp * Cg;
          for (int64_t c = 0; c < Cg; ++c) {
            if constexpr (kToCol)
              d[c] = src[c];
            else
              src[c] += d[c];
          }
        }
      }
    }
  }
}

// The batch pixel (row of y / gy in channels-last) where the tile starts.
int64_t first_pixel(const Conv2dGeometry& g, const Tile& tile) {
  const RowSegment& first = tile.rows.front();
  return (first.n * g.Ho + first.oh) * g.Wo + first.ow0;
}

// Checked conversion to BLAS's int.
int blas_int(int64_t v) {
  AFN_CHECK(v <= INT_MAX, "conv2d: matrix size ", v, " exceeds the BLAS int range");
  return int(v);
}

// Channels [k0, k0 + rows) of a [N, K', P] tensor at the tile's pixels, as a [rows, width] matrix
// with leading dimension ld.
template <typename T>
struct Slab {
  T* data;
  int ld;
};

// The slab itself when the tile lies in one image (rows of the tensor, ld = P); otherwise `buf`,
// gathered from the tensor when kGather (else the caller fills it and scatters it back). `t` is
// const for gathering; a slab of the tensor is written only when the caller's tensor is writable.
template <bool kGather, typename T>
Slab<T> slab(const Conv2dGeometry& g, const Tile& tile, int64_t k0, int64_t rows, int64_t planes,
             const T* t, T* buf) {
  const int64_t P = g.Ho * g.Wo;
  if (tile.images.size() == 1) {
    const ImageRun& run = tile.images[0];
    return {const_cast<T*>(t) + (run.n * planes + k0) * P + run.p0, int(P)};
  }
  if constexpr (kGather) {
    for (const ImageRun& run : tile.images)
      for (int64_t k = 0; k < rows; ++k) {
        const T* plane = t + (run.n * planes + k0 + k) * P + run.p0;
        std::copy(plane, plane + run.len, buf + k * tile.width + run.col);
      }
  }
  return {buf, int(tile.width)};
}

// Writes a buffer slab back into the [N, K', P] tensor (nothing to do for a slab of the tensor).
template <typename T>
void scatter(const Conv2dGeometry& g, const Tile& tile, int64_t k0, int64_t rows, int64_t planes,
             Slab<T> s, T* t) {
  const int64_t P = g.Ho * g.Wo;
  if (tile.images.size() == 1) return;
  for (const ImageRun& run : tile.images)
    for (int64_t k = 0; k < rows; ++k) {
      const T* line = s.data + k * s.ld + run.col;
      std::copy(line, line + run.len, t + (run.n * planes + k0 + k) * P + run.p0);
    }
}

// A thread's part of a call: images [n0, n1) and output channels [k0, k1).
struct Share {
  int64_t n0, n1, k0, k1;
};

// Runs body(thread, share) on each thread's part (see the header comment): one contiguous range
// of images each, or, when `may_split_channels` and the batch has few output pixels for the
// weight's size, one contiguous range of output channels each over the whole batch. Inside an
// enclosing parallel region (or with one image and no channel split) it runs on the calling
// thread alone.
template <typename Body>
void for_each_share(const Conv2dGeometry& g, bool may_split_channels, const Body& body) {
  const int64_t most = omp_in_parallel() ? 1 : omp_get_max_threads();
  const bool by_channels = may_split_channels && g.G == 1 && most > 1 && g.N > 1 && g.K >= most &&
                           g.K >= 2 * g.N * g.Ho * g.Wo;
  const int64_t wanted = by_channels ? most : std::min<int64_t>(most, g.N);
  if (wanted <= 1) {
    body(0, Share{0, g.N, 0, g.K});
    return;
  }
  SingleThreadedBlas single;
#pragma omp parallel num_threads(int(wanted))
  {
    const int64_t team = omp_get_num_threads(), t = omp_get_thread_num();  // may be < wanted
    body(int(t), by_channels ? Share{0, g.N, g.K * t / team, g.K * (t + 1) / team}
                             : Share{g.N * t / team, g.N * (t + 1) / team, 0, g.K});
  }
}

// Calls fn(grp, k0, k1) for each group whose output channels meet [s.k0, s.k1), with [k0, k1)
// the channels of the group inside the share.
template <typename Fn>
void for_each_group_rows(const Conv2dGeometry& g, const Share& s, const Fn& fn) {
  const int64_t Kg = g.Kg();
  for (int64_t grp = 0; grp < g.G; ++grp) {
    const int64_t k0 = std::max(s.k0, grp * Kg), k1 = std::min(s.k1, (grp + 1) * Kg);
    if (k0 < k1) fn(grp, k0, k1);
  }
}

// Calls fn(tile) for tiles of at most `width` pixels covering images [n0, n1): equal parts of one
// image when an image has more pixels, else equal groups of whole images (so a tile is either
// inside one image or a run of whole images).
template <typename Fn>
void for_each_tile(const Conv2dGeometry& g, int64_t n0, int64_t n1, int64_t width, const Fn& fn) {
  const int64_t P = g.Ho * g.Wo;
  if (P >= width) {
    const int64_t parts = (P + width - 1) / width;
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t i = 0; i < parts; ++i)
        fn(make_tile(g, n * P + P * i / parts, n * P + P * (i + 1) / parts));
  } else {
    const int64_t images = n1 - n0, per_tile = width / P,
                  groups = (images + per_tile - 1) / per_tile;
    for (int64_t i = 0; i < groups; ++i)
      fn(make_tile(g, (n0 + images * i / groups) * P, (n0 + images * (i + 1) / groups) * P));
  }
}

template <typename T>
std::unique_ptr<T[]> buffer(int64_t n) {
  return std::make_unique_for_overwrite<T[]>(size_t(n));
}

// ---- the three ops ---------------------------------------------------------------------------

// Sizes of one call: the GEMMs' (checked against BLAS's int once), the tile width, and the
// widest tile there will be (what the buffers hold: small batches need less than `width`).
struct Dims {
  int64_t Kg, crs, width, max_tile;
  int kg, icrs, k;
  Dims(const Conv2dGeometry& g, int64_t tile)
      : Kg(g.Kg()),
        crs(g.Cg() * g.R * g.S),
        width(tile),
        max_tile(std::min(tile, g.N * g.Ho * g.Wo)),
        kg(blas_int(Kg)),
        icrs(blas_int(crs)),
        k(blas_int(g.K)) {  // leading dimension of the channels-last tensors' rows
    blas_int(g.Ho * g.Wo);  // leading dimension of the tensors' slabs
    blas_int(width);
  }
};

// The bias and the epilogue on a run of outputs while the GEMM's result is in cache:
// v = y + bias (rounded), then + the residual's element at the same place in y, then relu.
// The conditions do not change inside a run, so the compiler unswitches and vectorises each loop.
template <typename T>
struct Epilogue {
  const T* bias;      // null: none
  const T* residual;  // laid out as y; null: none
  bool relu;

  bool empty() const { return !bias && !residual && !relu; }
  // y[at + i] for i < n, all of channel k (a stretch of an NCHW plane).
  void plane(T* y, int64_t at, int64_t n, int64_t k) const {
    T* out = y + at;
    const T* res = residual ? residual + at : nullptr;
    const T b = bias ? bias[k] : T(0);
    for (int64_t i = 0; i < n; ++i) {
      T v = out[i];
      if (bias) v = v + b;
      if (res) v = v + res[i];
      out[i] = relu ? relu_value(v) : v;
    }
  }
  // y[at + i] for i < n, of channels k0 + i (a stretch of an NHWC pixel row).
  void row(T* y, int64_t at, int64_t n, int64_t k0) const {
    T* out = y + at;
    const T* res = residual ? residual + at : nullptr;
    const T* b = bias ? bias + k0 : nullptr;
    for (int64_t i = 0; i < n; ++i) {
      T v = out[i];
      if (b) v = v + b[i];
      if (res) v = v + res[i];
      out[i] = relu ? relu_value(v) : v;
    }
  }
};

// Each group's output channels [k0, k1) of the share (all of them when split by images):
//   Y[k0:k1, tile] = W[k0:k1] · col (NCHW), or Y[tile, k0:k1] = col · W[k0:k1]ᵀ (channels-last).
template <typename T>
void forward(const Conv2dGeometry& g, T* y, const T* x, const T* w, const Epilogue<T>& e) {
  const Dims d(g, kForwardTile);
  const int64_t P = g.Ho * g.Wo;
  for_each_share(g, /*may_split_channels=*/true, [&](int, const Share& s) {
    auto col = buffer<T>(d.crs * d.max_tile), buf = buffer<T>(d.Kg * d.max_tile);
    for_each_tile(g, s.n0, s.n1, d.width, [&](const Tile& tile) {
      const int tw = int(tile.width);
      for_each_group_rows(g, s, [&](int64_t grp, int64_t k0, int64_t k1) {
        const int64_t rows = k1 - k0;
        if (g.channels_last) {  // the tile is rows [first, first + width) of y as [N·P, K]
          patches_nhwc<true, T>(g, grp, tile, x, col.get());
          const int64_t at = first_pixel(g, tile) * g.K + k0;
          gemm(false, true, tw, int(rows), d.icrs, col.get(), d.icrs, w + k0 * d.crs, d.icrs, T(0),
               y + at, d.k);
          if (!e.empty())
            for (int64_t j = 0; j < tile.width; ++j) e.row(y, at + j * g.K, rows, k0);
          return;
        }
        patches<true, T>(g, grp, tile, x, col.get());
        const Slab<T> out = slab<false>(g, tile, k0, rows, g.K, y, buf.get());
        gemm(false, false, int(rows), tw, d.icrs, w + k0 * d.crs, d.icrs, col.get(), tw, T(0),
             out.data, out.ld);
        scatter(g, tile, k0, rows, g.K, out, y);
        if (!e.empty())  // on y's planes, just written (the slab itself or the scatter's copy)
          for (const ImageRun& run : tile.images)
            for (int64_t k = k0; k < k1; ++k)
              e.plane(y, (run.n * g.K + k) * P + run.p0, run.len, k);
      });
    });
  });
}

template <typename T>
void backward_input(const Conv2dGeometry& g, T* gx, const T* gy, const T* w) {
  const Dims d(g, kBackwardInputTile);
  const int64_t image = g.C * g.H * g.W;
  // dcol sums over the output channels: split by images only.
  for_each_share(g, /*may_split_channels=*/false, [&](int, const Share& s) {
    auto col = buffer<T>(d.crs * d.max_tile), buf = buffer<T>(d.Kg * d.max_tile);
    for_each_tile(g, s.n0, s.n1, d.width, [&](const Tile& tile) {
      const int tw = int(tile.width);
      // col2im accumulates: zero each image at its first tile, where it is about to be used.
      for (const ImageRun& run : tile.images)
        if (run.p0 == 0) std::fill(gx + run.n * image, gx + (run.n + 1) * image, T(0));
      for (int64_t grp = 0; grp < g.G; ++grp) {
        if (g.channels_last) {
          gemm(false, false, tw, d.icrs, d.kg, gy + first_pixel(g, tile) * g.K + grp * d.Kg, d.k,
               w + grp * d.Kg * d.crs, d.icrs, T(0), col.get(), d.icrs);
          patches_nhwc<false, T>(g, grp, tile, gx, col.get());
          continue;
        }
        const Slab<T> gyt = slab<true>(g, tile, grp * d.Kg, d.Kg, g.K, gy, buf.get());
        gemm(true, false, d.icrs, tw, d.kg, w + grp * d.Kg * d.crs, d.icrs, gyt.data, gyt.ld, T(0),
             col.get(), tw);
        patches<false, T>(g, grp, tile, gx, col.get());
      }
    });
  });
}

// dW[k0:k1] += gY[k0:k1, tile] · colᵀ (NCHW) or gY[tile, k0:k1]ᵀ · col (channels-last) for each
// group's channels [k0, k1) of the share. Split by channels, each thread writes its own rows of
// gw; split by images, thread 0 accumulates into gw and every other thread into its own buffer,
// added up at the end. The first tile of each thread overwrites (beta = 0), so a thread with no
// images writes zeros.
template <typename T>
void backward_weight(const Conv2dGeometry& g, T* gw, const T* gy, const T* x) {
  const Dims d(g, kBackwardWeightTile);
  const int64_t size = g.K * d.crs;
  std::vector<std::unique_ptr<T[]>> partial(static_cast<size_t>(omp_get_max_threads()));
  for_each_share(g, /*may_split_channels=*/true, [&](int t, const Share& s) {
    const bool own_rows = s.k1 - s.k0 < g.K;
    if (t > 0 && !own_rows) partial[size_t(t)] = buffer<T>(size);
    T* acc = t == 0 || own_rows ? gw : partial[size_t(t)].get();
    if (s.n0 == s.n1) std::fill(acc + s.k0 * d.crs, acc + s.k1 * d.crs, T(0));
    auto col = buffer<T>(d.crs * d.max_tile), buf = buffer<T>(d.Kg * d.max_tile);
    T beta = 0;
    for_each_tile(g, s.n0, s.n1, d.width, [&](const Tile& tile) {
      const int tw = int(tile.width);
      for_each_group_rows(g, s, [&](int64_t grp, int64_t k0, int64_t k1) {
        const int rows = int(k1 - k0);
        if (g.channels_last) {
          patches_nhwc<true, T>(g, grp, tile, x, col.get());
          gemm(true, false, rows, d.icrs, tw, gy + first_pixel(g, tile) * g.K + k0, d.k, col.get(),
               d.icrs, beta, acc + k0 * d.crs, d.icrs);
          return;
        }
        const Slab<T> gyt = slab<true>(g, tile, k0, rows, g.K, gy, buf.get());
        patches<true, T>(g, grp, tile, x, col.get());
        gemm(false, true, rows, d.icrs, tw, gyt.data, gyt.ld, col.get(), tw, beta, acc + k0 * d.crs,
             d.icrs);
      });
      beta = 1;
    });
  });
  std::vector<const T*> sums;
  for (const auto& p : partial)
    if (p) sums.push_back(p.get());
#pragma omp parallel for if (!sums.empty() && size > 65536)
  for (int64_t i = 0; i < size; ++i)
    for (const T* p : sums) gw[i] += p[i];
}

}  // namespace

void conv2d_forward_im2col(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b,
                           const ops::AddReluEpilogue& e, const Conv2dGeometry& g) {
  visit_floating(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    forward<T>(g, y.data<T>(), x.data<T>(), w.data<T>(),
               {.bias = b.defined() ? b.data<T>() : nullptr,
                .residual = e.residual.defined() ? e.residual.data<T>() : nullptr,
                .relu = e.relu});
  });
}

void conv2d_backward_input_im2col(const Tensor& gx, const Tensor& gy, const Tensor& w,
                                  const Conv2dGeometry& g) {
  visit_floating(gy.dtype(), "conv2d_backward_input", [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward_input<T>(g, gx.data<T>(), gy.data<T>(), w.data<T>());
  });
}

void conv2d_backward_weight_im2col(const Tensor& gw, const Tensor& gy, const Tensor& x,
                                   const Conv2dGeometry& g) {
  visit_floating(gy.dtype(), "conv2d_backward_weight", [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward_weight<T>(g, gw.data<T>(), gy.data<T>(), x.data<T>());
  });
}

}  // namespace afinar::cpu
