// CPU reference of max_pool2d / avg_pool2d, and the window loops behind every pooling op's CPU
// kernel: an op only lays out its PoolWindows along H and W (pool_windows here,
// adaptive_pool_windows in adaptive_pool2d) and runs one of these. Plain loops over the windows
// of one [H,W] plane, planes spread over OpenMP threads; f32 and f64, average sums accumulate in
// double. Every 4-D operand is read and written through its strides (Planes), so NCHW and
// channels-last tensors take the same loops (no two planes share an element: no races in the
// scatters). max_pool2d's forward, the stem of every ResNet, has two vectorised loops of its own
// (max_pool2d_nchw, max_pool2d_nhwc) that visit each window in the reference's order, and the
// max-pool scatter a channels-last loop. Benchmark: <build>/bench/afinar_bench
// --benchmark_filter=Pool2d; PyTorch side by side: tools/bench/compare.py --filter MaxPool2d.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "pool2d.h"

namespace afinar::cpu {

namespace {

// Input elements below which starting threads costs more than it saves.
constexpr int64_t kMinParallelWork = 1 << 15;

// Element (n, c, h, w) of a 4-D tensor t at plane(n·C + c) + at(h, w), from t's strides.
struct Planes {
  int64_t C, sN, sC, sH, sW;
  explicit Planes(const Tensor& t)
      : C(t.size(1)), sN(t.stride(0)), sC(t.stride(1)), sH(t.stride(2)), sW(t.stride(3)) {}
  int64_t plane(int64_t i) const { return (i / C) * sN + (i % C) * sC; }
  int64_t at(int64_t h, int64_t w) const { return h * sH + w * sW; }
};

// avg_pool2d's divisor D of the window (p, q).
double avg_divisor(const ops::PoolWindows& rows, const ops::PoolWindows& cols, int64_t p, int64_t q,
                   bool count_include_pad, int64_t divisor_override) {
  if (divisor_override != 0) return double(divisor_override);
  if (count_include_pad) return double(rows.padded[size_t(p)] * cols.padded[size_t(q)]);
  return double(rows.count(p) * cols.count(q));
}

}  // namespace

void max_pool2d_windows(const Tensor& y, const Tensor& indices, const Tensor& x,
                        const ops::PoolWindows& rows, const ops::PoolWindows& cols,
                        const char* op) {
  visit_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t planes = x.size(0) * x.size(1), W = x.size(3);
    const int64_t P = rows.size(), Q = cols.size();
    const Planes xs(x), ys(y), is(indices);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    int64_t* pi = indices.data<int64_t>();
#pragma omp parallel for if (x.numel() > kMinParallelWork)
    for (int64_t plane = 0; plane < planes; ++plane) {
      const T* in = px + xs.plane(plane);
      T* out = py + ys.plane(plane);
      int64_t* idx = pi + is.plane(plane);
      for (int64_t p = 0; p < P; ++p) {
        const int64_t h0 = rows.begin[size_t(p)], h1 = rows.end[size_t(p)];
        for (int64_t q = 0; q < Q; ++q) {
          const int64_t w0 = cols.begin[size_t(q)], w1 = cols.end[size_t(q)];
          // PyTorch's scan: start from -inf at the first position read, so an all -inf window
          // still points at an input; `v > best || isnan(v)` keeps the first of tied maxima and
          // lets NaN through.
          T best = -std::numeric_limits<T>::infinity();
          int64_t arg = (h0 < h1 && w0 < w1) ? h0 * W + w0 : -1;
          for (int64_t h = h0; h < h1; h += rows.step)
            for (int64_t w = w0; w < w1; w += cols.step) {
              const T v = in[xs.at(h, w)];
              if (v > best || std::isnan(v)) {
                best = v;
                arg = h * W + w;
              }
            }
          out[ys.at(p, q)] = best;
          idx[is.at(p, q)] = arg;
        }
      }
    }
  });
}

void max_pool2d_scatter(const Tensor& grad_input, const Tensor& grad_output, const Tensor& indices,
                        const char* op) {
  visit_floating(grad_output.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t planes = grad_input.size(0) * grad_input.size(1);
    const int64_t H = grad_input.size(2), W = grad_input.size(3), HW = H * W;
    const int64_t P = grad_output.size(2), Q = grad_output.size(3);
    const Planes gis(grad_input), gos(grad_output), is(indices);
    const T* pg = grad_output.data<T>();
    const int64_t* pi = indices.data<int64_t>();
    T* pgi = grad_input.data<T>();
    int64_t bad = 0;  // indices outside [-1, HW), reported after the parallel loop
    if (grad_input.is_contiguous(MemoryFormat::ChannelsLast) && !grad_input.is_contiguous() &&
        grad_output.is_contiguous(MemoryFormat::ChannelsLast) &&
        indices.is_contiguous(MemoryFormat::ChannelsLast)) {
      // Channels-last: image by image, every channel of an output pixel at once (a plane-by-plane
      // walk would touch each cache line of the image once per channel).
      const int64_t N = grad_input.size(0), C = grad_input.size(1);
#pragma omp parallel for reduction(+ : bad) if (grad_input.numel() > kMinParallelWork)
      for (int64_t n = 0; n < N; ++n) {
        T* gin = pgi + n * HW * C;
        std::fill(gin, gin + HW * C, T(0));
        for (int64_t j = n * P * Q; j < (n + 1) * P * Q; ++j) {  // output pixel j of image n
          const T* gout = pg + j * C;
          const int64_t* idx = pi + j * C;
          for (int64_t c = 0; c < C; ++c) {
            const int64_t k = idx[c];
            if (k >= 0 && k < HW)
              gin[k * C + c] += gout[c];
            else if (k != -1)
              ++bad;
          }
        }
      }
    } else {
#pragma omp parallel for reduction(+ : bad) if (grad_input.numel() > kMinParallelWork)
      for (int64_t plane = 0; plane < planes; ++plane) {
        T* gin = pgi + gis.plane(plane);
        const T* gout = pg + gos.plane(plane);
        const int64_t* idx = pi + is.plane(plane);
        for (int64_t h = 0; h < H; ++h)
          for (int64_t w = 0; w < W; ++w) gin[gis.at(h, w)] = T(0);
        for (int64_t p = 0; p < P; ++p)
          for (int64_t q = 0; q < Q; ++q) {
            const int64_t k = idx[is.at(p, q)];
            if (k >= 0 && k < HW)
              gin[gis.at(k / W, k % W)] += gout[gos.at(p, q)];
            else if (k != -1)
              ++bad;
          }
      }
    }
    AFN_CHECK(bad == 0, op, ": ", bad, " indices lie outside the input plane [0, ", HW,
              ") of grad_input ", grad_input.shape(),
              "; indices must come from the forward of an input of that shape");
  });
}

void avg_pool2d_windows(const Tensor& y, const Tensor& x, const ops::PoolWindows& rows,
                        const ops::PoolWindows& cols, bool count_include_pad,
                        int64_t divisor_override, const char* op) {
  visit_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t planes = x.size(0) * x.size(1);
    const int64_t P = rows.size(), Q = cols.size();
    const Planes xs(x), ys(y);
    const T* px = x.data<T>();
    T* py = y.data<T>();
#pragma omp parallel for if (x.numel() > kMinParallelWork)
    for (int64_t plane = 0; plane < planes; ++plane) {
      const T* in = px + xs.plane(plane);
      T* out = py + ys.plane(plane);
      for (int64_t p = 0; p < P; ++p)
        for (int64_t q = 0; q < Q; ++q) {
          double sum = 0;
          for (int64_t h = rows.begin[size_t(p)]; h < rows.end[size_t(p)]; h += rows.step)
            for (int64_t w = cols.begin[size_t(q)]; w < cols.end[size_t(q)]; w += cols.step)
              sum += double(in[xs.at(h, w)]);
          out[ys.at(p, q)] =
              T(sum / avg_divisor(rows, cols, p, q, count_include_pad, divisor_override));
        }
    }
  });
}

void avg_pool2d_windows_backward(const Tensor& grad_input, const Tensor& grad_output,
                                 const ops::PoolWindows& rows, const ops::PoolWindows& cols,
                                 bool count_include_pad, int64_t divisor_override, const char* op) {
  visit_floating(grad_output.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t planes = grad_input.size(0) * grad_input.size(1);
    const int64_t H = grad_input.size(2), W = grad_input.size(3);
    const int64_t P = rows.size(), Q = cols.size();
    const Planes gis(grad_input), gos(grad_output);
    const T* pg = grad_output.data<T>();
    T* pgi = grad_input.data<T>();
#pragma omp parallel for if (grad_input.numel() > kMinParallelWork)
    for (int64_t plane = 0; plane < planes; ++plane) {
      T* gin = pgi + gis.plane(plane);
      const T* gout = pg + gos.plane(plane);
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) gin[gis.at(h, w)] = T(0);
      for (int64_t p = 0; p < P; ++p)
        for (int64_t q = 0; q < Q; ++q) {
          const T share = T(double(gout[gos.at(p, q)]) /
                            avg_divisor(rows, cols, p, q, count_include_pad, divisor_override));
          for (int64_t h = rows.begin[size_t(p)]; h < rows.end[size_t(p)]; h += rows.step)
            for (int64_t w = cols.begin[size_t(q)]; w < cols.end[size_t(q)]; w += cols.step)
              gin[gis.at(h, w)] += share;
        }
    }
  });
}

namespace {

// The windows of the op's options along H (axis 0) or W (axis 1) for `output` outputs.
ops::PoolWindows windows(int64_t input, int64_t output, const IntPair& kernel,
                         const IntPair& stride, const IntPair& padding, const IntPair& dilation,
                         int axis) {
  return ops::pool_windows(input, output, kernel[axis], stride[axis], padding[axis],
                           dilation[axis]);
}

// One tap of max_pool2d_nchw's windows along a row: output q reads row[q·S + offset] and takes it
// by the reference's rule (greater, or NaN), its index being base + q·S + offset. kStride is S
// when known at compile time (0: use the argument).
template <typename T>
struct Tap {
  const T* row;
  int64_t base, offset;

  template <int64_t kStride>
  void apply(T* __restrict best, int64_t* __restrict arg, int64_t qa, int64_t qb,
             int64_t stride) const {
    const int64_t S = kStride ? kStride : stride;
    const T* __restrict r = row;
    const int64_t o = offset, at = base + offset;
    for (int64_t q = qa; q < qb; ++q) {
      const T v = r[q * S + o];
      const bool take = v > best[q] || v != v;
      best[q] = take ? v : best[q];
      arg[q] = take ? at + q * S : arg[q];
    }
  }
};

// max_pool2d on NCHW planes, the reference's scan reordered so that the outputs of one row are
// computed side by side: for each window row h and each tap s of the window, every output q of the
// row takes its element x[h, q·S + s·dil - pad] in turn. Each window still visits its positions in
// the reference's order (h, then w), so the values and indices are the reference's to the bit
// (first of tied maxima, NaN wins and points at the last NaN read). The loop over q has a constant
// stride S and no branch, which the compiler vectorises; the outputs whose window the padding
// clips (a few at each end of a row) take the reference's loop.
void max_pool2d_nchw(const Tensor& y, const Tensor& indices, const Tensor& x,
                     const ops::PoolWindows& rows, const ops::PoolWindows& cols,
                     const MaxPool2dOptions& o) {
  const int64_t S = o.stride.w, pad = o.padding.w, dil = o.dilation.w, kw = o.kernel_size.w;
  const int64_t span = (kw - 1) * dil + 1, W = x.size(3), Q = cols.size();
  // The outputs with an unclipped window: q·S - pad >= 0 and q·S - pad + span <= W.
  const int64_t qa = std::min(Q, (pad + S - 1) / S);
  const int64_t qb = std::max(qa, std::min(Q, W + pad - span < 0 ? 0 : (W + pad - span) / S + 1));
  // With no unclipped output (a window wider than the padded row) the taps below would loop over
  // the whole kernel width for nothing: 2^40 taps for kernel_size 2^40.
  if (qa < qb)
    visit_floating(x.dtype(), "max_pool2d", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const int64_t planes = x.size(0) * x.size(1), H = x.size(2), P = rows.size();
      const T* px = x.data<T>();
      T* py = y.data<T>();
      int64_t* pi = indices.data<int64_t>();
#pragma omp parallel if (x.numel() > kMinParallelWork)
      {
        std::vector<T> best(static_cast<size_t>(Q));
        std::vector<int64_t> arg(static_cast<size_t>(Q));
#pragma omp for
        for (int64_t plane = 0; plane < planes; ++plane) {
          const T* in = px + plane * H * W;
          for (int64_t p = 0; p < P; ++p) {
            T* out = py + (plane * P + p) * Q;
            int64_t* idx = pi + (plane * P + p) * Q;
            const int64_t h0 = rows.begin[size_t(p)], h1 = rows.end[size_t(p)];
            T* b = best.data();
            int64_t* a = arg.data();
            for (int64_t q = qa; q < qb; ++q) {
              b[q] = -std::numeric_limits<T>::infinity();
              a[q] = h0 < h1 ? h0 * W + q * S - pad : -1;
            }
            for (int64_t h = h0; h < h1; h += rows.step)
              for (int64_t s = 0; s < kw; ++s) {
                const Tap<T> tap{in + h * W, h * W, s * dil - pad};
                if (S == 2)  // ResNet's stem and VGG's pools: a constant stride vectorises
                  tap.template apply<2>(b, a, qa, qb, S);
                else if (S == 1)
                  tap.template apply<1>(b, a, qa, qb, S);
                else
                  tap.template apply<0>(b, a, qa, qb, S);
              }
            std::copy(b + qa, b + qb, out + qa);
            std::copy(a + qa, a + qb, idx + qa);
          }
        }
      }
    });
  // The clipped columns through the reference's loop, each on a view of its column.
  for (int64_t q = 0; q < Q; ++q) {
    if (q >= qa && q < qb) continue;
    const ops::PoolWindows one{.begin = {cols.begin[size_t(q)]},
                               .end = {cols.end[size_t(q)]},
                               .padded = {},
                               .step = cols.step};
    max_pool2d_windows(y.slice(3, q, q + 1), indices.slice(3, q, q + 1), x, rows, one,
                       "max_pool2d");
  }
}

// max_pool2d on channels-last tensors ([N, H, W, C] in memory): each output pixel's window is
// scanned in the reference's order (h, then w) for all C channels at once, a unit-stride loop over
// c that the compiler vectorises; values and indices are the reference's to the bit.
void max_pool2d_nhwc(const Tensor& y, const Tensor& indices, const Tensor& x,
                     const ops::PoolWindows& rows, const ops::PoolWindows& cols) {
  visit_floating(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t P = rows.size(), Q = cols.size();
    const T* px = x.data<T>();
    T* py = y.data<T>();
    int64_t* pi = indices.data<int64_t>();
#pragma omp parallel for collapse(2) if (x.numel() > kMinParallelWork)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t p = 0; p < P; ++p) {
        const int64_t h0 = rows.begin[size_t(p)], h1 = rows.end[size_t(p)];
        for (int64_t q = 0; q < Q; ++q) {
          const int64_t w0 = cols.begin[size_t(q)], w1 = cols.end[size_t(q)];
          T* __restrict best = py + ((n * P + p) * Q + q) * C;
          int64_t* __restrict arg = pi + ((n * P + p) * Q + q) * C;
          const int64_t first = (h0 < h1 && w0 < w1) ? h0 * W + w0 : -1;
          for (int64_t c = 0; c < C; ++c) {
            best[c] = -std::numeric_limits<T>::infinity();
            arg[c] = first;
          }
          for (int64_t h = h0; h < h1; h += rows.step)
            for (int64_t w = w0; w < w1; w += cols.step) {
              const T* __restrict in = px + ((n * H + h) * W + w) * C;
              const int64_t at = h * W + w;
              for (int64_t c = 0; c < C; ++c) {
                const T v = in[c];
                const bool take = v > best[c] || v != v;
                best[c] = take ? v : best[c];
                arg[c] = take ? at : arg[c];
              }
            }
        }
      }
  });
}

void max_pool2d_forward(const Tensor& y, const Tensor& indices, const Tensor& x,
                        const MaxPool2dOptions& o) {
  const ops::PoolWindows rows =
      windows(x.size(2), y.size(2), o.kernel_size, o.stride, o.padding, o.dilation, 0);
  const ops::PoolWindows cols =
      windows(x.size(3), y.size(3), o.kernel_size, o.stride, o.padding, o.dilation, 1);
  // The front end gives every operand dense in x's format: NCHW or channels-last.
  if (x.is_contiguous()) return max_pool2d_nchw(y, indices, x, rows, cols, o);
  max_pool2d_nhwc(y, indices, x, rows, cols);
}

void max_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output, const Tensor& indices,
                         const MaxPool2dOptions&) {
  max_pool2d_scatter(grad_input, grad_output, indices, "max_pool2d_backward");
}

void avg_pool2d_forward(const Tensor& y, const Tensor& x, const AvgPool2dOptions& o) {
  avg_pool2d_windows(y, x,
                     windows(x.size(2), y.size(2), o.kernel_size, o.stride, o.padding, {1, 1}, 0),
                     windows(x.size(3), y.size(3), o.kernel_size, o.stride, o.padding, {1, 1}, 1),
                     o.count_include_pad, o.divisor_override, "avg_pool2d");
}

void avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output,
                         const AvgPool2dOptions& o) {
  const int64_t H = grad_input.size(2), W = grad_input.size(3);
  avg_pool2d_windows_backward(
      grad_input, grad_output,
      windows(H, grad_output.size(2), o.kernel_size, o.stride, o.padding, {1, 1}, 0),
      windows(W, grad_output.size(3), o.kernel_size, o.stride, o.padding, {1, 1}, 1),
      o.count_include_pad, o.divisor_override, "avg_pool2d_backward");
}

}  // namespace

AFN_REGISTER_KERNEL(max_pool2d_forward, CPU, max_pool2d_forward);
AFN_REGISTER_KERNEL(max_pool2d_backward, CPU, max_pool2d_backward);
AFN_REGISTER_KERNEL(avg_pool2d_forward, CPU, avg_pool2d_forward);
AFN_REGISTER_KERNEL(avg_pool2d_backward, CPU, avg_pool2d_backward);

}  // namespace afinar::cpu
