// CPU reference of batch_norm2d: one OpenMP task per channel, per-channel sums in double (each
// row's sum vectorised: `omp simd reduction` lets the compiler keep one partial sum per lane, so
// the adds are not one long dependency chain).
// In a contiguous [N, C, H, W] tensor channel c is N runs of H·W values, run i starting at
// (i·C + c)·H·W; the NCHW loops below walk those runs. A channels-last tensor is a [P, C] matrix
// of P = N·H·W pixel rows: its loops run over the rows (split into one range per thread, each
// with its own per-channel partial sums, added in thread order: the same result every run) and
// along C inside a row.
#include "afinar/ops/batch_norm2d.h"

#include <omp.h>

#include <cmath>
#include <tuple>
#include <utility>
#include <vector>

#include "afinar/ops/relu_rule.h"

namespace afinar::cpu {

namespace {

// Pointer to an optional tensor's data, null when it is undefined.
template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Shape of the runs of one channel.
struct Runs {
  int64_t n, c, hw;
  explicit Runs(const Tensor& x) : n(x.size(0)), c(x.size(1)), hw(x.size(2) * x.size(3)) {}
  int64_t count() const { return n * hw; }  // values per channel
  int64_t start(int64_t i, int64_t ch) const { return (i * c + ch) * hw; }
};

// Batch mean and biased variance of channel ch, two passes in double (no cancellation).
template <typename T>
std::pair<double, double> channel_moments(const T* x, const Runs& r, int64_t ch) {
  if (r.count() == 0) return {0.0, 0.0};
  double sum = 0;
  for (int64_t i = 0; i < r.n; ++i) {
    const T* row = x + r.start(i, ch);
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < r.hw; ++j) sum += double(row[j]);
  }
  const double mean = sum / double(r.count());
  double sq = 0;
  for (int64_t i = 0; i < r.n; ++i) {
    const T* row = x + r.start(i, ch);
#pragma omp simd reduction(+ : sq)
    for (int64_t j = 0; j < r.hw; ++j) {
      const double d = double(row[j]) - mean;
      sq += d * d;
    }
  }
  return {mean, sq / double(r.count())};
}

// The per-channel statistics of the forward: μ and σ² (training: the batch's, with the running
// statistics updated; eval: the running ones), saved as mean / invstd, and y = scale·x + shift.
template <typename T>
struct ChannelAffine {
  T scale, shift;
};
template <typename T>
ChannelAffine<T> channel_statistics(const ops::BatchNorm2dForwardArgs& a, int64_t ch, double mean,
                                    double var, double n) {
  T *rmean = data_or_null<T>(a.running_mean), *rvar = data_or_null<T>(a.running_var);
  if (a.training) {
    // An empty batch leaves the running statistics alone, as PyTorch does.
    const double m = a.momentum;
    if (rmean && n > 0) rmean[ch] = T((1 - m) * double(rmean[ch]) + m * mean);
    if (rvar && n > 0) rvar[ch] = T((1 - m) * double(rvar[ch]) + m * var * n / (n - 1));
  } else {
    mean = double(rmean[ch]);
    var = double(rvar[ch]);
  }
  const double invstd = 1.0 / std::sqrt(var + a.eps);
  a.mean.data<T>()[ch] = T(mean);
  a.invstd.data<T>()[ch] = T(invstd);
  // y = γ (x - μ) invstd + β = scale · x + shift
  const T *w = data_or_null<T>(a.weight), *b = data_or_null<T>(a.bias);
  const double scale = (w ? double(w[ch]) : 1.0) * invstd;
  return {T(scale), T((b ? double(b[ch]) : 0.0) - mean * scale)};
}

// Per-channel sums over the pixel rows of a channels-last [P, C] tensor: out[c] = Σ_p f(p, c),
// accumulated in double. Each thread sums its own range of rows into its own partials; the
// partials are added in thread order afterwards (deterministic for a given thread count).
template <typename F>
std::vector<double> nhwc_channel_sums(int64_t rows, int64_t c, int64_t sums_per_channel,
                                      bool parallel, F&& f) {
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<double> partial(size_t(threads * sums_per_channel * c), 0.0);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    double* acc = partial.data() + size_t(t * sums_per_channel * c);
    for (int64_t p = rows * t / nt; p < rows * (t + 1) / nt; ++p) f(p, acc);
  }
  std::vector<double> total(size_t(sums_per_channel * c), 0.0);
  for (int t = 0; t < threads; ++t)
    for (size_t k = 0; k < total.size(); ++k) total[k] += partial[size_t(t) * total.size() + k];
  return total;
}

// x, y, residual channels-last: the statistics from two passes over the rows, then y row by row.
template <typename T>
void batch_norm2d_forward_nhwc(const ops::BatchNorm2dForwardArgs& a) {
  const int64_t c = a.x.size(1), rows = a.x.numel() / c;
  const bool parallel = a.x.numel() > 32768;
  const T* x = a.x.data<T>();
  std::vector<double> mean(static_cast<size_t>(c), 0.0), var(static_cast<size_t>(c), 0.0);
  if (a.training && rows > 0) {
    mean = nhwc_channel_sums(rows, c, 1, parallel, [&](int64_t p, double* acc) {
      const T* row = x + p * c;
#pragma omp simd
      for (int64_t k = 0; k < c; ++k) acc[k] += double(row[k]);
    });
    for (double& m : mean) m /= double(rows);
    var = nhwc_channel_sums(rows, c, 1, parallel, [&](int64_t p, double* acc) {
      const T* row = x + p * c;
#pragma omp simd
      for (int64_t k = 0; k < c; ++k) {
        const double d = double(row[k]) - mean[size_t(k)];
        acc[k] += d * d;
      }
    });
    for (double& v : var) v /= double(rows);
  }
  const size_t cn = static_cast<size_t>(c);
  std::vector<T> scale(cn), shift(cn);
  for (int64_t ch = 0; ch < c; ++ch) {
    const ChannelAffine<T> af =
        channel_statistics<T>(a, ch, mean[size_t(ch)], var[size_t(ch)], double(rows));
    scale[size_t(ch)] = af.scale;
    shift[size_t(ch)] = af.shift;
  }
  T* y = a.y.data<T>();
  const T* res = data_or_null<T>(a.residual);
  const T *sc = scale.data(), *sh = shift.data();
#pragma omp parallel for if (parallel)
  for (int64_t p = 0; p < rows; ++p) {
    const int64_t s = p * c;
    for (int64_t k = 0; k < c; ++k) y[s + k] = x[s + k] * sc[k] + sh[k];
    if (res)
      for (int64_t k = 0; k < c; ++k) y[s + k] += res[s + k];
    if (a.relu)
      for (int64_t k = 0; k < c; ++k) y[s + k] = relu_value(y[s + k]);
  }
}

void batch_norm2d_forward(const ops::BatchNorm2dForwardArgs& a) {
  visit_floating(a.x.dtype(), "batch_norm2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (!a.x.is_contiguous()) return batch_norm2d_forward_nhwc<T>(a);
    const Runs r(a.x);
    const T* x = a.x.data<T>();
    T* y = a.y.data<T>();
    const T* res = data_or_null<T>(a.residual);
#pragma omp parallel for if (a.x.numel() > 32768)
    for (int64_t ch = 0; ch < r.c; ++ch) {
      double mean = 0, var = 0;
      if (a.training) std::tie(mean, var) = channel_moments(x, r, ch);
      const ChannelAffine<T> af = channel_statistics<T>(a, ch, mean, var, double(r.count()));
      const T sc = af.scale, sh = af.shift;
      // y = scale · x + shift, then the epilogue, row by row (each loop vectorises; the row is
      // still in cache for the next)
      for (int64_t i = 0; i < r.n; ++i) {
        const int64_t s = r.start(i, ch);
        for (int64_t j = s; j < s + r.hw; ++j) y[j] = x[j] * sc + sh;
        if (res)
          for (int64_t j = s; j < s + r.hw; ++j) y[j] += res[j];
        if (a.relu)
          for (int64_t j = s; j < s + r.hw; ++j) y[j] = relu_value(y[j]);
      }
    }
  });
}

// grad_output, x, grad_input channels-last: the two per-channel sums in one pass over the rows,
// then dL/dx row by row (the formulas of the NCHW loop below).
template <typename T>
void batch_norm2d_backward_nhwc(const ops::BatchNorm2dBackwardArgs& a, bool need_sums) {
  const int64_t c = a.x.size(1), rows = a.x.numel() / c;
  const bool parallel = a.x.numel() > 32768;
  const T *x = a.x.data<T>(), *g = a.grad_output.data<T>();
  const T *mean_in = a.mean.data<T>(), *invstd_in = a.invstd.data<T>();
  const size_t cn = static_cast<size_t>(c);
  std::vector<double> mean(cn), sums(2 * cn, 0.0);  // Σ g [0, C), Σ g·(x - μ) [C, 2C)
  for (int64_t k = 0; k < c; ++k) mean[size_t(k)] = double(mean_in[k]);
  if (need_sums)
    sums = nhwc_channel_sums(rows, c, 2, parallel, [&](int64_t p, double* acc) {
      const T *gr = g + p * c, *xr = x + p * c;
#pragma omp simd
      for (int64_t k = 0; k < c; ++k) {
        acc[k] += double(gr[k]);
        acc[c + k] += double(gr[k]) * (double(xr[k]) - mean[size_t(k)]);
      }
    });
  T *gw = data_or_null<T>(a.grad_weight), *gb = data_or_null<T>(a.grad_bias);
  for (int64_t k = 0; k < c; ++k) {
    if (gw) gw[k] = T(sums[size_t(c + k)] * double(invstd_in[k]));
    if (gb) gb[k] = T(sums[size_t(k)]);
  }
  T* gx = data_or_null<T>(a.grad_input);
  if (!gx) return;
  const T* w = data_or_null<T>(a.weight);
  const double n = double(rows);
  std::vector<double> kk(cn), mean_g(cn), c_x(cn);
  for (int64_t k = 0; k < c; ++k) {
    const double invstd = double(invstd_in[k]);
    kk[size_t(k)] = (w ? double(w[k]) : 1.0) * invstd;
    mean_g[size_t(k)] = sums[size_t(k)] / n;
    c_x[size_t(k)] = invstd * (sums[size_t(c + k)] * invstd) / n;  // invstd · mean(g x̂)
  }
#pragma omp parallel for if (parallel)
  for (int64_t p = 0; p < rows; ++p) {
    const int64_t s = p * c;
    if (a.training) {
      for (int64_t k = 0; k < c; ++k)
        gx[s + k] = T(kk[size_t(k)] * (double(g[s + k]) - mean_g[size_t(k)] -
                                       (double(x[s + k]) - mean[size_t(k)]) * c_x[size_t(k)]));
    } else {
      for (int64_t k = 0; k < c; ++k) gx[s + k] = g[s + k] * T(kk[size_t(k)]);
    }
  }
}

void batch_norm2d_backward(const ops::BatchNorm2dBackwardArgs& a) {
  visit_floating(a.x.dtype(), "batch_norm2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Runs r(a.x);
    const T *x = a.x.data<T>(), *g = a.grad_output.data<T>();
    const T *mean_in = a.mean.data<T>(), *invstd_in = a.invstd.data<T>();
    const T* w = data_or_null<T>(a.weight);
    T *gx = data_or_null<T>(a.grad_input), *gw = data_or_null<T>(a.grad_weight),
      *gb = data_or_null<T>(a.grad_bias);
    // Σ g is needed for dL/dβ and the training dL/dx; Σ g·x̂ for dL/dγ and the training dL/dx.
    const bool need_sum_g = gb || (gx && a.training);
    const bool need_sum_gxhat = gw || (gx && a.training);
    if (!a.x.is_contiguous()) return batch_norm2d_backward_nhwc<T>(a, need_sum_g || need_sum_gxhat);
    const double n = double(r.count());
#pragma omp parallel for if (a.x.numel() > 32768)
    for (int64_t ch = 0; ch < r.c; ++ch) {
      const double mean = double(mean_in[ch]), invstd = double(invstd_in[ch]);
      double sum_g = 0, sum_gxmu = 0;  // Σ g, Σ g·(x - μ)
      if (need_sum_g || need_sum_gxhat) {
        for (int64_t i = 0; i < r.n; ++i) {
          const int64_t s = r.start(i, ch);
#pragma omp simd reduction(+ : sum_g, sum_gxmu)
          for (int64_t j = s; j < s + r.hw; ++j) {
            sum_g += double(g[j]);
            sum_gxmu += double(g[j]) * (double(x[j]) - mean);
          }
        }
      }
      const double sum_gxhat = sum_gxmu * invstd;
      if (gw) gw[ch] = T(sum_gxhat);
      if (gb) gb[ch] = T(sum_g);
      if (!gx) continue;
      const double k = (w ? double(w[ch]) : 1.0) * invstd;
      if (a.training) {
        // dL/dx = γ invstd (g - mean(g) - x̂ mean(g x̂)), x̂ = (x - μ) invstd
        const double mean_g = sum_g / n, c_x = invstd * sum_gxhat / n;
        for (int64_t i = 0; i < r.n; ++i)
          for (int64_t j = 0, s = r.start(i, ch); j < r.hw; ++j)
            gx[s + j] = T(k * (double(g[s + j]) - mean_g - (double(x[s + j]) - mean) * c_x));
      } else {
        const T kt = T(k);
        for (int64_t i = 0; i < r.n; ++i)
          for (int64_t j = 0, s = r.start(i, ch); j < r.hw; ++j) gx[s + j] = g[s + j] * kt;
      }
    }
  });
}

}  // namespace

AFN_REGISTER_KERNEL(batch_norm2d_forward, CPU, batch_norm2d_forward);
AFN_REGISTER_KERNEL(batch_norm2d_backward, CPU, batch_norm2d_backward);

}  // namespace afinar::cpu
