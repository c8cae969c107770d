// CPU reference of batch_norm2d: one OpenMP task per channel, per-channel sums in double (each
// row's sum vectorised: `omp simd reduction` lets the compiler keep one partial sum per lane, so
// the adds are not one long dependency chain).
// In a contiguous [N, C, H, W] tensor channel c is N runs of H·W values, run i starting at
// (i·C + c)·H·W; every loop below walks those runs.
#include "afinar/ops/batch_norm2d.h"

#include <cmath>
#include <tuple>
#include <utility>

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

void batch_norm2d_forward(const ops::BatchNorm2dForwardArgs& a) {
  visit_floating(a.x.dtype(), "batch_norm2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Runs r(a.x);
    const T* x = a.x.data<T>();
    T* y = a.y.data<T>();
    T *mean_out = a.mean.data<T>(), *invstd_out = a.invstd.data<T>();
    const T *w = data_or_null<T>(a.weight), *b = data_or_null<T>(a.bias);
    const T* res = data_or_null<T>(a.residual);
    T *rmean = data_or_null<T>(a.running_mean), *rvar = data_or_null<T>(a.running_var);
    const double m = a.momentum, n = double(r.count());
#pragma omp parallel for if (a.x.numel() > 32768)
    for (int64_t ch = 0; ch < r.c; ++ch) {
      double mean, var;
      if (a.training) {
        std::tie(mean, var) = channel_moments(x, r, ch);
        // An empty batch leaves the running statistics alone, as PyTorch does.
        if (rmean && n > 0) rmean[ch] = T((1 - m) * double(rmean[ch]) + m * mean);
        if (rvar && n > 0) rvar[ch] = T((1 - m) * double(rvar[ch]) + m * var * n / (n - 1));
      } else {
        mean = double(rmean[ch]);
        var = double(rvar[ch]);
      }
      const double invstd = 1.0 / std::sqrt(var + a.eps);
      mean_out[ch] = T(mean);
      invstd_out[ch] = T(invstd);
      // y = γ (x - μ) invstd + β = scale · x + shift, then the epilogue, row by row (each loop
      // vectorises; the row is still in cache for the next)
      const double scale = (w ? double(w[ch]) : 1.0) * invstd;
      const T sc = T(scale), sh = T((b ? double(b[ch]) : 0.0) - mean * scale);
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
