// Conv2dAlgo::Cudnn (CUDA's Default): the three directions of conv2d through cuDNN 9, float32 and
// float64 (and autocast's bfloat16 and float16, accumulating in float), NCHW or channels-last
// (NHWC: Conv2dGeometry::channels_last, every operand and the weight [K,R,S,C/G] in it, which
// cuDNN's NHWC tensor and filter formats describe as they are, no conversion), any stride,
// padding, dilation and groups. The bias is not cuDNN's business here: conv2d.cpp adds it and
// sums its gradient (conv2d_bias.cu).
//
// Two roads into cuDNN, the first preferred:
//  - the graph (backend) API: one convolution operation, engine configurations from cuDNN's
//    heuristics, execution plans (the path PyTorch's cuDNN v8 code takes; see "graph" below for
//    why it matters on an H100);
//  - the legacy API (cudnnConvolutionForward / BackwardData / BackwardFilter with
//    cudnnGet*Algorithm_v7 or cudnnFind*AlgorithmEx), where no plan exists, for a batch split into
//    chunks, and with AFINAR_CUDNN_LEGACY=1.
//
// Choosing cuDNN's algorithm, as PyTorch does (aten/src/ATen/native/cudnn/Conv_v7.cpp,
// Conv_v8.cpp):
//  - cudnn_benchmark() off (default): cuDNN's heuristics, ranked; nothing runs. On: every
//    candidate runs on the call's own buffers (the output is overwritten, then computed for real)
//    and the fastest wins (legacy: cudnnFind*AlgorithmEx with the largest workspace any algorithm
//    asks for that the GPU can give).
//  - Either ranking is cached per (images, geometry and layout, dtype, direction, device, TF32,
//    benchmark; the graph path also the pointers' alignment): the first call of a layer pays for
//    it, later calls only build a variant pack (legacy: descriptors), host-only, microseconds.
//  - Candidates are tried in rank order: one whose workspace cannot be allocated (out of memory)
//    or that cuDNN refuses gives way to the next. Workspaces are U8 tensors from the caching
//    allocator, so a steady-state step makes no cudaMalloc.
// TF32 (tf32_conv_allowed(), on by default like torch.backends.cudnn.allow_tf32): graph engines
// with the TENSOR_CORE numerical note are skipped for float32 when it is off; legacy float32 runs
// with CUDNN_DEFAULT_MATH (TF32 allowed on Ampere and later) or CUDNN_FMA_MATH (forbidden), and
// the math type an algorithm was ranked with is set before it runs (kept FMA when TF32 is off).
// Nothing that converts float32 inputs down to half precision ever runs. Float64 has no TF32;
// bf16 and f16 take the tensor cores whatever the setting (their data is already 16-bit).
// AFINAR_CUDNN_LOG=1 prints each new ranking to stderr.
//
// cuDNN's legacy descriptors take int sizes and its kernels 32-bit offsets: a batch whose input
// or output holds 2^31 elements or more is split into chunks of whole images (PyTorch does the
// same) on the legacy API; the weight gradient adds the chunks up (beta = 1 after the first).
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

#include "conv2d/conv2d_internal.h"
#include "runtime/context.h"
#include "runtime/cuda_check.h"

namespace afinar::cuda {

namespace {

using ops::Conv2dGeometry;

int as_int(int64_t v, const char* what) {
  AFN_CHECK(v >= 0 && v <= INT_MAX, "conv2d (cuDNN): ", what, " = ", v,
            " does not fit cuDNN's int sizes");
  return int(v);
}

cudnnDataType_t cudnn_dtype(DType t) {
  switch (t) {
    case DType::F32:
      return CUDNN_DATA_FLOAT;
    case DType::F64:
      return CUDNN_DATA_DOUBLE;
    case DType::BF16:
      return CUDNN_DATA_BFLOAT16;
    case DType::F16:
      return CUDNN_DATA_HALF;
    default:
      AFN_FAIL("conv2d (cuDNN): dtype ", t,
               " is not supported (float32, float64, bfloat16, float16)");
  }
}

// The type cuDNN accumulates in: the data type, but float for bf16 and f16 (autocast's float
// accumulation, as PyTorch's half and bf16 convolutions; alpha and beta are floats then too).
cudnnDataType_t cudnn_compute_dtype(DType t) {
  return is_reduced_float(t) ? CUDNN_DATA_FLOAT : cudnn_dtype(t);
}

// ---- descriptors (RAII; host-only objects, cheap to make per call) -----------------------------

class TensorDesc {
 public:
  TensorDesc() { AFN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d_)); }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d_); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  void set(cudnnTensorFormat_t format, cudnnDataType_t t, int64_t n, int64_t c, int64_t h,
           int64_t w) {
    AFN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d_, format, t, as_int(n, "images"),
                                               as_int(c, "channels"), as_int(h, "height"),
                                               as_int(w, "width")));
  }
  cudnnTensorDescriptor_t get() const { return d_; }

 private:
  cudnnTensorDescriptor_t d_ = nullptr;
};

class FilterDesc {
 public:
  FilterDesc() { AFN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d_)); }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d_); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
  cudnnFilterDescriptor_t get() const { return d_; }

 private:
  cudnnFilterDescriptor_t d_ = nullptr;
};

class ConvDesc {
 public:
  ConvDesc() { AFN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d_)); }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d_); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
  cudnnConvolutionDescriptor_t get() const { return d_; }

 private:
  cudnnConvolutionDescriptor_t d_ = nullptr;
};

// cuDNN's name for the memory format of every operand: NCHW, or NHWC (the filter then [K,R,S,C/G]).
cudnnTensorFormat_t tensor_format(const Conv2dGeometry& g) {
  return g.channels_last ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
}

// The descriptors of one convolution call over `images` images.
struct Descriptors {
  // Dimensions in this order whatever the layout; tensor_format(g) says how they are stored.
  TensorDesc x, y;  // input [images,C,H,W], output [images,K,Ho,Wo] (or their gradients)
  FilterDesc w;     // [K, C/G, R, S]
  ConvDesc conv;
  cudnnMathType_t search_math;  // what the search may use: DEFAULT (TF32 allowed) or FMA

  Descriptors(const Conv2dGeometry& g, int64_t images, DType dtype, bool tf32) {
    const cudnnDataType_t t = cudnn_dtype(dtype);
    const cudnnTensorFormat_t format = tensor_format(g);
    x.set(format, t, images, g.C, g.H, g.W);
    y.set(format, t, images, g.K, g.Ho, g.Wo);
    AFN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w.get(), t, format, as_int(g.K, "output channels"),
                                               as_int(g.Cg(), "input channels per group"),
                                               as_int(g.R, "kernel height"),
                                               as_int(g.S, "kernel width")));
    AFN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        conv.get(), as_int(g.ph, "padding"), as_int(g.pw, "padding"), as_int(g.sh, "stride"),
        as_int(g.sw, "stride"), as_int(g.dh, "dilation"), as_int(g.dw, "dilation"),
        CUDNN_CROSS_CORRELATION, cudnn_compute_dtype(dtype)));
    AFN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv.get(), as_int(g.G, "groups")));
    search_math = dtype == DType::F32 && !tf32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
    AFN_CUDNN_CHECK(cudnnSetConvolutionMathType(conv.get(), search_math));
  }
};

// ---- the three directions, one interface -------------------------------------------------------

// The device pointers of one call: forward (x, w -> y), backward data (w, dy -> dx), backward
// filter (x, dy -> dw).
struct Operands {
  const void* in0;
  const void* in1;
  void* out;
};

struct ForwardOps {
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static constexpr const char* kName = "conv2d";
  // Graph API: the operation and its attributes for (x, w, y), alpha, beta, conv.
  static constexpr cudnnBackendDescriptorType_t kOp =
      CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR;
  static constexpr cudnnBackendAttributeName_t kAttrs[6] = {
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y,
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC};
  static std::array<void*, 3> xwy(const Operands& o) {
    return {const_cast<void*>(o.in0), const_cast<void*>(o.in1), o.out};
  }
  static cudnnStatus_t heuristic(cudnnHandle_t h, const Descriptors& d, int* n, Perf* p) {
    return cudnnGetConvolutionForwardAlgorithm_v7(h, d.x.get(), d.w.get(), d.conv.get(), d.y.get(),
                                                  kCount, n, p);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Descriptors& d, const Operands& o, void* ws,
                            size_t bytes, int* n, Perf* p) {
    return cudnnFindConvolutionForwardAlgorithmEx(h, d.x.get(), o.in0, d.w.get(), o.in1,
                                                  d.conv.get(), d.y.get(), o.out, kCount, n, p, ws,
                                                  bytes);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Descriptors& d, int algo, size_t* bytes) {
    return cudnnGetConvolutionForwardWorkspaceSize(h, d.x.get(), d.w.get(), d.conv.get(), d.y.get(),
                                                   cudnnConvolutionFwdAlgo_t(algo), bytes);
  }
  static cudnnStatus_t run(cudnnHandle_t h, const Descriptors& d, int algo, void* ws, size_t bytes,
                           const void* alpha, const void* beta, const Operands& o) {
    return cudnnConvolutionForward(h, alpha, d.x.get(), o.in0, d.w.get(), o.in1, d.conv.get(),
                                   cudnnConvolutionFwdAlgo_t(algo), ws, bytes, beta, d.y.get(),
                                   o.out);
  }
};

struct BackwardDataOps {
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static constexpr const char* kName = "conv2d_backward_input";
  static constexpr cudnnBackendDescriptorType_t kOp =
      CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR;
  static constexpr cudnnBackendAttributeName_t kAttrs[6] = {
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC};
  static std::array<void*, 3> xwy(const Operands& o) {  // (dx, w, dy)
    return {o.out, const_cast<void*>(o.in0), const_cast<void*>(o.in1)};
  }
  static cudnnStatus_t heuristic(cudnnHandle_t h, const Descriptors& d, int* n, Perf* p) {
    return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w.get(), d.y.get(), d.conv.get(),
                                                       d.x.get(), kCount, n, p);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Descriptors& d, const Operands& o, void* ws,
                            size_t bytes, int* n, Perf* p) {
    return cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.w.get(), o.in0, d.y.get(), o.in1,
                                                       d.conv.get(), d.x.get(), o.out, kCount, n, p,
                                                       ws, bytes);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Descriptors& d, int algo, size_t* bytes) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w.get(), d.y.get(), d.conv.get(),
                                                        d.x.get(),
                                                        cudnnConvolutionBwdDataAlgo_t(algo), bytes);
  }
  static cudnnStatus_t run(cudnnHandle_t h, const Descriptors& d, int algo, void* ws, size_t bytes,
                           const void* alpha, const void* beta, const Operands& o) {
    return cudnnConvolutionBackwardData(h, alpha, d.w.get(), o.in0, d.y.get(), o.in1, d.conv.get(),
                                        cudnnConvolutionBwdDataAlgo_t(algo), ws, bytes, beta,
                                        d.x.get(), o.out);
  }
};

struct BackwardFilterOps {
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  static constexpr const char* kName = "conv2d_backward_weight";
  static constexpr cudnnBackendDescriptorType_t kOp =
      CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR;
  static constexpr cudnnBackendAttributeName_t kAttrs[6] = {
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC};
  static std::array<void*, 3> xwy(const Operands& o) {  // (x, dw, dy)
    return {const_cast<void*>(o.in0), o.out, const_cast<void*>(o.in1)};
  }
  static cudnnStatus_t heuristic(cudnnHandle_t h, const Descriptors& d, int* n, Perf* p) {
    return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x.get(), d.y.get(), d.conv.get(),
                                                         d.w.get(), kCount, n, p);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Descriptors& d, const Operands& o, void* ws,
                            size_t bytes, int* n, Perf* p) {
    return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d.x.get(), o.in0, d.y.get(), o.in1,
                                                         d.conv.get(), d.w.get(), o.out, kCount, n,
                                                         p, ws, bytes);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Descriptors& d, int algo, size_t* bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(
        h, d.x.get(), d.y.get(), d.conv.get(), d.w.get(), cudnnConvolutionBwdFilterAlgo_t(algo),
        bytes);
  }
  static cudnnStatus_t run(cudnnHandle_t h, const Descriptors& d, int algo, void* ws, size_t bytes,
                           const void* alpha, const void* beta, const Operands& o) {
    return cudnnConvolutionBackwardFilter(h, alpha, d.x.get(), o.in0, d.y.get(), o.in1,
                                          d.conv.get(), cudnnConvolutionBwdFilterAlgo_t(algo), ws,
                                          bytes, beta, d.w.get(), o.out);
  }
};

// ---- algorithm choice, cached ------------------------------------------------------------------

struct Candidate {
  int algo;
  cudnnMathType_t math;
  size_t workspace;
  float ms;  // measured time (benchmark mode), -1 from the heuristics
};

// AFINAR_CUDNN_LOG=1: each new ranking is printed to stderr (which algorithm runs a layer, and
// why it is slow or fast).
bool log_rankings() {
  static const bool on = [] {
    const char* v = std::getenv("AFINAR_CUDNN_LOG");
    return v && v[0] && v[0] != '0';
  }();
  return on;
}

void print_ranking(const char* op, const Conv2dGeometry& g, int64_t images, DType dtype,
                   bool benchmark, const std::vector<Candidate>& candidates) {
  std::ostringstream os;
  os << "afinar cudnn " << op << " " << dtype << " x[" << images << "," << g.C << "," << g.H << ","
     << g.W << "] w[" << g.K << "," << g.Cg() << "," << g.R << "," << g.S << "] stride (" << g.sh
     << "," << g.sw << ") pad (" << g.ph << "," << g.pw << ") dil (" << g.dh << "," << g.dw
     << ") groups " << g.G << (g.channels_last ? " NHWC" : " NCHW")
     << (benchmark ? ", measured:" : ", heuristics:");
  for (const Candidate& c : candidates) {
    os << " algo " << c.algo << " math " << int(c.math) << " ws " << c.workspace << " B";
    if (c.ms >= 0) os << " " << c.ms << " ms";
    os << ";";
  }
  std::fprintf(stderr, "%s\n", os.str().c_str());
}

// images, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, G, channels_last, dtype, direction, device,
// tf32, benchmark
using CacheKey = std::array<int64_t, 20>;

std::mutex g_cache_mutex;
std::map<CacheKey, std::vector<Candidate>> g_cache;

CacheKey cache_key(const Conv2dGeometry& g, int64_t images, DType dtype, int direction, int device,
                   bool tf32, bool benchmark) {
  return {images,
          g.C,
          g.H,
          g.W,
          g.K,
          g.R,
          g.S,
          g.sh,
          g.sw,
          g.ph,
          g.pw,
          g.dh,
          g.dw,
          g.G,
          int64_t(g.channels_last),
          int64_t(dtype),
          direction,
          device,
          int64_t(tf32),
          int64_t(benchmark)};
}

// The math type a ranked algorithm runs with; false when it must not be used.
bool run_math(cudnnMathType_t proposed, const Descriptors& d, cudnnMathType_t* math) {
  if (proposed == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;  // float32 -> half inputs
  if (d.search_math == CUDNN_FMA_MATH) {
    if (proposed == CUDNN_TENSOR_OP_MATH) return false;  // TF32 is off
    *math = CUDNN_FMA_MATH;
  } else {
    *math = proposed;
  }
  return true;
}

// The usable algorithms of a ranking, in order, with their workspace sizes (asked again of cuDNN
// under the math type they will run with: the heuristics' `memory` is not always exact).
template <typename Ops>
std::vector<Candidate> usable(cudnnHandle_t h, const Descriptors& d, const typename Ops::Perf* perf,
                              int count, bool measured) {
  std::vector<Candidate> out;
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    Candidate c{int(perf[i].algo), CUDNN_DEFAULT_MATH, 0, measured ? perf[i].time : -1.0f};
    if (!run_math(perf[i].mathType, d, &c.math)) continue;
    AFN_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), c.math));
    if (Ops::workspace(h, d, c.algo, &c.workspace) != CUDNN_STATUS_SUCCESS) continue;
    out.push_back(c);
  }
  AFN_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), d.search_math));
  return out;
}

// cudnnFind*Ex: every algorithm timed on the call's buffers, with as much workspace as the
// hungriest algorithm asks for, capped by the GPU's free memory (halved while allocation fails).
template <typename Ops>
std::vector<Candidate> measure(cudnnHandle_t h, const Descriptors& d, const Operands& o,
                               const Device& device) {
  size_t largest = 0;
  for (int algo = 0; algo < Ops::kCount; ++algo) {
    size_t bytes = 0;
    if (Ops::workspace(h, d, algo, &bytes) == CUDNN_STATUS_SUCCESS && bytes > largest)
      largest = bytes;
  }
  size_t free_bytes = 0, total_bytes = 0;
  AFN_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  size_t bytes = std::min(largest, free_bytes / 10 * 9);
  Tensor workspace;
  while (bytes > 0) {
    try {
      workspace = empty({int64_t(bytes)}, DType::U8, device);
      break;
    } catch (const Error&) {
      bytes /= 2;
    }
  }
  void* ws = bytes > 0 ? workspace.raw_data_ptr() : nullptr;
  std::array<typename Ops::Perf, Ops::kCount> perf{};
  int returned = 0;
  AFN_CUDNN_CHECK(Ops::find(h, d, o, ws, bytes, &returned, perf.data()));
  return usable<Ops>(h, d, perf.data(), returned, true);
}

template <typename Ops>
std::vector<Candidate> rank(cudnnHandle_t h, const Descriptors& d, const Operands& o,
                            const Device& device, bool benchmark) {
  if (benchmark) return measure<Ops>(h, d, o, device);
  std::array<typename Ops::Perf, Ops::kCount> perf{};
  int returned = 0;
  AFN_CUDNN_CHECK(Ops::heuristic(h, d, &returned, perf.data()));
  return usable<Ops>(h, d, perf.data(), returned, false);
}

// ---- the graph (backend) API: the engines PyTorch runs -----------------------------------------
// cuDNN 9's legacy entry points reach only part of its engines: on an H100 the sm90 implicit-GEMM
// kernels (TF32, behind an NCHW <-> NHWC conversion) that PyTorch's cuDNN v8 path runs are
// 1.3-2.5x faster than any legacy algorithm on ResNet's small layers (measured: PyTorch with
// TORCH_CUDNN_V8_API_DISABLED=1 runs exactly as slow as the legacy path here). So the Cudnn
// algorithm builds the single-operation graph (x, w, y tensors, the convolution, alpha 1, beta 0)
// and asks cuDNN's heuristics for engine configurations:
//  - filtered as PyTorch does: never one that converts inputs down to half precision, and for
//    float32 without TF32 never one that uses tensor cores;
//  - mode A's configurations, FALLBACK's only when A has none; heuristics mode: the first that
//    finalizes into an execution plan; benchmark mode: every plan timed (a warm-up, then the
//    fastest of five runs between CUDA events), fastest first;
//  - cached like the legacy rankings (plus the byte alignment of the three pointers, which plans
//    depend on). Where no plan exists, for a batch split at 2^31 elements and for the
//    accumulation into dW that such a split needs, the legacy API above runs instead;
//    AFINAR_CUDNN_LEGACY=1 forces it (to compare the two).

bool legacy_only() {  // read at each call, so that a test can switch it
  const char* v = std::getenv("AFINAR_CUDNN_LEGACY");
  return v && v[0] && v[0] != '0';
}

class BackendDesc {
 public:
  explicit BackendDesc(cudnnBackendDescriptorType_t type) {
    AFN_CUDNN_CHECK(cudnnBackendCreateDescriptor(type, &d_));
  }
  ~BackendDesc() { cudnnBackendDestroyDescriptor(d_); }
  BackendDesc(const BackendDesc&) = delete;
  BackendDesc& operator=(const BackendDesc&) = delete;
  cudnnBackendDescriptor_t get() const { return d_; }
  void set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
           const void* values) {
    AFN_CUDNN_CHECK(cudnnBackendSetAttribute(d_, name, type, count, values));
  }
  void set(cudnnBackendAttributeName_t name, const BackendDesc& d) {
    const cudnnBackendDescriptor_t raw = d.get();
    set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw);
  }
  cudnnStatus_t finalize() { return cudnnBackendFinalize(d_); }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};
using BackendDescPtr = std::shared_ptr<BackendDesc>;

BackendDescPtr make_desc(cudnnBackendDescriptorType_t type) {
  return std::make_shared<BackendDesc>(type);
}

// Uids of the three tensors in the graph and in the variant pack.
constexpr int64_t kUids[3] = {'x', 'w', 'y'};

// The largest power of two up to 16 that divides the address.
int64_t byte_alignment(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  int64_t align = 16;
  while (align > 1 && a % uintptr_t(align) != 0) align /= 2;
  return align;
}

// A dense 4-D tensor of dimensions {n, c, h, w}, stored NCHW or, with channels_last, NHWC (strides
// {h·w·c, 1, w·c, c}; the graph API takes the dimensions in NCHW order with the real strides).
BackendDescPtr tensor_desc(int64_t uid, cudnnDataType_t type, std::array<int64_t, 4> dims,
                           bool channels_last, int64_t align) {
  const std::array<int64_t, 4> strides =
      channels_last
          ? std::array<int64_t, 4>{dims[1] * dims[2] * dims[3], 1, dims[3] * dims[1], dims[1]}
          : std::array<int64_t, 4>{dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1};
  auto d = make_desc(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  d->set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type);
  d->set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data());
  d->set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data());
  d->set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  d->set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
  AFN_CUDNN_CHECK(d->finalize());
  return d;
}

// Everything a plan refers to, kept alive with it.
struct GraphDescs {
  BackendDescPtr x, w, y, conv, op, graph;
};

struct GraphPlan {
  BackendDescPtr config, plan;
  int64_t workspace;
  int64_t engine;  // cuDNN's global engine index (for the log)
  float ms;        // measured (benchmark mode), else -1
};

struct GraphRanking {
  std::shared_ptr<GraphDescs> descs;
  std::vector<GraphPlan> plans;  // empty: the legacy API runs
};

template <typename Ops>
std::shared_ptr<GraphDescs> build_graph(const Conv2dGeometry& g, DType dtype, cudnnHandle_t h,
                                        const std::array<int64_t, 3>& align) {
  const cudnnDataType_t type = cudnn_dtype(dtype), compute = cudnn_compute_dtype(dtype);
  auto d = std::make_shared<GraphDescs>();
  d->x = tensor_desc(kUids[0], type, {g.N, g.C, g.H, g.W}, g.channels_last, align[0]);
  d->w = tensor_desc(kUids[1], type, {g.K, g.Cg(), g.R, g.S}, g.channels_last, align[1]);
  d->y = tensor_desc(kUids[2], type, {g.N, g.K, g.Ho, g.Wo}, g.channels_last, align[2]);

  d->conv = make_desc(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const int64_t dims = 2;
  const int64_t dilation[2] = {g.dh, g.dw}, stride[2] = {g.sh, g.sw}, pad[2] = {g.ph, g.pw};
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  d->conv->set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
  d->conv->set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  d->conv->set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims);
  d->conv->set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dilation);
  d->conv->set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, stride);
  d->conv->set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
  d->conv->set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
  AFN_CUDNN_CHECK(d->conv->finalize());

  d->op = make_desc(Ops::kOp);
  d->op->set(Ops::kAttrs[0], *d->x);
  d->op->set(Ops::kAttrs[1], *d->w);
  d->op->set(Ops::kAttrs[2], *d->y);
  const float one_f = 1.0f, zero_f = 0.0f;
  const double one_d = 1.0, zero_d = 0.0;
  if (dtype != DType::F64) {
    d->op->set(Ops::kAttrs[3], CUDNN_TYPE_FLOAT, 1, &one_f);
    d->op->set(Ops::kAttrs[4], CUDNN_TYPE_FLOAT, 1, &zero_f);
  } else {
    d->op->set(Ops::kAttrs[3], CUDNN_TYPE_DOUBLE, 1, &one_d);
    d->op->set(Ops::kAttrs[4], CUDNN_TYPE_DOUBLE, 1, &zero_d);
  }
  d->op->set(Ops::kAttrs[5], *d->conv);
  AFN_CUDNN_CHECK(d->op->finalize());

  d->graph = make_desc(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  const cudnnBackendDescriptor_t op = d->op->get();
  d->graph->set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op);
  d->graph->set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
  AFN_CUDNN_CHECK(d->graph->finalize());
  return d;
}

// The engine configurations cuDNN's heuristics propose in `mode`, best first (none on failure).
std::vector<BackendDescPtr> engine_configs(const GraphDescs& d, cudnnBackendHeurMode_t mode) {
  BackendDesc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  heur.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, *d.graph);
  heur.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
  if (heur.finalize() != CUDNN_STATUS_SUCCESS) return {};
  int64_t count = 0;
  if (cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                               CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count,
                               nullptr) != CUDNN_STATUS_SUCCESS ||
      count <= 0)
    return {};
  std::vector<BackendDescPtr> configs;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < count; ++i) {
    configs.push_back(make_desc(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
    raw.push_back(configs.back()->get());
  }
  int64_t returned = 0;
  if (cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                               CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &returned,
                               raw.data()) != CUDNN_STATUS_SUCCESS)
    return {};
  configs.resize(size_t(std::clamp<int64_t>(returned, 0, count)));
  return configs;
}

// False for a configuration PyTorch would not run: inputs converted down to half precision, or
// tensor cores (TF32) for float32 when TF32 is off. Sets the engine's global index.
bool config_allowed(const BackendDesc& config, DType dtype, bool tf32, int64_t* engine_index) {
  BackendDesc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  cudnnBackendDescriptor_t raw = engine.get();
  int64_t n = 0;
  if (cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE,
                               CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &raw) != CUDNN_STATUS_SUCCESS)
    return false;
  *engine_index = -1;
  cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n,
                           engine_index);
  std::array<cudnnBackendNumericalNote_t, CUDNN_NUMERICAL_NOTE_TYPE_COUNT> notes{};
  int64_t count = 0;
  if (cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_NUMERICAL_NOTE,
                               CUDNN_TYPE_NUMERICAL_NOTE, int64_t(notes.size()), &count,
                               notes.data()) != CUDNN_STATUS_SUCCESS)
    return false;
  for (int64_t i = 0; i < std::min<int64_t>(count, int64_t(notes.size())); ++i) {
    if (notes[size_t(i)] == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS) return false;
    if (notes[size_t(i)] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE && dtype == DType::F32 && !tf32)
      return false;
  }
  return true;
}

// An execution plan for `config`, or nothing when cuDNN cannot finalize one.
bool make_plan(cudnnHandle_t h, const BackendDescPtr& config, GraphPlan* out) {
  auto plan = make_desc(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
  plan->set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
  plan->set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, *config);
  if (plan->finalize() != CUDNN_STATUS_SUCCESS) return false;
  int64_t n = 0, workspace = 0;
  if (cudnnBackendGetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                               CUDNN_TYPE_INT64, 1, &n, &workspace) != CUDNN_STATUS_SUCCESS ||
      workspace < 0)
    return false;
  out->config = config;
  out->plan = std::move(plan);
  out->workspace = workspace;
  return true;
}

cudnnStatus_t execute(cudnnHandle_t h, const GraphPlan& p, const std::array<void*, 3>& ptrs,
                      void* workspace) {
  BackendDesc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs.data());
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, kUids);
  pack.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
  const cudnnStatus_t s = pack.finalize();
  if (s != CUDNN_STATUS_SUCCESS) return s;
  return cudnnBackendExecute(h, p.plan->get(), pack.get());
}

// Milliseconds per run of plan `p`: after a warm-up, the fastest of five runs, each between CUDA
// events (the minimum is the least disturbed by clocks and other work, so the ranking is stable
// from one process to the next); negative when it cannot run (no workspace, or an error).
float time_plan(cudnnHandle_t h, const GraphPlan& p, const std::array<void*, 3>& ptrs,
                const Device& device) {
  Tensor workspace;
  try {
    if (p.workspace > 0) workspace = empty({p.workspace}, DType::U8, device);
  } catch (const Error&) {
    return -1;
  }
  void* ws = p.workspace > 0 ? workspace.raw_data_ptr() : nullptr;
  if (execute(h, p, ptrs, ws) != CUDNN_STATUS_SUCCESS) return -1;
  const cudaStream_t stream = compute_stream(device.index);
  cudaEvent_t start = nullptr, stop = nullptr;
  AFN_CUDA_CHECK(cudaEventCreate(&start));
  if (cudaEventCreate(&stop) != cudaSuccess) {
    cudaEventDestroy(start);
    AFN_FAIL("conv2d (cuDNN): cudaEventCreate failed");
  }
  constexpr int kRuns = 5;
  float best = -1;
  for (int i = 0; i < kRuns; ++i) {
    float ms = -1;
    const bool ok = cudaEventRecord(start, stream) == cudaSuccess &&
                    execute(h, p, ptrs, ws) == CUDNN_STATUS_SUCCESS &&
                    cudaEventRecord(stop, stream) == cudaSuccess &&
                    cudaEventSynchronize(stop) == cudaSuccess &&
                    cudaEventElapsedTime(&ms, start, stop) == cudaSuccess;
    if (!ok) {
      best = -1;
      break;
    }
    if (best < 0 || ms < best) best = ms;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return best;
}

template <typename Ops>
GraphRanking rank_graph(cudnnHandle_t h, const Conv2dGeometry& g, DType dtype, bool tf32,
                        bool benchmark, const std::array<void*, 3>& ptrs,
                        const std::array<int64_t, 3>& align, const Device& device) {
  GraphRanking r;
  try {
    r.descs = build_graph<Ops>(g, dtype, h, align);
  } catch (const Error&) {
    return r;  // this convolution has no graph form here: the legacy API runs it
  }
  for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    for (const BackendDescPtr& config : engine_configs(*r.descs, mode)) {
      GraphPlan p{};
      if (!config_allowed(*config, dtype, tf32, &p.engine) || !make_plan(h, config, &p)) continue;
      p.ms = -1;
      r.plans.push_back(std::move(p));
      if (!benchmark) break;  // the heuristics' first runnable choice
    }
    // FALLBACK's engines only where mode A has no plan. (Timing FALLBACK's engines beside A's,
    // as PyTorch does, met a cudaErrorMisalignedAddress in one of them on an H100 with cuDNN
    // 9.14, which poisons the CUDA context: they stay out.)
    if (!r.plans.empty()) break;
  }
  if (benchmark) {
    std::vector<GraphPlan> timed;
    for (GraphPlan& p : r.plans) {
      p.ms = time_plan(h, p, ptrs, device);
      if (p.ms >= 0) timed.push_back(std::move(p));
    }
    std::stable_sort(timed.begin(), timed.end(),
                     [](const GraphPlan& a, const GraphPlan& b) { return a.ms < b.ms; });
    r.plans = std::move(timed);
  }
  return r;
}

using GraphKey = std::array<int64_t, 23>;
std::mutex g_graph_mutex;
std::map<GraphKey, GraphRanking> g_graph_cache;

void print_graph_ranking(const char* op, const Conv2dGeometry& g, DType dtype, bool benchmark,
                         const GraphRanking& r) {
  std::ostringstream os;
  os << "afinar cudnn graph " << op << " " << dtype << " x[" << g.N << "," << g.C << "," << g.H
     << "," << g.W << "] w[" << g.K << "," << g.Cg() << "," << g.R << "," << g.S << "] stride ("
     << g.sh << "," << g.sw << ") pad (" << g.ph << "," << g.pw << ") dil (" << g.dh << "," << g.dw
     << ") groups " << g.G << (g.channels_last ? " NHWC" : " NCHW")
     << (benchmark ? ", measured:" : ", heuristics:");
  if (r.plans.empty()) os << " no plan (legacy API)";
  for (const GraphPlan& p : r.plans) {
    os << " engine " << p.engine << " ws " << p.workspace << " B";
    if (p.ms >= 0) os << " " << p.ms << " ms";
    os << ";";
  }
  std::fprintf(stderr, "%s\n", os.str().c_str());
}

// The whole batch through the graph API; false when no plan runs it (the legacy API then does).
template <typename Ops>
bool run_graph(const Conv2dGeometry& g, DType dtype, const Device& device, int direction,
               const Operands& o) {
  const bool tf32 = tf32_conv_allowed(), benchmark = cudnn_benchmark();
  cudnnHandle_t h = cudnn_handle(device.index);
  const std::array<void*, 3> ptrs = Ops::xwy(o);
  const std::array<int64_t, 3> align = {byte_alignment(ptrs[0]), byte_alignment(ptrs[1]),
                                        byte_alignment(ptrs[2])};
  const CacheKey base = cache_key(g, g.N, dtype, direction, device.index, tf32, benchmark);
  GraphKey key{};
  std::copy(base.begin(), base.end(), key.begin());
  std::copy(align.begin(), align.end(), key.begin() + base.size());
  GraphRanking ranking;
  bool cached = false;
  {
    std::lock_guard lock(g_graph_mutex);
    auto it = g_graph_cache.find(key);
    if (it != g_graph_cache.end()) ranking = it->second, cached = true;
  }
  if (!cached) {
    ranking = rank_graph<Ops>(h, g, dtype, tf32, benchmark, ptrs, align, device);
    if (log_rankings()) print_graph_ranking(Ops::kName, g, dtype, benchmark, ranking);
    std::lock_guard lock(g_graph_mutex);
    g_graph_cache.emplace(key, ranking);
  }
  for (const GraphPlan& p : ranking.plans) {
    Tensor workspace;
    try {
      if (p.workspace > 0) workspace = empty({p.workspace}, DType::U8, device);
    } catch (const Error&) {
      continue;  // out of memory for this plan: the next needs less, or none
    }
    if (execute(h, p, ptrs, p.workspace > 0 ? workspace.raw_data_ptr() : nullptr) ==
        CUDNN_STATUS_SUCCESS)
      return true;
  }
  return false;
}

// One cuDNN call over `images` images: the cached (or new) ranking, then the first candidate that
// gets its workspace and runs. With `accumulate` the result is added to `o.out` (out_bytes long),
// and a measurement then writes into a scratch buffer instead of over the partial sum.
template <typename Ops>
void run_convolution(const Conv2dGeometry& g, int64_t images, DType dtype, const Device& device,
                     int direction, const Operands& o, size_t out_bytes, bool accumulate) {
  if (images == g.N && !accumulate && !legacy_only() &&
      run_graph<Ops>(g, dtype, device, direction, o))
    return;
  const bool tf32 = tf32_conv_allowed(), benchmark = cudnn_benchmark();
  cudnnHandle_t h = cudnn_handle(device.index);
  Descriptors d(g, images, dtype, tf32);
  const CacheKey key = cache_key(g, images, dtype, direction, device.index, tf32, benchmark);
  std::vector<Candidate> candidates;
  {
    std::lock_guard lock(g_cache_mutex);
    auto it = g_cache.find(key);
    if (it != g_cache.end()) candidates = it->second;
  }
  if (candidates.empty()) {
    Operands search = o;
    Tensor scratch;
    if (benchmark && accumulate) {
      scratch = empty({int64_t(out_bytes)}, DType::U8, device);
      search.out = scratch.raw_data_ptr();
    }
    candidates = rank<Ops>(h, d, search, device, benchmark);
    AFN_CHECK(!candidates.empty(), Ops::kName, ": cuDNN has no algorithm for this convolution (",
              dtype, ", input [", images, ",", g.C, ",", g.H, ",", g.W, "], weight [", g.K, ",",
              g.Cg(), ",", g.R, ",", g.S, "], stride (", g.sh, ",", g.sw, "), padding (", g.ph, ",",
              g.pw, "), dilation (", g.dh, ",", g.dw, "), groups ", g.G,
              "); Conv2dAlgo::Im2colGemm or Direct can compute it");
    if (log_rankings()) print_ranking(Ops::kName, g, images, dtype, benchmark, candidates);
    std::lock_guard lock(g_cache_mutex);
    g_cache.emplace(key, candidates);
  }

  const float one_f = 1.0f, zero_f = 0.0f;
  const double one_d = 1.0, zero_d = 0.0;
  const bool f32 = dtype != DType::F64;  // float scalars for float32, bf16 and f16 data
  const void* alpha = f32 ? static_cast<const void*>(&one_f) : &one_d;
  const void* beta = accumulate ? alpha : f32 ? static_cast<const void*>(&zero_f) : &zero_d;

  cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
  for (const Candidate& c : candidates) {
    Tensor workspace;
    if (c.workspace > 0) {
      try {
        workspace = empty({int64_t(c.workspace)}, DType::U8, device);
      } catch (const Error&) {
        continue;  // out of memory for this one: the next ranked algorithm needs less, or none
      }
    }
    AFN_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), c.math));
    last = Ops::run(h, d, c.algo, c.workspace > 0 ? workspace.raw_data_ptr() : nullptr, c.workspace,
                    alpha, beta, o);
    if (last == CUDNN_STATUS_SUCCESS) return;
    if (last != CUDNN_STATUS_NOT_SUPPORTED) break;
  }
  AFN_FAIL(Ops::kName, ": no cuDNN algorithm could run (last status: ", cudnnGetErrorString(last),
           "; out of GPU memory for every workspace if no status is given otherwise)");
}

// Images per cuDNN call: whole images, fewer than 2^31 elements in the input and the output.
int64_t images_per_call(const Conv2dGeometry& g) {
  const int64_t per_image = std::max(g.C * g.H * g.W, g.K * g.Ho * g.Wo);
  const int64_t limit = int64_t(INT_MAX);
  AFN_CHECK(per_image <= limit, "conv2d (cuDNN): one image has ", per_image,
            " elements, beyond cuDNN's 32-bit limit; use Conv2dAlgo::Direct");
  return std::max<int64_t>(1, std::min(g.N, limit / per_image));
}

enum Direction { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };

}  // namespace

void cudnn_conv2d_forward(const Tensor& y, const Tensor& x, const Tensor& w,
                          const Conv2dGeometry& g) {
  const Device dev = x.device();
  DeviceGuard guard(dev.index);
  const int64_t step = images_per_call(g), es = int64_t(element_size(x.dtype()));
  const char* px = static_cast<const char*>(x.raw_data_ptr());
  char* py = static_cast<char*>(y.raw_data_ptr());
  for (int64_t n0 = 0; n0 < g.N; n0 += step) {
    const int64_t images = std::min(step, g.N - n0);
    run_convolution<ForwardOps>(
        g, images, x.dtype(), dev, kForward,
        {px + n0 * g.C * g.H * g.W * es, w.raw_data_ptr(), py + n0 * g.K * g.Ho * g.Wo * es},
        size_t(images * g.K * g.Ho * g.Wo * es), false);
  }
}

void cudnn_conv2d_backward_input(const Tensor& gx, const Tensor& gy, const Tensor& w,
                                 const Conv2dGeometry& g) {
  const Device dev = gy.device();
  DeviceGuard guard(dev.index);
  const int64_t step = images_per_call(g), es = int64_t(element_size(gy.dtype()));
  const char* pgy = static_cast<const char*>(gy.raw_data_ptr());
  char* pgx = static_cast<char*>(gx.raw_data_ptr());
  for (int64_t n0 = 0; n0 < g.N; n0 += step) {
    const int64_t images = std::min(step, g.N - n0);
    run_convolution<BackwardDataOps>(
        g, images, gy.dtype(), dev, kBackwardData,
        {w.raw_data_ptr(), pgy + n0 * g.K * g.Ho * g.Wo * es, pgx + n0 * g.C * g.H * g.W * es},
        size_t(images * g.C * g.H * g.W * es), false);
  }
}

void cudnn_conv2d_backward_weight(const Tensor& gw, const Tensor& gy, const Tensor& x,
                                  const Conv2dGeometry& g) {
  const Device dev = gy.device();
  DeviceGuard guard(dev.index);
  const int64_t step = images_per_call(g), es = int64_t(element_size(gy.dtype()));
  const char* pgy = static_cast<const char*>(gy.raw_data_ptr());
  const char* px = static_cast<const char*>(x.raw_data_ptr());
  for (int64_t n0 = 0; n0 < g.N; n0 += step) {
    const int64_t images = std::min(step, g.N - n0);
    run_convolution<BackwardFilterOps>(
        g, images, gy.dtype(), dev, kBackwardFilter,
        {px + n0 * g.C * g.H * g.W * es, pgy + n0 * g.K * g.Ho * g.Wo * es, gw.raw_data_ptr()},
        gw.nbytes(), n0 > 0);
  }
}

}  // namespace afinar::cuda
