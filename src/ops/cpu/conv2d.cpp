// CPU conv2d. This file holds the reference, Conv2dAlgo::Naive: the formulas of
// include/afinar/ops/conv2d.h as plain loops, accumulating in double, parallel over independent
// outputs, every operand indexed through its strides (NCHW and channels-last alike). The
// registered kernels choose between it and the im2col + BLAS fast path (conv2d_im2col.cpp),
// which is the CPU's Default and is tested against this reference.
//
// Benchmark: build/bench/afinar_bench --benchmark_filter=Conv2d (tools/bench/compare.py puts
// PyTorch's times beside it).
#include "afinar/ops/conv2d.h"

#include "afinar/ops/relu_rule.h"
#include "ops/cpu/conv2d_internal.h"

namespace afinar::cpu {

namespace {

using ops::Conv2dGeometry;

// Parallelize the naive loops only when there is enough work to pay for waking the threads.
constexpr int64_t kParallelWork = 32768;

// Offset of element (a, b, h, w) of a 4-D tensor from its strides.
struct Index4 {
  int64_t s0, s1, s2, s3;
  explicit Index4(const Tensor& t)
      : s0(t.stride(0)), s1(t.stride(1)), s2(t.stride(2)), s3(t.stride(3)) {}
  int64_t operator()(int64_t a, int64_t b, int64_t h, int64_t w) const {
    return a * s0 + b * s1 + h * s2 + w * s3;
  }
};

// The input coordinate that output coordinate o reads through kernel tap r: o·stride - pad + r·dil.
inline int64_t input_coord(int64_t o, int64_t r, int64_t stride, int64_t pad, int64_t dil) {
  return o * stride - pad + r * dil;
}

// The output coordinate o that reads input coordinate i through tap r, or -1 when there is none
// (i + pad - r·dil must be a non-negative multiple of the stride, below the output size).
inline int64_t output_coord(int64_t i, int64_t r, int64_t stride, int64_t pad, int64_t dil,
                            int64_t out_size) {
  const int64_t t = i + pad - r * dil;
  if (t < 0 || t % stride != 0 || t / stride >= out_size) return -1;
  return t / stride;
}

// y[n,k,oh,ow] = b[k] + Σ_{c',r,s} x[n, g·Cg + c', ih, iw] · w[k,c',r,s], rounded to T, then the
// epilogue: + residual (`res`, null for none; indexed as y), then relu when `relu`.
template <typename T>
void forward_naive(const Conv2dGeometry& g, T* y, Index4 yi, const T* x, Index4 xi, const T* w,
                   Index4 wi, const T* b, const T* res, bool relu) {
  const int64_t Cg = g.Cg(), Kg = g.Kg();
#pragma omp parallel for collapse(2) if (g.N * g.K * g.Ho * g.Wo * Cg * g.R * g.S > kParallelWork)
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t k = 0; k < g.K; ++k) {
      const int64_t c0 = (k / Kg) * Cg;  // first input channel of k's group
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          double acc = b ? double(b[k]) : 0.0;
          for (int64_t c = 0; c < Cg; ++c) {
            for (int64_t r = 0; r < g.R; ++r) {
              const int64_t ih = input_coord(oh, r, g.sh, g.ph, g.dh);
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t s = 0; s < g.S; ++s) {
                const int64_t iw = input_coord(ow, s, g.sw, g.pw, g.dw);
                if (iw < 0 || iw >= g.W) continue;
                acc += double(x[xi(n, c0 + c, ih, iw)]) * double(w[wi(k, c, r, s)]);
              }
            }
          }
          const int64_t at = yi(n, k, oh, ow);
          T v = T(acc);
          if (res) v = v + res[at];
          y[at] = relu ? relu_value(v) : v;
        }
      }
    }
  }
}

// dx[n,c,i,j] = Σ over the (k, r, s, oh, ow) with ih(oh,r) = i and iw(ow,s) = j of
// gy[n,k,oh,ow] · w[k,c',r,s]: a gather, so every dx element is written by one thread.
template <typename T>
void backward_input_naive(const Conv2dGeometry& g, T* gx, Index4 gxi, const T* gy, Index4 gyi,
                          const T* w, Index4 wi) {
  const int64_t Cg = g.Cg(), Kg = g.Kg();
#pragma omp parallel for collapse(2) if (g.N * g.C * g.H * g.W * Kg * g.R * g.S > kParallelWork)
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t c = 0; c < g.C; ++c) {
      const int64_t k0 = (c / Cg) * Kg, cw = c % Cg;  // first output channel; index in weight
      for (int64_t i = 0; i < g.H; ++i) {
        for (int64_t j = 0; j < g.W; ++j) {
          double acc = 0;
          for (int64_t k = k0; k < k0 + Kg; ++k) {
            for (int64_t r = 0; r < g.R; ++r) {
              const int64_t oh = output_coord(i, r, g.sh, g.ph, g.dh, g.Ho);
              if (oh < 0) continue;
              for (int64_t s = 0; s < g.S; ++s) {
                const int64_t ow = output_coord(j, s, g.sw, g.pw, g.dw, g.Wo);
                if (ow < 0) continue;
                acc += double(gy[gyi(n, k, oh, ow)]) * double(w[wi(k, cw, r, s)]);
              }
            }
          }
          gx[gxi(n, c, i, j)] = T(acc);
        }
      }
    }
  }
}

// dw[k,c',r,s] = Σ_{n,oh,ow} gy[n,k,oh,ow] · x[n, g·Cg + c', ih, iw]
template <typename T>
void backward_weight_naive(const Conv2dGeometry& g, T* gw, Index4 gwi, const T* gy, Index4 gyi,
                           const T* x, Index4 xi) {
  const int64_t Cg = g.Cg(), Kg = g.Kg();
#pragma omp parallel for collapse(2) if (g.K * Cg * g.R * g.S * g.N * g.Ho * g.Wo > kParallelWork)
  for (int64_t k = 0; k < g.K; ++k) {
    for (int64_t cw = 0; cw < Cg; ++cw) {
      const int64_t c = (k / Kg) * Cg + cw;  // the input channel
      for (int64_t r = 0; r < g.R; ++r) {
        for (int64_t s = 0; s < g.S; ++s) {
          double acc = 0;
          for (int64_t n = 0; n < g.N; ++n) {
            for (int64_t oh = 0; oh < g.Ho; ++oh) {
              const int64_t ih = input_coord(oh, r, g.sh, g.ph, g.dh);
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t ow = 0; ow < g.Wo; ++ow) {
                const int64_t iw = input_coord(ow, s, g.sw, g.pw, g.dw);
                if (iw < 0 || iw >= g.W) continue;
                acc += double(gy[gyi(n, k, oh, ow)]) * double(x[xi(n, c, ih, iw)]);
              }
            }
          }
          gw[gwi(k, cw, r, s)] = T(acc);
        }
      }
    }
  }
}

// The CPU's algorithms; Default is the fast path. Other backends' variants are an error here,
// never a silent substitute.
bool use_naive(Conv2dAlgo algo, const char* op) {
  if (algo == Conv2dAlgo::Naive) return true;
  if (algo == Conv2dAlgo::Default || algo == Conv2dAlgo::Im2colGemm) return false;
  AFN_FAIL(op, ": algo ", algo, " has no CPU implementation (CPU: Default, Naive, Im2colGemm)");
}

void conv2d_forward(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b,
                    const ops::AddReluEpilogue& e, const Conv2dGeometry& g) {
  if (!use_naive(g.algo, "conv2d")) return conv2d_forward_im2col(y, x, w, b, e, g);
  visit_floating(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    forward_naive<T>(g, y.data<T>(), Index4(y), x.data<T>(), Index4(x), w.data<T>(), Index4(w),
                     b.defined() ? b.data<T>() : nullptr,
                     e.residual.defined() ? e.residual.data<T>() : nullptr, e.relu);
  });
}

void conv2d_backward_input(const Tensor& gx, const Tensor& gy, const Tensor& w,
                           const Conv2dGeometry& g) {
  if (!use_naive(g.algo, "conv2d_backward_input"))
    return conv2d_backward_input_im2col(gx, gy, w, g);
  visit_floating(gy.dtype(), "conv2d_backward_input", [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward_input_naive<T>(g, gx.data<T>(), Index4(gx), gy.data<T>(), Index4(gy), w.data<T>(),
                            Index4(w));
  });
}

void conv2d_backward_weight(const Tensor& gw, const Tensor& gy, const Tensor& x,
                            const Conv2dGeometry& g) {
  if (!use_naive(g.algo, "conv2d_backward_weight"))
    return conv2d_backward_weight_im2col(gw, gy, x, g);
  visit_floating(gy.dtype(), "conv2d_backward_weight", [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward_weight_naive<T>(g, gw.data<T>(), Index4(gw), gy.data<T>(), Index4(gy), x.data<T>(),
                             Index4(x));
  });
}

// db[k] = Σ_{n,oh,ow} gy[n,k,oh,ow]: the same loops serve every algorithm.
void conv2d_backward_bias(const Tensor& gb, const Tensor& gy) {
  visit_floating(gy.dtype(), "conv2d_backward_bias", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = gy.size(0), K = gy.size(1), H = gy.size(2), W = gy.size(3);
    const Index4 at(gy);  // NCHW or channels-last
    const T* pgy = gy.data<T>();
    T* pgb = gb.data<T>();
#pragma omp parallel for if (N * K * H * W > kParallelWork)
    for (int64_t k = 0; k < K; ++k) {
      double acc = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t w = 0; w < W; ++w) acc += double(pgy[at(n, k, h, w)]);
      pgb[k] = T(acc);
    }
  });
}

}  // namespace

AFN_REGISTER_KERNEL(conv2d_forward, CPU, conv2d_forward);
AFN_REGISTER_KERNEL(conv2d_backward_input, CPU, conv2d_backward_input);
AFN_REGISTER_KERNEL(conv2d_backward_weight, CPU, conv2d_backward_weight);
AFN_REGISTER_KERNEL(conv2d_backward_bias, CPU, conv2d_backward_bias);

}  // namespace afinar::cpu
