// CUDA registrations of conv2d: the algorithm switch over the kernels of this folder, and the bias
// (forward broadcast and gradient) shared by every algorithm.
//   Default, Cudnn   conv2d_cudnn.cpp (production; also bfloat16 and float16, float
//                    accumulation; NCHW or channels-last)
//   Im2colGemm       conv2d_im2col.cu + conv2d_im2col_gemm.cpp (teaching: im2col + cuBLAS; NCHW)
//   Direct           conv2d_direct.cu (teaching: one thread per output element; NCHW)
//   Naive            the CPU's reference loops: an error here (Direct is the GPU's loop version)
// Benchmarks: afinar_bench --benchmark_filter=Conv2dCuda; PyTorch side by side:
// tools/gpu/compare_cuda.py --filter Conv2dCudaFwdBwd.
#include "afinar/ops/conv2d.h"
#include "conv2d/conv2d.h"
#include "conv2d/conv2d_internal.h"
#include "runtime/context.h"
#include "runtime/cuda_check.h"
#include "runtime/dtype_dispatch.h"

namespace afinar::cuda {

ConvShape conv_shape(const ops::Conv2dGeometry& g) {
  return {g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.Ho, g.Wo, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.G};
}

namespace {

using ops::Conv2dGeometry;

enum class Path { Cudnn, Im2colGemm, Direct };

// The teaching kernels index NCHW arrays; only cuDNN takes channels-last operands.
Path path_of(const Conv2dGeometry& g, const char* op) {
  switch (g.algo) {
    case Conv2dAlgo::Default:
    case Conv2dAlgo::Cudnn:
      return Path::Cudnn;
    case Conv2dAlgo::Im2colGemm:
    case Conv2dAlgo::Direct:
      AFN_CHECK(!g.channels_last, op, ": algo ", g.algo,
                " takes NCHW only; use Conv2dAlgo::Cudnn / Default for channels-last");
      return g.algo == Conv2dAlgo::Direct ? Path::Direct : Path::Im2colGemm;
    case Conv2dAlgo::Naive:
      break;
  }
  AFN_FAIL(op, ": algo ", g.algo,
           " has no CUDA implementation (CUDA: Default, Cudnn, Im2colGemm, Direct; Direct is the "
           "GPU's version of the loops)");
}

// The convolution, then the bias and the epilogue in one pass (conv2d_bias.cu; Direct adds the
// bias itself).
void forward(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b,
             const ops::AddReluEpilogue& e, const Conv2dGeometry& g) {
  const Path path = path_of(g, "conv2d");
  if (y.numel() == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t s = compute_stream(dev);
  // Autocast's bf16 / f16 run on cuDNN only (src/ops/conv2d.cpp).
  AFN_CHECK(!is_reduced_float(x.dtype()) || path == Path::Cudnn, "conv2d: ", x.dtype(),
            " runs on cuDNN on CUDA");
  bool bias_added = false;
  if (path == Path::Direct) {
    visit_floating(x.dtype(), "conv2d", [&](auto tag) {
      using T = typename decltype(tag)::type;
      launch_conv2d_direct_forward<T>(y.data_ptr<T>(), x.data_ptr<T>(), w.data_ptr<T>(),
                                      b.defined() ? b.data_ptr<T>() : nullptr, conv_shape(g), s);
    });
    bias_added = true;
  } else if (path == Path::Cudnn) {
    cudnn_conv2d_forward(y, x, w, g);
  } else {
    im2col_conv2d_forward(y, x, w, g);
  }
  visit_floating_or_16bit(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_conv2d_epilogue<T>(y.data_ptr<T>(),
                              b.defined() && !bias_added ? b.data_ptr<T>() : nullptr,
                              e.residual.defined() ? e.residual.data_ptr<T>() : nullptr, e.relu,
                              g.N, g.K, g.Ho * g.Wo, g.channels_last, s);
  });
}

void backward_input(const Tensor& gx, const Tensor& gy, const Tensor& w, const Conv2dGeometry& g) {
  const Path path = path_of(g, "conv2d_backward_input");
  if (gx.numel() == 0) return;
  const int dev = gy.device().index;
  DeviceGuard guard(dev);
  switch (path) {
    case Path::Cudnn:
      return cudnn_conv2d_backward_input(gx, gy, w, g);
    case Path::Im2colGemm:
      return im2col_conv2d_backward_input(gx, gy, w, g);
    case Path::Direct:
      visit_floating(gy.dtype(), "conv2d_backward_input", [&](auto tag) {
        using T = typename decltype(tag)::type;
        launch_conv2d_direct_backward_input<T>(gx.data_ptr<T>(), gy.data_ptr<T>(), w.data_ptr<T>(),
                                               conv_shape(g), compute_stream(dev));
      });
      return;
  }
}

void backward_weight(const Tensor& gw, const Tensor& gy, const Tensor& x, const Conv2dGeometry& g) {
  const Path path = path_of(g, "conv2d_backward_weight");
  const int dev = gy.device().index;
  DeviceGuard guard(dev);
  if (g.N == 0) {  // an empty sum: zeros (no library is asked about an empty batch)
    AFN_CUDA_CHECK(cudaMemsetAsync(gw.raw_data_ptr(), 0, gw.nbytes(), compute_stream(dev)));
    return;
  }
  switch (path) {
    case Path::Cudnn:
      return cudnn_conv2d_backward_weight(gw, gy, x, g);
    case Path::Im2colGemm:
      return im2col_conv2d_backward_weight(gw, gy, x, g);
    case Path::Direct:
      visit_floating(gy.dtype(), "conv2d_backward_weight", [&](auto tag) {
        using T = typename decltype(tag)::type;
        launch_conv2d_direct_backward_weight<T>(gw.data_ptr<T>(), gy.data_ptr<T>(), x.data_ptr<T>(),
                                                conv_shape(g), compute_stream(dev));
      });
      return;
  }
}

// db[k] = Σ_{n,oh,ow} gy[n,k,oh,ow] (conv2d_bias.cu), for every algorithm. gy is NCHW-contiguous
// or channels-last (where both hold, the two readings are the same memory).
void backward_bias(const Tensor& gb, const Tensor& gy) {
  const int dev = gy.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t s = compute_stream(dev);
  const int64_t N = gy.size(0), K = gy.size(1), P = gy.size(2) * gy.size(3);
  const bool channels_last = !gy.is_contiguous();
  if (K == 0) return;
  if (N == 0 || P == 0) {
    AFN_CUDA_CHECK(cudaMemsetAsync(gb.raw_data_ptr(), 0, gb.nbytes(), s));
    return;
  }
  visit_floating_or_16bit(gy.dtype(), "conv2d_backward_bias", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = compute_t<T>;
    const int64_t splits = channel_sum_splits(N, K, P, channels_last);
    Tensor partials;
    if (splits > 1) partials = empty({K * splits * int64_t(sizeof(A))}, DType::U8, gy.device());
    launch_channel_sum<T>(gb.data_ptr<T>(), gy.data_ptr<T>(), N, K, P, channels_last,
                          splits > 1 ? static_cast<A*>(partials.raw_data_ptr()) : nullptr, splits,
                          s);
  });
}

}  // namespace

AFN_REGISTER_KERNEL(conv2d_forward, CUDA, forward);
AFN_REGISTER_KERNEL(conv2d_backward_input, CUDA, backward_input);
AFN_REGISTER_KERNEL(conv2d_backward_weight, CUDA, backward_weight);
AFN_REGISTER_KERNEL(conv2d_backward_bias, CUDA, backward_bias);

}  // namespace afinar::cuda
